"""read_ccd: raw frames, units, dtypes, extensions, compression and bad files."""

from __future__ import annotations

import gzip
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty, VarianceUncertainty
from astropy.wcs import WCS

from ccdcal.errors import CcdcalError, FrameNotFoundError, FrameReadError
from ccdcal.io import parse_bunit, read_ccd
from ccdcal.io.provenance import FILE_KEY

REAL_NIGHT = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "umd-sbig-st8-20250624"
)


def _raw(rng: np.random.Generator, shape: tuple[int, int] = (40, 50)) -> np.ndarray:
    # values over the whole uint16 range, including those above 32767
    return rng.integers(0, 65536, size=shape, dtype=np.uint16)


def _write_raw(path: Path, data: np.ndarray, **cards: object) -> Path:
    header = fits.Header()
    for key, value in cards.items():
        header[key] = value
    fits.PrimaryHDU(data, header).writeto(path)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------- raw frames


def test_raw_uint16_keeps_native_dtype_and_exact_values(tmp_path: Path) -> None:
    data = _raw(np.random.default_rng(1))
    path = _write_raw(tmp_path / "r0000001.fits", data, EXPTIME=60.0)
    assert fits.getheader(path)["BZERO"] == 32768  # stored as BITPIX 16 + BZERO
    ccd = read_ccd(path)
    assert ccd.data.dtype == np.uint16
    np.testing.assert_array_equal(ccd.data, data)
    assert ccd.data.flags.writeable
    assert ccd.meta["EXPTIME"] == 60.0
    assert ccd.uncertainty is None
    assert ccd.mask is None
    assert ccd.wcs is None


def test_raw_without_bunit_defaults_to_adu(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "r.fits", _raw(np.random.default_rng(2)))
    assert read_ccd(path).unit == u.adu


def test_file_key_names_the_file(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "r0001234.fits", _raw(np.random.default_rng(3)))
    assert read_ccd(path).meta[FILE_KEY] == "r0001234.fits"


def test_dtype_argument_converts_exactly(tmp_path: Path) -> None:
    data = _raw(np.random.default_rng(4))
    path = _write_raw(tmp_path / "r.fits", data)
    ccd = read_ccd(path, dtype=np.float32)
    assert ccd.data.dtype == np.float32
    np.testing.assert_array_equal(ccd.data, data.astype(np.float32))


@pytest.mark.parametrize("dtype", [None, np.float32, np.float64, np.int32, np.uint16])
@pytest.mark.parametrize("layout", ["primary", "extension", "blank", "gzip"])
def test_raw_reads_agree_with_astropy(tmp_path: Path, dtype: type | None, layout: str) -> None:
    """Raw uint16 frames (read by ccdcal's own fast path) equal astropy's values."""
    data = _raw(np.random.default_rng(19), (30, 20))
    path = tmp_path / ("r.fits.gz" if layout == "gzip" else "r.fits")
    if layout == "extension":
        fits.HDUList([fits.PrimaryHDU(), fits.ImageHDU(data, name="SCI")]).writeto(path)
    else:
        fits.PrimaryHDU(data).writeto(path)
    if layout == "blank":
        fits.setval(path, "BLANK", value=-32768)  # astropy then scales to float with NaN
    expected = fits.getdata(path, ext=1 if layout == "extension" else 0)
    got = read_ccd(path, dtype=dtype).data
    want = expected if dtype is None else expected.astype(dtype)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got, want)


def test_scaled_integers_give_float(tmp_path: Path) -> None:
    stored = np.arange(12, dtype=np.int16).reshape(3, 4)
    path = tmp_path / "scaled.fits"
    fits.PrimaryHDU(stored).writeto(path)
    fits.setval(path, "BSCALE", value=0.5)  # header-only edits: the stored ints stay
    fits.setval(path, "BZERO", value=100.0)
    ccd = read_ccd(path)
    assert ccd.data.dtype.kind == "f"
    np.testing.assert_allclose(ccd.data, stored * 0.5 + 100.0)


def test_float_data_come_back_native_and_writable(tmp_path: Path) -> None:
    data = np.random.default_rng(5).normal(size=(20, 30)).astype(np.float32)
    path = tmp_path / "f.fits"
    fits.PrimaryHDU(data).writeto(path)
    ccd = read_ccd(path)
    assert ccd.data.dtype == np.dtype(np.float32)
    assert ccd.data.dtype.isnative
    assert ccd.data.flags.writeable
    np.testing.assert_array_equal(ccd.data, data)


def test_memmap_gives_same_values(tmp_path: Path) -> None:
    data = np.random.default_rng(6).normal(size=(20, 30)).astype(np.float32)
    path = tmp_path / "f.fits"
    fits.PrimaryHDU(data).writeto(path)
    raw = _raw(np.random.default_rng(7))
    raw_path = _write_raw(tmp_path / "r.fits", raw)
    np.testing.assert_array_equal(read_ccd(path, memmap=True).data, data)
    np.testing.assert_array_equal(read_ccd(raw_path, memmap=True).data, raw)


def test_reading_never_changes_the_file(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "r.fits", _raw(np.random.default_rng(8)), EXPTIME=1.0)
    os.chmod(path, 0o444)  # a raw archive is often read-only
    before = (_sha(path), path.stat().st_mtime_ns)
    for memmap in (False, True):
        ccd = read_ccd(path, memmap=memmap)
        if ccd.data.flags.writeable:
            ccd.data[...] = 0
        ccd.meta["EXPTIME"] = 99.0
        del ccd
    assert (_sha(path), path.stat().st_mtime_ns) == before


# ----------------------------------------------------------------------------- units


@pytest.mark.parametrize(
    ("bunit", "expected"),
    [
        ("adu", u.adu),
        ("ADU", u.adu),
        ("electron", u.electron),
        ("ELECTRONS", u.electron),
        ("ELECTRONS/S", u.electron / u.s),
        ("ADU/S", u.adu / u.s),
        ("adu / s", u.adu / u.s),
        ("count", u.count),
    ],
)
def test_bunit_spellings(tmp_path: Path, bunit: str, expected: u.UnitBase) -> None:
    assert parse_bunit(bunit) == expected
    path = _write_raw(tmp_path / "r.fits", _raw(np.random.default_rng(9)), BUNIT=bunit)
    assert read_ccd(path).unit == expected


def test_unparseable_bunit_names_file_hdu_keyword_and_fix(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "odd.fits", _raw(np.random.default_rng(10)), BUNIT="furlongs")
    with pytest.raises(FrameReadError, match=r"odd\.fits.*HDU 0.*BUNIT = 'furlongs'.*unit="):
        read_ccd(path)
    assert read_ccd(path, unit="adu").unit == u.adu


def test_given_unit_wins_over_bunit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = _write_raw(tmp_path / "e.fits", _raw(np.random.default_rng(11)), BUNIT="electron")
    with caplog.at_level("WARNING", logger="ccdcal.io.fits"):
        assert read_ccd(path, unit="adu").unit == u.adu
    assert "BUNIT = 'electron'" in caplog.text
    assert read_ccd(path, unit=u.electron).unit == u.electron


# ----------------------------------------------------------------------------- HDUs, extensions


def test_fz_file_reads_first_image_extension_with_primary_cards(tmp_path: Path) -> None:
    data = _raw(np.random.default_rng(12))
    primary = fits.PrimaryHDU()
    primary.header["TELE"] = "pt5m"
    image = fits.CompImageHDU(data)
    image.header["EXPTIME"] = 120.0
    path = tmp_path / "r0000007.fits.fz"
    fits.HDUList([primary, image]).writeto(path)
    ccd = read_ccd(path)
    np.testing.assert_array_equal(ccd.data, data)
    assert ccd.data.dtype == np.uint16
    assert ccd.meta["EXPTIME"] == 120.0
    assert ccd.meta["TELE"] == "pt5m"
    assert ccd.meta[FILE_KEY] == "r0000007.fits.fz"


@pytest.mark.parametrize("suffix", [".fits.gz", ".fit.gz", ".fts"])
def test_other_suffixes(tmp_path: Path, suffix: str) -> None:
    data = _raw(np.random.default_rng(13))
    path = tmp_path / f"frame{suffix}"
    fits.PrimaryHDU(data).writeto(path)
    if suffix.endswith(".gz"):
        with gzip.open(path, "rb") as handle:  # it really is gzip
            assert handle.read(6) == b"SIMPLE"
    np.testing.assert_array_equal(read_ccd(path).data, data)


def test_hdu_by_name_and_index(tmp_path: Path) -> None:
    first = np.zeros((4, 5), dtype=np.float32)
    second = np.ones((6, 7), dtype=np.float32)
    path = tmp_path / "mef.fits"
    fits.HDUList([fits.PrimaryHDU(first), fits.ImageHDU(second, name="SCI")]).writeto(path)
    assert read_ccd(path, hdu="sci").shape == (6, 7)
    assert read_ccd(path, hdu=1).shape == (6, 7)
    assert read_ccd(path).shape == (4, 5)


def test_missing_hdu_index_is_explained(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "one.fits", _raw(np.random.default_rng(14)))
    with pytest.raises(FrameReadError, match=r"one\.fits.*has 1 HDU.*HDU 3 does not exist"):
        read_ccd(path, hdu=3)


def test_missing_hdu_name_lists_the_names(tmp_path: Path) -> None:
    path = _write_raw(tmp_path / "one.fits", _raw(np.random.default_rng(15)))
    with pytest.raises(FrameReadError, match=r"no HDU named 'SCI'.*\['PRIMARY'\]"):
        read_ccd(path, hdu="SCI")


def test_hdu_without_image_is_explained(tmp_path: Path) -> None:
    table = fits.BinTableHDU.from_columns([fits.Column(name="x", format="E", array=[1.0])])
    path = tmp_path / "table.fits"
    fits.HDUList([fits.PrimaryHDU(), table]).writeto(path)
    with pytest.raises(FrameReadError, match=r"table\.fits.*HDU 1.*no image data.*BinTableHDU"):
        read_ccd(path, hdu=1)
    with pytest.raises(FrameReadError, match=r"table\.fits.*HDU 0.*no image data"):
        read_ccd(path)


def test_ccdproc_style_file_is_read_with_uncertainty_and_mask(tmp_path: Path) -> None:
    rng = np.random.default_rng(16)
    data = rng.normal(100, 5, (10, 12))
    unc = rng.uniform(1, 2, (10, 12))
    mask = rng.random((10, 12)) < 0.2
    ccd = CCDData(data, unit="electron", uncertainty=StdDevUncertainty(unc), mask=mask)
    path = tmp_path / "astropy.fits"
    ccd.write(path)  # astropy's own writer, as ccdproc uses it
    back = read_ccd(path)
    assert back.unit == u.electron
    assert isinstance(back.uncertainty, StdDevUncertainty)
    np.testing.assert_array_equal(back.data, data)
    np.testing.assert_array_equal(back.uncertainty.array, unc)
    np.testing.assert_array_equal(back.mask, mask)


def test_uncertainty_class_from_utype_and_default(tmp_path: Path) -> None:
    data = np.ones((3, 3), dtype=np.float32)
    var = fits.ImageHDU(np.full((3, 3), 4.0, dtype=np.float32), name="UNCERT")
    var.header["UTYPE"] = "VarianceUncertainty"
    path = tmp_path / "var.fits"
    fits.HDUList([fits.PrimaryHDU(data), var]).writeto(path)
    assert isinstance(read_ccd(path).uncertainty, VarianceUncertainty)
    plain = tmp_path / "plain.fits"
    fits.HDUList([fits.PrimaryHDU(data), fits.ImageHDU(np.ones((3, 3)), name="UNCERT")]).writeto(
        plain
    )
    assert isinstance(read_ccd(plain).uncertainty, StdDevUncertainty)
    assert read_ccd(plain, hdu_uncertainty=None).uncertainty is None


def test_extension_of_wrong_shape_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.fits"
    fits.HDUList(
        [fits.PrimaryHDU(np.ones((3, 3))), fits.ImageHDU(np.ones((2, 2), np.uint8), name="MASK")]
    ).writeto(path)
    with pytest.raises(FrameReadError, match=r"bad\.fits.*HDU 'MASK'.*shape \(2, 2\).*\(3, 3\)"):
        read_ccd(path)
    assert read_ccd(path, hdu_mask=None).mask is None


# ----------------------------------------------------------------------------- WCS


def test_wcs_is_built_only_when_present(tmp_path: Path) -> None:
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [132.8, 11.8]
    wcs.wcs.crpix = [10.0, 10.0]
    wcs.wcs.cdelt = [-1e-4, 1e-4]
    header = wcs.to_header()
    header["DATE-OBS"] = "2025-06-24T22:00:00"
    path = tmp_path / "wcs.fits"
    fits.PrimaryHDU(np.zeros((20, 20), dtype=np.float32), header).writeto(path)
    ccd = read_ccd(path)
    assert ccd.wcs is not None
    np.testing.assert_allclose(ccd.wcs.wcs.crval, [132.8, 11.8])
    assert "CTYPE1" not in ccd.meta  # moved to .wcs, as astropy does
    assert ccd.meta["DATE-OBS"] == "2025-06-24T22:00:00"


# ----------------------------------------------------------------------------- bad files


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FrameNotFoundError, match=r"nothere\.fits.*does not exist"):
        read_ccd(tmp_path / "nothere.fits")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_ccd(tmp_path / "nothere.fits")


def test_not_fits(tmp_path: Path) -> None:
    path = tmp_path / "log.fits"
    path.write_text("night log: clouds at 02:00\n" * 200)
    with pytest.raises(FrameReadError, match=r"log\.fits.*could not be read as FITS.*not FITS"):
        read_ccd(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.fits"
    path.touch()
    with pytest.raises(FrameReadError, match=r"empty\.fits.*could not be read as FITS"):
        read_ccd(path)


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(FrameReadError, match="is a directory"):
        read_ccd(tmp_path)


@pytest.mark.filterwarnings("ignore:File may have been truncated")
@pytest.mark.parametrize("missing", [12000, 2])
def test_truncated_file(tmp_path: Path, missing: int) -> None:
    full = _write_raw(tmp_path / "full.fits", _raw(np.random.default_rng(17), (100, 120)))
    end_of_data = 2880 + 100 * 120 * 2  # one header block, then the uint16 pixels
    cut = tmp_path / "cut.fits"
    cut.write_bytes(full.read_bytes()[: end_of_data - missing])
    with pytest.raises(FrameReadError, match=r"cut\.fits.*HDU 0.*truncated.*copy the file again"):
        read_ccd(cut)


def test_truncated_gzip(tmp_path: Path) -> None:
    full = tmp_path / "full.fits.gz"
    fits.PrimaryHDU(_raw(np.random.default_rng(18), (100, 120))).writeto(full)
    cut = tmp_path / "cut.fits.gz"
    cut.write_bytes(full.read_bytes()[:4000])
    with pytest.raises(FrameReadError, match=r"cut\.fits\.gz.*could not be read"):
        read_ccd(cut)


def test_errors_are_oserrors_and_ccdcal_errors(tmp_path: Path) -> None:
    path = tmp_path / "x.fits"
    path.write_bytes(b"\x00" * 10)
    with pytest.raises(OSError, match="could not be read") as info:
        read_ccd(path)
    assert isinstance(info.value, CcdcalError)


# ----------------------------------------------------------------------------- real data


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::astropy.wcs.FITSFixedWarning")
def test_real_sbig_frame_matches_astropy() -> None:
    path = REAL_NIGHT / "calibration" / "calib-001-bi.fit"
    if not path.exists():
        pytest.skip(f"real data not present at {path}")
    expected = fits.getdata(path)
    ccd = read_ccd(path)
    assert ccd.data.dtype == np.uint16
    np.testing.assert_array_equal(ccd.data, expected)
    assert ccd.unit == u.adu
    assert ccd.meta["IMAGETYP"] == "Bias Frame"
    assert ccd.wcs is None
    astropy_ccd = CCDData.read(path, unit="adu")
    np.testing.assert_array_equal(ccd.data, astropy_ccd.data)


def test_importing_the_fits_reader_and_writer_does_not_load_numba() -> None:
    # a notebook that only reads or writes a frame should not pay for numba (~0.2 s):
    # the checksum's compiled loops are imported when a data unit is first summed
    code = "import sys, ccdcal.io.fits; print('numba' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
