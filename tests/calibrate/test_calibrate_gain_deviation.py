"""gain_correct and create_deviation against ccdproc 2.5.1 and their formulas."""

from __future__ import annotations

import logging

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData

import ccdcal
from ccdcal.errors import (
    HeaderKeywordError,
    InvalidParameterError,
    ParameterTypeError,
    UnitMismatchError,
)

# --- gain_correct --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gain", "gain_unit", "expected_unit"),
    [
        (3.0, None, u.adu),
        (3.0, u.electron / u.adu, u.electron),
        (3.0 * u.photon / u.adu, None, u.photon),
        (3.0 * u.electron / u.adu, None, u.electron),
        ("keyword", None, u.electron),
    ],
)
def test_gain_correct_matches_ccdproc(make_ccd, ccdproc, gain, gain_unit, expected_unit):
    ccd = make_ccd(sigma=2.0, mask_fraction=0.1, header={"gainval": 3.0})
    ours_gain, ref_gain = gain, gain
    if gain == "keyword":
        ours_gain = ccdcal.Keyword("gainval", unit=u.electron / u.adu)
        ref_gain = ccdproc.Keyword("gainval", unit=u.electron / u.adu)
    ours = ccdcal.gain_correct(ccd, ours_gain, gain_unit=gain_unit)
    ref = ccdproc.gain_correct(ccd, ref_gain, gain_unit=gain_unit)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-6)
    np.testing.assert_allclose(ours.data, 3.0 * ccd.data, rtol=1e-6)
    np.testing.assert_allclose(ours.uncertainty.array, 3.0 * ccd.uncertainty.array, rtol=1e-6)
    np.testing.assert_array_equal(ours.mask, ccd.mask)
    assert ours.unit == ref.unit == expected_unit
    assert ours.data.dtype == np.float32
    if expected_unit != u.adu:
        assert ref.data.dtype == np.float64  # ccdproc promotes float32 with a Quantity gain


def test_gain_keyword_missing_names_keyword(make_ccd):
    ccd = make_ccd(header={"CCDCFILE": "light-3.fits"})
    with pytest.raises(HeaderKeywordError, match=r"'EGAIN'.*light-3\.fits") as info:
        ccdcal.gain_correct(ccd, ccdcal.Keyword("EGAIN", unit=u.electron / u.adu))
    assert isinstance(info.value, KeyError)


def test_gain_keyword_without_unit_uses_gain_unit(make_ccd):
    ccd = make_ccd(header={"EGAIN": 2.6})
    out = ccdcal.gain_correct(ccd, ccdcal.Keyword("EGAIN"), gain_unit="electron/adu")
    assert out.unit == u.electron
    np.testing.assert_allclose(out.data, 2.6 * ccd.data, rtol=1e-6)


def test_gain_of_wrong_type(make_ccd):
    with pytest.raises(ParameterTypeError, match="gain must be"):
        ccdcal.gain_correct(make_ccd(), [3.0])
    ccd = make_ccd(header={"EGAIN": "high"})
    with pytest.raises(InvalidParameterError, match=r"'EGAIN'.*not a number"):
        ccdcal.gain_correct(ccd, ccdcal.Keyword("EGAIN", unit=u.electron / u.adu))


# --- create_deviation ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("u_image", "u_gain", "u_readnoise", "ok"),
    [
        (u.electron, None, u.electron, True),
        (u.electron, u.electron, u.electron, False),
        (u.adu, u.electron / u.adu, u.electron, True),
        (u.electron, None, u.dimensionless_unscaled, False),
        (u.electron, u.dimensionless_unscaled, u.electron, True),
        (u.adu, u.dimensionless_unscaled, u.electron, False),
        (u.adu, u.photon / u.adu, u.electron, False),
    ],
)
def test_deviation_units_as_ccdproc(make_ccd, ccdproc, u_image, u_gain, u_readnoise, ok):
    ccd = make_ccd(mean=100, unit=u_image.to_string())
    gain = None if u_gain is None else 2.0 * u_gain
    readnoise = 5 * u_readnoise
    if ok:
        ours = ccdcal.create_deviation(ccd, gain=gain, readnoise=readnoise)
        ref = ccdproc.create_deviation(ccd, gain=gain, readnoise=readnoise)
        np.testing.assert_allclose(ours.uncertainty.array, ref.uncertainty.array, rtol=1e-6)
        g = 1.0 if gain is None else 2.0
        expected = np.sqrt(g * ccd.data.astype(np.float64) + 25) / g
        np.testing.assert_allclose(ours.uncertainty.array, expected, rtol=1e-6)
        assert ours.uncertainty.array.dtype == np.float32
    else:
        with pytest.raises(UnitMismatchError, match="units of data, gain and readnoise") as info:
            ccdcal.create_deviation(ccd, gain=gain, readnoise=readnoise)
        assert isinstance(info.value, u.UnitsError)


def test_deviation_argument_errors_as_ccdproc(make_ccd):
    ccd = make_ccd()
    with pytest.raises(ParameterTypeError, match=r"gain must be a astropy\.units\.Quantity"):
        ccdcal.create_deviation(ccd, gain=3)
    with pytest.raises(ParameterTypeError, match=r"readnoise must be a astropy\.units\.Quantity"):
        ccdcal.create_deviation(ccd, readnoise=5)
    with pytest.raises(InvalidParameterError, match="must provide a readnoise"):
        ccdcal.create_deviation(ccd)
    with pytest.raises(InvalidParameterError, match="gain must be positive"):
        ccdcal.create_deviation(ccd, gain=-2 * u.electron / u.adu, readnoise=5 * u.electron)


def test_readnoise_in_a_convertible_unit(make_ccd):
    ccd = make_ccd(mean=100)
    a = ccdcal.create_deviation(ccd, gain=2 * u.electron / u.adu, readnoise=5 * u.electron)
    kilo = u.Unit(1000 * u.electron)
    b = ccdcal.create_deviation(ccd, gain=2 * u.electron / u.adu, readnoise=0.005 * kilo)
    np.testing.assert_allclose(a.uncertainty.array, b.uncertainty.array, rtol=1e-6)


def test_negative_pixels_get_read_noise_not_nan(make_ccd, ccdproc):
    ccd = make_ccd(mean=0, scale=10, unit="electron")
    negative = ccd.data < 0
    assert negative.any()
    ref = ccdproc.create_deviation(ccd, readnoise=5 * u.electron)
    assert np.isnan(ref.uncertainty.array[negative]).all()  # ccdproc's NaN
    for disregard in (False, True):
        ours = ccdcal.create_deviation(ccd, readnoise=5 * u.electron, disregard_nan=disregard)
        np.testing.assert_allclose(ours.uncertainty.array[negative], 5.0)
    ref_true = ccdproc.create_deviation(ccd, readnoise=5 * u.electron, disregard_nan=True)
    np.testing.assert_allclose(ours.uncertainty.array, ref_true.uncertainty.array, rtol=1e-6)


def test_no_root_logger_warning(make_ccd, caplog):
    with caplog.at_level(logging.WARNING):
        ccdcal.create_deviation(make_ccd(mean=0), readnoise=5 * u.adu)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_deviation_keeps_data_dtype_mask_and_replaces_sigma(make_ccd, unchanged):
    snapshot, assert_unchanged = unchanged
    ccd = make_ccd(dtype=np.uint16, sigma=99.0, mask_fraction=0.2)
    before = snapshot(ccd)
    out = ccdcal.create_deviation(ccd, gain=2 * u.electron / u.adu, readnoise=10 * u.electron)
    assert_unchanged(ccd, before)
    assert out.data.dtype == np.uint16
    np.testing.assert_array_equal(out.data, ccd.data)
    np.testing.assert_array_equal(out.mask, ccd.mask)
    expected = np.sqrt(2 * ccd.data.astype(np.float64) + 100) / 2
    np.testing.assert_allclose(out.uncertainty.array, expected, rtol=1e-6)
    assert out.uncertainty.array.dtype == np.float32


def test_nan_data_give_nan_sigma():
    ccd = CCDData(np.array([[np.nan, 4.0]], np.float32), unit="electron")
    out = ccdcal.create_deviation(ccd, readnoise=3 * u.electron)
    assert np.isnan(out.uncertainty.array[0, 0])
    assert out.uncertainty.array[0, 1] == pytest.approx(np.sqrt(13.0))
