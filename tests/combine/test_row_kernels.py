"""The vectorised row kernels against per-column numpy references.

The order statistics of a row take one of three ways (see
``ccdcal.stacking._rowstats``): fixed rows when every pixel has the same kept
range, fixed rows plus a patch when a few differ, branch-free selects when
many differ.  Each test runs all three on rows wider than one scratch block
(320 columns, a partial last block) and compares every column with numpy.
The end-to-end tests combine frames that put rows of the engine in each of
these cases (clean rows, a masked column, heavy rejection, extrema cut by
count, ties) and compare with astropy's ``sigma_clip`` or plain numpy.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from astropy.nddata import CCDData
from astropy.stats import sigma_clip

import ccdcal
from ccdcal.stacking import ExtremaClip, SigmaClip
from ccdcal.stacking._rowstats import (
    clip_to_bounds,
    merge_network,
    range_mad,
    range_median,
    sort_columns,
    sorting_network,
)

WIDTH = 320
REGIMES = ["same", "few", "many"]


def _rows(n: int, dtype: type, regime: str, seed: int) -> tuple[np.ndarray, ...]:
    """Sorted (n, WIDTH) values and kept ranges [lo, hi) shared as the regime says.

    ``many``: some columns have fewer valid values (+inf after them, sorted to
    the end) and every range is random within them; ``same``: all values
    valid and one range for all (all but the lowest and the highest);
    ``few``: that, with a random range in one column of 64.
    """
    rng = np.random.default_rng(seed)
    values = np.round(rng.normal(100.0, 5.0, (n, WIDTH)), 1).astype(dtype)  # some ties
    valid = np.full(WIDTH, n)
    if regime == "many":
        short = rng.random(WIDTH) < 0.2
        valid[short] = rng.integers(0, n, short.sum())
        values[np.arange(n)[:, None] >= valid] = np.inf
    lo = rng.integers(0, valid + 1)
    hi = lo + rng.integers(0, valid - lo + 1)
    if regime != "many":
        common = np.ones(WIDTH, bool)
        if regime == "few":
            common[rng.choice(WIDTH, WIDTH // 64, replace=False)] = False
        a, b = (1, n - 1) if n > 2 else (0, n)
        lo = np.where(common, a, lo)
        hi = np.where(common, b, hi)
    return np.sort(values, axis=0), lo.astype(np.int64), hi.astype(np.int64)


def _median(values: np.ndarray) -> float:
    """numpy's median in the values' dtype (the engine's: the middle two added in it)."""
    return float(np.median(values)) if values.size else np.nan


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("n", [1, 2, 5, 6, 10])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_range_median(regime: str, n: int, dtype: type) -> None:
    S, lo, hi = _rows(n, dtype, regime, seed=n)
    out = np.empty(WIDTH)
    range_median(S, lo, hi, out)
    expected = [_median(S[lo[c] : hi[c], c]) for c in range(WIDTH)]
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("n", [1, 2, 5, 6, 10])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("centre", ["median", "offset"])
def test_range_mad(regime: str, n: int, dtype: type, centre: str) -> None:
    """The median of |x - m| rounded to the values' dtype, about any centre m."""
    S, lo, hi = _rows(n, dtype, regime, seed=10 + n)
    med = np.array([_median(S[lo[c] : hi[c], c]) for c in range(WIDTH)])
    if centre == "offset":  # a centre that is not a value of the dtype (a mean)
        med = med + 1.0 / 3.0
    out = np.empty(WIDTH)
    range_mad(S, np.empty_like(S), lo, hi, med, merge_network(n), out)
    expected = []
    for c in range(WIDTH):
        deviations = np.abs(S[lo[c] : hi[c], c].astype(np.float64) - med[c]).astype(dtype)
        expected.append(_median(deviations))
    np.testing.assert_array_equal(out, expected)


def _clip_reference(
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    blo: np.ndarray,
    bhi: np.ndarray,
    active: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Scan each active range in from both ends while the end value is out of bounds."""
    lo, hi = lo.copy(), hi.copy()
    for c in np.flatnonzero(active):
        a, b = lo[c], hi[c]
        while a < b and S[a, c] < blo[c]:
            a += 1
        while b > a and S[b - 1, c] > bhi[c]:
            b -= 1
        lo[c], hi[c] = a, b
    return lo, hi


@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("n", [1, 2, 5, 10])
@pytest.mark.parametrize("all_active", [True, False])
def test_clip_to_bounds(regime: str, n: int, all_active: bool) -> None:
    S, lo, hi = _rows(n, np.float32, regime, seed=20 + n)
    rng = np.random.default_rng(n)
    centre = np.array([_median(S[lo[c] : hi[c], c]) for c in range(WIDTH)])
    blo = centre - rng.uniform(0.0, 8.0, WIDTH)
    bhi = centre + rng.uniform(0.0, 8.0, WIDTH)
    blo[::17] = np.nan  # a NaN bound clips nothing on its side
    bhi[5::23] = blo[5::23] - 1.0  # inverted bounds
    active = np.ones(WIDTH, bool) if all_active else rng.random(WIDTH) < 0.7
    exp_lo, exp_hi = _clip_reference(S, lo, hi, blo, bhi, active)
    changed = bool((exp_lo != lo).any() or (exp_hi != hi).any())
    assert clip_to_bounds(S, lo, hi, blo, bhi, active) == changed
    np.testing.assert_array_equal(lo, exp_lo)
    np.testing.assert_array_equal(hi, exp_hi)


@pytest.mark.parametrize("n", [1, 3, 5, 16])
def test_sort_columns_keeps_the_source_and_numbers_the_frames(n: int) -> None:
    rng = np.random.default_rng(n)
    values = np.round(rng.normal(size=(n, WIDTH)), 1).astype(np.float32)  # ties
    values[0, ::9] = np.inf
    source = values.copy()
    out = np.empty_like(values)
    ids = np.full((n, WIDTH), -1, np.int32)
    sort_columns(values, out, sorting_network(n), ids, True)
    np.testing.assert_array_equal(values, source)
    np.testing.assert_array_equal(out, np.sort(source, axis=0))
    np.testing.assert_array_equal(np.take_along_axis(source, ids.astype(np.intp), axis=0), out)
    np.testing.assert_array_equal(np.sort(ids, axis=0), np.tile(np.arange(n)[:, None], WIDTH))


# --------------------------------------------------------------------------- end to end


def _frames(stack: np.ndarray, mask: np.ndarray) -> list[CCDData]:
    return [CCDData(f, unit="adu", mask=m) for f, m in zip(stack, mask, strict=True)]


def _raw_stack(n: int, seed: int, *, rounded: bool) -> tuple[np.ndarray, np.ndarray]:
    """(n, 12, WIDTH) frames with outliers, a masked column, scattered masks and NaNs."""
    rng = np.random.default_rng(seed)
    stack = rng.normal(1000.0, 10.0, (n, 12, WIDTH))
    stack[rng.random(stack.shape) < 0.01] += 400.0
    if rounded:
        stack = np.round(stack)
    stack = stack.astype(np.float32)
    mask = np.zeros(stack.shape, bool)
    mask[1, :, 37] = True  # one bad column: rows with a few odd ranges
    mask[2, 3:5] = rng.random((2, WIDTH)) < 0.3  # rows with many
    stack[0, 6, rng.random(WIDTH) < 0.02] = np.nan  # invalid values of the first frame
    return stack, mask


def _check_combination(result: Any, stack: np.ndarray, rejected: np.ndarray) -> None:
    """Data, sigma, mask and rejection map against the kept values (numpy)."""
    kept = np.ma.MaskedArray(stack.astype(np.float64), mask=rejected)
    count = kept.count(axis=0)
    mean = kept.mean(axis=0).filled(np.nan)
    sigma = (kept.std(axis=0, ddof=1) / np.sqrt(count)).filled(np.nan)
    np.testing.assert_array_equal(result.mask, count == 0)
    np.testing.assert_allclose(result.data, mean, rtol=1e-6)
    np.testing.assert_allclose(result.uncertainty.array, sigma, rtol=1e-5, atol=1e-7)
    assert result.flags.dtype == np.uint16
    np.testing.assert_array_equal(result.flags, (rejected & ~np.isnan(stack)).sum(axis=0))


@pytest.mark.parametrize("rounded", [False, True])
def test_one_pass_mad_clip_matches_astropy(rounded: bool) -> None:
    """The pipeline's clip: one pass, median, mad_std, 3 sigma, with the rejection map."""
    stack, mask = _raw_stack(5, seed=3, rounded=rounded)
    invalid = mask | np.isnan(stack)
    clipped = sigma_clip(
        np.ma.MaskedArray(stack.astype(np.float64), mask=invalid),
        sigma=3.0,
        maxiters=1,
        cenfunc="median",
        stdfunc="mad_std",
        axis=0,
    )
    rejection = SigmaClip(low=3, high=3, maxiters=1, center="median", deviation="mad_std", nkeep=0)
    for threads in (1, 2):
        result = ccdcal.combine(
            _frames(stack, mask),
            rejection=rejection,
            dtype=np.float32,
            rejection_map=True,
            threads=threads,
        )
        rejected = np.ma.getmaskarray(clipped)
        _check_combination(result, np.where(mask, np.nan, stack), rejected)
        assert (result.flags > 0).mean() > 0.1  # rows of many odd ranges


def test_extrema_then_clip_on_tied_raw_values() -> None:
    """Extrema cut by count (a common range of [1, n-1)), ties at the range ends."""
    stack, mask = _raw_stack(7, seed=4, rounded=True)
    stack = np.round(stack / 8.0) * 8.0  # many ties
    values = np.where(mask, np.nan, stack).astype(np.float64)
    rejected = np.zeros(stack.shape, bool)
    for r in range(stack.shape[1]):
        for c in range(WIDTH):
            x = values[:, r, c]
            order = np.argsort(x, kind="stable")[: np.isfinite(x).sum()]
            keep = np.zeros(x.size, bool)
            keep[order[1:-1]] = True  # extrema: the first lowest and highest in frame order
            kept = x[keep]
            centre = np.median(kept)
            dev = 2.0 * np.std(kept)
            keep &= (x >= centre - dev) & (x <= centre + dev)
            rejected[:, r, c] = ~keep
    result = ccdcal.combine(
        _frames(stack, mask),
        rejection=[
            ExtremaClip(nlow=1, nhigh=1, nkeep=0),
            SigmaClip(low=2, high=2, maxiters=1, center="median", deviation="std", nkeep=0),
        ],
        rejection_map=True,
    )
    _check_combination(result, values.astype(np.float32), rejected)


@pytest.mark.parametrize("method", ["median", "average"])
def test_plain_combination_with_masks(method: str) -> None:
    """No rejection: numpy's masked median and mean (the first frame has NaNs)."""
    stack, mask = _raw_stack(6, seed=5, rounded=False)
    values = np.ma.MaskedArray(stack.astype(np.float64), mask=mask | np.isnan(stack))
    result = ccdcal.combine(_frames(stack, mask), method=method, rejection_map=True)
    if method == "median":
        expected = np.ma.median(values, axis=0).filled(np.nan).astype(np.float32)
        np.testing.assert_array_equal(result.data, expected)
    else:
        _check_combination(result, np.where(mask, np.nan, stack), np.ma.getmaskarray(values))
    assert not result.flags.any()
