"""The benchmark script runs (on tiny frames; timings are not asserted)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_bench_combine_quick(tmp_path: Path) -> None:
    out = tmp_path / "combine.md"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "bench_combine.py"),
            "--quick",
            "--data-dir",
            str(tmp_path / "data"),
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    table = out.read_text()
    for case in (
        "floor-mean",
        "ccdproc-sigclip-guide",
        "ccdcal-sigclip-guide",
        "ccdcal-median-guide",
    ):
        assert f"| {case}" in table
    assert "ccdproc / ccdcal" in table
