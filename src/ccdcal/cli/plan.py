"""``ccdcal plan RAW_DIR...``: the dry run -- what ``reduce`` would do, writing nothing.

Shows the frames found, the masters to build (and the frames left out of
them), how every science frame would be calibrated, and the problems:
missing calibrations, mixed binnings, unclassified or unreadable files.
``--json FILE`` (``-`` for standard output) writes the whole plan as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

# light (no astropy): ``reduce`` builds its parser and starts its workers before planning
from ccdcal.pipeline.options import ReduceOptions, parse_allow_missing

if TYPE_CHECKING:
    from ccdcal.pipeline.plan import Plan

__all__ = ["add_plan_arguments", "make_plan", "register"]


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments ``plan`` and ``reduce`` share."""
    parser.add_argument(
        "raw_dirs", nargs="+", metavar="RAW_DIR", help="raw folders (searched recursively) or files"
    )
    parser.add_argument(
        "--instrument", help="instrument profile (default: recognised from the headers)"
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="calibration library database URL or SQLite file (default: the one in OUT_DIR)",
    )
    parser.add_argument(
        "--no-library",
        action="store_true",
        help="neither use nor record masters in a calibration library",
    )
    parser.add_argument(
        "--allow-missing",
        action="append",
        default=[],
        metavar="KIND",
        help="calibrate science frames without this kind of master when there is none "
        "(bias, dark, flat; repeat or comma-separate); default: skip those frames",
    )
    parser.add_argument(
        "--exposure-tolerance",
        type=float,
        default=ReduceOptions.exposure_tolerance,
        metavar="FRACTION",
        help="darks whose exposures differ by more than this fraction make separate masters "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--temperature-tolerance",
        type=float,
        default=ReduceOptions.temperature_tolerance,
        metavar="DEGREES",
        help="largest CCD temperature difference within a dark master and between a dark "
        "and a science frame (default %(default)s C)",
    )
    parser.add_argument(
        "--cosmic-rays",
        action="store_true",
        help="mask cosmic rays in the calibrated science frames (L.A.Cosmic); default off",
    )
    parser.add_argument(
        "--no-derived-flats",
        action="store_true",
        help="do not derive flats for a coarser binning from finer-binned flats",
    )


def options_from(args: argparse.Namespace) -> ReduceOptions:
    """The reduce options the command line asks for."""
    return ReduceOptions(
        exposure_tolerance=args.exposure_tolerance,
        temperature_tolerance=args.temperature_tolerance,
        allow_missing=parse_allow_missing(args.allow_missing),
        derive_flats=not args.no_derived_flats,
        cosmic_rays=args.cosmic_rays,
        qa_report=not getattr(args, "no_report", False),  # `reduce --no-report`
    )


def _existing_library(args: argparse.Namespace, out_dir: Path | None) -> Any:
    """A lookup into the library, only if it exists already (planning never creates one)."""
    if args.no_library:
        return None
    from ccdcal.library import DEFAULT_FILENAME

    if args.db is None and (out_dir is None or not (out_dir / DEFAULT_FILENAME).exists()):
        return None  # and SQLAlchemy is not even imported
    from ccdcal.pipeline.library_bridge import LibraryLookup, open_library

    lib = open_library(args.db, out_dir, create=False)
    return LibraryLookup(lib, options=options_from(args))


def make_plan(args: argparse.Namespace, out_dir: Path | None) -> Plan:
    """Plan the night named on the command line."""
    from ccdcal.pipeline.plan import plan_night

    return plan_night(
        args.raw_dirs,
        out_dir=out_dir,
        instrument=args.instrument,
        library=_existing_library(args, out_dir),
        options=options_from(args),
    )


def register(subparsers: Any) -> None:
    """Add the ``plan`` command to the ``ccdcal`` parser."""
    parser = subparsers.add_parser(
        "plan",
        help="dry run: show the masters, the matching and the problems, write nothing",
        description="Plan the reduction of a night without writing anything: groups, masters "
        "to build, the science-to-master matching, and problems.",
    )
    add_plan_arguments(parser)
    parser.add_argument(
        "-o", "--out", dest="out_dir", metavar="OUT_DIR",
        help="output directory a reduce would use (its library supplies earlier masters)",
    )  # fmt: skip
    parser.add_argument("--json", metavar="FILE", help="write the plan as JSON ('-' for stdout)")
    parser.add_argument("--all", action="store_true", help="list every science frame")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Plan and print; exit 0 when every frame can be calibrated, 3 otherwise."""
    from ccdcal.cli.main import EXIT_OK, EXIT_PARTIAL
    from ccdcal.report.terminal import plan_renderables

    out_dir = Path(args.out_dir).resolve() if args.out_dir else None
    plan = make_plan(args, out_dir)
    if args.json == "-":
        sys.stdout.write(json.dumps(plan.to_dict(), indent=1) + "\n")
    else:
        limit = len(plan.science) if args.all else 40
        for item in plan_renderables(plan, limit=limit):
            console.print(item)
        if args.json:
            path = plan.save(args.json)
            console.print(f"plan written to {path}")
    from ccdcal.pipeline.results import PARTIAL_KINDS

    partial = plan.skipped or any(p.kind in PARTIAL_KINDS for p in plan.problems)
    return EXIT_PARTIAL if partial else EXIT_OK
