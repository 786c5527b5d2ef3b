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


_ENTRY_ENV = """
import os, sys
sys.argv = ["ccdcal", "--version"]
from ccdcal.cli.main import run
try:
    run()
except SystemExit:
    pass
print(os.environ.get("OPENBLAS_NUM_THREADS"), os.environ.get("OMP_NUM_THREADS"))
"""


@pytest.mark.parametrize(("preset", "expected"), [(None, "1 1"), ("4", "4 1")])
def test_the_command_asks_for_one_blas_thread_unless_told(
    preset: str | None, expected: str
) -> None:
    # ccdcal parallelises by itself (workers, combination threads); OpenBLAS threads that
    # spin beside them only take cores, but a user's explicit setting wins
    import os

    from ccdcal._startup import BLAS_THREAD_VARIABLES

    env = {k: v for k, v in os.environ.items() if k not in BLAS_THREAD_VARIABLES}
    if preset is not None:
        env["OPENBLAS_NUM_THREADS"] = preset
    run = subprocess.run(
        [sys.executable, "-c", _ENTRY_ENV], capture_output=True, text=True, timeout=60, env=env
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1] == expected
