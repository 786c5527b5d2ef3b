"""``ccdcal scan``: tables, group counts, problems, --json, exit codes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from rich.console import Console

from ccdcal.cli.main import main

REAL_NIGHT = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "umd-sbig-st8-20250624"
)


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path_factory.mktemp("ccdcal-home")
    monkeypatch.setenv("CCDCAL_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("CCDCAL_CONFIG_DIR", str(base / "config"))


def _frame(path: Path, **cards: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fits.PrimaryHDU(np.zeros((4, 6), np.uint16), fits.Header(cards)).writeto(path)
    old = time.time() - 60
    os.utime(path, (old, old))


@pytest.fixture
def night(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    day = raw / "M67" / "20250624"
    common = {"TELE": "pt5m", "DATE-OBS": "2025-06-24T21:00:00", "CCD-TEMP": -20.04}
    _frame(
        day / "BIAS" / "r0000001.fits", TYPE="BIAS", EXPTIME=0.0, FILTER="V", XBINNING=2, **common
    )
    _frame(
        day / "BIAS" / "r0000002.fits", TYPE="BIAS", EXPTIME=0.0, FILTER="R", XBINNING=2, **common
    )
    _frame(day / "SKY" / "FILT_V" / "r0000003.fits", TYPE="SKY", EXPTIME=5.0, FILTER="V", **common)
    _frame(day / "SCIENCE" / "FILT_V" / "r0000004.fits", TYPE="FOCUS", EXPTIME=1.0, **common)
    (day / "SCIENCE" / "FILT_V" / "r0000005.fits").write_bytes(b"truncated transfer")
    return raw


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(list(argv), console=Console(file=out, width=200))
    return code, out.getvalue()


def test_table_groups_problems(night: Path) -> None:
    code, text = run("scan", str(night))
    assert code == 3
    assert "M67/20250624/BIAS/r0000001.fits" in text
    assert "SKY/FILT_V/r0000003.fits" in text
    assert "-20.0" in text  # CCD temperature, one decimal
    lines = text.splitlines()
    bias_group = [line for line in lines if line.strip().startswith("│ bias") and "2x2" in line]
    assert len(bias_group) == 1
    assert bias_group[0].rstrip(" │").endswith("2")  # both biases, not split by filter
    assert "1 frame cannot be used" in text
    assert "r0000004.fits: not a bias, dark, flat or science frame (TYPE='FOCUS')" in text
    assert "1 file cannot be read" in text
    assert "r0000005.fits: not a FITS file" in text


def test_json(night: Path) -> None:
    code, text = run("scan", "--json", str(night))
    assert code == 3
    data = json.loads(text)
    files = {f["file"]: f for f in data["frames"]}
    assert files["M67/20250624/BIAS/r0000002.fits"]["frame_type"] == "bias"
    assert files["M67/20250624/BIAS/r0000002.fits"]["filter"] is None
    assert {
        "frame_type": "bias",
        "xbin": 2,
        "ybin": 2,  # only XBINNING in the header: taken as square
        "filter": None,
        "exptime": 0.0,
        "count": 2,
    } in data["groups"]
    assert [u["file"] for u in data["unreadable"]] == ["M67/20250624/SCIENCE/FILT_V/r0000005.fits"]
    assert data["unclassified"][0]["problems"] == [
        "not a bias, dark, flat or science frame (TYPE='FOCUS')"
    ]


def test_options(night: Path, tmp_path: Path) -> None:
    code, text = run("scan", "--no-recursive", "--no-cache", str(night))
    assert code == 1
    assert "no FITS files found" in text
    profile = tmp_path / "focus.toml"
    profile.write_text('name = "pt5m"\nextends = "generic"\nfocus = 1\n')
    code, text = run("scan", "--instrument-file", str(profile), str(night))
    assert code == 1
    assert f"{profile}: key 'focus'" in text
    profile.write_text(
        'name = "pt5m"\nextends = "generic"\npriority = 60\n'
        '[detect]\nany = [{keyword = "TELE", equals = "pt5m"}]\n'
        '[keywords]\nframe_type = "TYPE"\n[frame_types]\n"focus" = "science"\n"sky" = "flat"\n'
    )
    code, text = run("scan", "--json", "--instrument-file", str(profile), str(night))
    assert json.loads(text)["unclassified"] == []
    code, text = run("scan", "--json", "--instrument", "iraf", str(night))
    assert {f["instrument"] for f in json.loads(text)["frames"]} == {"iraf"}
    code, text = run("scan", "--instrument", "nonesuch", str(night))
    assert code == 1
    assert "unknown instrument profile 'nonesuch'" in text
    code, text = run("scan", str(tmp_path / "missing"))
    assert code == 1
    assert "does not exist" in text


def test_progress_bar_on_a_terminal(night: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from ccdcal.cli import scan as scan_cli

    monkeypatch.setattr(scan_cli, "PROGRESS_FROM", 1)
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=True)
    assert main(["scan", str(night)], console=console) == 3
    assert "reading headers" in out.getvalue()
    _code, text = run("scan", str(night))
    assert "reading headers" not in text  # not a terminal: no bar


def test_max_rows(night: Path) -> None:
    _code, text = run("scan", "--max-rows", "2", str(night))
    assert "... 2 more frames (--max-rows 0 shows all)" in text
    assert "4 frames" in text
    assert "r0000003.fits" not in text.split("more frames")[0]


@pytest.mark.realdata
def test_real_night_clean() -> None:
    if not REAL_NIGHT.is_dir():
        pytest.skip(f"real data not found at {REAL_NIGHT}")
    code, text = run("scan", str(REAL_NIGHT))
    assert code == 0
    assert "all 10 frames read and classified" in text
    code, text = run("scan", "--json", str(REAL_NIGHT))
    data = json.loads(text)
    kinds = {f["file"]: f["frame_type"] for f in data["frames"]}
    assert kinds["ancillary/focus.fit"] == kinds["ancillary/fov.fit"] == "science"
    assert sorted(g["count"] for g in data["groups"]) == [1, 1, 2, 2, 2, 2]


def test_subprocess(night: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "ccdcal", "scan", "--json", str(night)],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
        check=False,
    )
    assert proc.returncode == 3, proc.stderr
    assert len(json.loads(proc.stdout)["frames"]) == 4
