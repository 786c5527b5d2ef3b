"""subtract_bias against ccdproc 2.5.1 and the expected arithmetic."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData, StdDevUncertainty

import ccdcal
from ccdcal.errors import IncompatibleFramesError, ParameterTypeError, UnitMismatchError


@pytest.mark.parametrize("masks", [False, True])
@pytest.mark.parametrize("sigmas", [(False, False), (True, False), (False, True), (True, True)])
def test_matches_ccdproc(make_ccd, ccdproc, masks, sigmas):
    ccd = make_ccd(sigma=3.0 if sigmas[0] else None, mask_fraction=0.1 if masks else 0, seed=1)
    bias = make_ccd(
        mean=90, sigma=1.0 if sigmas[1] else None, mask_fraction=0.1 if masks else 0, seed=2
    )
    ours = ccdcal.subtract_bias(ccd, bias)
    ref = ccdproc.subtract_bias(ccd, bias)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-6)
    assert ours.unit == ref.unit
    if ref.uncertainty is None:
        assert ours.uncertainty is None
    else:
        np.testing.assert_allclose(ours.uncertainty.array, ref.uncertainty.array, rtol=1e-6)
    if ref.mask is None:
        assert ours.mask is None
    else:
        np.testing.assert_array_equal(ours.mask, ref.mask)
    assert ours.header["subbias"] == ref.header["subbias"] == "ccd=<CCDData>, master=<CCDData>"
    assert ours.header["subtract_bias"] == ref.header["subtract_bias"] == "subbias"


def test_expected_values_and_uncertainty():
    ccd = CCDData(
        np.array([[110.0, 50.0]], np.float32),
        unit="adu",
        uncertainty=StdDevUncertainty(np.array([[3.0, 6.0]], np.float32)),
    )
    bias = CCDData(
        np.array([[100.0, 60.0]], np.float32),
        unit="adu",
        uncertainty=StdDevUncertainty(np.array([[4.0, 8.0]], np.float32)),
    )
    out = ccdcal.subtract_bias(ccd, bias)
    np.testing.assert_array_equal(out.data, [[10.0, -10.0]])
    np.testing.assert_allclose(out.uncertainty.array, [[5.0, 10.0]])


def test_uint16_minus_uint16_does_not_wrap_as_ccdproc_does(ccdproc):
    raw = CCDData(np.array([[100, 1000]], dtype=np.uint16), unit="adu")
    bias = CCDData(np.array([[200, 200]], dtype=np.uint16), unit="adu")
    assert ccdproc.subtract_bias(raw, bias).data[0, 0] == 65436  # ccdproc wraps around
    out = ccdcal.subtract_bias(raw, bias)
    np.testing.assert_array_equal(out.data, [[-100.0, 800.0]])
    assert out.data.dtype == np.float32


@pytest.mark.parametrize(
    ("dtype", "master_dtype", "expected"),
    [
        (np.float32, np.float32, np.float32),
        (np.uint16, np.float32, np.float32),
        (np.int16, np.uint16, np.float32),
        (np.float64, np.float32, np.float64),
        (np.float32, np.float64, np.float64),
        (np.int32, np.float32, np.float64),
    ],
)
def test_working_dtype(make_ccd, dtype, master_dtype, expected):
    out = ccdcal.subtract_bias(make_ccd(dtype=dtype), make_ccd(dtype=master_dtype, seed=3))
    assert out.data.dtype == expected


def test_convertible_units_convert_and_incompatible_units_fail(make_ccd):
    ccd = make_ccd(unit="electron")
    kilo = CCDData(np.full(ccd.shape, 0.05, np.float32), unit=u.Unit(1000 * u.electron))
    np.testing.assert_allclose(ccdcal.subtract_bias(ccd, kilo).data, ccd.data - 50, rtol=1e-6)
    with pytest.raises(UnitMismatchError, match="uncalibrated image") as info:
        ccdcal.subtract_bias(ccd, make_ccd(unit="adu"))
    assert isinstance(info.value, u.UnitsError)


def test_shape_mismatch_is_value_error(make_ccd):
    with pytest.raises(IncompatibleFramesError, match="shape") as info:
        ccdcal.subtract_bias(make_ccd(), make_ccd(shape=(10, 10)))
    assert isinstance(info.value, ValueError)


def test_master_must_be_ccddata(make_ccd):
    with pytest.raises(ParameterTypeError, match="master must be an astropy CCDData"):
        ccdcal.subtract_bias(make_ccd(), np.zeros((20, 30)))


def test_header_copied_wcs_kept_and_inputs_unchanged(make_ccd, unchanged):
    from astropy.wcs import WCS

    snapshot, assert_unchanged = unchanged
    ccd = make_ccd(sigma=2.0, mask_fraction=0.1, header={"OBJECT": "M51"})
    ccd.wcs = WCS(naxis=2)
    bias = make_ccd(mean=90, sigma=1.0, seed=4)
    before, before_bias = snapshot(ccd), snapshot(bias)
    out = ccdcal.subtract_bias(ccd, bias, add_keyword=False)
    assert_unchanged(ccd, before)
    assert_unchanged(bias, before_bias)
    assert out.header == ccd.header
    assert out.header is not ccd.header
    assert out.wcs is not None
    assert out.wcs is not ccd.wcs
    out.data[...] = 0
    out.mask[...] = True
    out.uncertainty.array[...] = 0
    assert_unchanged(ccd, before)
