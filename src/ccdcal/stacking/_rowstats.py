"""Row-vectorised order statistics for the combination kernels (numba, arrays only).

The kernels work on one image row at a time: ``S`` has shape ``(N, W)``
(the N frames' values of W pixels), sorted along axis 0 by a sorting network
whose compare-exchange steps run over all W pixels at once (branch-free,
vectorised by LLVM).  Invalid values are ``+inf`` and sort to the end.

The values of pixel ``c`` still in play form the contiguous sorted range
``S[lo[c]:hi[c], c]``; the functions here compute statistics of those ranges
and shrink them.

What LLVM vectorises, and so what every hot loop here is written as: a loop
over one-dimensional views starting at index 0 (not ``S[j, c]``, not
``x[c0 + c]``), without a branch per pixel (a select or a count instead), and
divisions under numpy's error model.  The results are those of the plain
per-pixel code, bit for bit: the same operations in the same order and
precision (numba's ``float()`` of a float32 stays float32, so the two middle
values of an even count are added in float32, as :func:`median_at` does).

Examples
--------
>>> import numpy as np
>>> net = sorting_network(3)
>>> S = np.array([[3.0, 1.0], [1.0, np.inf], [2.0, 5.0]])
>>> apply_network(S, net, np.empty((0, 0), np.int32))
>>> S.tolist()
[[1.0, 1.0], [2.0, 5.0], [3.0, inf]]
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from numba import njit

__all__ = [
    "FEW",
    "MAD_TO_STD",
    "apply_network",
    "clip_to_bounds",
    "common_range",
    "median_at",
    "merge_network",
    "range_mad",
    "range_mean",
    "range_median",
    "range_std",
    "restore_row",
    "sort_columns",
    "sorting_network",
]

#: astropy's factor from the median absolute deviation to a Gaussian sigma.
MAD_TO_STD = 1.482602218505602


@lru_cache(maxsize=64)
def sorting_network(n: int) -> np.ndarray:
    """Batcher's odd-even merge sort for ``n`` inputs, as (k, 2) compare-exchange pairs.

    Built for the next power of two; pairs touching an index >= n are
    dropped (those inputs would be ``+inf`` padding that never moves).

    >>> sorting_network(4).tolist()
    [[0, 1], [2, 3], [0, 2], [1, 3], [1, 2]]
    """
    size = 1
    while size < n:
        size *= 2
    pairs: list[tuple[int, int]] = []
    block = 1
    while block < size:
        step = block
        while step >= 1:
            start = step % block
            while start <= size - 1 - step:
                for i in range(min(step, size - start - step)):
                    a, b = i + start, i + start + step
                    if a // (2 * block) == b // (2 * block) and b < n:
                        pairs.append((a, b))
                start += 2 * step
            step //= 2
        block *= 2
    network = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    network.setflags(write=False)
    return network


@lru_cache(maxsize=64)
def merge_network(n: int) -> np.ndarray:
    """Bitonic merger for ``n`` inputs: sorts any V-shaped (falling, then rising) column.

    The absolute deviations of sorted values from their median are V-shaped
    (``+inf`` outside the range included), so this sorts them with fewer
    compare-exchange steps than a full sorting network.

    >>> merge_network(4).tolist()
    [[0, 2], [1, 3], [0, 1], [2, 3]]
    """
    size = 1
    while size < n:
        size *= 2
    pairs = []
    step = size // 2
    while step >= 1:
        pairs += [(i, i + step) for i in range(size) if not i & step and i + step < n]
        step //= 2
    network = np.array(pairs, dtype=np.int64).reshape(-1, 2)
    network.setflags(write=False)
    return network


@njit(cache=True, nogil=True)
def apply_network(S: np.ndarray, net: np.ndarray, ids: np.ndarray) -> None:  # pragma: no cover
    """Sort every column of ``S`` ascending; ``ids`` (same shape, or empty) follows."""
    sort_columns(S, S, net, ids, False)


@njit(cache=True, nogil=True)
def sort_columns(
    src: np.ndarray, dst: np.ndarray, net: np.ndarray, ids: np.ndarray, number_ids: bool
) -> None:  # pragma: no cover - jit
    """``dst`` = the columns of ``src`` sorted ascending (``src`` may be ``dst``).

    ``ids`` (same shape, or empty) follows the values: it starts as the row
    index of each value when ``number_ids`` is True, else as its own content.

    The columns are taken in blocks small enough for the level-1 cache,
    copied into a scratch buffer so that every compare-exchange of the
    network runs on cached rows the compiler knows do not overlap ``src``: it
    then vectorises them (2-2.6x faster than working in place).  Every loop
    runs over one-dimensional views that start at index 0: indexing a 2-D
    array, or a 1-D one at ``c0 + c``, inside the inner loop stops LLVM from
    vectorising it.
    """
    nfr, width = src.shape
    carry = ids.shape[0] > 0
    block = _block_columns(nfr, src.itemsize)
    buf = np.empty((nfr, block), src.dtype)
    ibuf = np.empty((nfr if carry else 0, block), ids.dtype)
    for c0 in range(0, width, block):
        n = min(width, c0 + block) - c0
        for r in range(nfr):
            s = src[r, c0 : c0 + n]
            b = buf[r]
            for c in range(n):
                b[c] = s[c]
            if carry:
                ib = ibuf[r]
                if number_ids:
                    for c in range(n):
                        ib[c] = r
                else:
                    ir = ids[r, c0 : c0 + n]
                    for c in range(n):
                        ib[c] = ir[c]
        for k in range(net.shape[0]):
            ra = buf[net[k, 0]]
            rb = buf[net[k, 1]]
            if carry:
                ia = ibuf[net[k, 0]]
                ib = ibuf[net[k, 1]]
                for c in range(n):
                    x = ra[c]
                    y = rb[c]
                    # swap the ids with an xor mask (all ones where x > y): unlike a
                    # select on the ids, this vectorises (3.7x faster)
                    p = ia[c]
                    q = ib[c]
                    d = (p ^ q) & (-1 if x > y else 0)
                    ia[c] = p ^ d
                    ib[c] = q ^ d
                    ra[c] = min(x, y)
                    rb[c] = max(x, y)
            else:
                for c in range(n):
                    x = ra[c]
                    y = rb[c]
                    ra[c] = min(x, y)
                    rb[c] = max(x, y)
        for r in range(nfr):
            b = buf[r]
            d = dst[r, c0 : c0 + n]
            for c in range(n):
                d[c] = b[c]
            if carry:
                ib = ibuf[r]
                ir = ids[r, c0 : c0 + n]
                for c in range(n):
                    ir[c] = ib[c]


@njit(cache=True, nogil=True)
def _block_columns(nfr: int, itemsize: int) -> int:  # pragma: no cover - jit
    """Columns of a scratch block of ``nfr`` rows that fits the level-1 cache."""
    return max(16, min(256, (_L1_BYTES // max(1, nfr * itemsize)) // 16 * 16))


#: bytes of a column block sorted at once (about two thirds of a 32 KiB L1 data cache)
_L1_BYTES = 20 << 10


@njit(cache=True, nogil=True)
def median_at(S: np.ndarray, lo: int, hi: int, c: int) -> float:  # pragma: no cover - jit
    """Median of the sorted range ``S[lo:hi, c]`` (mean of the middle two if even)."""
    m = hi - lo
    if m <= 0:
        return np.nan
    h = lo + m // 2
    if m % 2 == 1:
        return float(S[h, c])
    return (float(S[h - 1, c]) + float(S[h, c])) / 2.0


# --------------------------------------------------------------------------- common ranges
# Most pixels of a row have the same range (all N values, or all but the extrema), but
# after a rejection a quarter of them may differ.  A branch per pixel on "is this range
# the common one" is then mispredicted often, so the functions below take one of three
# ways for a row: fixed rows of S when every range is the common one; fixed rows and a
# patch of the few others; branch-free selects over the rows of S when many differ.

#: a row patches its odd ranges one by one when at most 1/FEW of its columns have one
FEW = 32


@njit(cache=True, nogil=True)
def _count_other(lo: np.ndarray, hi: np.ndarray, a: int, b: int) -> int:  # pragma: no cover
    """Number of columns whose range is not ``[a, b)`` (vectorised)."""
    k = 0
    for c in range(lo.shape[0]):
        k += 1 if (lo[c] != a) | (hi[c] != b) else 0
    return k


@njit(cache=True, nogil=True)
def common_range(
    lo: np.ndarray, hi: np.ndarray, nfr: int
) -> tuple[int, int, int]:  # pragma: no cover - jit
    """A range ``[a, b)`` shared by most columns, and the number of columns with another.

    Tries all ``nfr`` values, then the range of the middle column.
    """
    width = lo.shape[0]
    k = _count_other(lo, hi, 0, nfr)
    if k == 0:
        return 0, nfr, 0
    a = lo[width // 2]
    b = hi[width // 2]
    k2 = _count_other(lo, hi, a, b)
    if k2 < k:
        return a, b, k2
    return 0, nfr, k


@njit(cache=True, nogil=True)
def _fixed_median(S: np.ndarray, a: int, b: int, out: np.ndarray) -> None:  # pragma: no cover
    """``median_at(S, a, b, c)`` for the first ``len(out)`` columns (vectorised)."""
    m = b - a
    if m <= 0:
        out[:] = np.nan
        return
    h = a + m // 2
    up = S[h]
    if m % 2 == 1:
        for c in range(out.shape[0]):
            out[c] = float(up[c])
        return
    down = S[h - 1]
    for c in range(out.shape[0]):
        out[c] = (float(down[c]) + float(up[c])) / 2.0


@njit(cache=True, nogil=True)
def _select_median(
    S: np.ndarray, lo: np.ndarray, hi: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - jit
    """``median_at`` of every column's range, picking the middle values by selects."""
    nfr = S.shape[0]
    width = out.shape[0]
    mid = np.empty(width, np.int64)
    # the middle values in S's dtype: as in median_at, the two middle ones of an even
    # count are added in that dtype (numba's float() keeps float32)
    x0 = np.zeros(width, S.dtype)
    x1 = np.zeros(width, S.dtype)
    for c in range(width):
        mid[c] = lo[c] + (hi[c] - lo[c]) // 2
    for j in range(nfr):
        row = S[j]
        for c in range(width):
            v = row[c]
            x1[c] = v if j == mid[c] else x1[c]
            x0[c] = v if j == mid[c] - 1 else x0[c]
    for c in range(width):
        m = hi[c] - lo[c]
        even = (x0[c] + x1[c]) / 2.0
        value = float(x1[c]) if m % 2 == 1 else even
        out[c] = value if m > 0 else np.nan


@njit(cache=True, nogil=True)
def _median_of(
    S: np.ndarray, lo: np.ndarray, hi: np.ndarray, a: int, b: int, k: int, out: np.ndarray
) -> None:  # pragma: no cover - jit
    """``median_at`` of every column's range, ``[a, b)`` being common to all but k columns."""
    width = out.shape[0]
    if k * FEW > width:
        _select_median(S, lo, hi, out)
        return
    _fixed_median(S, a, b, out)
    if k == 0:
        return
    for c in range(width):
        if lo[c] != a or hi[c] != b:
            out[c] = median_at(S, lo[c], hi[c], c)


@njit(cache=True, nogil=True)
def range_median(
    S: np.ndarray, lo: np.ndarray, hi: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover
    """``median_at`` of every column's range (vectorised, see :func:`common_range`)."""
    a, b, k = common_range(lo, hi, S.shape[0])
    _median_of(S, lo, hi, a, b, k, out)


@njit(cache=True, nogil=True, error_model="numpy")
def range_mean(
    S: np.ndarray, lo: np.ndarray, hi: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover
    nfr, width = S.shape
    for c in range(width):
        out[c] = 0.0
    for j in range(nfr):
        row = S[j]
        for c in range(width):
            inside = (j >= lo[c]) & (j < hi[c])
            out[c] += float(row[c]) if inside else 0.0
    for c in range(width):
        m = hi[c] - lo[c]
        out[c] = out[c] / m if m > 0 else np.nan


@njit(cache=True, nogil=True, error_model="numpy")
def range_std(
    S: np.ndarray, lo: np.ndarray, hi: np.ndarray, mean: np.ndarray, ddof: int, out: np.ndarray
) -> None:  # pragma: no cover - jit
    """Standard deviation of each range about ``mean`` (two-pass, float64)."""
    nfr, width = S.shape
    for c in range(width):
        out[c] = 0.0
    for j in range(nfr):
        row = S[j]
        for c in range(width):
            inside = (j >= lo[c]) & (j < hi[c])
            d = float(row[c]) - mean[c] if inside else 0.0
            out[c] += d * d
    for c in range(width):
        m = hi[c] - lo[c] - ddof
        out[c] = math.sqrt(out[c] / m) if m > 0 else np.nan


@njit(cache=True, nogil=True)
def range_mad(
    S: np.ndarray,
    D: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    med: np.ndarray,
    net: np.ndarray,
    out: np.ndarray,
) -> None:  # pragma: no cover - jit
    """Median absolute deviation of each range about ``med``.

    The deviations (rounded to the dtype of ``S``; ``+inf`` outside the
    range) are sorted by ``net`` in cache-sized blocks of columns and their
    median is read there, so ``D`` (scratch of the shape of ``S``, kept for
    the callers) is not used.
    """
    nfr, width = S.shape
    inf = np.inf
    block = _block_columns(nfr, S.itemsize)
    buf = np.empty((nfr, block), S.dtype)
    zero = np.zeros(block, np.int64)
    count = np.empty(block, np.int64)
    a, b, k = common_range(lo, hi, nfr)
    for c0 in range(0, width, block):
        n = min(width, c0 + block) - c0
        lob = lo[c0 : c0 + n]
        hib = hi[c0 : c0 + n]
        medb = med[c0 : c0 + n]
        for j in range(nfr):
            row = S[j, c0 : c0 + n]
            d = buf[j]
            if k == 0:
                if a <= j < b:
                    for c in range(n):
                        d[c] = abs(row[c] - medb[c])
                else:
                    d[:n] = inf
                continue
            for c in range(n):
                inside = (j >= lob[c]) & (j < hib[c])
                d[c] = abs(row[c] - medb[c]) if inside else inf
        for q in range(net.shape[0]):
            ra = buf[net[q, 0]]
            rb = buf[net[q, 1]]
            for c in range(n):
                x = ra[c]
                y = rb[c]
                ra[c] = min(x, y)
                rb[c] = max(x, y)
        for c in range(n):
            count[c] = hib[c] - lob[c]
        # the m deviations of a range of m values are the m smallest
        _median_of(buf, zero, count[:n], 0, b - a, k, out[c0 : c0 + n])


@njit(cache=True, nogil=True)
def clip_to_bounds(
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    blo: np.ndarray,
    bhi: np.ndarray,
    active: np.ndarray,
) -> bool:  # pragma: no cover - jit
    """Drop the values of each active range outside ``[blo, bhi]``; True if any changed.

    The ranges are sorted, so the values below ``blo`` are a prefix of the
    range and, of the others, those above ``bhi`` a suffix: counting them in a
    branch-free vectorised pass per row of ``S`` gives the same ends as
    scanning in from both ends (a quarter of the pixels may lose a value, so
    a branch per pixel would be mispredicted often).  When every range is
    active and the same, only its rows are counted.
    """
    nfr, width = S.shape
    a, b, k = common_range(lo, hi, nfr)
    inactive = 0
    for c in range(width):
        inactive += 0 if active[c] else 1
    if k == 0 and inactive == 0:
        # rows up from a while any value is below blo, down from b-1 while any is above
        # bhi (sorted: once no column has one in a row, no further row has)
        moved = 0
        for j in range(a, b):
            row = S[j]
            hits = 0
            for c in range(width):
                below = float(row[c]) < blo[c]
                lo[c] += 1 if below else 0
                hits += 1 if below else 0
            moved += hits
            if hits == 0:
                break
        for j in range(b - 1, a - 1, -1):
            row = S[j]
            hits = 0
            for c in range(width):
                x = float(row[c])
                above = (x > bhi[c]) & (not x < blo[c])
                hi[c] -= 1 if above else 0
                hits += 1 if above else 0
            moved += hits
            if hits == 0:
                break
        return moved > 0
    nlow = np.zeros(width, np.int64)
    nhigh = np.zeros(width, np.int64)
    for j in range(nfr):
        row = S[j]
        for c in range(width):
            x = float(row[c])
            inside = active[c] & (j >= lo[c]) & (j < hi[c])
            below = inside & (x < blo[c])
            above = inside & (x > bhi[c]) & (not x < blo[c])
            nlow[c] += 1 if below else 0
            nhigh[c] += 1 if above else 0
    moved = 0
    for c in range(width):
        moved += 1 if (nlow[c] > 0) | (nhigh[c] > 0) else 0
        lo[c] += nlow[c]
        hi[c] -= nhigh[c]
    return moved > 0


@njit(cache=True, nogil=True)
def restore_row(
    S: np.ndarray, lo0: np.ndarray, hi0: np.ndarray, lo: np.ndarray, hi: np.ndarray, nkeep: int
) -> None:  # pragma: no cover - jit
    """Put back rejected values (closest to the centre first) where nkeep is violated.

    ``nkeep >= 0`` keeps at least nkeep values of the range ``[lo0, hi0)``;
    ``nkeep < 0`` rejects at most ``-nkeep`` of them.
    """
    width = S.shape[1]
    short = 0
    for c in range(width):  # vectorised: usually no range is short
        n_in = hi0[c] - lo0[c]
        need = min(n_in, nkeep) if nkeep >= 0 else max(0, n_in + nkeep)
        short += 1 if hi[c] - lo[c] < need else 0
    if short == 0:
        return
    for c in range(width):
        n_in = hi0[c] - lo0[c]
        need = min(n_in, nkeep) if nkeep >= 0 else max(0, n_in + nkeep)
        a = lo[c]
        b = hi[c]
        if b - a >= need:
            continue
        center = median_at(S, a, b, c) if b > a else median_at(S, lo0[c], hi0[c], c)
        while b - a < need:
            take_low = a > lo0[c] and (
                b >= hi0[c] or center - float(S[a - 1, c]) <= float(S[b, c]) - center
            )
            if take_low:
                a -= 1
            else:
                b += 1
        lo[c] = a
        hi[c] = b
