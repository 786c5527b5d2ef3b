"""Band readers: every FITS layout a combination meets, read as CCDData.read reads it."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, InverseVariance, StdDevUncertainty, VarianceUncertainty

import ccdcal
from ccdcal.errors import FrameNotFoundError, FrameReadError
from ccdcal.io import write_ccd
from ccdcal.stacking.reader import ArraySource, FitsSource, logical_dtype


def _read_all(src: Any, dtype: Any = np.float64) -> np.ndarray:
    out = np.empty(src.shape, dtype)
    for r0 in range(0, src.shape[0], 3):  # in bands of 3 rows
        r1 = min(src.shape[0], r0 + 3)
        src.read(r0, r1, out[r0:r1])
    return out


@pytest.mark.parametrize(
    ("dtype", "bscale", "bzero"),
    [
        (np.uint16, None, None),
        (np.int16, 2.5, 100.0),
        (np.int32, None, None),
        (np.uint8, None, None),
        (np.float32, None, None),
        (np.float64, None, None),
        (np.int64, None, None),
    ],
)
def test_plain_images_decode_like_astropy(
    tmp_path: Path, dtype: Any, bscale: Any, bzero: Any
) -> None:
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype) if np.dtype(dtype).kind in "iu" else None
    lo, hi = (info.min, info.max) if info else (-1e6, 1e6)
    data = rng.uniform(max(lo, -1e6), min(hi, 1e6), (7, 5)).astype(dtype)
    path = tmp_path / "frame.fits"
    hdu = fits.PrimaryHDU(data)
    if bscale is not None:
        hdu.scale("int16", bscale=bscale, bzero=bzero)
    hdu.writeto(path)
    expected = fits.getdata(path).astype(np.float64)
    src = FitsSource(path)
    try:
        np.testing.assert_array_equal(_read_all(src), expected)
        assert src.dtype == fits.getdata(path).dtype.newbyteorder("=")
    finally:
        src.close()


def test_blank_values_become_nan(tmp_path: Path) -> None:
    data = np.arange(12, dtype=np.int16).reshape(3, 4)
    hdu = fits.PrimaryHDU(data)
    hdu.header["BLANK"] = 5
    path = tmp_path / "blank.fits"
    hdu.writeto(path)
    src = FitsSource(path)
    out = _read_all(src)
    src.close()
    assert np.isnan(out[1, 1])
    assert np.isnan(out).sum() == 1


@pytest.mark.parametrize("kind", [StdDevUncertainty, VarianceUncertainty, InverseVariance])
def test_mask_and_uncertainty_extensions(tmp_path: Path, kind: Any) -> None:
    data = np.arange(20, dtype=np.float32).reshape(4, 5) + 1
    mask = np.zeros((4, 5), bool)
    mask[2, 3] = True
    values = np.full((4, 5), 4.0, np.float32)
    ccd = CCDData(data, unit="adu", mask=mask, uncertainty=kind(values))
    path = write_ccd(ccd, tmp_path / "product.fits")
    src = FitsSource(path)
    out = _read_all(src)
    var = np.empty((4, 5))
    src.read_variance(0, 4, var)
    src.close()
    assert np.isnan(out[2, 3])
    assert np.isnan(out).sum() == 1
    expected = {StdDevUncertainty: 16.0, VarianceUncertainty: 4.0, InverseVariance: 0.25}[kind]
    np.testing.assert_allclose(var, expected)
    assert src.has_variance


def test_compressed_and_gzipped_files(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    frames = [
        CCDData(rng.normal(100, 3, (16, 12)).astype(np.float32), unit="adu") for _ in range(3)
    ]
    plain = [write_ccd(f, tmp_path / f"p{i}.fits") for i, f in enumerate(frames)]
    tiled = [write_ccd(f, tmp_path / f"t{i}.fits.fz") for i, f in enumerate(frames)]
    zipped = []
    for p in plain:
        target = p.with_name(p.name + ".gz")
        with open(p, "rb") as src, gzip.open(target, "wb") as dst:
            shutil.copyfileobj(src, dst)
        zipped.append(target)
    reference = ccdcal.combine(plain, method="median")
    for files in (tiled, zipped):
        np.testing.assert_array_equal(ccdcal.combine(files, method="median").data, reference.data)


def test_hdu_selection(tmp_path: Path) -> None:
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    path = tmp_path / "ext.fits"
    fits.HDUList(
        [fits.PrimaryHDU(), fits.ImageHDU(data, name="SCI"), fits.ImageHDU(data * 2, name="OTHER")]
    ).writeto(path)
    src = FitsSource(path)
    np.testing.assert_array_equal(_read_all(src), data)
    src.close()
    result = ccdcal.combine([path, path], hdu="OTHER")
    np.testing.assert_array_equal(result.data, data * 2)


def test_unit_from_bunit_or_argument(tmp_path: Path) -> None:
    path = tmp_path / "e.fits"
    hdu = fits.PrimaryHDU(np.ones((2, 2), np.float32))
    hdu.header["BUNIT"] = "ELECTRONS"
    hdu.writeto(path)
    assert ccdcal.combine([path, path]).unit == "electron"
    assert ccdcal.combine([path, path], unit="adu").unit == "adu"


def test_read_errors(tmp_path: Path) -> None:
    with pytest.raises(FrameNotFoundError, match="does not exist"):
        FitsSource(tmp_path / "missing.fits")
    bad = tmp_path / "bad.fits"
    bad.write_bytes(b"not a fits file at all" * 200)
    with pytest.raises(FrameReadError, match="could not be read as FITS"):
        FitsSource(bad)
    cube = tmp_path / "cube.fits"
    fits.PrimaryHDU(np.zeros((2, 3, 4), np.float32)).writeto(cube)
    with pytest.raises(FrameReadError, match="has 3 axes"):
        FitsSource(cube)
    flat = tmp_path / "flat.fits"
    fits.PrimaryHDU(np.zeros((2, 3), np.float32)).writeto(flat)
    with pytest.raises(FrameReadError, match="image 2 of the list is a int"):
        ccdcal.combine([flat, 3])


@pytest.mark.filterwarnings("ignore:File may have been truncated")
def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.fits"
    fits.PrimaryHDU(np.zeros((100, 100), np.float32)).writeto(path)
    path.write_bytes(path.read_bytes()[:20000])
    with pytest.raises(FrameReadError, match="truncated"):
        ccdcal.combine([path, path])


def test_array_source_and_logical_dtype() -> None:
    src = ArraySource(np.arange(6.0).reshape(2, 3), variance=(np.full((2, 3), 2.0), "std"))
    var = np.empty((2, 3))
    src.read_variance(0, 2, var)
    np.testing.assert_allclose(var, 4.0)
    assert logical_dtype(32, 1.0, 2.0**31) == np.uint32
    assert logical_dtype(8, 1.0, -128.0) == np.int8
