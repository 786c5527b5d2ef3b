"""Results are bit-identical whatever the band size, mem_limit or number of threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytest

import ccdcal
from ccdcal.errors import CombineMemoryWarning
from ccdcal.stacking import AvSigClip, CCDClip, SigmaClip
from ccdcal.stacking.engine import plan_bands
from ccdcal.testing.stacks import gaussian_stack, stack_to_ccds

CASES: list[dict[str, Any]] = [
    {
        "method": "average",
        "sigma_clip": True,
        "sigma_clip_func": np.ma.median,
        "sigma_clip_low_thresh": 3,
        "sigma_clip_high_thresh": 3,
    },
    {"method": "median"},
    {"method": "sum", "weights": "inverse_variance"},
    {"rejection": SigmaClip(low=2.5, high=2.5, maxiters=None, grow=1.5)},
    {"rejection": AvSigClip(low=2.5, high=2.5)},
    {
        "rejection": CCDClip(gain=1.5, read_noise=10.0),
        "scale": [1.0, 1.1, 0.9, 1.0, 1.2, 0.8, 1.0, 1.05, 0.95],
    },
    {"combine_uncertainty_function": np.std},
    {"rejection": SigmaClip(center=lambda a, axis: np.ma.median(a, axis=axis))},
]


def _frames() -> list[Any]:
    stack, _ = gaussian_stack(9, (37, 29), seed=5, outlier_fraction=0.02, rounded=True)
    unc = np.full(stack.shape, 10.0, np.float32) * np.linspace(0.5, 2, 9)[:, None, None]
    mask = np.random.default_rng(6).random(stack.shape) < 0.01
    return stack_to_ccds(stack, mask=mask, uncertainty=unc)


def _same(a: Any, b: Any) -> None:
    np.testing.assert_array_equal(a.data, b.data)
    np.testing.assert_array_equal(a.uncertainty.array, b.uncertainty.array)
    np.testing.assert_array_equal(a.mask, b.mask)
    np.testing.assert_array_equal(a.flags, b.flags)


@pytest.mark.parametrize("case", CASES, ids=lambda c: ",".join(sorted(c)))
def test_band_size_and_threads_do_not_change_results(
    case: dict[str, Any], small_bands: Any
) -> None:
    frames = _frames()
    reference = ccdcal.combine(frames, rejection_map=True, threads=1, **case)
    for rows in (1, 3, 8):
        small_bands(9, 29, rows)
        for threads in (1, 2, 3):
            _same(ccdcal.combine(frames, rejection_map=True, threads=threads, **case), reference)


def test_numba_thread_count_is_the_default(small_bands: Any) -> None:
    frames = _frames()
    small_bands(9, 29, 2)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = ccdcal.combine(frames, **CASES[0])
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = ccdcal.combine(frames, **CASES[0])
    finally:
        numba.set_num_threads(old)
    np.testing.assert_array_equal(one.data, many.data)
    np.testing.assert_array_equal(one.uncertainty.array, many.uncertainty.array)


def _limit_for_rows(rows: int) -> float:
    """The smallest mem_limit that gives bands of ``rows`` rows (7 frames of 30 x 41)."""
    lo, hi = 1e6, 1e9
    while hi - lo > 10:
        mid = (lo + hi) / 2
        plan = plan_bands(7, (30, 41), 4, mem_limit=mid, workers=2)
        lo, hi = (mid, hi) if plan.rows < rows or not plan.fits else (lo, mid)
    return hi


def test_mem_limit_changes_band_height_not_results(raw_files: list[Path]) -> None:
    limits = (16e9, _limit_for_rows(3), _limit_for_rows(8))
    plans = [plan_bands(7, (30, 41), 4, mem_limit=m, workers=2) for m in limits]
    assert [p.rows for p in plans] == [30, 3, 8]
    results = [
        ccdcal.combine(raw_files, mem_limit=m, method="median", unit="adu", threads=2)
        for m in limits
    ]
    for other in results[1:]:
        np.testing.assert_array_equal(other.data, results[0].data)


def test_too_small_mem_limit_warns_and_still_works(raw_files: list[Path]) -> None:
    reference = ccdcal.combine(raw_files, unit="adu")
    with pytest.warns(CombineMemoryWarning, match="mem_limit=1e\\+03 bytes is below"):
        tiny = ccdcal.combine(raw_files, unit="adu", mem_limit=1e3)
    np.testing.assert_array_equal(tiny.data, reference.data)


def test_plan_respects_mem_limit() -> None:
    for n in (5, 40, 200):
        for limit in (250e6, 350e6, 2e9):
            plan = plan_bands(n, (4096, 4096), 4, mem_limit=limit, workers=2)
            assert plan.fits
            assert plan.peak_bytes <= limit
