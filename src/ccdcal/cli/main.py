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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported in main(): the pool of `reduce` starts before rich is imported
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
    from rich.console import Console

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


#: Commands that run their tasks in the default process pool.
POOL_COMMANDS = frozenset({"reduce", "demo"})


def _option_value(argv: Sequence[str], long: str, short: str | None = None) -> str | None:
    """The value given to an option in ``argv`` (``--opt V``, ``--opt=V``, ``-jV``...), if any."""
    for i, arg in enumerate(argv):
        name, eq, value = arg.partition("=")
        if len(name) > 2 and long.startswith(name):  # argparse accepts abbreviations
            return value if eq else (argv[i + 1] if i + 1 < len(argv) else None)
        if short and arg.startswith(short):
            return arg[len(short) :] or (argv[i + 1] if i + 1 < len(argv) else None)
    return None


def wants_process_pool(argv: Sequence[str]) -> bool:
    """Whether ``argv`` runs a command in the default process pool: a look before parsing.

    Used only to start the pool's fork server as the very first thing (it
    imports the task modules while the command line is parsed and the night
    planned); a wrong guess costs a background process or a few tenths of a
    second, never a wrong result.

    >>> wants_process_pool(["reduce", "raw", "-o", "out"])
    True
    >>> wants_process_pool(["reduce", "raw", "-o", "out", "--executor=serial"])
    False
    >>> wants_process_pool(["-v", "demo", "-j", "1"]), wants_process_pool(["plan", "raw"])
    (False, False)
    """
    command = next((a for a in argv if not a.startswith("-")), None)
    if command not in POOL_COMMANDS or "-h" in argv or "--help" in argv:
        return False
    if _option_value(argv, "--executor") not in (None, "process"):
        return False
    return _option_value(argv, "--jobs", "-j") != "1"


def run() -> None:
    """Console-script entry point."""
    from ccdcal._startup import single_threaded_blas

    single_threaded_blas()  # before numpy loads, here and in the workers
    if wants_process_pool(sys.argv[1:]):
        from ccdcal.pipeline.executors import prestart_fork_server

        prestart_fork_server()
    from ccdcal._exit import freeze_at_exit

    freeze_at_exit()  # this process ends with the command: skip the collector's walk at exit
    sys.exit(main())
