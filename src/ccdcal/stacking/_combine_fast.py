"""The combination of the common case in one pass per row (numba, arrays only).

:func:`combine_fast` combines the kept values of one image row when the frames
have per-frame weights only (no variances, per-pixel weights or inverse
variance weighting): the kept values of a pixel are those between the end
values of its sorted range ``S[lo:hi]``, summed in frame order from ``V``.
The others, and the rows where a tie straddles the end of a range, take the
general path (:func:`ccdcal.stacking._combine_kernels.keep_row` and
:func:`~ccdcal.stacking._combine_kernels.combine_row`).

Vectorisation (LLVM, through numba) needs loops without a branch per pixel,
over one-dimensional views, with divisions under numpy's error model (no
zero test).  After a rejection a quarter of the pixels of a row may have lost
a value, so the ends of the ranges are read as the order statistics of
:mod:`ccdcal.stacking._rowstats` are: from fixed rows of ``S`` when every
range is the same, with a patch when a few differ, else by selects.

Examples
--------
>>> import numpy as np
>>> V = np.array([[1.0], [2.0], [9.0]])
>>> S = np.sort(V, axis=0)
>>> out = [np.zeros((1, 1)), np.zeros((1, 1)), np.zeros((1, 1), bool)]
>>> combine_fast(V, S, np.array([0]), np.array([2]), True, np.ones(3), 0,
...              np.ones(4), 0, *out)
True
>>> float(out[0][0, 0]), float(out[1][0, 0])
(1.5, 0.5)
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ccdcal.stacking._combine_kernels import median_factor
from ccdcal.stacking._params import METHOD_MEDIAN, METHOD_SUM
from ccdcal.stacking._rowstats import FEW, common_range, range_median

__all__ = ["combine_fast"]


@njit(cache=True, nogil=True, error_model="numpy")
def combine_fast(
    V: np.ndarray,
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    sorted_: bool,
    wframe: np.ndarray,
    method: int,
    eff: np.ndarray,
    r: int,
    out_data: np.ndarray,
    out_sigma: np.ndarray,
    out_mask: np.ndarray,
) -> bool:  # pragma: no cover - jit
    """One fused pass for the common case (per-frame weights only, no tie at a range end).

    Keeps a value when it lies between its range's end values, and sums in
    frame order ``w``, ``w x``, ``w d`` and ``w d^2`` with ``d = x - ref`` (ref a
    kept value, so the one-pass variance does not cancel).  Returns False,
    having done nothing, when a tie straddles a range end (the caller then
    takes the general path).

    Every loop is branch-free over one-dimensional rows, and divisions follow
    numpy's error model (no zero test; every quotient that is kept has a
    non-zero divisor), so that LLVM vectorises them.
    """
    nfr, width = V.shape
    vlo = np.empty(width, V.dtype)
    vhi = np.empty(width, V.dtype)
    ref = np.zeros(width)
    if sorted_:
        if _range_ends(S, lo, hi, vlo, vhi, ref):
            return False
    else:
        for c in range(width):
            vlo[c] = -np.inf
            vhi[c] = np.inf
        _first_valid(V, ref)
    weighted = method != METHOD_MEDIAN
    unit = True
    for i in range(nfr):
        unit = unit and (wframe[i] == 1.0 or not weighted)
    cnt = np.zeros(width)
    swx = np.zeros(width)
    swd = np.zeros(width)
    swdd = np.zeros(width)
    if unit:
        # w = 1: the same sums without the products by w (exact: w x = x), and sum w = count
        sw = cnt
        _sums_unit(V, vlo, vhi, ref, cnt, swx, swd, swdd)
    else:
        sw = np.zeros(width)
        for i in range(nfr):
            row = V[i]
            wf = wframe[i] if weighted else 1.0
            for c in range(width):
                v = row[c]
                keep = (v >= vlo[c]) & (v <= vhi[c]) & (v < np.inf)
                x = float(v) if keep else 0.0
                w = wf if keep else 0.0
                d = x - ref[c] if keep else 0.0
                cnt[c] += 1.0 if keep else 0.0
                sw[c] += w
                swx[c] += w * x
                swd[c] += w * d
                swdd[c] += w * d * d
    od = out_data[r]
    osig = out_sigma[r]
    omask = out_mask[r]
    if method == METHOD_MEDIAN:
        _median_out(S, lo, hi, eff, cnt, sw, swd, swdd, od, osig, omask)
        return True
    for c in range(width):
        m = cnt[c]
        total = sw[c]
        bad = (m == 0) | (not total > 0.0)
        ss = max(0.0, swdd[c] - swd[c] * swd[c] / total)  # sum w (x - weighted mean)^2
        sig2 = ss / ((m - 1) * total) if m > 1 else np.nan
        if method == METHOD_SUM:
            data = swx[c]
            sigma = math.sqrt(sig2) * total
        else:
            data = swx[c] / total
            sigma = math.sqrt(sig2)
        od[c] = np.nan if bad else data
        osig[c] = np.nan if bad else sigma
        omask[c] = bad
    return True


@njit(cache=True, nogil=True)
def _range_ends(
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    vlo: np.ndarray,
    vhi: np.ndarray,
    ref: np.ndarray,
) -> bool:  # pragma: no cover - jit
    """End values of each kept range, and its middle value (the shift of the sums).

    An empty range gets ``vlo = inf``, ``vhi = -inf`` and ``ref = 0``.  Returns
    True when a tie straddles a range end (a value equal to an end value lies
    just outside the range).  Vectorised as the order statistics of
    :mod:`ccdcal.stacking._rowstats` (see ``common_range``).
    """
    nfr, width = S.shape
    a, b, k = common_range(lo, hi, nfr)
    if k * FEW > width:
        return _ends_select(S, lo, hi, vlo, vhi, ref)
    if _ends_fixed(S, lo, hi, a, b, vlo, vhi, ref):
        return True
    if k == 0:
        return False
    for c in range(width):
        lo_c = lo[c]
        hi_c = hi[c]
        if lo_c == a and hi_c == b:
            continue
        if hi_c <= lo_c:
            vlo[c] = np.inf
            vhi[c] = -np.inf
            ref[c] = 0.0
            continue
        vlo[c] = S[lo_c, c]
        vhi[c] = S[hi_c - 1, c]
        ref[c] = float(S[lo_c + (hi_c - lo_c) // 2, c])
        if (lo_c > 0 and S[lo_c - 1, c] == vlo[c]) or (hi_c < nfr and S[hi_c, c] == vhi[c]):
            return True
    return False


@njit(cache=True, nogil=True)
def _ends_fixed(
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    a: int,
    b: int,
    vlo: np.ndarray,
    vhi: np.ndarray,
    ref: np.ndarray,
) -> bool:  # pragma: no cover - jit
    """``_range_ends`` as if every range were ``[a, b)`` (fixed rows of S).

    Ties are only looked for in the columns whose range is ``[a, b)``.
    """
    nfr, width = S.shape
    if b <= a:
        vlo[:] = np.inf
        vhi[:] = -np.inf
        ref[:] = 0.0
        return False
    first = S[a]
    last = S[b - 1]
    middle = S[a + (b - a) // 2]
    ties = 0
    for c in range(width):
        vlo[c] = first[c]
        vhi[c] = last[c]
        ref[c] = float(middle[c])
    if a > 0:
        below = S[a - 1]
        for c in range(width):
            common = (lo[c] == a) & (hi[c] == b)
            ties += 1 if common & (below[c] == first[c]) else 0
    if b < nfr:
        above = S[b]
        for c in range(width):
            common = (lo[c] == a) & (hi[c] == b)
            ties += 1 if common & (above[c] == last[c]) else 0
    return ties > 0


@njit(cache=True, nogil=True)
def _ends_select(
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    vlo: np.ndarray,
    vhi: np.ndarray,
    ref: np.ndarray,
) -> bool:  # pragma: no cover - jit
    """``_range_ends`` by branch-free selects, one vectorised pass per row of ``S``.

    A tie straddles an end when the range starts at row j + 1 or ends at row j
    and ``S[j] == S[j + 1]``: a count, so no value is stored for it.
    """
    nfr, width = S.shape
    # positions as int32, so that each compare fills a vector of 32-bit values;
    # empty ranges get positions that match no row
    a32 = np.empty(width, np.int32)
    b32 = np.empty(width, np.int32)
    m32 = np.empty(width, np.int32)
    for c in range(width):
        a = lo[c]
        b = hi[c]
        empty = b <= a
        a32[c] = -9 if empty else a
        b32[c] = -9 if empty else b
        m32[c] = -9 if empty else a + (b - a) // 2
    mid = np.zeros(width, S.dtype)
    split = 0
    for j in range(nfr):
        row = S[j]
        nxt = S[min(j + 1, nfr - 1)]
        edge = j + 1 if j + 1 < nfr else -99  # the row above the last one matches nothing
        for c in range(width):
            v = row[c]
            vlo[c] = v if a32[c] == j else vlo[c]
            vhi[c] = v if b32[c] == j + 1 else vhi[c]
            mid[c] = v if m32[c] == j else mid[c]
            at_end = (a32[c] == edge) | (b32[c] == edge)
            split += 1 if at_end & (v == nxt[c]) else 0
    for c in range(width):
        empty = a32[c] < 0
        vlo[c] = np.inf if empty else vlo[c]
        vhi[c] = -np.inf if empty else vhi[c]
        ref[c] = 0.0 if empty else float(mid[c])
    return split > 0


@njit(cache=True, nogil=True)
def _first_valid(V: np.ndarray, ref: np.ndarray) -> None:  # pragma: no cover - jit
    """Each pixel's first valid value in frame order (``ref`` stays where there is none)."""
    nfr, width = V.shape
    first = V[0]
    valid = 0
    for c in range(width):
        ref[c] = float(first[c]) if first[c] < np.inf else ref[c]
        valid += 1 if first[c] < np.inf else 0
    if valid == width:  # usually every value of the first frame is valid
        return
    for i in range(nfr - 1, 0, -1):  # the last pick of a valid value is the first one
        row = V[i]
        for c in range(width):
            ref[c] = float(row[c]) if row[c] < np.inf else ref[c]
    for c in range(width):
        ref[c] = float(first[c]) if first[c] < np.inf else ref[c]


@njit(cache=True, nogil=True)
def _sums_unit(
    V: np.ndarray,
    vlo: np.ndarray,
    vhi: np.ndarray,
    ref: np.ndarray,
    cnt: np.ndarray,
    sx: np.ndarray,
    sd: np.ndarray,
    sdd: np.ndarray,
) -> None:  # pragma: no cover - jit
    """combine_fast's frame-order sums with unit weights: count, x, d and d^2.

    Two frames per pass over the accumulators (added one after the other, so
    in frame order): half the loads and stores of the sums.
    """
    nfr, width = V.shape
    for i in range(0, nfr - 1, 2):
        row0 = V[i]
        row1 = V[i + 1]
        for c in range(width):
            v0 = row0[c]
            v1 = row1[c]
            k0 = (v0 >= vlo[c]) & (v0 <= vhi[c]) & (v0 < np.inf)
            k1 = (v1 >= vlo[c]) & (v1 <= vhi[c]) & (v1 < np.inf)
            x0 = float(v0) if k0 else 0.0
            x1 = float(v1) if k1 else 0.0
            d0 = x0 - ref[c] if k0 else 0.0
            d1 = x1 - ref[c] if k1 else 0.0
            cnt[c] = (cnt[c] + (1.0 if k0 else 0.0)) + (1.0 if k1 else 0.0)
            sx[c] = (sx[c] + x0) + x1
            sd[c] = (sd[c] + d0) + d1
            sdd[c] = (sdd[c] + d0 * d0) + d1 * d1
    if nfr % 2 == 1:
        row = V[nfr - 1]
        for c in range(width):
            v = row[c]
            keep = (v >= vlo[c]) & (v <= vhi[c]) & (v < np.inf)
            x = float(v) if keep else 0.0
            d = x - ref[c] if keep else 0.0
            cnt[c] += 1.0 if keep else 0.0
            sx[c] += x
            sd[c] += d
            sdd[c] += d * d


@njit(cache=True, nogil=True, error_model="numpy")
def _median_out(
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    eff: np.ndarray,
    cnt: np.ndarray,
    sw: np.ndarray,
    swd: np.ndarray,
    swdd: np.ndarray,
    od: np.ndarray,
    osig: np.ndarray,
    omask: np.ndarray,
) -> None:  # pragma: no cover - jit
    """The median of each kept range and its sigma from the scatter (combine_fast)."""
    nfr, width = S.shape
    med = np.empty(width)
    range_median(S, lo, hi, med)
    factor = np.empty(width)
    if nfr < eff.shape[0]:  # every count is in the table: a plain lookup
        for c in range(width):
            factor[c] = eff[int(cnt[c])]
    else:
        for c in range(width):
            factor[c] = median_factor(eff, int(cnt[c]))
    for c in range(width):  # vectorised
        m = cnt[c]
        bad = (m == 0) | (not sw[c] > 0.0)
        ss = max(0.0, swdd[c] - swd[c] * swd[c] / sw[c])
        sig2 = factor[c] * ss / ((m - 1) * m) if m > 1 else np.nan
        od[c] = np.nan if bad else med[c]
        osig[c] = np.nan if bad else math.sqrt(sig2)
        omask[c] = bad
