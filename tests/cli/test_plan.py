"""``ccdcal plan``: the dry run prints the plan and writes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from ccdcal.cli.main import main
from ccdcal.testing.night import make_night


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    truth = make_night(
        tmp_path_factory.mktemp("night"), seed=2, shape=(32, 48), n_bias=2, n_dark=2,
        n_flat=2, n_science=1, junk_files=True,
    )  # fmt: skip
    assert truth.raw_dir is not None
    return truth.raw_dir


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p): p.stat().st_mtime_ns for p in folder.rglob("*")}


def test_plan_prints_masters_matching_and_problems(raw: Path, tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    before = snapshot(raw.parent)
    out = tmp_path / "never-made"
    code = main(["plan", str(raw), "-o", str(out)], console=console)
    text = console.export_text()
    assert code == 0
    assert "Frames: 16 (4 bias, 4 dark, 6 flat, 2 science)" in text
    assert "flat_1x1_V_to_2x2" in text
    assert "mixed-binning" in text
    assert snapshot(raw.parent) == before  # nothing written next to the raw night
    assert not out.exists()


def test_plan_json_to_stdout(raw: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", str(raw), "--json", "-"], console=Console(quiet=True))
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert [m["key"] for m in data["masters"]][:2] == ["bias_1x1", "bias_2x2"]
    assert len(data["science"]) == 2


def test_plan_reports_skipped_frames_with_exit_3(raw: Path) -> None:
    console = Console(record=True, width=200)
    code = main(["plan", str(raw), "--no-derived-flats"], console=console)
    assert code == 3
    assert "no master flat at 2x2" in console.export_text()


def test_plan_of_missing_folder_is_an_error(tmp_path: Path) -> None:
    console = Console(record=True, width=200)
    code = main(["plan", str(tmp_path / "nope")], console=console)
    assert code == 1
    assert "does not exist" in console.export_text()
