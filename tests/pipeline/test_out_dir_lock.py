"""One run writes into an output directory at a time, and clears what a killed run left."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ccdcal.errors import PipelineError
from ccdcal.pipeline import plan_night, run_plan
from ccdcal.pipeline.state import out_dir_lock
from ccdcal.testing.night import make_night

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the lock is POSIX flock")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("night")
    make_night(folder, seed=4, size_factor=0.1, n_science=1)
    return folder / "raw"


def test_a_run_removes_the_temporary_files_a_killed_run_left(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    left = [
        out / "science" / ".r0001210.fits.0a1b2c3d.tmp",
        out / "masters" / ".bias_1x1.fits.deadbeef.tmp",
        out / "qa" / "thumbs" / ".science_r0001210.png.12345678.tmp",
    ]
    spill = out / ".ccdcal" / "tmp" / "flat_1x1_V" / "0000.fits"
    kept = [out / "notes.txt", out / "science" / ".keep.tmp"]  # not ccdcal's temporaries
    for path in [*left, spill, *kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
    result = run_plan(plan_night(raw, out_dir=out), executor="serial", library=False)
    assert result.complete
    assert [p for p in left if p.exists()] == []
    assert not spill.parent.exists()
    assert all(p.exists() for p in kept)
    assert sorted(p.name for p in out.rglob(".*.tmp")) == [".keep.tmp"]


_HOLD = """
import sys, time
from ccdcal.pipeline.state import out_dir_lock
with out_dir_lock(sys.argv[1]):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_a_second_run_into_a_directory_being_written_is_refused(raw: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(out)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        plan = plan_night(raw, out_dir=out)
        with pytest.raises(PipelineError, match=rf"another ccdcal run \(process {holder.pid}"):
            run_plan(plan, executor="serial", library=False)
        assert list((out / "science").glob("*.fits")) == []
    finally:
        holder.kill()
        holder.wait()
    # the lock dies with its process: the directory is free at once
    deadline = time.monotonic() + 10
    while True:
        try:
            with out_dir_lock(out):
                break
        except PipelineError:
            assert time.monotonic() < deadline
            time.sleep(0.05)
    assert run_plan(plan_night(raw, out_dir=out), executor="serial", library=False).complete
