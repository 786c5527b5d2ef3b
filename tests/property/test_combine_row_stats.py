"""Property tests of the vectorised order statistics of a row (Hypothesis).

Whatever the row -- every range the same, a few different, many different;
ties, invalid values, widths around the scratch block -- the median, the MAD
and the clipped ranges are numpy's, column by column.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ccdcal.stacking._rowstats import (
    clip_to_bounds,
    merge_network,
    range_mad,
    range_median,
    sort_columns,
    sorting_network,
)


@st.composite
def rows(draw: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted (n, w) values (+inf after the valid ones) and kept ranges [lo, hi)."""
    n = draw(st.integers(1, 12))
    w = draw(st.sampled_from([1, 3, 31, 32, 33, 64, 255, 257, 300]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    decimals = draw(st.integers(0, 2))  # 0: many ties
    values = np.round(rng.normal(50.0, 4.0, (n, w)), decimals).astype(dtype)
    valid = np.full(w, n)
    short = rng.random(w) < draw(st.sampled_from([0.0, 0.02, 0.5]))
    valid[short] = rng.integers(0, n + 1, short.sum())
    values[np.arange(n)[:, None] >= valid] = np.inf
    lo = rng.integers(0, valid + 1)
    hi = lo + rng.integers(0, valid - lo + 1)
    odd = rng.random(w) < draw(st.sampled_from([0.0, 0.01, 0.3, 1.0]))
    a, b = draw(st.sampled_from([(0, n), (min(1, n), max(min(1, n), n - 1))]))
    common = ~odd & (valid >= b)
    lo = np.where(common, a, lo).astype(np.int64)
    hi = np.where(common, b, hi).astype(np.int64)
    sorted_values = np.empty_like(values)
    sort_columns(values, sorted_values, sorting_network(n), np.empty((0, 0), np.int32), False)
    return sorted_values, lo, hi


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if values.size else np.nan


@settings(max_examples=60, deadline=None)
@given(row=rows())
def test_median_and_mad_are_numpy_s(row: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    S, lo, hi = row
    n, w = S.shape
    med = np.empty(w)
    range_median(S, lo, hi, med)
    np.testing.assert_array_equal(med, [_median(S[lo[c] : hi[c], c]) for c in range(w)])
    mad = np.empty(w)
    range_mad(S, np.empty_like(S), lo, hi, med, merge_network(n), mad)
    expected = [
        _median(np.abs(S[lo[c] : hi[c], c].astype(np.float64) - med[c]).astype(S.dtype))
        for c in range(w)
    ]
    np.testing.assert_array_equal(mad, expected)


@settings(max_examples=60, deadline=None)
@given(row=rows(), k=st.sampled_from([0.5, 1.0, 3.0]), all_active=st.booleans())
def test_clipped_ranges_are_the_values_within_bounds(
    row: tuple[np.ndarray, np.ndarray, np.ndarray], k: float, all_active: bool
) -> None:
    S, lo, hi = row
    w = S.shape[1]
    centre = np.array([_median(S[lo[c] : hi[c], c]) for c in range(w)])
    spread = np.array([np.std(S[lo[c] : hi[c], c]) if hi[c] > lo[c] else 0.0 for c in range(w)])
    blo, bhi = centre - k * spread, centre + k * spread
    active = np.ones(w, bool) if all_active else np.arange(w) % 3 != 0
    new_lo, new_hi = lo.copy(), hi.copy()
    changed = clip_to_bounds(S, new_lo, new_hi, blo, bhi, active)
    for c in range(w):
        if not active[c]:
            assert (new_lo[c], new_hi[c]) == (lo[c], hi[c])
            continue
        values = S[lo[c] : hi[c], c].astype(np.float64)
        inside = (values >= blo[c]) & (values <= bhi[c])
        # sorted values: the ones kept are one contiguous run (or none, at the range's end)
        assert new_hi[c] - new_lo[c] == inside.sum()
        if inside.any():
            assert new_lo[c] == lo[c] + np.argmax(inside)
    assert changed == bool((new_lo != lo).any() or (new_hi != hi).any())
