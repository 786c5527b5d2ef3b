"""``ccdcal library``: list, show and curate the masters of a calibration library.

``ccdcal library list [OUT_DIR] [--db URL]``
    a table of the masters (id, kind, binning, filter, exposure, temperature,
    dates, number of inputs, validity, bad flag).
``ccdcal library show [OUT_DIR] MASTER_ID``
    one master in full: attributes, quality, inputs, masters derived from it
    and the science frames it calibrated.
``ccdcal library flag-bad [OUT_DIR] MASTER_ID --reason TEXT`` / ``flag-good``
    mark a master bad (matching never chooses it again) or clear the mark.

The library is ``OUT_DIR/calibration-library.sqlite`` (``OUT_DIR`` defaults
to the current directory) unless ``--db URL`` names another database.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from ccdcal.library.records import KINDS

if TYPE_CHECKING:
    from ccdcal.library import CalibrationLibrary, MasterRecord

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``library`` command and its actions to the ``ccdcal`` parser."""
    parser = subparsers.add_parser(
        "library",
        help="list, show and flag the masters in a calibration library",
        description="Inspect and curate the calibration library (the database of masters).",
    )
    actions = parser.add_subparsers(dest="library_action", metavar="ACTION", required=True)

    where = argparse.ArgumentParser(add_help=False)
    where.add_argument(
        "out_dir",
        nargs="?",
        default=".",
        metavar="OUT_DIR",
        help="output directory holding calibration-library.sqlite (default: .)",
    )
    where.add_argument("--db", metavar="URL", help="database URL or SQLite file instead")

    listing = actions.add_parser("list", parents=[where], help="table of the masters")
    listing.add_argument("--kind", choices=KINDS, help="only masters of this kind")
    listing.add_argument("--instrument", help="only masters of this instrument")
    listing.add_argument("--filter", help="only masters with this filter")
    listing.add_argument(
        "--usable", action="store_true", help="hide masters flagged bad or superseded"
    )
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", parents=[where], help="one master in full")
    show.add_argument("master_id", type=int, metavar="MASTER_ID")
    show.set_defaults(handler=_show)

    flag = actions.add_parser("flag-bad", parents=[where], help="mark a master bad")
    flag.add_argument("master_id", type=int, metavar="MASTER_ID")
    flag.add_argument("--reason", required=True, help="what is wrong with it (recorded)")
    flag.set_defaults(handler=_flag_bad)

    good = actions.add_parser("flag-good", parents=[where], help="clear a master's bad mark")
    good.add_argument("master_id", type=int, metavar="MASTER_ID")
    good.set_defaults(handler=_flag_good)


_LIST_COLUMNS = (
    "id", "kind", "instrument", "bin", "filter", "exp", "temp", "inputs (UTC)", "n",
    "valid (UTC)", "status", "file",
)  # fmt: skip


def _open(args: argparse.Namespace) -> CalibrationLibrary:
    from ccdcal.library import CalibrationLibrary

    return CalibrationLibrary.open(args.db, Path(args.out_dir), create=False)


def _when(value: _dt.datetime | None) -> str:
    return "open" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _status(m: MasterRecord) -> str:
    if m.is_bad:
        return f"[red]BAD[/]: {m.bad_reason}"
    if m.superseded_by is not None:
        return f"[yellow]superseded[/] by #{m.superseded_by}"
    return "[green]ok[/]"


def _span(m: MasterRecord) -> str:
    start, end = _when(m.date_start), _when(m.date_end)
    if start[:10] == end[:10]:
        return f"{start} – {end[11:]}"
    return f"{start} – {end}"


def _list(args: argparse.Namespace, console: Console) -> int:
    with _open(args) as lib:
        masters = lib.list_masters(
            args.kind,
            instrument=args.instrument,
            filter=args.filter,
            include_bad=not args.usable,
            include_superseded=not args.usable,
        )
        title = f"{lib.location}: {len(masters)} master(s)"
    table = Table(title=title, title_justify="left")
    for name in _LIST_COLUMNS:
        table.add_column(name, justify="right" if name in ("id", "exp", "temp", "n") else "left")
    for m in masters:
        table.add_row(
            str(m.id),
            m.kind,
            m.instrument or "-",
            m.binning,
            m.filter or "-",
            "-" if m.exptime is None else f"{m.exptime:g} s",
            "-" if m.ccd_temp is None else f"{m.ccd_temp:.1f} °C",
            _span(m),
            str(m.n_inputs),
            f"{_when(m.good_after)[:10]} – {_when(m.good_until)[:10]}",
            _status(m),
            Path(m.path).name,
        )
    console.print(table)
    return 0


def _fields(m: MasterRecord) -> list[tuple[str, str]]:
    from ccdcal.library.decisions import format_exposure, format_temperature

    derived = f"#{m.derived_from} ({m.derivation_note or 'no note'})" if m.derived_from else "-"
    return [
        ("kind", m.kind),
        ("file", m.path),
        ("checksum", m.checksum),
        ("instrument", m.instrument or "-"),
        ("binning", m.binning),
        ("readout mode", m.readout_mode or "-"),
        ("filter", m.filter or "-"),
        ("exposure", format_exposure(m.exptime)),
        ("CCD temperature", format_temperature(m.ccd_temp)),
        ("shape", "x".join(map(str, m.shape)) if m.shape else "-"),
        ("inputs span (UTC)", f"{_when(m.date_start)} – {_when(m.date_end)}"),
        ("number of inputs", str(m.n_inputs)),
        ("valid (UTC)", f"{_when(m.good_after)} – {_when(m.good_until)}"),
        ("status", _status(m)),
        ("derived from", derived),
        ("created (UTC)", _when(m.created)),
        ("ccdcal version", m.software_version or "-"),
        ("run", "-" if m.run_id is None else f"#{m.run_id}"),
        ("parameters", json.dumps(m.params, sort_keys=True) if m.params else "-"),
    ]


def _show(args: argparse.Namespace, console: Console) -> int:
    from ccdcal.library.decisions import format_exposure, format_temperature

    with _open(args) as lib:
        master = lib.get_master(args.master_id)
        inputs = lib.master_inputs(master.id)
        used = lib.master_usage(master.id)
        derived = lib.derived_masters(master.id)
    table = Table(title=master.label, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    for name, value in _fields(master):
        table.add_row(name, value)
    for name, value in sorted(master.quality.items()):
        table.add_row(f"quality: {name}", json.dumps(value))
    console.print(table)

    frames = Table(title=f"Inputs ({len(inputs)})", title_justify="left")
    for name in ("frame", "file", "type", "exp", "temp", "DATE-OBS (UTC)"):
        frames.add_column(name)
    for f in inputs:
        frames.add_row(
            f"#{f.id}",
            f.path,
            f.frame_type or "-",
            format_exposure(f.exptime),
            format_temperature(f.ccd_temp),
            _when(f.date_obs),
        )
    console.print(frames)
    if derived:
        console.print("Derived masters: " + ", ".join(d.label for d in derived))
    usage = Table(title=f"Used for ({len(used)} science frame(s))", title_justify="left")
    for name in ("science file", "note", "recorded (UTC)"):
        usage.add_column(name)
    for u in used:
        usage.add_row(u.science_path, u.note or "-", _when(u.recorded))
    console.print(usage)
    return 0


def _flag_bad(args: argparse.Namespace, console: Console) -> int:
    with _open(args) as lib:
        master = lib.flag_bad(args.master_id, args.reason)
    console.print(f"flagged {master.label} bad: {master.bad_reason}", highlight=False)
    return 0


def _flag_good(args: argparse.Namespace, console: Console) -> int:
    with _open(args) as lib:
        master = lib.flag_good(args.master_id)
    console.print(f"cleared the bad flag of {master.label}", highlight=False)
    return 0
