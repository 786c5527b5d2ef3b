"""The ``ccdcal`` entry point: what it costs before a command starts its work."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ccdcal.cli.main import main

_PARSE_ONLY = """
import sys
from ccdcal.cli.main import build_parser
from ccdcal.pipeline.executors import make_executor

args = build_parser().parse_args(["reduce", "raw", "-o", "out", "--jobs", "2"])
make_executor(args.executor, jobs=args.jobs)
print(sorted(m for m in ("astropy", "numba", "sqlalchemy", "ccdcal.errors") if m in sys.modules))
"""


def test_reduce_reaches_its_worker_pool_before_importing_astropy() -> None:
    # `reduce` starts its worker processes first, so that they import the heavy
    # libraries while this process plans; that only pays if parsing the command
    # line and making the executor import none of them here
    run = subprocess.run(
        [sys.executable, "-c", _PARSE_ONLY], capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_version_is_read_when_asked(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit, match="0"):
        main(["--version"])
    assert capsys.readouterr().out.strip() == f"ccdcal {version('ccdcal')}"


def test_a_ccdcal_error_is_reported_and_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "/nonexistent/raw-folder-for-ccdcal"]) == 1
    assert "error:" in capsys.readouterr().out
