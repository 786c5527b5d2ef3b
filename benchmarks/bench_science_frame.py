"""One science frame in a warm process: ccdcal's task against the ccdproc 2.5.1 chain.

The synthetic pt5m night of ``ccdcal demo`` (full size; its science frames
are 736 x 1092, 2x2-binned, uint16) is reduced once with ``ccdcal reduce``;
its masters are then the inputs of both sides:

* ``ccdcal``: :func:`ccdcal.pipeline.tasks.run_science_task` on the night's
  science tasks, with the masters already read by the process (as in a
  worker after its first frame): read the raw frame, calibrate, write data,
  UNCERT and MASK with CHECKSUM cards and the SHA-256 of output and input;
  ``ccdcal+qa`` also measures the frame for the QA report (statistics and a
  thumbnail);
* ``ccdproc``: the science step of ``benchmarks/pipeline_ccdproc_night.py``
  (``CCDData.read``, ``create_deviation``, ``ccd_process`` with bias, dark
  scaled by EXPTIME and flat, ``write``) with the same masters in memory.

Each side runs in its own process, alternately, after one call per frame
to warm up; printed are the min and median milliseconds per frame over
``rounds x frames`` calls and the ccdproc / ccdcal ratio.

    .venv/bin/python benchmarks/bench_science_frame.py [--rounds 3] [--calls 24]
"""

from __future__ import annotations

import argparse
import json
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SIDES = ("ccdcal", "ccdcal+qa", "ccdproc")


def prepare(work: Path) -> Path:
    """Make and reduce the night; pickle its science tasks; return the pickle's path."""
    import ccdcal.pipeline.run as run
    from ccdcal.pipeline import plan_night, run_plan
    from ccdcal.testing.night import make_night

    make_night(work / "night", seed=0)
    tasks: list[Any] = []
    original = run.run_science_task

    def capture(task: Any) -> Any:
        tasks.append(task)
        return original(task)

    run.run_science_task = capture  # type: ignore[assignment]
    try:
        plan = plan_night(work / "night" / "raw", out_dir=work / "out")
        run_plan(plan, executor="serial", resume=False, library=False)
    finally:
        run.run_science_task = original  # type: ignore[assignment]
    path = work / "tasks.pkl"
    path.write_bytes(pickle.dumps(tasks))
    return path


def _ccdcal_calls(tasks: list[Any], qa: bool) -> list[Any]:
    import dataclasses

    from ccdcal.pipeline.tasks import run_science_task

    def call(task: Any) -> Any:
        def run() -> None:
            result = run_science_task(task)
            assert result.status == "built", result.message

        return run

    return [
        call(dataclasses.replace(t, options=dataclasses.replace(t.options, qa_report=qa)))
        for t in tasks
    ]


def _ccdproc_calls(tasks: list[Any], out: Path) -> list[Any]:
    import warnings

    from astropy.nddata import CCDData
    from astropy.utils.exceptions import AstropyWarning

    sys.path.insert(0, str(HERE))
    from pipeline_ccdproc_night import calibrate

    warnings.simplefilter("ignore", AstropyWarning)
    (out / "science").mkdir(parents=True, exist_ok=True)
    masters: dict[str, CCDData] = {}

    def master(path: str) -> CCDData:
        if path not in masters:
            masters[path] = CCDData.read(path, unit="adu")
        return masters[path]

    def call(task: Any) -> Any:
        use = {kind: master(m.path) for kind, m in task.uses.items()}
        path = Path(task.spec.frame.path)
        return lambda: calibrate(path, use["bias"], use["dark"], use["flat"], out)

    return [call(t) for t in tasks]


def child(side: str, tasks_path: str, calls: int) -> None:
    """Time ``calls`` frames of one side in this process; print JSON milliseconds."""
    tasks = pickle.loads(Path(tasks_path).read_bytes())
    with tempfile.TemporaryDirectory() as tmp:
        if side == "ccdproc":
            runs = _ccdproc_calls(tasks, Path(tmp))
        else:
            runs = _ccdcal_calls(tasks, qa=side == "ccdcal+qa")
        for run in runs:  # warm-up: imports, masters read, first-call costs
            run()
        times = []
        for i in range(calls):
            start = time.perf_counter()
            runs[i % len(runs)]()
            times.append((time.perf_counter() - start) * 1e3)
    print(json.dumps(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--calls", type=int, default=24, help="frames timed per process")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], int(args.child[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        tasks_path = prepare(Path(tmp))
        times: dict[str, list[float]] = {side: [] for side in SIDES}
        for r in range(args.rounds):
            for side in SIDES if r % 2 == 0 else SIDES[::-1]:
                cmd = [sys.executable, __file__, "--child", side, str(tasks_path), str(args.calls)]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                times[side] += json.loads(out.splitlines()[-1])
    base = statistics.median(times["ccdproc"])
    print(f"{'side':10s} {'min ms':>8s} {'median ms':>10s} {'ccdproc / side':>15s}")
    for side in SIDES:
        med = statistics.median(times[side])
        print(f"{side:10s} {min(times[side]):8.1f} {med:10.1f} {base / med:14.1f}x")


if __name__ == "__main__":
    main()
