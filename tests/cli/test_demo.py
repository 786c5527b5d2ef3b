"""``ccdcal demo``: a synthetic night reduced and checked against its truth."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from ccdcal.cli.main import main


@pytest.mark.slow
def test_demo_passes_and_reuses_its_night(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    argv = ["demo", str(folder), "--size-factor", "0.06", "--executor", "serial"]
    console = Console(record=True, width=220)
    assert main(argv, console=console) == 0
    text = console.export_text()
    assert "robust std" in text
    assert "PASS: 8 frames" in text
    assert "bad flats rejected: 2/2" in text
    assert (folder / "raw").is_dir()
    assert (folder / "reduced" / "run-summary.json").exists()

    again = Console(record=True, width=220)
    assert main([*argv, "--quiet"], console=again) == 0
    assert again.export_text().startswith("PASS")
