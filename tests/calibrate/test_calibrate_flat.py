"""flat_correct: ccdproc agreement on clean flats, NaN/mask-aware normalisation, bad pixels."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData, StdDevUncertainty

import ccdcal
from ccdcal.errors import IncompatibleFramesError, InvalidParameterError, UnitMismatchError


@pytest.fixture
def flat(make_ccd):
    return make_ccd(mean=2.0, scale=0.1, sigma=0.01, seed=21)


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"min_value": 2.05}, {"norm_value": 5.0}, {"norm_value": 3.0 * u.adu}],
    ids=["mean", "min_value", "norm_value", "norm_quantity"],
)
@pytest.mark.parametrize("with_sigma", [False, True])
def test_matches_ccdproc_on_clean_flats(make_ccd, ccdproc, flat, kwargs, with_sigma):
    ccd = make_ccd(sigma=5.0 if with_sigma else None, mask_fraction=0.05, seed=22)
    if not with_sigma:
        flat.uncertainty = None
    ours = ccdcal.flat_correct(ccd, flat, **kwargs)
    ref = ccdproc.flat_correct(ccd, flat, **kwargs)
    np.testing.assert_allclose(ours.data, ref.data, rtol=2e-6)
    np.testing.assert_array_equal(ours.mask, ref.mask)
    assert ours.unit == ref.unit
    if with_sigma:
        np.testing.assert_allclose(ours.uncertainty.array, ref.uncertainty.array, rtol=2e-6)
    else:
        assert ours.uncertainty is None
    assert ours.header["flatcor"] == ref.header["flatcor"]


def test_normalisation_and_uncertainty_formula(make_ccd):
    ccd = make_ccd(sigma=4.0, seed=23)
    flat = make_ccd(mean=3.0, scale=0.2, sigma=0.05, seed=24)
    out = ccdcal.flat_correct(ccd, flat)
    m = flat.data.astype(np.float64).mean()
    fhat = flat.data / m
    expected = ccd.data / fhat
    sig_fhat = flat.uncertainty.array / m
    expected_sigma = np.sqrt(
        (ccd.uncertainty.array / fhat) ** 2 + (expected * sig_fhat / fhat) ** 2
    )
    np.testing.assert_allclose(out.data, expected, rtol=1e-6)
    np.testing.assert_allclose(out.uncertainty.array, expected_sigma, rtol=1e-5)
    assert out.data.dtype == np.float32


def test_one_nan_in_flat_does_not_turn_the_image_nan(make_ccd, ccdproc, flat):
    ccd = make_ccd(seed=25)
    bad = flat.copy()
    bad.data[3, 4] = np.nan
    with np.errstate(invalid="ignore"):
        assert np.isnan(ccdproc.flat_correct(ccd, bad).data).all()  # ccdproc: all NaN
    out = ccdcal.flat_correct(ccd, bad)
    assert np.isfinite(out.data).all()
    assert out.mask[3, 4]
    assert out.mask.sum() == 1
    assert out.data[3, 4] == ccd.data[3, 4]  # flat set to 1 there
    good = np.ones(flat.shape, bool)
    good[3, 4] = False
    m = flat.data[good].astype(np.float64).mean()
    np.testing.assert_allclose(out.data[good], (ccd.data * m / flat.data)[good], rtol=1e-6)


def test_masked_flat_pixels_are_excluded_from_the_mean(make_ccd, flat):
    ccd = make_ccd(seed=26)
    masked = flat.copy()
    masked.data[0, :5] = 1e6  # junk under the mask
    masked.mask = np.zeros(flat.shape, bool)
    masked.mask[0, :5] = True
    out = ccdcal.flat_correct(ccd, masked)
    m = flat.data[~masked.mask].astype(np.float64).mean()
    np.testing.assert_allclose(
        out.data[~masked.mask], (ccd.data * m / flat.data)[~masked.mask], rtol=1e-6
    )
    np.testing.assert_array_equal(out.data[0, :5], ccd.data[0, :5])
    np.testing.assert_array_equal(out.mask, masked.mask)


@pytest.mark.parametrize("value", [0.0, -1.0, np.inf])
def test_zero_negative_or_infinite_flat_pixels_are_masked(make_ccd, flat, value):
    ccd = make_ccd(seed=27)
    bad = flat.copy()
    bad.data[5, 5] = value
    with np.errstate(all="ignore"):
        out = ccdcal.flat_correct(ccd, bad)
    assert np.isfinite(out.data).all()
    assert np.isfinite(out.uncertainty.array).all()
    assert out.mask[5, 5]
    assert out.mask.sum() == 1


def test_min_value_raises_low_flat_values():
    flat = CCDData(np.array([[0.5, 2.0], [3.0, 2.5]], np.float32), unit="adu")
    ccd = CCDData(np.full((2, 2), 10.0, np.float32), unit="adu")
    out = ccdcal.flat_correct(ccd, flat, min_value=1.5)
    clipped = np.array([[1.5, 2.0], [3.0, 2.5]])
    np.testing.assert_allclose(out.data, 10.0 / (clipped / clipped.mean()), rtol=1e-6)
    assert out.mask is None


@pytest.mark.parametrize("bad", [0, -7, np.nan, -2 * u.adu])
def test_norm_value_must_be_positive(make_ccd, flat, bad):
    with pytest.raises(InvalidParameterError, match="norm_value must be greater than zero"):
        ccdcal.flat_correct(make_ccd(), flat, norm_value=bad)


def test_norm_value_in_another_unit(make_ccd, flat):
    ccd = make_ccd()
    with pytest.raises(UnitMismatchError, match="norm_value"):
        ccdcal.flat_correct(ccd, flat, norm_value=2 * u.m)
    flat_e = CCDData(flat.data, unit="electron")
    out = ccdcal.flat_correct(ccd, flat_e, norm_value=0.002 * u.Unit(1000 * u.electron))
    np.testing.assert_allclose(out.data, ccd.data * 2 / flat.data, rtol=1e-6)


def test_unusable_flat_is_a_clear_error(make_ccd, ccdproc):
    ccd = make_ccd()
    zeros = CCDData(np.zeros(ccd.shape, np.float32), unit="adu")
    with np.errstate(all="ignore"):
        assert np.isnan(ccdproc.flat_correct(ccd, zeros).data).all()
    with pytest.raises(InvalidParameterError, match="cannot normalise the flat"):
        ccdcal.flat_correct(ccd, zeros)


def test_electron_flat_on_adu_image_gives_adu(make_ccd, ccdproc, flat):
    ccd = make_ccd()
    flat_e = CCDData(flat.data, unit="electron")
    assert ccdcal.flat_correct(ccd, flat_e).unit == ccdproc.flat_correct(ccd, flat_e).unit == u.adu


def test_shape_mismatch(make_ccd, flat):
    with pytest.raises(IncompatibleFramesError, match="shape"):
        ccdcal.flat_correct(make_ccd(shape=(5, 5)), flat)


def test_inputs_unchanged(make_ccd, flat, unchanged):
    snapshot, assert_unchanged = unchanged
    ccd = make_ccd(sigma=1.0, mask_fraction=0.1)
    flat.data[0, 0] = np.nan
    flat.mask = np.zeros(flat.shape, bool)
    before, before_flat = snapshot(ccd), snapshot(flat)
    ccdcal.flat_correct(ccd, flat, min_value=1.9)
    assert_unchanged(ccd, before)
    assert_unchanged(flat, before_flat)


def test_uncertainty_of_data_only(make_ccd):
    dat = CCDData(np.ones((10, 10)), unit="adu", uncertainty=StdDevUncertainty(np.ones((10, 10))))
    flat = CCDData(10 * np.ones((10, 10)), unit="adu")
    res = ccdcal.flat_correct(dat, flat)
    np.testing.assert_array_equal(res.data, dat.data)
    np.testing.assert_array_equal(res.uncertainty.array, dat.uncertainty.array)
