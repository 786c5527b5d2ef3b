"""The ``ccdcal`` command: argument parsing, output and exit codes.

Each subcommand lives in its own module of :mod:`ccdcal.cli` and provides
``register(subparsers)``, which adds its parser and sets ``handler`` (a
function ``(args, console) -> int``). This module is the one place that maps
errors to exit codes.

Exit codes: 0 success, 1 a ccdcal error (bad input, nothing to do...),
2 a usage error (argparse), 3 a run that finished with some frames skipped,
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_PARTIAL", "build_parser", "main", "run"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_PARTIAL = 3

#: Subcommand modules, in the order ``--help`` lists them.
COMMAND_MODULES = (
    "ccdcal.cli.demo",
    "ccdcal.cli.scan",
    "ccdcal.cli.plan",
    "ccdcal.cli.reduce",
    "ccdcal.cli.library",
    "ccdcal.cli.explain",
    "ccdcal.cli.report",
)


class _VersionAction(argparse.Action):
    """``--version``: print the version and exit (read from the metadata only when asked)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.setdefault("help", "show the version and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        from ccdcal._version import __version__

        sys.stdout.write(f"ccdcal {__version__}\n")  # where argparse's version action prints
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, with every available subcommand."""
    parser = argparse.ArgumentParser(
        prog="ccdcal",
        description="Calibrate a night of CCD frames: master bias, dark and flat, "
        "calibrated science frames with uncertainties, masks and provenance.",
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (repeat for debug)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None, *, console: Console | None = None) -> int:
    """Run the command line with ``argv`` and return the exit code."""
    console = console or Console(stderr=False)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return EXIT_ERROR
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.handler(args, console))
    except KeyboardInterrupt:
        console.print("[yellow]interrupted[/]")
        return 130
    except Exception as exc:
        # imported here: ccdcal.errors loads astropy.units, which a command that
        # starts worker processes should not wait for
        from ccdcal.errors import CcdcalError

        if not isinstance(exc, CcdcalError):
            raise
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return EXIT_ERROR


def run() -> None:
    """Console-script entry point."""
    from ccdcal._exit import freeze_at_exit

    freeze_at_exit()  # this process ends with the command: skip the collector's walk at exit
    sys.exit(main())
