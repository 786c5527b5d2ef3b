"""subtract_overscan: ccdproc agreement, masks and NaN in the overscan, sigma-clipped fits."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from astropy.modeling import models
from astropy.nddata import CCDData
from astropy.stats import SigmaClip

import ccdcal
from ccdcal.errors import IncompatibleFramesError, InvalidParameterError, ParameterTypeError


def _frame(transpose: bool, rng_seed: int = 0) -> tuple[CCDData, str, tuple]:
    """100x70 image, 10-wide overscan with a per-line level: (ccd, section, science slice)."""
    rng = np.random.default_rng(rng_seed)
    data = rng.normal(0, 3, (100, 70))
    level = 300 + 0.2 * np.arange(100)
    if transpose:
        data = data.T.copy()  # (70, 100), overscan in the first 10 rows
        data += level[np.newaxis, :]
        data[10:, :] += 50
        return (
            CCDData(data.astype(np.float32), unit="adu"),
            "[*, 1:10]",
            (slice(10, None), slice(None)),
        )
    data += level[:, np.newaxis]
    data[:, 10:] += 50
    return CCDData(data.astype(np.float32), unit="adu"), "[1:10, *]", (slice(None), slice(10, None))


@pytest.mark.parametrize("median", [False, True])
@pytest.mark.parametrize("transpose", [False, True])
@pytest.mark.parametrize("axis", ["explicit", None])
def test_matches_ccdproc(ccdproc, median, transpose, axis):
    ccd, section, sci = _frame(transpose)
    overscan_axis = (0 if transpose else 1) if axis == "explicit" else None
    ours = ccdcal.subtract_overscan(
        ccd, fits_section=section, overscan_axis=overscan_axis, median=median
    )
    ref = ccdproc.subtract_overscan(
        ccd, fits_section=section, overscan_axis=overscan_axis, median=median
    )
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-5, atol=1e-4)
    assert ours.header["suboscan"] == ref.header["suboscan"]
    np.testing.assert_allclose(ours.data[sci].mean(), 50, atol=0.2)


@pytest.mark.parametrize("transpose", [False, True])
def test_model_matches_ccdproc(ccdproc, transpose):
    ccd, _, _ = _frame(transpose)
    axis = 0 if transpose else 1
    region = ccd[:10, :] if transpose else ccd[:, :10]
    kwargs = {"overscan_axis": axis, "model": models.Polynomial1D(2)}
    ours = ccdcal.subtract_overscan(ccd, overscan=region, **kwargs)
    ref = ccdproc.subtract_overscan(ccd, overscan=region, **kwargs)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-5, atol=1e-3)
    assert ours.data.dtype == np.float32


def test_uint16_gives_float32_and_keeps_sigma_and_mask():
    ccd, section, _ = _frame(False)
    raw = CCDData(np.rint(ccd.data).astype(np.uint16), unit="adu")
    raw.mask = np.zeros(raw.shape, bool)
    raw.mask[5, 20] = True
    raw.uncertainty = np.full(raw.shape, 3.0, dtype=np.float32)
    out = ccdcal.subtract_overscan(raw, fits_section=section)
    assert out.data.dtype == np.float32
    np.testing.assert_array_equal(out.mask, raw.mask)
    np.testing.assert_array_equal(out.uncertainty.array, raw.uncertainty.array)
    expected = raw.data - raw.data[:, :10].astype(np.float64).mean(axis=1, keepdims=True)
    np.testing.assert_allclose(out.data, expected, atol=1e-3)


def test_masked_and_nan_overscan_pixels_are_ignored(ccdproc):
    ccd, section, _ = _frame(False)
    ccd.data[7, 3] = 60000.0  # a cosmic ray, masked
    ccd.data[8, 4] = np.nan
    ccd.mask = np.zeros(ccd.shape, bool)
    ccd.mask[7, 3] = True
    clean = ccd.data[:, :10].astype(np.float64).copy()
    clean[7, 3] = np.nan
    expected = ccd.data - np.nanmean(clean, axis=1, keepdims=True)
    out = ccdcal.subtract_overscan(ccd, fits_section=section)
    np.testing.assert_allclose(out.data[:, 10:], expected[:, 10:], rtol=1e-5, atol=1e-3)
    ref = ccdproc.subtract_overscan(ccd, fits_section=section)
    assert np.isnan(ref.data[8]).all()  # ccdproc: the NaN spreads along the row
    assert ref.data[7, 20] < -5000  # and the masked cosmic ray is subtracted


def test_line_without_usable_pixel_is_interpolated_and_logged(caplog):
    ccd, section, _ = _frame(False)
    ccd.data[40, :10] = np.nan
    with caplog.at_level(logging.WARNING, logger="ccdcal.calibrate.overscan"):
        out = ccdcal.subtract_overscan(ccd, fits_section=section)
    assert "1 line(s) without a usable pixel" in caplog.text
    level_39 = ccd.data[39, :10].astype(np.float64).mean()
    level_41 = ccd.data[41, :10].astype(np.float64).mean()
    np.testing.assert_allclose(
        out.data[40, 10:], ccd.data[40, 10:] - (level_39 + level_41) / 2, atol=1e-3
    )


def test_clip_rejects_a_cosmic_ray_in_the_overscan():
    ccd, section, _ = _frame(False, rng_seed=3)
    hit = ccd.copy()
    hit.data[20, 5] += 5000.0
    clip = SigmaClip(sigma=3, maxiters=5)
    plain = ccdcal.subtract_overscan(ccd, fits_section=section, clip=clip)
    clipped = ccdcal.subtract_overscan(hit, fits_section=section, clip=clip)
    unclipped = ccdcal.subtract_overscan(hit, fits_section=section)
    assert abs(unclipped.data[20, 30] - plain.data[20, 30]) > 400
    others = np.ones(10, bool)
    others[5] = False
    expected_level = hit.data[20, :10][others].astype(np.float64).mean()
    assert clipped.data[20, 30] == pytest.approx(hit.data[20, 30] - expected_level, abs=1e-3)


def test_ccdcal_sigmaclip_object_is_accepted():
    combine = pytest.importorskip("ccdcal.stacking", reason="combine package not importable")
    ccd, section, _ = _frame(False, rng_seed=3)
    ccd.data[20, 5] += 5000.0
    ours = ccdcal.subtract_overscan(
        ccd, fits_section=section, clip=combine.SigmaClip(low=3, high=3, center="median")
    )
    astropys = ccdcal.subtract_overscan(ccd, fits_section=section, clip=SigmaClip(sigma=3))
    np.testing.assert_allclose(ours.data, astropys.data)
    with pytest.raises(ParameterTypeError, match="clip must be"):
        ccdcal.subtract_overscan(ccd, fits_section=section, clip=3.0)


def test_clipped_fit_rejects_outlying_lines(ccdproc):
    rng = np.random.default_rng(5)
    data = rng.normal(0, 1, (200, 40)) + (1000 + 0.05 * np.arange(200))[:, np.newaxis]
    data[50:53, :8] += 40.0  # a bad patch in the overscan of three lines
    ccd = CCDData(data.astype(np.float32), unit="adu")
    model = models.Polynomial1D(1)
    robust = ccdcal.subtract_overscan(
        ccd, fits_section="[1:8, *]", model=model, clip=SigmaClip(sigma=3, maxiters=10)
    )
    plain = ccdproc.subtract_overscan(ccd, fits_section="[1:8, *]", model=model)
    truth = data[:, 8:] - (1000 + 0.05 * np.arange(200))[:, np.newaxis]
    assert np.abs(robust.data[:, 8:].mean(axis=1) - truth.mean(axis=1)).max() < 0.15
    assert np.abs(plain.data[:, 8:].mean(axis=1) - truth.mean(axis=1)).max() > 0.4
    assert model.parameters.tolist() == [0.0, 0.0]  # the caller's model is not changed


def test_one_dimensional_overscan_as_ccdproc(make_ccd, ccdproc):
    ccd = make_ccd(shape=(100, 100))
    ours = ccdcal.subtract_overscan(ccd, overscan=ccd[:, 1], overscan_axis=0)
    ref = ccdproc.subtract_overscan(ccd, overscan=ccd[:, 1], overscan_axis=0)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-5)


def test_argument_errors_are_type_errors_as_in_ccdproc(make_ccd):
    ccd = make_ccd()
    with pytest.raises(ParameterTypeError, match="ccddata is not a CCDData"):
        ccdcal.subtract_overscan(3, np.zeros((5, 5)))
    with pytest.raises(ParameterTypeError, match="ccddata is not a CCDData"):
        ccdcal.subtract_overscan(np.zeros((10, 10)), fits_section="[1:10]")
    with pytest.raises(ParameterTypeError, match="not both"):
        ccdcal.subtract_overscan(ccd, overscan=ccd[0:10], fits_section="[1:10]")
    with pytest.raises(ParameterTypeError, match="not both"):
        ccdcal.subtract_overscan(ccd)
    with pytest.raises(ParameterTypeError, match="fits_section must be a string"):
        ccdcal.subtract_overscan(ccd, fits_section=5)
    with pytest.raises(ParameterTypeError, match="overscan is not a CCDData"):
        ccdcal.subtract_overscan(ccd, overscan=np.zeros((20, 3)))


def test_value_errors(make_ccd):
    ccd = make_ccd()
    with pytest.raises(InvalidParameterError, match="overscan_axis must be 0, 1 or None"):
        ccdcal.subtract_overscan(ccd, fits_section="[1:5, *]", overscan_axis=2)
    with pytest.raises(IncompatibleFramesError, match="must span the image"):
        ccdcal.subtract_overscan(ccd, fits_section="[1:5, 1:10]", overscan_axis=1)
    with pytest.raises(InvalidParameterError, match="not linear"):
        ccdcal.subtract_overscan(ccd, fits_section="[1:5, *]", model=models.Gaussian1D())
    nan = ccd.copy()
    nan.data[:, :5] = np.nan
    with pytest.raises(InvalidParameterError, match="no usable"):
        ccdcal.subtract_overscan(nan, fits_section="[1:5, *]")


def test_inputs_unchanged(unchanged):
    snapshot, assert_unchanged = unchanged
    ccd, section, _ = _frame(False)
    ccd.mask = np.zeros(ccd.shape, bool)
    ccd.uncertainty = np.ones(ccd.shape, np.float32)
    before = snapshot(ccd)
    out = ccdcal.subtract_overscan(ccd, fits_section=section, median=True)
    out.uncertainty.array[...] = 7
    out.mask[...] = True
    assert_unchanged(ccd, before)
