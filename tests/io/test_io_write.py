"""write_ccd: layout, dtypes, headers, checksums, atomicity and reading by astropy/ccdproc."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, InverseVariance, StdDevUncertainty, VarianceUncertainty
from astropy.wcs import WCS

from ccdcal.errors import FrameWriteError, OutputExistsError
from ccdcal.io import header_from_meta, read_ccd, stream, write_ccd
from ccdcal.io.fits import write_ccd_with_identity
from ccdcal.io.identity import file_identity
from ccdcal.io.provenance import FILE_KEY, read_provenance, record_step


def _product(
    rng: np.random.Generator, shape: tuple[int, int] = (30, 40), dtype: type = np.float32
) -> CCDData:
    data = rng.normal(500.0, 20.0, shape).astype(dtype)
    unc = np.sqrt(np.abs(data) + 100.0).astype(dtype)
    mask = rng.random(shape) < 0.05
    meta = {"EXPTIME": 120.0, "OBJECT": "M67", "FILTER": "V"}
    return CCDData(data, unit="electron", uncertainty=StdDevUncertainty(unc), mask=mask, meta=meta)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_keeps_values_and_dtype(tmp_path: Path, dtype: type) -> None:
    ccd = _product(np.random.default_rng(1), dtype=dtype)
    path = write_ccd(ccd, tmp_path / "out.fits")
    back = read_ccd(path)
    assert back.data.dtype == np.dtype(dtype)
    assert back.uncertainty.array.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.data, ccd.data)
    np.testing.assert_array_equal(back.uncertainty.array, ccd.uncertainty.array)
    np.testing.assert_array_equal(back.mask, ccd.mask)
    assert back.unit == u.electron
    assert back.meta["OBJECT"] == "M67"
    assert back.meta[FILE_KEY] == "out.fits"


def test_layout_and_checksums_on_every_hdu(tmp_path: Path) -> None:
    path = write_ccd(_product(np.random.default_rng(2)), tmp_path / "out.fits")
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "MASK", "UNCERT"]
        assert hdul["MASK"].data.dtype == np.uint8
        assert hdul["UNCERT"].header["UTYPE"] == "StdDevUncertainty"
        assert hdul[0].header["BITPIX"] == -32
        assert hdul[0].header["BUNIT"] == "electron"
        for hdu in hdul:
            assert hdu.header["CHECKSUM"]
            assert hdu.header["DATASUM"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy warns on a checksum mismatch
        with fits.open(path, checksum=True) as hdul:
            for hdu in hdul:
                assert hdu.verify_checksum() == 1
                assert hdu.verify_datasum() == 1


def test_checksum_detects_a_changed_byte(tmp_path: Path) -> None:
    path = write_ccd(_product(np.random.default_rng(3)), tmp_path / "out.fits")
    blob = bytearray(path.read_bytes())
    blob[2880 + 10] ^= 0xFF  # a byte of the primary data
    path.write_bytes(bytes(blob))
    with fits.open(path) as hdul:
        assert hdul[0].verify_datasum() == 0


def test_checksum_can_be_switched_off(tmp_path: Path) -> None:
    path = write_ccd(_product(np.random.default_rng(4)), tmp_path / "o.fits", checksum=False)
    assert "CHECKSUM" not in fits.getheader(path)


def test_uint16_is_written_as_bitpix16_bzero(tmp_path: Path) -> None:
    data = np.random.default_rng(5).integers(0, 65536, (20, 30), dtype=np.uint16)
    path = write_ccd(CCDData(data, unit="adu"), tmp_path / "raw.fits")
    header = fits.getheader(path)
    assert (header["BITPIX"], header["BZERO"]) == (16, 32768)
    back = read_ccd(path)
    assert back.data.dtype == np.uint16
    np.testing.assert_array_equal(back.data, data)


def test_dtype_argument(tmp_path: Path) -> None:
    ccd = _product(np.random.default_rng(6), dtype=np.float64)
    path = write_ccd(ccd, tmp_path / "o.fits", dtype=np.float32)
    back = read_ccd(path)
    assert back.data.dtype == np.float32
    assert back.uncertainty.array.dtype == np.float32
    np.testing.assert_array_equal(back.data, ccd.data.astype(np.float32))


def test_stale_array_cards_from_a_raw_header_are_dropped(tmp_path: Path) -> None:
    raw = np.full((10, 10), 40000, dtype=np.uint16)
    raw_path = tmp_path / "raw.fits"
    fits.PrimaryHDU(raw).writeto(raw_path)
    ccd = read_ccd(raw_path)  # meta has BITPIX 16, BZERO 32768, BSCALE 1
    result = CCDData(ccd.data.astype(np.float32) - 1000.0, unit="adu", meta=ccd.meta)
    path = write_ccd(result, tmp_path / "calibrated.fits")
    header = fits.getheader(path)
    assert header["BITPIX"] == -32
    assert "BZERO" not in header
    np.testing.assert_array_equal(read_ccd(path).data, np.full((10, 10), 39000, np.float32))


def test_header_cards_long_strings_hierarch_comments(tmp_path: Path) -> None:
    long_text = " ".join(["a long observing note"] * 12)  # FITS drops trailing blanks
    meta = {
        "NOTE": long_text,
        "subtract_dark": ("subdark", "Shortened name for ccdproc command"),
        "GAIN": (1.1, "e-/ADU"),
        "COMMENT": ["first comment", "second comment"],
        "HISTORY": "made by a test",
        "NPINT": np.int64(7),
        "EXPQ": 30 * u.s,
    }
    path = write_ccd(
        CCDData(np.zeros((2, 2), np.float32), unit="adu", meta=meta), tmp_path / "h.fits"
    )
    header = fits.getheader(path)
    assert header["NOTE"] == long_text
    assert header["SUBTRACT_DARK"] == "subdark"
    assert header.comments["GAIN"] == "e-/ADU"
    assert list(header["COMMENT"]) == ["first comment", "second comment"]
    assert list(header["HISTORY"]) == ["made by a test"]
    assert header["NPINT"] == 7
    assert header["EXPQ"] == 30.0


def test_non_ascii_text_is_transliterated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    meta = {"OBSERVER": "José Núñez"}
    with caplog.at_level("WARNING", logger="ccdcal.io.fits"):
        path = write_ccd(
            CCDData(np.zeros((2, 2), np.float32), unit="adu", meta=meta), tmp_path / "n.fits"
        )
    assert fits.getval(path, "OBSERVER") == "Jose Nunez"
    assert "OBSERVER" in caplog.text


def test_write_does_not_change_the_frame(tmp_path: Path) -> None:
    ccd = _product(np.random.default_rng(7))
    meta_before = dict(ccd.meta)
    data_before = ccd.data.copy()
    write_ccd(ccd, tmp_path / "o.fits")
    assert dict(ccd.meta) == meta_before
    assert FILE_KEY not in ccd.meta
    np.testing.assert_array_equal(ccd.data, data_before)


def test_provenance_survives(tmp_path: Path) -> None:
    ccd = _product(np.random.default_rng(8))
    master = _product(np.random.default_rng(9))
    record_step(
        ccd,
        "subtract_dark",
        call_args={"ccd": ccd, "master": master, "scale": True},
        params={"scale": True, "factor": 2.5, "note": "x" * 300},
        calibrations={"master": master},
    )
    path = write_ccd(ccd, tmp_path / "p.fits")
    back = read_ccd(path)
    assert read_provenance(back.meta) == read_provenance(ccd.meta)
    assert back.meta["SUBDARK"] == "ccd=<CCDData>, master=<CCDData>, scale=True"


def test_rewriting_a_read_product_changes_nothing(tmp_path: Path) -> None:
    ccd = _product(np.random.default_rng(19))
    record_step(ccd, "flat_correct", call_args={"ccd": ccd}, params={"note": "y" * 200})
    first = read_ccd(write_ccd(ccd, tmp_path / "a.fits"))  # meta is now a fits.Header
    second = read_ccd(write_ccd(first, tmp_path / "b.fits"))
    np.testing.assert_array_equal(second.data, ccd.data)
    np.testing.assert_array_equal(second.mask, ccd.mask)
    assert read_provenance(second.meta) == read_provenance(ccd.meta)
    assert second.meta[FILE_KEY] == "b.fits"
    cards = [k for k in second.meta if k not in (FILE_KEY, "CHECKSUM", "DATASUM")]
    assert cards == [k for k in first.meta if k not in (FILE_KEY, "CHECKSUM", "DATASUM")]


def test_wcs_round_trip(tmp_path: Path) -> None:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [132.8, 11.8]
    wcs.wcs.crpix = [5.0, 6.0]
    wcs.wcs.cdelt = [-2e-4, 2e-4]
    ccd = CCDData(np.zeros((10, 12), np.float32), unit="adu", wcs=wcs)
    back = read_ccd(write_ccd(ccd, tmp_path / "w.fits"))
    np.testing.assert_allclose(back.wcs.wcs.crval, wcs.wcs.crval)
    np.testing.assert_allclose(back.wcs.wcs.crpix, wcs.wcs.crpix)


@pytest.mark.parametrize("cls", [VarianceUncertainty, InverseVariance])
def test_other_uncertainty_classes_round_trip(tmp_path: Path, cls: type) -> None:
    array = np.full((3, 4), 4.0, dtype=np.float32)
    ccd = CCDData(np.ones((3, 4), np.float32), unit="adu", uncertainty=cls(array))
    back = read_ccd(write_ccd(ccd, tmp_path / "u.fits"))
    assert isinstance(back.uncertainty, cls)
    np.testing.assert_array_equal(back.uncertainty.array, array)


def test_uncertainty_in_other_unit_is_converted(tmp_path: Path) -> None:
    unc = StdDevUncertainty(np.full((2, 2), 1000.0), unit="adu")
    ccd = CCDData(np.ones((2, 2)), unit="kadu", uncertainty=unc)
    back = read_ccd(write_ccd(ccd, tmp_path / "k.fits"))
    np.testing.assert_allclose(back.uncertainty.array, 1.0)


# ----------------------------------------------------------------------------- compression


@pytest.mark.parametrize("name", ["o.fits.gz", "o.fits.fz"])
def test_compressed_outputs_are_lossless(tmp_path: Path, name: str) -> None:
    ccd = _product(np.random.default_rng(10))
    path = write_ccd(ccd, tmp_path / name)
    back = read_ccd(path)
    np.testing.assert_array_equal(back.data, ccd.data)
    np.testing.assert_array_equal(back.uncertainty.array, ccd.uncertainty.array)
    np.testing.assert_array_equal(back.mask, ccd.mask)
    assert back.meta["OBJECT"] == "M67"
    assert back.meta[FILE_KEY] == name


def test_fz_output_is_tile_compressed(tmp_path: Path) -> None:
    path = write_ccd(_product(np.random.default_rng(11)), tmp_path / "o.fits.fz")
    with fits.open(path, disable_image_compression=True) as hdul:
        assert [type(h).__name__ for h in hdul] == [
            "PrimaryHDU",
            "BinTableHDU",
            "BinTableHDU",
            "BinTableHDU",
        ]
        assert all(h.header.get("ZIMAGE") for h in hdul[1:])


# ----------------------------------------------------------------------------- overwrite, atomicity


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    first = _product(np.random.default_rng(12))
    path = write_ccd(first, tmp_path / "o.fits")
    second = _product(np.random.default_rng(13))
    with pytest.raises(OutputExistsError, match=r"o\.fits' already exists.*overwrite=True"):
        write_ccd(second, path)
    with pytest.raises(FileExistsError, match="already exists"):
        write_ccd(second, path)
    np.testing.assert_array_equal(read_ccd(path).data, first.data)
    write_ccd(second, path, overwrite=True)
    np.testing.assert_array_equal(read_ccd(path).data, second.data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.fits"]


def _half_then_disk_full(hdul: fits.HDUList, sink: Any, **kwargs: object) -> None:
    sink.write(b"SIMPLE  = half a file")
    raise OSError("disk full")


@pytest.mark.parametrize("name", ["o.fits", "o.fits.gz", "o.fits.fz"])
def test_failed_write_leaves_old_file_and_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    first = _product(np.random.default_rng(14))
    path = write_ccd(first, tmp_path / name)
    # uncompressed and gzipped files are written by ccdcal's writer, .fz ones by astropy
    monkeypatch.setattr(stream, "write_hdulist", _half_then_disk_full)
    monkeypatch.setattr(fits.HDUList, "writeto", _half_then_disk_full)
    with pytest.raises(
        FrameWriteError, match=r"o\.fits(\.gz|\.fz)?' could not be written \(disk full\)"
    ):
        write_ccd(_product(np.random.default_rng(15)), path, overwrite=True)
    monkeypatch.undo()
    np.testing.assert_array_equal(read_ccd(path).data, first.data)
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_unwritable_folder_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(name: object, *args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied", str(name))

    monkeypatch.setattr(stream, "open", denied, raising=False)  # the tests may run as root
    with pytest.raises(
        FrameWriteError, match=r"o\.fits' could not be written \(Permission denied\).*permissions"
    ):
        write_ccd(_product(np.random.default_rng(20)), tmp_path / "o.fits")
    assert list(tmp_path.iterdir()) == []


def test_missing_directory_is_explained(tmp_path: Path) -> None:
    with pytest.raises(FrameWriteError, match=r"directory .*nope.* does not exist; create it"):
        write_ccd(_product(np.random.default_rng(16)), tmp_path / "nope" / "o.fits")


def test_mask_of_wrong_shape_is_refused(tmp_path: Path) -> None:
    ccd = CCDData(np.ones((3, 3), np.float32), unit="adu")
    ccd._mask = np.zeros((2, 2), dtype=bool)  # CCDData does not check the shape itself
    with pytest.raises(FrameWriteError, match=r"mask has shape \(2, 2\).*\(3, 3\)"):
        write_ccd(ccd, tmp_path / "m.fits")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- other readers


def test_astropy_reads_our_files(tmp_path: Path) -> None:
    ccd = _product(np.random.default_rng(17))
    path = write_ccd(ccd, tmp_path / "o.fits")
    back = CCDData.read(path)
    assert back.unit == u.electron
    assert isinstance(back.uncertainty, StdDevUncertainty)
    np.testing.assert_array_equal(back.data, ccd.data)
    np.testing.assert_array_equal(back.uncertainty.array, ccd.uncertainty.array)
    np.testing.assert_array_equal(back.mask, ccd.mask)


def test_ccdproc_reads_and_combines_our_files(tmp_path: Path) -> None:
    ccdproc = pytest.importorskip("ccdproc")
    rng = np.random.default_rng(18)
    frames = [_product(rng) for _ in range(3)]
    for frame in frames:
        frame.mask = None
    paths = [write_ccd(f, tmp_path / f"f{i}.fits") for i, f in enumerate(frames)]
    combined = ccdproc.combine([str(p) for p in paths], method="average")
    expected = np.mean([f.data.astype(np.float64) for f in frames], axis=0)
    np.testing.assert_allclose(combined.data, expected, rtol=1e-6)
    assert combined.unit == u.electron
    collection = ccdproc.ImageFileCollection(tmp_path, keywords=["object", "filter"])
    assert list(collection.summary["object"]) == ["M67"] * 3
    for ccd in collection.ccds():
        assert isinstance(ccd.uncertainty, StdDevUncertainty)


# ----------------------------------------------------------------------------- identity, checksums


def _night_product(rng: np.random.Generator, dtype: type = np.float32) -> CCDData:
    """Shaped like a pipeline output: provenance JSON in CONTINUE cards, a few masked pixels."""
    ccd = _product(rng, shape=(37, 53), dtype=dtype)
    record_step(
        ccd,
        "make_master_flat",
        call_args={},
        params={"inputs": [f"r{n:07d}.fits" for n in range(20)], "note": "z" * 400},
        calibrations={"bias": "bias_1x1.fits"},
        add_keyword={},
    )
    return ccd


@pytest.mark.parametrize("name", ["w.fits", "w.fits.gz", "w.fits.fz"])
def test_identity_equals_file_identity_afterwards(tmp_path: Path, name: str) -> None:
    ccd = _night_product(np.random.default_rng(30))
    written = write_ccd_with_identity(ccd, tmp_path / name)
    assert written == file_identity(tmp_path / name)
    assert written.path == str(tmp_path / name)
    back = read_ccd(tmp_path / name)
    np.testing.assert_array_equal(back.data, ccd.data)
    np.testing.assert_array_equal(back.mask, ccd.mask)
    # replacing the file gives the new file's identity
    again = write_ccd_with_identity(
        _product(np.random.default_rng(31)), written.path, overwrite=True
    )
    assert again == file_identity(tmp_path / name)
    assert again.sha256 != written.sha256
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]


def test_identity_and_plain_write_give_the_same_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stream, "_timestamp", lambda: "2020-01-02T03:04:05")
    ccd = _night_product(np.random.default_rng(32))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = write_ccd(ccd, tmp_path / "a" / "x.fits")
    written = write_ccd_with_identity(ccd, tmp_path / "b" / "x.fits")
    assert plain.read_bytes() == Path(written.path).read_bytes()
    assert written.size == plain.stat().st_size


def test_identity_with_fsync(tmp_path: Path) -> None:
    path = tmp_path / "s.fits"
    written = write_ccd_with_identity(_product(np.random.default_rng(36)), path, fsync=True)
    assert written == file_identity(path)


def test_identity_refuses_to_overwrite_like_write_ccd(tmp_path: Path) -> None:
    path = write_ccd(_product(np.random.default_rng(33)), tmp_path / "o.fits")
    with pytest.raises(OutputExistsError, match=r"o\.fits' already exists"):
        write_ccd_with_identity(_product(np.random.default_rng(34)), path)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint16, np.int16, np.int32])
@pytest.mark.parametrize("name", ["c.fits", "c.fits.gz", "c.fits.fz"])
def test_astropy_verifies_every_checksum(tmp_path: Path, dtype: type, name: str) -> None:
    rng = np.random.default_rng(35)
    ccd = _night_product(rng)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    if info is not None:  # raw-like integer frames, no uncertainty
        data = rng.integers(info.min, info.max, ccd.shape, dtype=dtype, endpoint=True)
        ccd = CCDData(data, unit="adu", mask=ccd.mask, meta=ccd.meta)
    else:
        ccd = CCDData(
            ccd.data.astype(dtype),
            unit=ccd.unit,
            mask=ccd.mask,
            meta=ccd.meta,
            uncertainty=StdDevUncertainty(ccd.uncertainty.array.astype(dtype)),
        )
    path = write_ccd(ccd, tmp_path / name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a wrong CHECKSUM or DATASUM is a warning in astropy
        # a tile-compressed HDU carries its checksums on the table that stores it
        with fits.open(path, checksum=True, disable_image_compression=True) as hdul:
            for hdu in hdul:
                assert hdu.verify_checksum() == 1
                assert hdu.verify_datasum() == 1
    back = read_ccd(path)
    assert back.data.dtype == np.dtype(dtype)
    np.testing.assert_array_equal(back.data, ccd.data)
    np.testing.assert_array_equal(back.mask, ccd.mask)
    assert read_provenance(back.meta) == read_provenance(ccd.meta)


def test_integer_mask_is_written_as_zero_or_one(tmp_path: Path) -> None:
    mask = np.array([[0, 1], [256, -3]], dtype=np.int32)  # 256 would wrap to 0 as uint8
    ccd = CCDData(np.zeros((2, 2), np.float32), unit="adu")
    ccd._mask = mask  # CCDData makes a mask bool; an integer one can still be set like this
    path = write_ccd(ccd, tmp_path / "m.fits")
    np.testing.assert_array_equal(fits.getdata(path, "MASK"), [[0, 1], [1, 1]])
    np.testing.assert_array_equal(ccd.mask, [[0, 1], [256, -3]])


@pytest.mark.filterwarnings("ignore::astropy.io.fits.verify.VerifyWarning")
@pytest.mark.filterwarnings("ignore::astropy.utils.exceptions.AstropyUserWarning")
@pytest.mark.parametrize("name", ["bad.fits", "bad.fits.gz"])
def test_a_header_astropy_refuses_names_the_keyword(tmp_path: Path, name: str) -> None:
    meta = {"A_VERY_LONG_KEYWORD_NAME_THAT_GOES_ON_AND_ON_FOREVER_AND_EVER_XXXXXXXX": "x" * 40}
    ccd = CCDData(np.zeros((2, 2), np.float32), unit="adu", meta=meta)
    with pytest.raises(
        FrameWriteError,
        match=r"(?s)bad\.fits(\.gz)?' could not be written: the header is not valid FITS .*"
        r"A_VERY_LONG_KEYWORD_NAME.* is not FITS standard",
    ):
        write_ccd_with_identity(ccd, tmp_path / name)
    assert list(tmp_path.iterdir()) == []


def test_an_unparsable_card_in_a_header_names_the_keyword(tmp_path: Path) -> None:
    cards = ["SIMPLE  =                    T", "DATE    = 2020-01-01 / unquoted", "END"]
    header = fits.Header.fromstring("".join(card.ljust(80) for card in cards))
    ccd = CCDData(np.zeros((2, 2), np.float32), unit="adu", meta=header)
    with pytest.raises(
        FrameWriteError, match=r"header keyword 'DATE' cannot be written.*Unparsable"
    ):
        write_ccd(ccd, tmp_path / "u.fits")
    assert list(tmp_path.iterdir()) == []


def test_a_file_name_that_is_not_ascii_is_explained(tmp_path: Path) -> None:
    ccd = CCDData(np.zeros((2, 2), np.float32), unit="adu")
    with pytest.raises(FrameWriteError, match=r"file name 'Ωmega\.fits'.*CCDCFILE.*ASCII"):
        write_ccd(ccd, tmp_path / "Ωmega.fits")
    assert list(tmp_path.iterdir()) == []


def _header_set_one_by_one(meta: dict[str, object]) -> fits.Header:
    """What ``header_from_meta`` stands for: astropy's header, each card set in turn."""
    header = fits.Header()
    for key, value in meta.items():
        if key.upper() in ("COMMENT", "HISTORY"):
            getattr(header, f"add_{key.lower()}")(value)
        elif key.upper() not in ("NAXIS", "BITPIX"):
            name = key.upper()
            if len(key) > 8 and not name.startswith("HIERARCH "):
                name = f"HIERARCH {name}"
            header[name] = value
    return header


@pytest.mark.parametrize(
    "meta",
    [
        {},
        {"OBJECT": "M67", "EXPTIME": (60.0, "s"), "NAXIS": 2, "FLAG": True, "N": 3},
        {"LONG": "x" * 200, "a_very_long_keyword": 1.5, "BITPIX": 16, "Z": (None, "undefined")},
        {"OBJECT": "M67", "HISTORY": "made", "FILTER": "R"},  # commentary: set one by one
        {"DATE": "2020", "HIERARCH DATE": "2021"},  # the same keyword twice
    ],
)
def test_a_header_from_meta_holds_the_cards_set_one_by_one(meta: dict[str, object]) -> None:
    assert header_from_meta(meta).tostring() == _header_set_one_by_one(meta).tostring()


def test_an_unwritable_value_names_its_keyword_on_either_path() -> None:
    for meta in ({"A": 1, "BAD": float("nan")}, {"HISTORY": "h", "BAD": float("nan")}):
        with pytest.raises(FrameWriteError, match=r"header keyword 'BAD' with value nan"):
            header_from_meta(meta)
