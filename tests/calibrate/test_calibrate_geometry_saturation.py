"""block_reduce / block_average / block_replicate and mask_saturated."""

from __future__ import annotations

import warnings

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData, StdDevUncertainty
from astropy.nddata import block_reduce as astropy_block_reduce

import ccdcal
from ccdcal.errors import HeaderKeywordError, InvalidParameterError, UnitMismatchError
from ccdcal.testing.frames import Camera

# --- binning -------------------------------------------------------------------------------


@pytest.mark.parametrize("block", [2, (2, 3), (1, 4)])
@pytest.mark.parametrize("shape", [(8, 12), (9, 13)])
def test_data_equal_astropy_and_ccdproc(make_ccd, ccdproc, block, shape):
    ccd = make_ccd(shape=shape, dtype=np.float64, header={"testkw": 1})
    with pytest.warns(UserWarning, match="will be ignored by the function"):
        ref = ccdproc.block_reduce(ccd, block)
    ours = ccdcal.block_reduce(ccd, block, add_keyword=False)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-12)
    np.testing.assert_allclose(
        ccdcal.block_average(ccd, block).data, astropy_block_reduce(ccd.data, block, np.mean)
    )
    assert ours.unit == ref.unit
    assert ours.meta == ccd.meta == ref.meta
    assert ours.meta is not ccd.meta
    (rec,) = ccdcal.io.provenance.read_provenance(ccdcal.block_reduce(ccd, block).meta)
    assert rec["step"] == "block_reduce"
    assert rec["params"]["func"] == "sum"


@pytest.mark.parametrize("func", [np.sum, np.mean, np.nansum, np.nanmean, np.median, np.max])
def test_reducing_functions_agree_with_astropy(func):
    data = np.random.default_rng(3).normal(10, 2, (9, 14)).astype(np.float32)
    data[2, 3] = np.nan
    data[6:8, 4:6] = np.nan  # a whole 2x2 block
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # nanmean of an all-NaN block
        expected = astropy_block_reduce(data, (2, 2), func)
        out = ccdcal.block_reduce(data, (2, 2), func)
    np.testing.assert_allclose(out, expected, rtol=1e-6, equal_nan=True)


def test_mask_and_uncertainty_propagate_where_ccdproc_drops_them(ccdproc):
    sigma = np.arange(1, 17, dtype=np.float32).reshape(4, 4)
    mask = np.zeros((4, 4), bool)
    mask[0, 1] = True
    ccd = CCDData(
        np.ones((4, 4), np.float32), unit="adu", mask=mask, uncertainty=StdDevUncertainty(sigma)
    )
    with pytest.warns(UserWarning, match="following attributes were set"):
        ref = ccdproc.block_reduce(ccd, 2)
    assert ref.mask is None
    assert ref.uncertainty is None
    summed = ccdcal.block_reduce(ccd, 2)
    averaged = ccdcal.block_average(ccd, 2)
    blocks = sigma.reshape(2, 2, 2, 2).transpose(0, 2, 1, 3).reshape(2, 2, 4)
    quad = np.sqrt((blocks.astype(np.float64) ** 2).sum(axis=-1))
    np.testing.assert_allclose(summed.uncertainty.array, quad, rtol=1e-6)
    np.testing.assert_allclose(averaged.uncertainty.array, quad / 4, rtol=1e-6)
    np.testing.assert_array_equal(summed.mask, [[True, False], [False, False]])
    np.testing.assert_array_equal(averaged.data, np.ones((2, 2)))
    assert summed.data.dtype == np.float32
    median = ccdcal.block_reduce(ccd, 2, func=np.median)
    assert median.uncertainty is None
    np.testing.assert_array_equal(median.mask, summed.mask)


def test_block_replicate_conserves_sum_and_spreads_planes():
    mask = np.array([[True, False]])
    ccd = CCDData(
        np.array([[4.0, 8.0]], np.float32),
        unit="adu",
        mask=mask,
        uncertainty=StdDevUncertainty(np.array([[2.0, 4.0]], np.float32)),
    )
    out = ccdcal.block_replicate(ccd, 2)
    assert out.shape == (2, 4)
    np.testing.assert_array_equal(out.data, [[1, 1, 2, 2], [1, 1, 2, 2]])
    np.testing.assert_array_equal(out.uncertainty.array, [[0.5, 0.5, 1, 1], [0.5, 0.5, 1, 1]])
    np.testing.assert_array_equal(out.mask, [[True, True, False, False]] * 2)
    np.testing.assert_array_equal(
        ccdcal.block_replicate(ccd, 2, conserve_sum=False).data[0], [4, 4, 8, 8]
    )
    assert out.data.sum() == ccd.data.sum()


def test_arrays_in_arrays_out_in_working_dtype():
    arr = np.arange(16, dtype=np.uint16).reshape(4, 4)
    out = ccdcal.block_reduce(arr, 2)
    assert isinstance(out, np.ndarray)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, astropy_block_reduce(arr, 2))
    assert ccdcal.block_replicate(arr, 2).dtype == np.float32


@pytest.mark.parametrize("block", [0, (2, 2, 2), 1.5, "2"])
def test_bad_block_size(block):
    with pytest.raises(InvalidParameterError, match="block_size"):
        ccdcal.block_reduce(np.ones((4, 4)), block)


def test_binned_flat_from_unbinned_flat_matches_binned_truth():
    cam = Camera(shape=(64, 96), prnu=0.0, seed=2)
    flat = CCDData(cam.truth.flat.astype(np.float32), unit="adu")
    binned = ccdcal.block_average(flat, 2)
    truth = cam.truth.flat.reshape(32, 2, 48, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(binned.data, truth, rtol=1e-6)


# --- saturation ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "level",
    [60000, 60000.0 * u.adu, "SATURATE", ccdcal.Keyword("SATURATE", unit=u.adu), "saturate"],
)
def test_mask_saturated_levels(level):
    data = np.array([[100, 59999, 60000, 65535]], dtype=np.uint16)
    ccd = CCDData(data, unit="adu", meta={"SATURATE": 60000})
    out = ccdcal.mask_saturated(ccd, level)
    np.testing.assert_array_equal(out.mask, [[False, False, True, True]])
    assert out.data.dtype == np.uint16
    np.testing.assert_array_equal(out.data, data)
    assert ccd.mask is None


def test_mask_saturated_or_existing_mask_and_keep_sigma():
    ccd = CCDData(
        np.array([[1.0, 2.0, 3.0]], np.float32),
        unit="adu",
        mask=np.array([[True, False, False]]),
        uncertainty=StdDevUncertainty(np.ones((1, 3), np.float32)),
    )
    out = ccdcal.mask_saturated(ccd, 3)
    np.testing.assert_array_equal(out.mask, [[True, False, True]])
    np.testing.assert_array_equal(out.uncertainty.array, ccd.uncertainty.array)
    out.uncertainty.array[...] = 9
    assert (ccd.uncertainty.array == 1).all()
    (rec,) = ccdcal.io.provenance.read_provenance(out.meta)
    assert rec["params"] == {"level": 3.0, "saturated_pixels": 1}
    assert "mask_saturated" not in out.meta


def test_mask_saturated_errors():
    ccd = CCDData(np.ones((2, 2), np.float32), unit="adu", meta={"SATLEVEL": "n/a"})
    with pytest.raises(HeaderKeywordError, match="'SATURATE' is missing"):
        ccdcal.mask_saturated(ccd, "SATURATE")
    with pytest.raises(InvalidParameterError, match=r"'SATLEVEL' is 'n/a', not a number"):
        ccdcal.mask_saturated(ccd, "SATLEVEL")
    with pytest.raises(UnitMismatchError, match="cannot be converted"):
        ccdcal.mask_saturated(ccd, 5 * u.electron)
