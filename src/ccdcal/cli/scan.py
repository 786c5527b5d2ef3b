"""``ccdcal scan RAW_DIR...``: what is on disk, classified.

Prints a table of the frames with their normalised fields (file relative to
the folder given, type, binning, filter, exposure, start time, CCD temperature,
instrument profile), then the number of usable frames per group (type,
binning, filter, exposure), then the frames that cannot be used with the
reasons, then the files that could not be read with the reasons. ``--json``
prints the same as JSON only. Exit code 0 when every file was read and
classified, 3 when some were not.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:  # imported when the command runs: they load astropy
    from ccdcal.collection.frame import FrameInfo
    from ccdcal.collection.night import ScanResult

__all__ = ["register", "relative_name", "run"]

#: Show a progress bar from this many files on (on a terminal).
PROGRESS_FROM = 200
#: Frames shown in the table by default (a rich table of 10,000 rows takes seconds).
MAX_ROWS = 2000
EXIT_OK = 0
EXIT_PARTIAL = 3


def register(subparsers: Any) -> None:
    """Add the ``scan`` command to the ``ccdcal`` parser."""
    parser = subparsers.add_parser(
        "scan",
        help="list and classify the raw frames of a night",
        description="Read the headers of the FITS files under RAW_DIR (cached, so a second "
        "scan is near-instant), classify each frame (bias, dark, flat, science) through "
        "instrument profiles and show them with counts per group and any problems.",
        epilog="Exit code 0: all files read and classified; 3: some were not (listed); "
        "1: an error (no such folder, bad profile).",
    )
    parser.add_argument("raw_dirs", nargs="+", metavar="RAW_DIR", help="folders or FITS files")
    parser.add_argument(
        "--instrument",
        metavar="NAME",
        help="use this instrument profile for every frame (built in: pt5m, maximdl, iraf, "
        "generic; user profiles: <config folder>/ccdcal/instruments/*.toml)",
    )
    parser.add_argument(
        "--instrument-file",
        metavar="FILE",
        action="append",
        default=[],
        help="an instrument profile (TOML) to add; may be repeated",
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    parser.add_argument(
        "--max-rows",
        type=int,
        default=MAX_ROWS,
        metavar="N",
        help=f"show at most N frames in the table (default {MAX_ROWS}; 0: all)",
    )
    parser.add_argument("--no-cache", action="store_true", help="do not use the header cache")
    parser.add_argument("--no-recursive", action="store_true", help="do not look into subfolders")
    parser.set_defaults(handler=run)


def relative_name(path: str, roots: Sequence[str]) -> str:
    """``path`` relative to the first root folder it is under (its name for a given file).

    Examples
    --------
    >>> relative_name("/data/night/BIAS/r1.fits", ["/data/night"])
    'BIAS/r1.fits'
    >>> relative_name("/elsewhere/x.fits", ["/data/night"])
    '/elsewhere/x.fits'
    """
    for root in roots:
        if path == root:
            return os.path.basename(path)
        if os.path.commonpath([root, path]) == root:
            return os.path.relpath(path, root)
    return path


@contextmanager
def _progress_bar(console: Console, enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    columns = (
        TextColumn("reading headers"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    shown: dict[str, Any] = {}
    with Progress(*columns, console=console, transient=True) as bar:

        def update(done: int, total: int) -> None:
            if total < PROGRESS_FROM:
                return
            if "task" not in shown:
                shown["task"] = bar.add_task("scan", total=total)
            bar.update(shown["task"], completed=done)

        yield update


def run(args: argparse.Namespace, console: Console) -> int:
    """Scan the folders and print the result."""
    from ccdcal.collection.night import scan
    from ccdcal.errors import CcdcalError

    roots = [os.path.abspath(p) for p in args.raw_dirs]
    with _progress_bar(console, console.is_terminal and not args.json) as progress:
        result = scan(
            args.raw_dirs,
            recursive=not args.no_recursive,
            instrument=args.instrument,
            instrument_files=args.instrument_file,
            use_cache=not args.no_cache,
            progress=progress,
        )
    if not result.frames and not result.unreadable:
        raise CcdcalError(f"no FITS files found in {', '.join(args.raw_dirs)}")
    if args.json:
        console.file.write(json.dumps(_json(result, roots), indent=1) + "\n")
    else:
        _print(result, roots, console, args.max_rows)
    clean = not result.unreadable and not result.unclassified
    return EXIT_OK if clean else EXIT_PARTIAL


def _json(result: ScanResult, roots: Sequence[str]) -> dict[str, Any]:
    out = result.to_dict()
    for frame in out["frames"]:
        frame["file"] = relative_name(frame["path"], roots)
    for entry in out["unclassified"] + out["unreadable"]:
        entry["file"] = relative_name(entry["path"], roots)
    return out


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _number(value: float | None, fmt: str = "g") -> str:
    return "" if value is None else format(value, fmt)


def _frames_table(frames: Sequence[FrameInfo], roots: Sequence[str], total: int) -> Table:
    table = Table(title=_count(total, "frame"), title_justify="left", header_style="bold")
    for name in ("file", "type", "bin", "filter", "exptime", "date-obs", "temp", "instrument"):
        table.add_column(name, justify="right" if name in ("exptime", "temp") else "left")
    for frame in frames:
        kind = Text(frame.frame_type or f"? {frame.raw_type or ''}".rstrip())
        if not frame.usable:
            kind.stylize("bold red")
        table.add_row(
            relative_name(frame.path, roots),
            kind,
            f"{frame.xbin}x{frame.ybin}",
            frame.filter or "",
            _number(frame.exptime),
            frame.date_obs or "",
            _number(frame.ccd_temp, ".1f"),
            frame.instrument,
        )
    return table


def _groups_table(result: ScanResult) -> Table:
    table = Table(title="usable frames per group", title_justify="left", header_style="bold")
    for name in ("type", "binning", "filter", "exptime", "frames"):
        table.add_column(name, justify="right" if name in ("exptime", "frames") else "left")
    for group, count in result.group_counts():
        table.add_row(
            group.frame_type,
            f"{group.xbin}x{group.ybin}",
            group.filter or "",
            _number(group.exptime),
            str(count),
        )
    return table


def _print(result: ScanResult, roots: Sequence[str], console: Console, max_rows: int) -> None:
    if result.frames:
        shown = result.frames if max_rows <= 0 else result.frames[:max_rows]
        console.print(_frames_table(shown, roots, len(result.frames)))
        if len(shown) < len(result.frames):
            more = len(result.frames) - len(shown)
            console.print(Text(f"... {_count(more, 'more frame')} (--max-rows 0 shows all)"))
        console.print(_groups_table(result))
    if result.unclassified:
        n = len(result.unclassified)
        console.print(Text(f"{_count(n, 'frame')} cannot be used:", style="bold red"))
        for frame in result.unclassified:
            reasons = "; ".join(frame.problems) or "unknown frame type"
            console.print(Text(f"  {relative_name(frame.path, roots)}: {reasons}"))
    if result.unreadable:
        n = len(result.unreadable)
        console.print(Text(f"{_count(n, 'file')} cannot be read:", style="bold red"))
        for bad in result.unreadable:
            console.print(Text(f"  {relative_name(bad.path, roots)}: {bad.reason}"))
    if not result.unclassified and not result.unreadable:
        console.print(Text(f"all {len(result.frames)} frames read and classified", style="green"))
