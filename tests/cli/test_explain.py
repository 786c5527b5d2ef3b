"""``ccdcal explain``: the master of each kind used, and why not the others."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from ccdcal.cli.main import main
from ccdcal.testing.night import make_night


@pytest.fixture(scope="module")
def reduced(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("explain")
    truth = make_night(root / "n", seed=6, shape=(32, 48), n_bias=2, n_dark=2, n_flat=2,
                       n_science=1)  # fmt: skip
    out = root / "out"
    code = main(["reduce", str(truth.raw_dir), "-o", str(out), "--executor", "serial", "-q"],
                console=Console(quiet=True))  # fmt: skip
    assert code == 0
    return out


def test_explain_names_each_master_and_the_refused_candidates(reduced: Path) -> None:
    target = sorted((reduced / "science").glob("*.fits"))[0]
    console = Console(record=True, width=250)
    assert main(["explain", str(target)], console=console) == 0
    text = console.export_text()
    lines = text.splitlines()
    assert "from the calibration library" in lines[0]
    bias = next(line for line in lines if line.startswith("bias:"))
    assert "bias_2x2.fits" in bias
    assert "same binning 2x2" in bias
    assert "binning 1x1 is not the frame's 2x2" in text  # the 1x1 bias, refused
    flat = next(line for line in lines if line.startswith("flat:"))
    assert "derived from the 1x1 flat" in flat
    assert "filter" in text  # the flat of the other filter, refused for its filter


def test_explain_json_and_raw_file(reduced: Path, capsys: pytest.CaptureFixture[str]) -> None:
    summary = json.loads((reduced / "run-summary.json").read_text())
    raw = summary["planned_science"][0]["frame"]["path"]
    db = reduced / "calibration-library.sqlite"
    assert main(["explain", raw, "--db", str(db), "--json"], console=Console(quiet=True)) == 0
    data = json.loads(capsys.readouterr().out)
    assert [k["kind"] for k in data["kinds"]] == ["bias", "dark", "flat"]
    assert all(k["used"] for k in data["kinds"])


def test_explain_falls_back_on_the_header(reduced: Path, tmp_path: Path) -> None:
    target = sorted((reduced / "science").glob("*.fits"))[0]
    copy = tmp_path / target.name
    copy.write_bytes(target.read_bytes())  # no library next to the copy
    console = Console(record=True, width=250)
    assert main(["explain", str(copy)], console=console) == 0
    text = console.export_text()
    assert "from the file's provenance" in text
    assert "dark: dark_2x2_60s" in text


def test_explain_unknown_file_is_an_error(tmp_path: Path) -> None:
    console = Console(record=True, width=250)
    assert main(["explain", str(tmp_path / "nope.fits")], console=console) == 1
    assert "does not exist" in console.export_text()
