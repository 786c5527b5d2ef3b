"""``ccdcal reduce``: exit codes, outputs, quiet mode, the SIGKILL-and-resume guarantee."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

from ccdcal.cli.main import main
from ccdcal.io.fits import read_ccd
from ccdcal.testing.night import make_night


def night(folder: Path, **kwargs: object) -> Path:
    settings: dict[str, object] = {
        "seed": 4, "shape": (48, 64), "n_bias": 2, "n_dark": 2, "n_flat": 2, "n_science": 1,
    }  # fmt: skip
    settings.update(kwargs)
    truth = make_night(folder, **settings)  # type: ignore[arg-type]
    assert truth.raw_dir is not None
    return truth.raw_dir


def test_reduce_writes_outputs_and_summary(tmp_path: Path) -> None:
    raw = night(tmp_path / "n")
    out = tmp_path / "out"
    console = Console(record=True, width=200)
    code = main(["reduce", str(raw), "-o", str(out), "--executor", "serial"], console=console)
    text = console.export_text()
    assert code == 0
    assert "2 science frames calibrated" in text
    raw_science = sorted(p.name for p in raw.rglob("SCIENCE/*/*.fits"))
    assert len(raw_science) == 2
    assert sorted(p.name for p in (out / "science").iterdir()) == raw_science
    assert (out / "run-summary.json").exists()
    assert (out / "ccdcal.log").exists()
    assert (out / "calibration-library.sqlite").exists()
    page = out / "qa" / "index.html"
    assert f"QA report: {page}" in text
    assert "noise ratio" in page.read_text(encoding="utf-8").lower()
    assert (out / "qa" / "qa.json").exists()


def test_reduce_without_report_writes_no_qa_folder(tmp_path: Path) -> None:
    raw = night(tmp_path / "n")
    out = tmp_path / "out"
    argv = ["reduce", str(raw), "-o", str(out), "--executor", "serial", "--no-report", "-q"]
    assert main(argv, console=Console(quiet=True)) == 0
    assert (out / "run-summary.json").exists()
    assert not (out / "qa").exists()


def test_reduce_quiet_and_partial_exit_code(tmp_path: Path) -> None:
    raw = night(tmp_path / "n", corrupt_file=True)
    console = Console(record=True, width=200)
    argv = ["reduce", str(raw), "-o", str(tmp_path / "o"), "--executor", "serial", "--quiet"]
    code = main(argv, console=console)
    text = console.export_text()
    assert code == 3
    assert "Masters" not in text  # no tables when quiet
    assert "2 science frames calibrated" in text  # only the headline of a partial run


def _science_arrays(out: Path) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    arrays = {}
    for path in sorted((out / "science").glob("*.fits")):
        ccd = read_ccd(path)
        arrays[path.name] = (ccd.data, ccd.uncertainty.array, ccd.mask)
    for path in sorted((out / "masters").glob("*.fits")):
        ccd = read_ccd(path)
        arrays[path.name] = (ccd.data, ccd.uncertainty.array, ccd.mask)
    return arrays


def _assert_same_outputs(a: Path, b: Path) -> None:
    first, second = _science_arrays(a), _science_arrays(b)
    assert sorted(first) == sorted(second)
    for name in first:
        for x, y in zip(first[name], second[name], strict=True):
            np.testing.assert_array_equal(x, y, err_msg=name)


@pytest.mark.slow
def test_serial_and_process_executors_give_identical_outputs(tmp_path: Path) -> None:
    raw = night(tmp_path / "n", n_science=2)
    for executor in ("serial", "process"):
        argv = ["reduce", str(raw), "-o", str(tmp_path / executor), "--executor", executor, "-q"]
        assert main([*argv, "-j", "2"], console=Console(quiet=True)) == 0
    _assert_same_outputs(tmp_path / "serial", tmp_path / "process")


def _reduce_command(raw: Path, out: Path) -> list[str]:
    return [sys.executable, "-m", "ccdcal", "reduce", str(raw), "-o", str(out), "--quiet",
            "--executor", "serial"]  # fmt: skip


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_outputs(tmp_path: Path) -> None:
    raw = night(tmp_path / "n", shape=(184, 272), n_science=6)
    clean, killed = tmp_path / "clean", tmp_path / "killed"
    subprocess.run(_reduce_command(raw, clean), check=True, capture_output=True)

    proc = subprocess.Popen(_reduce_command(raw, killed), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 120
    science = killed / "science"
    while time.monotonic() < deadline and proc.poll() is None:
        if science.is_dir() and any(science.glob("*.fits")):
            break
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run finished before it could be killed"
    done_before = sorted(p.name for p in science.glob("*.fits"))
    assert 0 < len(done_before) < 12
    assert not (killed / "run-summary.json").exists()

    rerun = subprocess.run(_reduce_command(raw, killed), capture_output=True)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    _assert_same_outputs(clean, killed)
    assert not list(killed.rglob(".*.tmp"))  # no half-written file left behind
