"""Row kernels that gather a pixel row's values and combine the kept ones (numba).

Used by the band phases in :mod:`ccdcal.stacking.kernels`; arrays only.
``V`` is one image row's values in frame order, shape (N, W), ``+inf`` where
invalid; ``S`` the same sorted along axis 0; ``lo``/``hi`` each pixel's kept
sorted range.

Examples
--------
>>> import numpy as np
>>> V = np.array([[1.0, 5.0], [3.0, np.inf]])
>>> keep = np.empty((2, 2), bool)
>>> keep_row(V, V, np.zeros(2, np.int64), np.array([2, 1]), False, keep)
>>> keep.tolist()
[[True, True], [True, False]]
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ccdcal.stacking._params import METHOD_MEDIAN, METHOD_SUM
from ccdcal.stacking._rowstats import median_at

__all__ = ["combine_row", "gather_row", "keep_row", "median_factor"]


# --------------------------------------------------------------------------- gather


@njit(cache=True, nogil=True)
def gather_row(
    stack: np.ndarray,
    r: int,
    var: np.ndarray,
    wpix: np.ndarray,
    scale: np.ndarray,
    zero: np.ndarray,
    tlo: float,
    thi: float,
    ivar: bool,
    V: np.ndarray,
    n: np.ndarray,
    nin: np.ndarray,
) -> None:  # pragma: no cover
    """Scaled values of row r in frame order (``+inf`` where invalid) and their counts."""
    nfr, width = V.shape
    has_var = var.shape[0] > 0
    has_wpix = wpix.shape[0] > 0
    for c in range(width):
        n[c] = 0
        nin[c] = 0
    plain = not has_var and not has_wpix and tlo == -np.inf and thi == np.inf
    if plain and _unit_scaling(scale, zero):
        _gather_plain(stack, r, V, n)
        nin[:] = n
        return
    for i in range(nfr):
        src = stack[i, r]
        dst = V[i]
        f = scale[i]
        z = zero[i]
        if not has_var and not has_wpix:
            # the common case: a branch-free loop that vectorises
            for c in range(width):
                x = float(src[c])
                finite = (x - x) == 0.0
                ok = finite & (x >= tlo) & (x <= thi)
                dst[c] = x * f + z if ok else np.inf
                nin[c] += 1 if finite else 0
                n[c] += 1 if ok else 0
            continue
        for c in range(width):
            x = float(src[c])
            finite = (x - x) == 0.0
            ok = finite and x >= tlo and x <= thi
            if ivar and has_var:
                vv = float(var[i, r, c])
                ok = ok and vv > 0.0 and (vv - vv) == 0.0
            if has_wpix:
                w = float(wpix[i, r, c])
                ok = ok and (w - w) == 0.0
            dst[c] = x * f + z if ok else np.inf
            nin[c] += 1 if finite else 0
            n[c] += 1 if ok else 0


@njit(cache=True, nogil=True)
def _unit_scaling(scale: np.ndarray, zero: np.ndarray) -> bool:  # pragma: no cover - jit
    """True if every frame has scale 1 and zero 0."""
    unit = True
    for i in range(scale.shape[0]):
        unit = unit and scale[i] == 1.0 and zero[i] == 0.0
    return unit


@njit(cache=True, nogil=True)
def _gather_plain(
    stack: np.ndarray, r: int, V: np.ndarray, n: np.ndarray
) -> None:  # pragma: no cover - jit
    """gather_row without thresholds, scaling or variances, in the values' own dtype.

    ``x * 1 + 0`` in float64 rounded back is ``x + 0`` in the dtype (which
    turns -0 into +0 as well), so the values are those of the general loop.
    """
    nfr, width = V.shape
    zero = np.zeros(1, V.dtype)[0]
    for i in range(nfr):
        src = stack[i, r]
        dst = V[i]
        for c in range(width):
            x = src[c]
            finite = (x - x) == zero
            dst[c] = x + zero if finite else np.inf
            n[c] += 1 if finite else 0


@njit(cache=True, nogil=True)
def keep_row(
    V: np.ndarray, S: np.ndarray, lo: np.ndarray, hi: np.ndarray, sorted_: bool, keep: np.ndarray
) -> None:  # pragma: no cover - jit
    """Mark, in frame order, the values inside each pixel's kept range.

    Values strictly between the range's end values are kept; of the values
    equal to an end value, exactly as many as the range holds are kept (the
    first ones in frame order), so rejection by count stays exact with ties.
    """
    nfr, width = V.shape
    if not sorted_:
        for i in range(nfr):
            vrow = V[i]
            krow = keep[i]
            for c in range(width):
                krow[c] = vrow[c] < np.inf
        return
    vlo = np.empty(width, V.dtype)
    vhi = np.empty(width, V.dtype)
    split = False
    for c in range(width):
        a = lo[c]
        b = hi[c]
        if b > a:
            vlo[c] = S[a, c]
            vhi[c] = S[b - 1, c]
            if (a > 0 and S[a - 1, c] == vlo[c]) or (b < nfr and S[b, c] == vhi[c]):
                split = True
        else:
            vlo[c] = np.inf
            vhi[c] = -np.inf
    if not split:
        # no tie straddles a range end: keeping by value is exact (the common case)
        for i in range(nfr):
            vrow = V[i]
            krow = keep[i]
            for c in range(width):
                krow[c] = (vrow[c] >= vlo[c]) & (vrow[c] <= vhi[c])
        return
    _keep_ties(V, S, lo, hi, vlo, vhi, keep)


@njit(cache=True, nogil=True)
def _keep_ties(
    V: np.ndarray,
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    vlo: np.ndarray,
    vhi: np.ndarray,
    keep: np.ndarray,
) -> None:  # pragma: no cover - jit
    """Keep by value, and of the values equal to an end value only as many as the range holds."""
    nfr, width = V.shape
    for c in range(width):
        a = lo[c]
        b = hi[c]
        budget_lo = 0
        budget_hi = 0
        for j in range(a, b):
            budget_lo += 1 if S[j, c] == vlo[c] else 0
            budget_hi += 1 if S[j, c] == vhi[c] else 0
        same = vlo[c] == vhi[c]
        for i in range(nfr):
            v = V[i, c]
            k = False
            if v > vlo[c] and v < vhi[c]:
                k = True
            elif v == vlo[c] and budget_lo > 0:
                k = True
                budget_lo -= 1
                if same:
                    budget_hi -= 1
            elif v == vhi[c] and budget_hi > 0:
                k = True
                budget_hi -= 1
            keep[i, c] = k


# --------------------------------------------------------------------------- combine


@njit(cache=True, nogil=True)
def median_factor(eff: np.ndarray, n: int) -> float:  # pragma: no cover - jit
    """n Var(median of n) / sigma^2 for Gaussian data (tends to pi/2)."""
    if n < eff.shape[0]:
        return eff[n]
    last = eff.shape[0] - 1
    if last % 2 != n % 2:
        last -= 1
    return np.pi / 2 - (np.pi / 2 - eff[last]) * last / n


@njit(cache=True, nogil=True)
def _sums_row(
    V: np.ndarray,
    keep: np.ndarray,
    var: np.ndarray,
    wpix: np.ndarray,
    r: int,
    wframe: np.ndarray,
    scale: np.ndarray,
    ivar: bool,
    acc: np.ndarray,
) -> None:  # pragma: no cover - jit
    """Frame-order sums over the kept values.

    ``acc`` rows: sum w, sum w x, sum w^2 var, sum x, sum var, count.
    """
    nfr, width = V.shape
    has_var = var.shape[0] > 0
    has_wpix = wpix.shape[0] > 0
    sw, swx, swwv, sx, sv, cnt = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5]
    for k in range(6):
        acc[k, :] = 0.0
    if not has_var and not has_wpix and not ivar:
        # the common case, one accumulator per loop so that each loop vectorises
        for i in range(nfr):
            vrow = V[i]
            krow = keep[i]
            for c in range(width):
                sx[c] += float(vrow[c]) if krow[c] else 0.0
            for c in range(width):
                cnt[c] += 1.0 if krow[c] else 0.0
            wf = wframe[i]
            for c in range(width):
                sw[c] += wf if krow[c] else 0.0
            for c in range(width):
                swx[c] += wf * float(vrow[c]) if krow[c] else 0.0
        return
    for i in range(nfr):
        vrow = V[i]
        krow = keep[i]
        wf = wframe[i]
        f2 = scale[i] * scale[i]
        vsrc = var[i, r] if has_var else vrow
        wsrc = wpix[i, r] if has_wpix else vrow
        for c in range(width):
            k = krow[c]
            x = float(vrow[c]) if k else 0.0
            vi = float(vsrc[c]) * f2 if (k and has_var) else 0.0
            w = wf * float(wsrc[c]) if has_wpix else wf
            if ivar:
                w = 1.0 / vi if k else 0.0
            w = w if k else 0.0
            sw[c] += w
            swx[c] += w * x
            swwv[c] += w * w * vi
            sx[c] += x
            sv[c] += vi
            cnt[c] += 1.0 if k else 0.0


@njit(cache=True, nogil=True)
def _scatter_row(
    V: np.ndarray,
    keep: np.ndarray,
    wpix: np.ndarray,
    r: int,
    wframe: np.ndarray,
    center: np.ndarray,
    weighted: bool,
    out: np.ndarray,
) -> None:  # pragma: no cover - jit
    """sum w (x - center)^2 over the kept values (w = 1 unless ``weighted``)."""
    nfr, width = V.shape
    use_wpix = weighted and wpix.shape[0] > 0
    out[:] = 0.0
    for i in range(nfr):
        vrow = V[i]
        krow = keep[i]
        wf = wframe[i] if weighted else 1.0
        wsrc = wpix[i, r] if use_wpix else vrow
        for c in range(width):
            k = krow[c]
            d = float(vrow[c]) - center[c] if k else 0.0
            w = wf * float(wsrc[c]) if use_wpix else wf
            out[c] += w * d * d


@njit(cache=True, nogil=True)
def combine_row(
    V: np.ndarray,
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    keep: np.ndarray,
    var: np.ndarray,
    wpix: np.ndarray,
    r: int,
    wframe: np.ndarray,
    scale: np.ndarray,
    ivar: bool,
    method: int,
    eff: np.ndarray,
    acc: np.ndarray,
    out_data: np.ndarray,
    out_sigma: np.ndarray,
    out_mask: np.ndarray,
) -> None:  # pragma: no cover - jit
    """Weighted combination of the kept values of every pixel of row r, with sigma."""
    width = V.shape[1]
    has_var = var.shape[0] > 0
    _sums_row(V, keep, var, wpix, r, wframe, scale, ivar, acc)
    sw, swx, swwv, sx, sv, cnt = acc[0], acc[1], acc[2], acc[3], acc[4], acc[5]
    center = acc[6]
    ss = acc[7]
    median = method == METHOD_MEDIAN
    if not has_var:
        for c in range(width):
            if median:
                center[c] = sx[c] / cnt[c] if cnt[c] > 0 else 0.0
            else:
                center[c] = swx[c] / sw[c] if sw[c] > 0 else 0.0
        _scatter_row(V, keep, wpix, r, wframe, center, not median, ss)
    for c in range(width):
        m = cnt[c]
        if m == 0 or (not median and not sw[c] > 0.0):
            out_data[r, c] = np.nan
            out_sigma[r, c] = np.nan
            out_mask[r, c] = True
            continue
        out_mask[r, c] = False
        if median:
            out_data[r, c] = median_at(S, lo[c], hi[c], c)
            if has_var:
                sig2 = median_factor(eff, int(m)) * sv[c] / (m * m)
            else:
                sig2 = median_factor(eff, int(m)) * ss[c] / ((m - 1) * m) if m > 1 else np.nan
            out_sigma[r, c] = math.sqrt(sig2)
            continue
        if has_var:
            sig2 = swwv[c] / (sw[c] * sw[c])
        else:
            sig2 = ss[c] / ((m - 1) * sw[c]) if m > 1 else np.nan
        if method == METHOD_SUM:
            out_data[r, c] = swx[c]
            out_sigma[r, c] = math.sqrt(swwv[c]) if has_var else math.sqrt(sig2) * sw[c]
        else:
            out_data[r, c] = swx[c] / sw[c]
            out_sigma[r, c] = math.sqrt(sig2)
