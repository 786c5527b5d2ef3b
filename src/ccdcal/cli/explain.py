"""``ccdcal explain SCIENCE_FILE``: which master of each kind calibrated a frame, and why.

For each kind (bias, dark, flat): the master used and the note (same night,
derived from a finer flat, from an earlier night...), then every other
candidate master with the reason it was not used.  Reads the calibration
library (found next to the file, or ``--db``); without one, the provenance
in the file's header.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rich.console import Console
from rich.text import Text

__all__ = ["register"]


def register(subparsers: Any) -> None:
    """Add the ``explain`` command to the ``ccdcal`` parser."""
    parser = subparsers.add_parser(
        "explain",
        help="which masters calibrated a science frame, and why not the others",
        description="Explain the calibration of a science frame: the master of each kind used "
        "and why every other candidate was not.",
    )
    parser.add_argument("science_file", metavar="SCIENCE_FILE", help="calibrated (or raw) file")
    parser.add_argument(
        "--db", metavar="URL", help="calibration library (default: next to the file)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, console: Console) -> int:
    """Print the explanation."""
    from ccdcal.pipeline.explain import explain_frame

    explanation = explain_frame(args.science_file, db=args.db)
    if args.json:
        sys.stdout.write(json.dumps(explanation.to_dict(), indent=1) + "\n")
        return 0
    lines = explanation.text().splitlines()
    console.print(Text(lines[0], style="bold"))
    for line in lines[1:]:
        style = "dim" if line.startswith("    ") else ""
        console.print(Text(line, style=style))
    return 0
