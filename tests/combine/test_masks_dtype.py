"""Masks and NaN are excluded everywhere; all-rejected pixels are masked; dtype rules."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from astropy.nddata import CCDData

import ccdcal
from ccdcal.stacking import ExtremaClip, MinMaxClip, SigmaClip
from ccdcal.testing.stacks import gaussian_stack, stack_to_ccds


def test_masked_and_nan_values_never_count() -> None:
    stack, _ = gaussian_stack(6, (8, 9), seed=1)
    mask = np.zeros(stack.shape, bool)
    mask[0, 2, 3] = True
    stack[0, 2, 3] = 1e6  # masked: must not matter
    stack[1, 4, 4] = np.nan  # NaN: must not matter
    stack[2, 5, 5] = np.inf
    frames = stack_to_ccds(stack, mask=mask)
    for method, ref in (("average", np.nanmean), ("median", np.nanmedian), ("sum", np.nansum)):
        result = ccdcal.combine(frames, method=method)
        expected = ref(np.where(mask | ~np.isfinite(stack), np.nan, stack.astype(float)), axis=0)
        np.testing.assert_allclose(result.data, expected, rtol=1e-6)
        assert not result.mask.any()


def test_clipping_statistics_ignore_masked_values(ccdproc: Any) -> None:
    """A huge masked value inflates ccdproc's std so that a real outlier survives."""
    values = np.array([100.0, 101.0, 99.0, 100.0, 102.0, 98.0, 100.0, 101.0, 99.0, 130.0, 1e6])
    stack = values[:, None, None] * np.ones((11, 2, 2))
    mask = np.zeros(stack.shape, bool)
    mask[-1] = True
    frames = stack_to_ccds(stack, mask=mask)
    kwargs = {
        "sigma_clip": True,
        "sigma_clip_func": "mean",
        "sigma_clip_dev_func": "std",
        "sigma_clip_low_thresh": 2.5,
        "sigma_clip_high_thresh": 2.5,
    }
    ours = ccdcal.combine(frames, **kwargs)
    np.testing.assert_allclose(ours.data, values[:9].mean(), rtol=1e-6)  # 130 clipped
    theirs = ccdproc.combine(frames, **kwargs)
    np.testing.assert_allclose(theirs.data, values[:10].mean())  # ccdproc keeps 130


def test_all_rejected_pixel_is_masked_nan() -> None:
    stack, _ = gaussian_stack(4, (3, 3), seed=2)
    mask = np.zeros(stack.shape, bool)
    mask[:, 1, 1] = True
    stack[:, 0, 0] = 70000.0
    frames = stack_to_ccds(stack, mask=mask)
    for method in ("average", "median", "sum"):
        result = ccdcal.combine(frames, method=method, minmax_clip=True, minmax_clip_max=65535)
        expected = np.zeros((3, 3), bool)
        expected[1, 1] = expected[0, 0] = True
        np.testing.assert_array_equal(result.mask, expected)
        assert np.isnan(result.data[expected]).all()
        assert np.isnan(result.uncertainty.array[expected]).all()
        assert np.isfinite(result.data[~expected]).all()


def test_weights_of_rejected_values_are_dropped() -> None:
    """ccdproc #893: [1, 2, 100(masked)] with weights 1 gives 1.0 there; 1.5 is right."""
    stack = np.array([1.0, 2.0, 100.0])[:, None, None] * np.ones((3, 2, 2), np.float32)
    mask = np.zeros(stack.shape, bool)
    mask[2] = True
    result = ccdcal.combine(stack_to_ccds(stack, mask=mask), weights=np.ones(3))
    np.testing.assert_allclose(result.data, 1.5)
    c = ccdcal.Combiner(stack_to_ccds(stack, mask=mask))
    c.weights = np.array([1.0, 3.0, 5.0])
    np.testing.assert_allclose(c.average_combine().data, (1 + 6) / 4)


def test_clip_extrema_does_not_count_masked_values(ccdproc: Any) -> None:
    """ccdproc counts a masked extreme as one of nhigh (documented quirk); ccdcal does not."""
    values = np.array([1.0, 2.0, 3.0, 4.0, 100.0])
    stack = values[:, None, None] * np.ones((5, 1, 1))
    mask = np.zeros(stack.shape, bool)
    mask[4] = True
    frames = stack_to_ccds(stack, mask=mask)
    ours = ccdcal.combine(frames, clip_extrema=True, nlow=1, nhigh=1)
    theirs = ccdproc.combine(frames, clip_extrema=True, nlow=1, nhigh=1)
    assert float(ours.data[0, 0]) == pytest.approx(2.5)  # 2, 3 kept
    assert float(theirs.data[0, 0]) == pytest.approx(3.0)  # 2, 3, 4 kept


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.uint16, np.float32),
        (np.int16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int32, np.float64),
    ],
)
def test_default_result_dtype(dtype: Any, expected: Any) -> None:
    frames = [CCDData(np.full((3, 4), v, dtype=dtype), unit="adu") for v in (10, 12, 14)]
    for method in ("average", "median", "sum"):
        result = ccdcal.combine(frames, method=method)
        assert result.data.dtype == expected
        assert result.uncertainty.array.dtype == expected


def test_uint16_inputs_never_wrap() -> None:
    frames = [CCDData(np.full((2, 2), v, dtype=np.uint16), unit="adu") for v in (65000, 65535)]
    np.testing.assert_allclose(ccdcal.combine(frames, method="sum").data, 130535.0)
    scaled = ccdcal.combine(frames, scale=[-1.0, -1.0])
    np.testing.assert_allclose(scaled.data, -65267.5)


def test_requested_dtype() -> None:
    frames = [CCDData(np.full((2, 2), v, dtype=np.float32), unit="adu") for v in (1.0, 2.0)]
    result = ccdcal.combine(frames, dtype=np.float64)
    assert result.data.dtype == np.float64
    assert result.uncertainty.array.dtype == np.float64
    c = ccdcal.Combiner(frames, dtype=np.float64)
    assert c.average_combine().data.dtype == np.float64


def test_float64_computation_keeps_precision() -> None:
    """Values that float32 cannot tell apart combine correctly in float64."""
    base = 1e8
    frames = [CCDData(np.full((2, 2), base + d), unit="adu") for d in (0.25, 0.5, 0.75)]
    result = ccdcal.combine(frames, rejection=SigmaClip(low=3, high=3))
    assert result.data.dtype == np.float64
    np.testing.assert_allclose(result.data, base + 0.5, rtol=0, atol=1e-8)


def test_nan_input_with_rejection_objects() -> None:
    stack, _ = gaussian_stack(7, (5, 5), seed=3)
    stack[:3, 2, 2] = np.nan
    result = ccdcal.combine(
        stack_to_ccds(stack), rejection=[MinMaxClip(low=0), ExtremaClip(nlow=1, nhigh=1)]
    )
    expected = np.sort(stack[3:, 2, 2].astype(float))[1:-1].mean()
    assert float(result.data[2, 2]) == pytest.approx(expected, rel=1e-6)
