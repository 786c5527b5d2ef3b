"""``ccdcal demo [DIR]``: write a synthetic pt5m-like night, reduce it, compare with the truth.

The night (pt5m headers and folder layout, 1x1 and 2x2 biases and darks, 1x1
twilight flats in two filters, 2x2 science frames longer than the darks, hot
pixels, vignetting, dust, cosmic rays) goes to ``DIR/raw``, the reduction to
``DIR/reduced``.  For every calibrated frame it prints the median and robust
standard deviation of ``(calibrated - truth) / sigma`` (ideally 0 and 1) and
the error of the flat field, then a verdict.  Run it again to reuse the night
(and resume the reduction).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``demo`` command to the ``ccdcal`` parser."""
    parser = subparsers.add_parser(
        "demo",
        help="reduce a synthetic night and compare it with its ground truth",
        description="Write a synthetic pt5m-like night with known truth, reduce it, and "
        "print how closely the calibrated frames match the truth.",
    )
    parser.add_argument(
        "directory", nargs="?", default="ccdcal-demo", metavar="DIR",
        help="folder for the night and its reduction (default: ./ccdcal-demo)",
    )  # fmt: skip
    parser.add_argument(
        "--size-factor", type=float, default=0.25, metavar="F",
        help="frame size relative to the full 1472 x 2184 chip (default %(default)s)",
    )  # fmt: skip
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument(
        "--executor",
        choices=("process", "thread", "serial"),
        default="process",
        help="where tasks run: worker processes (default), threads, or this process alone",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=None, metavar="N",
        help=f"tasks at once (default: one per core, {os.cpu_count()})",
    )  # fmt: skip
    parser.add_argument("-q", "--quiet", action="store_true", help="only the verdict")
    parser.set_defaults(handler=run)


def _truth_table(report: Any) -> Table:
    table = Table(
        title="Against the truth: pull = (calibrated - truth) / sigma, median and robust std "
        "(ideal 0 and 1); flat error %",
        title_justify="left",
        show_edge=False,
        pad_edge=False,
    )
    table.add_column("frame", no_wrap=True)
    for col in ("filt", "exp", "pull", "std", ">5σ%", "flat%", "±%", ""):
        table.add_column(col, justify="right", no_wrap=True)
    for f in report.frames:
        table.add_row(
            f.name,
            f.filter,
            f"{f.exptime:g}",
            f"{f.median_pull:+.3f}",
            f"{f.pull_std:.3f}",
            f"{100 * f.outlier_fraction:.3f}",
            f"{100 * f.flat_error:+.3f}",
            f"{100 * f.flat_scatter:.3f}",
            Text("ok", style="green") if f.ok else Text("CHECK", style="yellow"),
        )
    return table


def run(args: argparse.Namespace, console: Console) -> int:
    """Run the demo; exit 0 when every frame matches the truth, 3 otherwise."""
    from ccdcal.pipeline.executors import make_executor, start_executor

    # the workers start while the night is written (this process is single-threaded here)
    executor = make_executor(args.executor, jobs=args.jobs)
    start_executor(executor)

    from ccdcal.cli.main import EXIT_OK, EXIT_PARTIAL
    from ccdcal.pipeline.demo import run_demo
    from ccdcal.report.terminal import StageProgress, run_renderables

    if not args.quiet:
        console.print(f"Synthetic pt5m-like night in {args.directory} (seed {args.seed}) ...")
    bars: Any = contextlib.nullcontext() if args.quiet else StageProgress(console)
    with bars as progress:
        result, report = run_demo(
            args.directory,
            seed=args.seed,
            size_factor=args.size_factor,
            executor=executor,
            jobs=args.jobs,
            progress=progress,
        )
    if not args.quiet:
        for item in run_renderables(result):
            console.print(item)
        console.print(_truth_table(report))
    style = "bold green" if report.ok else "bold yellow"
    console.print(Text(report.verdict(), style=style))
    return EXIT_OK if report.ok else EXIT_PARTIAL
