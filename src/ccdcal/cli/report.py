"""``ccdcal report OUT_DIR``: write (or refresh) the QA report of a finished run.

Reads ``OUT_DIR/run-summary.json`` and every master and calibrated frame
once, and writes ``OUT_DIR/qa/index.html`` (flags first), ``qa.json`` and,
unless ``--no-thumbnails``, PNG thumbnails and plots.  Prints where the page
is and the flags that need a look.  Exit codes: 0 written, 1 no run there.
"""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["register"]

_STYLE = {"error": "bold red", "warning": "yellow", "info": "dim"}
_SHOWN = 10


def register(subparsers: Any) -> None:
    """Add the ``report`` command to the ``ccdcal`` parser."""
    parser = subparsers.add_parser(
        "report",
        help="write the QA report (HTML, JSON, thumbnails) of a finished run",
        description="Write or refresh the QA report of a reduced night: statistics and flags "
        "of every master and science frame, plots and thumbnails, in OUT_DIR/qa/.",
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="output directory of `ccdcal reduce`")
    parser.add_argument(
        "--no-thumbnails",
        action="store_true",
        help="numbers and the page only: no PNG thumbnails or plots (faster)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Write the report and say where it is."""
    import json

    from ccdcal.report.qa import QA_JSON, write_qa_report

    page = write_qa_report(args.out_dir, thumbnails=not args.no_thumbnails)
    metrics = json.loads((page.parent / QA_JSON).read_text(encoding="utf-8"))
    flags = [f for f in metrics.get("flags", []) if f.get("severity") in ("error", "warning")]
    for item in flags[:_SHOWN]:
        line = Text(f"{item['severity']:>7} ", style=_STYLE.get(item["severity"], ""))
        line.append(f"{item['subject']}: {item['message']}")
        console.print(line)
    if len(flags) > _SHOWN:
        console.print(f"        ... and {len(flags) - _SHOWN} more (see the page)")
    summary = f"{len(flags)} flag(s)" if flags else "no flags"
    console.print(
        Text.assemble(("QA report: ", "bold"), str(page), f" ({summary}, {metrics['seconds']} s)")
    )
    return 0
