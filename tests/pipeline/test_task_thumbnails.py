"""Tasks hand their QA thumbnails to the calling process instead of drawing them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_TASK_SIDE = """
import sys
from pathlib import Path
import numpy as np
from astropy.nddata import CCDData
from ccdcal.pipeline.options import ReduceOptions
from ccdcal.pipeline.tasks import measure_for_report

out = Path(sys.argv[1]) / "masters" / "bias_1x1.fits"
ccd = CCDData(np.random.default_rng(1).normal(100, 5, (300, 400)).astype(np.float32), unit="adu")
entry = {"key": "bias_1x1", "kind": "bias", "source": "tonight", "exptime": 0.0, "quality": {}}
qa, thumb = measure_for_report(ReduceOptions(), ccd, entry, out, science=False)
print(qa["metrics"]["thumbnail"], thumb.path, thumb.image.shape)
print("matplotlib" in sys.modules, Path(thumb.path).exists())
thumb.write()
print(Path(thumb.path).exists())
"""


def test_a_task_measures_but_leaves_the_png_to_the_calling_process(tmp_path: Path) -> None:
    # drawing the PNG needs astropy.visualization, which imports matplotlib (~0.1 s of CPU
    # per worker); the task returns the downsampled frame and the caller writes it
    (tmp_path / "qa" / "thumbs").mkdir(parents=True)
    run = subprocess.run(
        [sys.executable, "-c", _TASK_SIDE, str(tmp_path)], capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    linked, path, shape = run.stdout.splitlines()[0].split(" ", 2)
    assert linked == "thumbs/bias_1x1.png"
    assert Path(path) == tmp_path / "qa" / "thumbs" / "bias_1x1.png"
    assert shape == "(300, 400)"  # small enough already: not downsampled
    assert run.stdout.splitlines()[1:] == ["False False", "True"]
