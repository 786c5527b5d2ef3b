"""ImageFileCollection against ccdproc 2.5.1 on the same folders, and where ccdproc is wrong."""

from __future__ import annotations

import gzip
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.utils.exceptions import AstropyUserWarning
from ccdproc import ImageFileCollection as CcdprocCollection

from ccdcal.collection import reader
from ccdcal.collection.image_collection import ImageFileCollection
from ccdcal.errors import CollectionWarning, UnsupportedOperationError

from .conftest import make_old, write_frame

KEYS = ["imagetyp", "EXPTIME", "filter", "object", "nothere"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    raw = tmp_path / "raw"
    bias = fits.Header({"IMAGETYP": "BIAS", "EXPTIME": 0.0, "OBJECT": ""})
    bias["HISTORY"] = "first"
    bias["HISTORY"] = "second"
    bias["COMMENT"] = "a comment"
    write_frame(raw / "bias1.fits", bias)
    write_frame(raw / "bias2.fits", {"IMAGETYP": "bias", "EXPTIME": 0.0})
    write_frame(raw / "dark.fits", {"IMAGETYP": "DARK", "EXPTIME": 60.0, "CCD-TEMP": -20.1})
    write_frame(raw / "flat_r.fits", {"IMAGETYP": "FLAT", "EXPTIME": 5.0, "FILTER": "R"})
    write_frame(raw / "flat_v.fit", {"IMAGETYP": "FLAT", "EXPTIME": 3, "FILTER": "V"})
    write_frame(
        raw / "light.fts",
        {"IMAGETYP": "LIGHT", "EXPTIME": 120.0, "FILTER": "R", "OBJECT": "M 67", "NOTE": "n" * 100},
    )
    light = write_frame(
        raw / "light2.fits", {"IMAGETYP": "LIGHT", "EXPTIME": 120.0, "FILTER": "V", "AIRMASS": 1.2}
    )
    (raw / "light2.fits.gz").write_bytes(gzip.compress(light.read_bytes()))
    make_old(raw / "light2.fits.gz")
    light.unlink()
    (raw / "notes.txt").write_text("not a FITS file")
    return raw


def both(
    location: Path | str | None = None, **kwargs: Any
) -> tuple[CcdprocCollection, ImageFileCollection]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        theirs = CcdprocCollection(location, **kwargs)
    ours = ImageFileCollection(location, **kwargs)
    return theirs, ours


def assert_same_table(theirs: Table, ours: Table) -> None:
    assert ours.colnames == theirs.colnames
    assert len(ours) == len(theirs)
    for name in theirs.colnames:
        a, b = theirs[name], ours[name]
        assert b.dtype == a.dtype, name
        assert np.ma.getmaskarray(b).tolist() == np.ma.getmaskarray(a).tolist(), name
        assert b.tolist() == a.tolist(), name


@pytest.mark.parametrize(
    "keywords", [None, "*", KEYS, ["file", "filter"], ["IMAGETYP", "imagetyp"]]
)
def test_summary_equals_ccdproc(folder: Path, keywords: Any) -> None:
    theirs, ours = both(folder, keywords=keywords)
    assert ours.files == theirs.files
    assert_same_table(theirs.summary, ours.summary)
    assert list(ours.keywords) == list(theirs.keywords)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize(
    "criteria",
    [
        {"imagetyp": "bias"},
        {"imagetyp": "FLAT", "filter": "r"},
        {"filter": "*"},
        {"filter": None},
        {"exptime": 120.0},
        {"exptime": 3},
        {"imagetyp": "^(bias|dark)$", "regex_match": True},
        {"object": "m 67"},
        {"ccd-temp": -20.1},
        {"airmass": None},
    ],
)
def test_files_filtered_equals_ccdproc(folder: Path, criteria: dict[str, Any]) -> None:
    theirs, ours = both(folder, keywords=KEYS)
    expected = theirs.files_filtered(**criteria)
    got = ours.files_filtered(**criteria)
    assert isinstance(got, np.ndarray)
    assert got.tolist() == expected.tolist()
    assert ours.files_filtered(include_path=True, **criteria) == theirs.files_filtered(
        include_path=True, **criteria
    )


def test_filtering_on_new_keyword_reads_no_file(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = ImageFileCollection(folder, keywords=["imagetyp"])

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file was read")

    monkeypatch.setattr(reader, "read_hdu_header", no_reading)
    monkeypatch.setattr(fits, "getheader", no_reading)
    assert ours.files_filtered(**{"ccd-temp": "*"}).tolist() == ["dark.fits"]
    assert ours.summary.colnames == ["file", "imagetyp"]


def test_values_sort_refresh(folder: Path) -> None:
    theirs, ours = both(folder, keywords=KEYS)
    assert ours.values("filter") == theirs.values("filter")
    assert set(ours.values("imagetyp", unique=True)) == set(theirs.values("imagetyp", unique=True))
    assert ours.values("imagetyp", unique=True) == ["BIAS", "bias", "DARK", "FLAT", "LIGHT"]
    with pytest.raises(ValueError, match="keyword colour is not in the current summary"):
        ours.values("colour")
    theirs.sort(["EXPTIME", "file"])
    ours.sort(["EXPTIME", "file"])
    assert ours.files == theirs.files
    assert_same_table(theirs.summary, ours.summary)
    assert [h["EXPTIME"] for h in ours.headers()] == [h["EXPTIME"] for h in theirs.headers()]
    write_frame(folder / "late.fits", {"IMAGETYP": "DARK", "EXPTIME": 30.0})
    theirs.refresh()
    ours.refresh()
    assert ours.files == theirs.files
    assert_same_table(theirs.summary, ours.summary)


def test_single_keyword_string(folder: Path) -> None:
    theirs, ours = both(folder, keywords="exptime")
    assert ours.summary.colnames == ["file", "exptime"]
    assert "exptime" not in theirs.summary.colnames  # ccdproc: one column per character
    assert "e" in theirs.summary.colnames


def test_keyword_setter_and_deleter(folder: Path) -> None:
    theirs, ours = both(folder, keywords=KEYS)
    for new in (["imagetyp"], ["imagetyp", "airmass", "ccd-temp"], "*"):
        theirs.keywords = new
        ours.keywords = new
        assert_same_table(theirs.summary, ours.summary)
    del theirs.keywords
    del ours.keywords
    assert ours.keywords == theirs.keywords == []


def test_filter_keeps_ext_and_headers(tmp_path: Path) -> None:
    for i in range(3):
        primary = fits.PrimaryHDU(header=fits.Header({"ORIGIN": "x"}))
        sci = fits.ImageHDU(
            np.full((3, 3), i, np.float32),
            fits.Header({"IMAGETYP": "LIGHT" if i else "BIAS"}),
            name="SCI",
        )
        fits.HDUList([primary, sci]).writeto(tmp_path / f"m{i}.fits")
    theirs, ours = both(tmp_path, keywords=["imagetyp"], ext=1)
    assert_same_table(theirs.summary, ours.summary)
    light = ours.filter(imagetyp="light")
    assert light.ext == 1
    assert light.files == theirs.files_filtered(imagetyp="light", include_path=True)
    assert [d[0, 0] for d in light.data()] == [1.0, 2.0]
    named = ImageFileCollection(tmp_path, keywords=["imagetyp"], ext="SCI")
    assert named.summary["imagetyp"].tolist() == ["BIAS", "LIGHT", "LIGHT"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        lost = theirs.filter(imagetyp="light")
    assert lost.ext == 0  # ccdproc 2.5.1 drops ext (issue 814)


def test_filter_like_ccdproc(folder: Path) -> None:
    theirs, ours = both(folder, keywords=KEYS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyUserWarning)
        expected = theirs.filter(imagetyp="flat")
    got = ours.filter(imagetyp="flat")
    assert got.files == expected.files
    assert_same_table(expected.summary, got.summary)


def test_generators_yield_what_ccdproc_yields(folder: Path) -> None:
    theirs, ours = both(folder, keywords=KEYS)
    for name in ("headers", "hdus", "data"):
        mine = list(getattr(ours, name)(imagetyp="flat", return_fname=True))
        ref = list(getattr(theirs, name)(imagetyp="flat", return_fname=True))
        assert [f for _, f in mine] == [f for _, f in ref] == ["flat_r.fits", "flat_v.fit"]
        for (a, _), (b, _) in zip(mine, ref, strict=True):
            if name == "data":
                np.testing.assert_array_equal(a, b)
                assert a.dtype == b.dtype
            elif name == "hdus":
                np.testing.assert_array_equal(a.data, b.data)
            else:
                assert a == b


def test_generators_leave_no_state_behind(folder: Path) -> None:
    theirs, ours = both(folder, keywords=KEYS)
    assert len(list(ours.headers(imagetyp="bias"))) == 2
    assert len(list(ours.headers())) == 7
    assert not np.ma.getmaskarray(ours.summary["file"]).any()
    ours.files_filtered(imagetyp="dark")
    assert len(list(ours.hdus())) == 7
    # ccdproc 2.5.1: the filter mask stays on the summary and the next loop sees 2 files
    list(theirs.headers(imagetyp="bias"))
    assert len(list(theirs.headers())) == 2


def test_ccds_default_to_adu_and_take_kwargs(folder: Path) -> None:
    theirs, ours = both(folder, keywords=KEYS)
    ccds = list(ours.ccds(imagetyp="dark"))
    assert ccds[0].unit == u.adu
    assert ccds[0].header["EXPTIME"] == 60.0
    electrons = next(iter(ours.ccds(imagetyp="dark", ccd_kwargs={"unit": "electron"})))
    assert electrons.unit == u.electron
    with pytest.raises(ValueError, match="unit"):
        list(theirs.ccds(imagetyp="dark"))  # ccdproc 2.5.1 needs a unit without BUNIT


def test_ccds_refuse_overwrite(folder: Path) -> None:
    ours = ImageFileCollection(folder, keywords=KEYS)
    with pytest.raises(NotImplementedError, match="overwrite=True is not supported"):
        ours.ccds(overwrite=True)
    with (
        pytest.warns(DeprecationWarning, match="'clobber' keyword argument is a deprecated"),
        pytest.raises(UnsupportedOperationError, match="save_location"),
    ):
        ours.ccds(clobber=True)


def test_ccds_save_to_new_location(folder: Path, tmp_path: Path) -> None:
    ours = ImageFileCollection(folder, keywords=KEYS)
    out = tmp_path / "out"
    for ccd in ours.ccds(imagetyp="dark", save_location=str(out), save_with_name="_x"):
        ccd.data = ccd.data * 2
    saved = fits.getdata(out / "dark_x.fits")
    np.testing.assert_array_equal(saved, 2 * fits.getdata(folder / "dark.fits"))


@pytest.mark.parametrize("kind", ["data", "headers", "hdus"])
def test_save_and_overwrite_like_ccdproc(folder: Path, tmp_path: Path, kind: str) -> None:
    results = []
    for label, cls in (("theirs", CcdprocCollection), ("ours", ImageFileCollection)):
        src = tmp_path / label / "src"
        shutil.copytree(folder, src)
        collection = cls(src, keywords=KEYS)
        out = tmp_path / label / "out"
        out.mkdir()  # ccdproc does not create it
        for item in getattr(collection, kind)(
            imagetyp="flat", save_location=str(out), save_with_name="_new"
        ):
            _modify(kind, item)
        for item in getattr(collection, kind)(imagetyp="dark", overwrite=True):
            _modify(kind, item)
        results.append(
            (
                sorted(p.name for p in out.iterdir()),
                fits.getheader(src / "dark.fits"),
                fits.getdata(src / "dark.fits"),
            )
        )
    (names_a, header_a, data_a), (names_b, header_b, data_b) = results
    assert names_a == names_b == ["flat_r_new.fits", "flat_v_new.fit"]
    assert header_a == header_b
    np.testing.assert_array_equal(data_a, data_b)
    assert header_b.get("TOUCHED", False) or data_b[0, 0] == 1000


def _modify(kind: str, item: Any) -> None:
    if kind == "data":
        item[0, 0] = 1000
    elif kind == "headers":
        item["TOUCHED"] = True
    else:
        item.header["TOUCHED"] = True


def test_save_refuses_to_overwrite_existing_copy(folder: Path, tmp_path: Path) -> None:
    ours = ImageFileCollection(folder, keywords=KEYS)
    out = tmp_path / "out"
    list(ours.headers(imagetyp="dark", save_location=str(out)))
    with pytest.raises(OSError, match="already exists"):
        list(ours.headers(imagetyp="dark", save_location=str(out)))


@pytest.mark.parametrize(
    ("include", "exclude"), [("*.fits", None), (None, "bias*"), ("*a*", "*.fts")]
)
def test_globs_like_ccdproc(folder: Path, include: str | None, exclude: str | None) -> None:
    theirs, ours = both(folder, keywords=KEYS, glob_include=include, glob_exclude=exclude)
    assert ours.files == theirs.files
    assert_same_table(theirs.summary, ours.summary)
    assert repr(ours) == repr(theirs)


def test_filenames_with_and_without_location(folder: Path) -> None:
    names = ["dark.fits", "flat_r.fits"]
    theirs, ours = both(folder, keywords=KEYS, filenames=names)
    assert_same_table(theirs.summary, ours.summary)
    paths = [str(folder / n) for n in names]
    theirs, ours = both(keywords=KEYS, filenames=paths)
    assert_same_table(theirs.summary, ours.summary)
    assert next(iter(ours.headers(return_fname=True)))[1] == "dark.fits"
    theirs, ours = both(keywords=KEYS, filenames=paths[0])
    assert_same_table(theirs.summary, ours.summary)


def test_find_fits_by_reading(folder: Path) -> None:
    theirs, ours = both(folder, keywords=KEYS, find_fits_by_reading=True)
    assert set(theirs.files) < set(ours.files)  # ccdproc misses compressed files
    assert sorted(set(ours.files) - set(theirs.files)) == ["light2.fits.gz"]


def test_empty_collection_warns(tmp_path: Path) -> None:
    with pytest.warns(CollectionWarning, match="no FITS files in the collection"):
        ours = ImageFileCollection(tmp_path)
    assert ours.summary is None
    assert ours.files_filtered(imagetyp="bias") == []
    assert list(ours.headers()) == []
    assert issubclass(CollectionWarning, AstropyUserWarning)


def test_unreadable_files_are_listed_and_skipped(folder: Path) -> None:
    (folder / "broken.fits").write_bytes(b"SIMPLE  = nonsense" * 10)
    (folder / "cut.fits").write_bytes((folder / "dark.fits").read_bytes()[:2890])
    theirs, ours = both(folder, keywords=KEYS)
    assert ours.files == theirs.files
    assert "broken.fits" not in ours.summary["file"].tolist()
    reasons = {Path(u.path).name: u.reason for u in ours.unreadable}
    assert set(reasons) == {"broken.fits", "cut.fits"}
    assert reasons["cut.fits"].startswith("truncated file")
    assert "cut.fits" in theirs.summary["file"].tolist()  # ccdproc lists the truncated file


def test_duplicate_keywords_warn(tmp_path: Path) -> None:
    header = fits.Header()
    header.append(("DUPE", 1))
    header.append(("DUPE", 2))
    fits.PrimaryHDU(np.zeros((2, 2)), header).writeto(tmp_path / "d.fits")
    with pytest.warns(CollectionWarning, match='multiple entries for "dupe"'):
        ours = ImageFileCollection(tmp_path)
    assert ours.summary["dupe"].tolist() == [1]


def test_recursive_collection(folder: Path) -> None:
    write_frame(
        folder / "SKY" / "FILT_V" / "r1.fits", {"IMAGETYP": "FLAT", "FILTER": "V", "EXPTIME": 4.0}
    )
    ours = ImageFileCollection(folder, keywords=KEYS, recursive=True)
    assert "SKY/FILT_V/r1.fits" in ours.files
    assert ours.files_filtered(filter="v", imagetyp="flat").tolist() == [
        "SKY/FILT_V/r1.fits",
        "flat_v.fit",
    ]
    assert ImageFileCollection(folder, keywords=KEYS).files == sorted(
        set(ours.files) - {"SKY/FILT_V/r1.fits"}
    )


def test_second_collection_reads_from_cache(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = ImageFileCollection(folder, keywords="*")
    monkeypatch.setattr(reader, "read_hdu_header", None)  # any disk read would fail
    second = ImageFileCollection(folder, keywords="*")
    assert_same_table(first.summary, second.summary)


def test_unchanged_folder_summary_needs_no_header(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (folder / "broken.fits").write_bytes(b"SIMPLE  = nonsense" * 10)
    make_old(folder / "broken.fits")
    first = ImageFileCollection(folder, keywords=KEYS)
    from ccdcal.collection import image_collection

    with monkeypatch.context() as patched:
        patched.setattr(image_collection, "read_stated", None)  # any header read would fail
        second = ImageFileCollection(folder, keywords=KEYS)
        assert_same_table(first.summary, second.summary)
        assert second.unreadable == first.unreadable
        assert second.files_filtered(filter="r").tolist() == ["flat_r.fits", "light.fts"]
    # a keyword not in the summary: the headers are read then (from the header cache)
    assert second.files_filtered(airmass=1.2).tolist() == ["light2.fits.gz"]
    assert [c.files for c in (first.filter(imagetyp="dark"), second.filter(imagetyp="dark"))] == [
        [str(folder / "dark.fits")]
    ] * 2


def test_changed_file_changes_cached_summary(folder: Path) -> None:
    ImageFileCollection(folder, keywords=KEYS)
    write_frame(folder / "dark.fits", {"IMAGETYP": "DARK", "EXPTIME": 90.0})
    again = ImageFileCollection(folder, keywords=KEYS)
    assert again.values("EXPTIME")[2] == 90.0
    (folder / "dark.fits").unlink()
    assert "dark.fits" not in ImageFileCollection(folder, keywords=KEYS).files


def test_fresh_files_do_not_store_a_summary(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_frame(folder / "new.fits", {"IMAGETYP": "DARK", "EXPTIME": 1.0}, old=False)
    ImageFileCollection(folder, keywords=KEYS)
    from ccdcal.collection import image_collection

    monkeypatch.setattr(image_collection, "read_stated", None)
    with pytest.raises(TypeError, match="not callable"):
        ImageFileCollection(folder, keywords=KEYS)


def test_missing_location_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="is not a folder"):  # ccdproc: FileNotFoundError
        ImageFileCollection(tmp_path / "nowhere")


def test_unparsable_card_is_missing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    good = write_frame(tmp_path / "a.fits", {"EXPTIME": 1.0, "BAD": 2})
    blob = good.read_bytes().replace(
        b"BAD     =                    2", b"BAD     =                1.5 2"
    )
    (tmp_path / "a.fits").write_bytes(blob)
    make_old(tmp_path / "a.fits")
    ours = ImageFileCollection(tmp_path, keywords=["exptime", "bad"])
    assert ours.summary["exptime"].tolist() == [1.0]
    assert ours.summary["bad"].mask.tolist() == [True]
    assert "cannot parse card" in caplog.text
    with pytest.raises(fits.VerifyError, match="Unparsable card"):
        CcdprocCollection(tmp_path, keywords=["exptime", "bad"])
