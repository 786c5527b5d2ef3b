"""The QA report on disk: page, JSON, pictures, broken outputs, the CLI, import cost."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from astropy.nddata import StdDevUncertainty
from rich.console import Console

from ccdcal.cli.main import main
from ccdcal.io.fits import read_ccd, write_ccd
from ccdcal.report.qa import write_qa_report

from .conftest import ReducedNight

_VOID = {"meta", "img", "br", "hr", "input", "link"}


class _Page(HTMLParser):
    """Collects image sources and links, and checks that elements nest properly."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[str] = []
        self.links: list[str] = []
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "img":
            self.images.append(values["src"] or "")
        if tag == "a" and values.get("href"):
            self.links.append(values["href"] or "")
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1] if self.stack else None}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(page: Path) -> _Page:
    parser = _Page()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    return parser


def _copy(reduced: ReducedNight, folder: Path) -> Path:
    out = folder / "copy"
    shutil.copytree(reduced.out_dir, out, ignore=shutil.ignore_patterns("qa"))
    return out


@pytest.fixture(scope="module")
def report(reduced: ReducedNight, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The full report of a copy of the night's output."""
    return write_qa_report(_copy(reduced, tmp_path_factory.mktemp("report")))


def test_page_is_well_formed_and_its_pictures_exist(report: Path) -> None:
    page = _parse(report)
    qa_dir = report.parent
    assert len(page.images) == 8 + 6 + 2  # masters, science frames, two plots
    for src in page.images:
        assert not Path(src).is_absolute()
        assert (qa_dir / src).is_file(), src
        assert (qa_dir / src).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for href in page.links:
        if not href.startswith("#"):
            assert (qa_dir / href).exists(), href
    text = "".join(page.text)
    assert text.index("Flags") < text.index("Science frames") < text.index("Masters")
    metrics = json.loads((qa_dir / "qa.json").read_text())
    assert {e["thumbnail"] for e in metrics["masters"] + metrics["science"]} <= set(page.images)
    assert sorted(metrics["plots"]) == ["flat_profiles.png", "science_trends.png"]


def test_outputs_are_read_from_the_folder_given(report: Path, reduced: ReducedNight) -> None:
    metrics = json.loads((report.parent / "qa.json").read_text())
    assert metrics["night"]["out_dir"] == str(report.parent.parent)
    assert all(e["file"].startswith(("masters/", "science/")) for e in metrics["masters"])
    original = json.loads((reduced.out_dir / "qa" / "qa.json").read_text())  # run_plan's own
    assert original["night"]["out_dir"] == str(reduced.out_dir)


def test_corrupt_output_is_flagged_and_the_report_still_written(
    reduced: ReducedNight, tmp_path: Path
) -> None:
    out = _copy(reduced, tmp_path)
    victim = sorted((out / "science").glob("*.fits"))[1]
    victim.write_bytes(b"SIMPLE  = this is not a FITS file" * 50)
    page = write_qa_report(out)
    metrics = json.loads((page.parent / "qa.json").read_text())
    flags = [
        f for f in metrics["flags"] if f["check"] == "unreadable" and victim.name in f["message"]
    ]
    assert len(flags) == 1
    assert flags[0]["severity"] == "error"
    assert flags[0]["subject"] == f"science/{victim.name}"
    assert str(victim) in flags[0]["message"]
    others = [e for e in metrics["science"] if victim.name not in e["file"]]
    assert len(others) == 5
    assert all(e["noise_ratio"] for e in others)
    assert victim.name in page.read_text()
    _parse(page)


def test_wrong_uncertainties_are_flagged(reduced: ReducedNight, tmp_path: Path) -> None:
    out = _copy(reduced, tmp_path)
    victim = sorted((out / "science").glob("*.fits"))[0]
    ccd = read_ccd(victim)
    assert ccd.uncertainty is not None
    ccd.uncertainty = StdDevUncertainty(np.asarray(ccd.uncertainty.array) * 2.0)
    write_ccd(ccd, victim, overwrite=True)
    page = write_qa_report(out, thumbnails=False)
    metrics = json.loads((page.parent / "qa.json").read_text())
    entry = next(e for e in metrics["science"] if e["file"] == f"science/{victim.name}")
    assert entry["noise_ratio"] == pytest.approx(0.5, rel=0.08)
    assert [f["check"] for f in entry["flags"]] == ["noise-ratio"]
    assert [f["subject"] for f in metrics["flags"] if f["check"] == "noise-ratio"] == [
        f"science/{victim.name}"
    ]


def test_no_thumbnails_writes_no_png_and_removes_old_ones(
    reduced: ReducedNight, tmp_path: Path
) -> None:
    out = _copy(reduced, tmp_path)
    page = write_qa_report(out, thumbnails=False)
    assert not list(out.rglob("*.png"))
    assert _parse(page).images == []
    write_qa_report(out)
    assert len(list((out / "qa").rglob("*.png"))) == 16
    write_qa_report(out, thumbnails=False)
    assert not list(out.rglob("*.png"))
    assert sorted(p.name for p in (out / "qa").iterdir()) == ["index.html", "qa.json", "thumbs"]


def test_cli_report(reduced: ReducedNight, tmp_path: Path) -> None:
    out = _copy(reduced, tmp_path)
    console = Console(record=True, width=300)
    code = main(["report", str(out), "--no-thumbnails"], console=console)
    text = console.export_text()
    assert code == 0
    assert f"QA report: {out / 'qa' / 'index.html'}" in text
    corrupt = next(Path(f.path).name for f in reduced.truth.frames if "corrupt" in f.flags)
    assert corrupt in text  # the truncated raw file of the night is among the flags shown
    assert (out / "qa" / "qa.json").exists()
    assert not list(out.rglob("*.png"))


def test_cli_report_without_a_run(tmp_path: Path) -> None:
    console = Console(record=True, width=300)
    code = main(["report", str(tmp_path)], console=console)
    text = console.export_text()
    assert code == 1
    assert f"no readable run summary at '{tmp_path / 'run-summary.json'}'" in text
    assert not (tmp_path / "qa").exists()


def test_importing_ccdcal_and_the_report_does_not_load_matplotlib() -> None:
    code = (
        "import sys, ccdcal, ccdcal.report.qa, ccdcal.report.html, ccdcal.report.plots, "
        "ccdcal.report.measure, ccdcal.cli.report\n"
        "bad = [m for m in ('matplotlib', 'PIL', 'astropy.visualization') if m in sys.modules]\n"
        "print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert result.stdout.strip() == "[]"
