"""mem_limit is a real bound on peak memory, and each file is opened once."""

from __future__ import annotations

import builtins
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

import ccdcal
from ccdcal.testing.stacks import write_raw_frames

_CHILD = r"""
import json, sys, warnings
import numpy as np
import ccdcal
from ccdcal.errors import CombineMemoryWarning
warnings.simplefilter("ignore", CombineMemoryWarning)

def rss():
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * 4096

def high_water_mark():
    with open("/proc/self/status") as handle:
        line = next(l for l in handle if l.startswith("VmHWM:"))
    return int(line.split()[1]) * 1024

limit = float(sys.argv[1])
files = json.loads(sys.argv[2])
kwargs = dict(method="average", sigma_clip=True, sigma_clip_func=np.ma.median,
              sigma_clip_dev_func="mad_std", sigma_clip_low_thresh=5,
              sigma_clip_high_thresh=5, unit="adu")
ccdcal.combine(files[:3], mem_limit=3e5, **kwargs)   # load the compiled kernels first
base = rss()
try:
    with open("/proc/self/clear_refs", "w") as handle:  # reset VmHWM to the current RSS
        handle.write("5")
    reset = True
except OSError:
    reset = False
result = ccdcal.combine(files, mem_limit=limit, **kwargs)
peak = high_water_mark()
from ccdcal.stacking import kernels, _clip_kernels
misses = sum(sum(f.stats.cache_misses.values()) for m in (kernels, _clip_kernels)
             for f in vars(m).values() if hasattr(f, "stats"))
print(json.dumps({"base": base, "peak": peak, "compiled": misses, "reset": reset}))
"""


@pytest.mark.slow
@pytest.mark.parametrize(("n", "limit"), [(16, 40e6), (48, 40e6), (48, 25e6)])
def test_peak_memory_stays_within_mem_limit(tmp_path: Path, n: int, limit: float) -> None:
    files = write_raw_frames(tmp_path, n, (768, 1024), seed=n)
    names = json.dumps([str(p) for p in files])
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(limit), names],
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if not figures["reset"]:
        pytest.skip("cannot reset the peak-RSS counter (/proc/self/clear_refs) here")
    used = figures["peak"] - figures["base"]
    # the float32 stack alone would be 48 x 768 x 1024 x 4 bytes = 151 MB
    assert used <= limit, f"peak {used / 1e6:.1f} MB above the interpreter's, {figures}"


def test_each_file_is_opened_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, small_bands: Any
) -> None:
    files = write_raw_frames(tmp_path, 6, (40, 30), seed=3)
    small_bands(6, 30, 2)  # 20 bands
    opened: Counter[str] = Counter()
    fits_opens: Counter[str] = Counter()
    real_open = builtins.open
    real_fits_open = fits.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        opened[Path(file).name] += 1
        return real_open(file, *args, **kwargs)

    def counting_fits_open(name: Any, *args: Any, **kwargs: Any) -> Any:
        fits_opens[Path(getattr(name, "name", str(name))).name] += 1
        return real_fits_open(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", counting_open)
    monkeypatch.setattr(fits, "open", counting_fits_open)
    result = ccdcal.combine(files, method="median", unit="adu", threads=2, sigma_clip=True)
    monkeypatch.undo()
    assert result.shape == (40, 30)
    names = {p.name for p in files}
    opened = Counter({k: v for k, v in opened.items() if k in names})
    # one open to read the data (headers parsed once), one to checksum the file
    assert opened == Counter({p.name: 2 for p in files})
    assert fits_opens == Counter({p.name: 1 for p in files})


def test_many_files_keep_few_descriptors_per_file(tmp_path: Path) -> None:
    import os

    files = write_raw_frames(tmp_path, 30, (8, 8), seed=4)
    before = len(os.listdir("/proc/self/fd"))
    ccdcal.combine(files, unit="adu")
    assert len(os.listdir("/proc/self/fd")) == before
    np.testing.assert_equal(len(files), 30)
