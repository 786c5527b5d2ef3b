"""Property tests of the combination engine (Hypothesis)."""

from __future__ import annotations

from typing import Any

import numpy as np
from astropy.nddata import CCDData
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ccdcal
from ccdcal.stacking import ExtremaClip, PClip, SigmaClip, engine
from ccdcal.testing.stacks import stack_to_ccds

FINITE = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False, width=32)
REJECTIONS: list[Any] = [
    None,
    SigmaClip(low=2, high=2, deviation="mad_std"),
    PClip(),
    ExtremaClip(nlow=1, nhigh=1),
]


@st.composite
def stacks(draw: Any, min_frames: int = 1) -> np.ndarray:
    n = draw(st.integers(min_frames, 9))
    h = draw(st.integers(1, 6))
    w = draw(st.integers(1, 7))
    return draw(arrays(np.float64, (n, h, w), elements=FINITE))


@settings(max_examples=30, deadline=None)
@given(
    frame=arrays(np.float32, (3, 5), elements=FINITE),
    n=st.integers(1, 8),
    rejection=st.sampled_from(REJECTIONS),
    method=st.sampled_from(["average", "median"]),
)
def test_identical_frames_combine_to_that_frame(
    frame: np.ndarray, n: int, rejection: Any, method: str
) -> None:
    frames = [CCDData(frame.copy(), unit="adu") for _ in range(n)]
    result = ccdcal.combine(frames, method=method, rejection=rejection)
    np.testing.assert_array_equal(result.data, frame)
    assert not result.mask.any()


@settings(max_examples=30, deadline=None)
@given(stack=stacks())
def test_unclipped_mean_and_median_are_numpy_s(stack: np.ndarray) -> None:
    frames = stack_to_ccds(stack)
    mean = ccdcal.combine(frames, method="average")
    np.testing.assert_allclose(mean.data, np.mean(stack, axis=0), rtol=1e-12, atol=1e-9)
    median = ccdcal.combine(frames, method="median")
    np.testing.assert_array_equal(median.data, np.median(stack, axis=0))
    total = ccdcal.combine(frames, method="sum")
    np.testing.assert_allclose(total.data, np.sum(stack, axis=0), rtol=1e-12, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(
    stack=stacks(min_frames=3),
    rows=st.integers(1, 4),
    threads=st.integers(1, 3),
    rejection=st.sampled_from(REJECTIONS),
)
def test_band_size_and_threads_never_change_the_result(
    stack: np.ndarray, rows: int, threads: int, rejection: Any
) -> None:
    frames = stack_to_ccds(stack.astype(np.float32))
    whole = ccdcal.combine(frames, rejection=rejection, rejection_map=True, threads=1)
    saved = engine.TARGET_BAND_BYTES
    try:
        engine.TARGET_BAND_BYTES = stack.shape[0] * stack.shape[2] * 4 * rows
        banded = ccdcal.combine(frames, rejection=rejection, rejection_map=True, threads=threads)
    finally:
        engine.TARGET_BAND_BYTES = saved
    np.testing.assert_array_equal(banded.data, whole.data)
    np.testing.assert_array_equal(banded.uncertainty.array, whole.uncertainty.array)
    np.testing.assert_array_equal(banded.flags, whole.flags)


@settings(max_examples=25, deadline=None)
@given(stack=stacks(min_frames=2), seed=st.integers(0, 1000), rejection=st.sampled_from(REJECTIONS))
def test_frame_order_does_not_change_the_median(
    stack: np.ndarray, seed: int, rejection: Any
) -> None:
    order = np.random.default_rng(seed).permutation(stack.shape[0])
    a = ccdcal.combine(stack_to_ccds(stack), method="median", rejection=rejection)
    b = ccdcal.combine(stack_to_ccds(stack[order]), method="median", rejection=rejection)
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.mask, b.mask)
