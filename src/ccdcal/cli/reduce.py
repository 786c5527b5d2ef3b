"""``ccdcal reduce RAW_DIR... -o OUT_DIR``: plan, then run, the whole night.

Writes ``OUT_DIR/masters/``, ``OUT_DIR/science/<raw stem>.fits``,
``OUT_DIR/run-summary.json``, ``OUT_DIR/ccdcal.log``, the QA report
(``OUT_DIR/qa/index.html`` and ``qa.json``, unless ``--no-report``) and the
calibration library (``OUT_DIR/calibration-library.sqlite`` unless ``--db``).
Running again skips the outputs that are finished and whose inputs are
unchanged.

Exit codes: 0 everything calibrated, 3 finished with frames skipped or
failed (see the summary), 1 error.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import threading
from pathlib import Path
from typing import Any

from rich.console import Console

from ccdcal.cli.plan import add_plan_arguments, make_plan

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``reduce`` command to the ``ccdcal`` parser."""
    parser = subparsers.add_parser(
        "reduce",
        help="calibrate a night: masters, then science frames (the main job)",
        description="Reduce a night of raw frames: master bias, dark and flat, then "
        "calibrated science frames with uncertainty, mask and provenance.",
    )
    add_plan_arguments(parser)
    parser.add_argument(
        "-o", "--out", dest="out_dir", required=True, metavar="OUT_DIR",
        help="output directory (created if needed)",
    )  # fmt: skip
    parser.add_argument(
        "--executor",
        choices=("process", "thread", "serial"),
        default="process",
        help="where tasks run: a pool of worker processes (default), threads, or one after "
        "the other in this process (also what --jobs 1 means)",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=None, metavar="N",
        help=f"tasks at once (default: one per core, {os.cpu_count()})",
    )  # fmt: skip
    parser.add_argument(
        "--no-resume",
        action="store_true",
        help="make every output again, even those finished by an earlier run",
    )
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not write the QA report (OUT_DIR/qa/index.html); `ccdcal report OUT_DIR` "
        "writes it later",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars or tables")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Plan and run the night; print progress and a summary."""
    from ccdcal._startup import collector_paused
    from ccdcal.pipeline.executors import make_executor, start_executor

    # first, while this process runs a single thread: the workers start (and
    # import what the tasks need) while the night is planned
    executor = make_executor(args.executor, jobs=args.jobs)
    start_executor(executor)

    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    quiet = args.quiet
    if not args.no_report:  # the plotting libraries load while the workers compute
        from ccdcal.report.plots import preload_plotting

        threading.Thread(target=preload_plotting, name="ccdcal-preload", daemon=True).start()
    if not quiet:
        console.print(f"Planning {', '.join(args.raw_dirs)} ...")
    try:
        # imports and planning make objects that live as long as the process
        with collector_paused():
            from ccdcal.pipeline import run_plan
            from ccdcal.report.terminal import StageProgress, plan_renderables, run_renderables

            plan = make_plan(args, out_dir)
    except BaseException:  # nothing to run: stop the workers started above
        stop = getattr(executor, "shutdown", None)
        if callable(stop):
            stop()
        raise
    if not quiet:
        for item in plan_renderables(plan, limit=10):
            console.print(item)
    library: Any = False if args.no_library else args.db
    bars: Any = contextlib.nullcontext() if quiet else StageProgress(console)
    with bars as progress:
        result = run_plan(
            plan,
            executor=executor,
            jobs=args.jobs,
            progress=progress,
            resume=not args.no_resume,
            library=library,
        )
    if not quiet:
        for item in run_renderables(result):
            console.print(item)
    page = out_dir / "qa" / "index.html"
    if not args.no_report and not quiet and page.exists():  # written by run_plan
        console.print(f"QA report: {page}", highlight=False)
    if quiet and not result.complete:
        console.print(result.headline(), highlight=False)
    return result.exit_code
