"""Finding FITS files: names, reading, globs, recursion."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from ccdcal.collection.discovery import find_fits_files, is_fits_name, looks_like_fits

from .conftest import write_frame


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("r0000001.fits", True),
        ("flat-001-c.FIT", True),
        ("a.fts", True),
        ("a.fits.gz", True),
        ("a.fit.bz2", True),
        ("a.fits.Z", True),
        ("a.fits.zip", True),
        ("a.fits.fz", True),
        ("a.fz", True),
        ("a.txt", False),
        ("a.gz", False),
        ("myfit", False),
        ("fits", False),
    ],
)
def test_fits_names(name: str, expected: bool) -> None:
    assert is_fits_name(name) is expected


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    write_frame(tmp_path / "b.fits", {"A": 1})
    write_frame(tmp_path / "a.FIT", {"A": 1})
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "fake.fits").write_text("not FITS")
    (tmp_path / "hidden.dat").write_bytes(gzip.compress((tmp_path / "b.fits").read_bytes()))
    write_frame(tmp_path / "BIAS" / "r1.fits", {"A": 1})
    write_frame(tmp_path / "SKY" / "FILT_V" / "r2.fits", {"A": 1})
    write_frame(tmp_path / ".ccdcal" / "r3.fits", {"A": 1})
    return tmp_path


def test_by_name_sorted_not_recursive(tree: Path) -> None:
    assert find_fits_files(tree) == ["a.FIT", "b.fits", "fake.fits"]


def test_recursive_skips_hidden_folders(tree: Path) -> None:
    assert find_fits_files(tree, recursive=True) == [
        "BIAS/r1.fits",
        "SKY/FILT_V/r2.fits",
        "a.FIT",
        "b.fits",
        "fake.fits",
    ]


def test_by_reading_finds_compressed_and_drops_fakes(tree: Path) -> None:
    assert find_fits_files(tree, by_reading=True) == ["a.FIT", "b.fits", "hidden.dat"]
    assert looks_like_fits(str(tree / "hidden.dat"))
    assert not looks_like_fits(str(tree / "fake.fits"))
    assert not looks_like_fits(str(tree / "missing"))


def test_globs_match_name_or_relative_path(tree: Path) -> None:
    assert find_fits_files(tree, glob_include="b*") == ["b.fits"]
    assert find_fits_files(tree, glob_exclude="*.fits") == ["a.FIT"]
    assert find_fits_files(tree, recursive=True, glob_include="SKY/*") == ["SKY/FILT_V/r2.fits"]
    assert find_fits_files(tree, recursive=True, glob_include="r*") == [
        "BIAS/r1.fits",
        "SKY/FILT_V/r2.fits",
    ]
    assert find_fits_files(tree, recursive=True, glob_exclude="r*") == [
        "a.FIT",
        "b.fits",
        "fake.fits",
    ]


def test_recursion_follows_links_once(tmp_path: Path) -> None:
    write_frame(tmp_path / "night" / "BIAS" / "r1.fits", {"A": 1})
    (tmp_path / "night" / "loop").symlink_to(tmp_path / "night")
    (tmp_path / "night" / "bias-link").symlink_to(tmp_path / "night" / "BIAS")
    found = find_fits_files(tmp_path / "night", recursive=True)
    assert found == ["BIAS/r1.fits"]
    write_frame(tmp_path / "elsewhere" / "r2.fits", {"A": 1})
    (tmp_path / "night" / "more").symlink_to(tmp_path / "elsewhere")
    assert find_fits_files(tmp_path / "night", recursive=True) == ["BIAS/r1.fits", "more/r2.fits"]
