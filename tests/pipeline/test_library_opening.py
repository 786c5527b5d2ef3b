"""The run opens and writes the calibration library in the background and records everything."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ccdcal.library import CalibrationLibrary
from ccdcal.pipeline import plan_night, run_plan
from ccdcal.pipeline.library_bridge import BackgroundRecorder
from ccdcal.testing.night import make_night


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any]] = []

    def master(self, spec: Any, result: Any) -> None:
        self.calls.append(("master", spec))

    def science(self, spec: Any, result: Any) -> None:
        self.calls.append(("science", spec))

    def close(self, status: str = "ok", summary: Any = None) -> None:
        self.calls.append(("close", status))


def test_the_caller_never_waits_for_the_library_and_close_waits_for_every_record() -> None:
    started, release = threading.Event(), threading.Event()
    inner = _Recorder()

    def opener() -> Any:
        started.set()
        release.wait(30)
        return inner

    rec = BackgroundRecorder(opener)  # returns while the library is still opening
    assert started.wait(30)
    rec.master("bias_1x1", None)  # queued: returns at once although nothing is open yet
    rec.science("science/a.fits", None)
    assert inner.calls == []
    closing = threading.Thread(target=rec.close, args=("partial",))
    closing.start()
    closing.join(0.2)
    assert closing.is_alive(), "close returned before the records were written"
    release.set()
    closing.join(30)
    assert not closing.is_alive()
    assert inner.calls == [  # written in the order they were made
        ("master", "bias_1x1"),
        ("science", "science/a.fits"),
        ("close", "partial"),
    ]


def test_a_run_records_its_masters_and_frames_in_the_library(tmp_path: Path) -> None:
    make_night(tmp_path / "n", seed=3, size_factor=0.1, n_science=1)
    out = tmp_path / "out"
    plan = plan_night(tmp_path / "n" / "raw", out_dir=out)
    result = run_plan(plan, executor="serial")
    assert result.complete
    lib = CalibrationLibrary.open(None, out, create=False)
    try:
        kinds = sorted(m.kind for m in lib.list_masters())
        expected = sorted(m.kind for m in plan.masters if m.source in ("tonight", "derived"))
        assert kinds == expected
        for science in result.science:
            assert {u.kind for u in lib.usage_for(science.output)} == {"bias", "dark", "flat"}
        (run,) = lib.list_runs()
        assert run.status == "ok"
    finally:
        lib.close()
