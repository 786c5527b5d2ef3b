"""Numba kernels of the combination engine: arrays in, arrays out.

:func:`process_band` rejects and combines the rows of one *band* of a stack.
``stack`` has shape ``(N, R, W)`` (N frames, R rows, W columns) in the
working float dtype, with NaN (or inf) wherever an input value is masked,
blank or not finite.  The kernels never touch files, headers or astropy.

Each image row is handled as an ``(N, W)`` block, vectorised across its W
pixels:

1. **gather** the values, drop invalid ones and those outside the absolute
   thresholds (tested on the unscaled values), then scale
   (``x * scale + zero``); invalid values become ``+inf``;
2. **sort** each pixel's values with a sorting network (only when a median
   or a rejection needs order statistics);
3. **reject**: extrema by count, then one statistical algorithm
   (:mod:`ccdcal.stacking._clip_kernels`).  Every algorithm rejects by value
   from the ends of the sorted values, so the survivors of a pixel are a
   contiguous sorted range ``[lo, hi)``; ``nkeep`` puts back the rejected
   values closest to the centre;
4. **combine** the survivors *in frame order* (sums are formed exactly as
   numpy/bottleneck form them along axis 0), with weights, and set the
   uncertainty: in one pass for the common case
   (:mod:`ccdcal.stacking._combine_fast`), else through a keep mask
   (:mod:`ccdcal.stacking._combine_kernels`).

The phases run over chunks of a few rows whose scratch stays in the level-2
cache; within a row every hot loop is vectorised (see
:mod:`ccdcal.stacking._rowstats` for how the loops are written, and why the
results are those of plain per-pixel code bit for bit).

Statistics are accumulated in float64.  Each pixel's result depends only on
its own values, never on the band size, the row order or the thread count.

Examples
--------
>>> import numpy as np
>>> stack = np.array([[[1.0]], [[2.0]], [[3.0]], [[100.0]]], dtype=np.float32)
>>> data, sigma, mask, nrej = run_simple(stack, method=METHOD_AVERAGE)
>>> float(data[0, 0])
26.5
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ccdcal.stacking._clip_kernels import extrema_row, reject_band
from ccdcal.stacking._combine_fast import combine_fast
from ccdcal.stacking._combine_kernels import combine_row, gather_row, keep_row
from ccdcal.stacking._median_table import MEDIAN_EFFICIENCY
from ccdcal.stacking._params import (
    ALG_AVSIGCLIP,
    ALG_CCDCLIP,
    ALG_NONE,
    ALG_PCLIP,
    ALG_PERCENTILE,
    ALG_SIGCLIP,
    ALG_WINSOR,
    FP_HIGH,
    FP_LOW,
    FP_PCLIP,
    FP_PHIGH,
    FP_PLOW,
    FP_SIZE,
    FP_SNOISE,
    FP_THI,
    FP_TLO,
    FP_WCUT,
    IP_ALG,
    IP_CENTER,
    IP_DEV,
    IP_IDS,
    IP_IVAR,
    IP_MAXITERS,
    IP_METHOD,
    IP_MINCLIP,
    IP_MODE,
    IP_NHIGH,
    IP_NKEEP,
    IP_NKEEP_EXTREMA,
    IP_NLOW,
    IP_SIZE,
    METHOD_AVERAGE,
    METHOD_MEDIAN,
    METHOD_SUM,
    MODE_COMBINE,
    MODE_FLAGS,
    default_params,
)
from ccdcal.stacking._rowstats import (
    merge_network,
    restore_row,
    sort_columns,
    sorting_network,
)

__all__ = [
    "ALG_AVSIGCLIP",
    "ALG_CCDCLIP",
    "ALG_NONE",
    "ALG_PCLIP",
    "ALG_PERCENTILE",
    "ALG_SIGCLIP",
    "ALG_WINSOR",
    "FP_HIGH",
    "FP_LOW",
    "FP_PCLIP",
    "FP_PHIGH",
    "FP_PLOW",
    "FP_SIZE",
    "FP_SNOISE",
    "FP_THI",
    "FP_TLO",
    "FP_WCUT",
    "IP_ALG",
    "IP_CENTER",
    "IP_DEV",
    "IP_IDS",
    "IP_IVAR",
    "IP_MAXITERS",
    "IP_METHOD",
    "IP_MINCLIP",
    "IP_MODE",
    "IP_NHIGH",
    "IP_NKEEP",
    "IP_NKEEP_EXTREMA",
    "IP_NLOW",
    "IP_SIZE",
    "METHOD_AVERAGE",
    "METHOD_MEDIAN",
    "METHOD_SUM",
    "MODE_COMBINE",
    "MODE_FLAGS",
    "BandWork",
    "chunk_rows",
    "decode_be",
    "default_params",
    "dilate_flags",
    "finish_band",
    "median_efficiency_table",
    "prepare_band",
    "process_band",
    "run_simple",
]

# --------------------------------------------------------------------------- band phases


@njit(cache=True, nogil=True)
def prepare_band(
    stack: np.ndarray,
    var: np.ndarray,
    wpix: np.ndarray,
    scale: np.ndarray,
    zero: np.ndarray,
    ip: np.ndarray,
    fp: np.ndarray,
    net: np.ndarray,
    V: np.ndarray,
    S: np.ndarray,
    ids: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    nin: np.ndarray,
    row_start: int,
    row_stop: int,
) -> None:  # pragma: no cover
    """Phase 1: gather (V, frame order), sort (S) and reject the extrema, for every row.

    V, S: (R, N, W); ids: (R, N, W) int32 or empty; lo, hi, nin: (R, W) int64.
    """
    width = stack.shape[2]
    use_ids = ids.shape[0] > 0
    need_sort = (
        ip[IP_METHOD] == METHOD_MEDIAN
        or ip[IP_ALG] != ALG_NONE
        or ip[IP_NLOW] > 0
        or ip[IP_NHIGH] > 0
    )
    n = np.empty(width, np.int64)
    for r in range(row_start, row_stop):
        k = r - row_start
        gather_row(
            stack,
            r,
            var,
            wpix,
            scale,
            zero,
            fp[FP_TLO],
            fp[FP_THI],
            ip[IP_IVAR] != 0,
            V[k],
            n,
            nin[k],
        )
        rlo = lo[k]
        rhi = hi[k]
        for c in range(width):
            rlo[c] = 0
            rhi[c] = n[c]
        if not need_sort:
            continue
        Sr = S[k]
        rids = ids[k] if use_ids else np.empty((0, 0), np.int32)
        sort_columns(V[k], Sr, net, rids, True)  # the ids start as the frame index
        if ip[IP_NLOW] > 0 or ip[IP_NHIGH] > 0:
            lo0 = rlo.copy()
            hi0 = rhi.copy()
            extrema_row(rlo, rhi, ip[IP_NLOW], ip[IP_NHIGH])
            restore_row(Sr, lo0, hi0, rlo, rhi, ip[IP_NKEEP_EXTREMA])


@njit(cache=True, nogil=True)
def finish_band(
    stack: np.ndarray,
    var: np.ndarray,
    wpix: np.ndarray,
    wframe: np.ndarray,
    scale: np.ndarray,
    ip: np.ndarray,
    eff: np.ndarray,
    V: np.ndarray,
    S: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    nin: np.ndarray,
    out_data: np.ndarray,
    out_sigma: np.ndarray,
    out_mask: np.ndarray,
    out_nrej: np.ndarray,
    flags: np.ndarray,
    keep: np.ndarray,
    acc: np.ndarray,
    row_start: int,
    row_stop: int,
) -> None:  # pragma: no cover - jit
    """Phase 3: decide which values are kept (frame order), flag or combine them."""
    nfr = stack.shape[0]
    width = stack.shape[2]
    mode = ip[IP_MODE]
    method = ip[IP_METHOD]
    sorted_ = (
        method == METHOD_MEDIAN or ip[IP_ALG] != ALG_NONE or ip[IP_NLOW] > 0 or ip[IP_NHIGH] > 0
    )
    fast = mode == MODE_COMBINE and var.shape[0] == 0 and wpix.shape[0] == 0 and ip[IP_IVAR] == 0
    for r in range(row_start, row_stop):
        k = r - row_start
        if fast and combine_fast(
            V[k], S[k], lo[k], hi[k], sorted_, wframe, method, eff, r, out_data, out_sigma, out_mask
        ):
            _count_rejected(nin[k], lo[k], hi[k], out_nrej[r])
            continue
        keep_row(V[k], S[k], lo[k], hi[k], sorted_, keep)
        if mode & MODE_FLAGS:
            for i in range(nfr):
                src = stack[i, r]
                dst = flags[i, r]
                for c in range(width):
                    finite = (src[c] - src[c]) == 0.0
                    dst[c] = 1 if (finite and not keep[i, c]) else 0
        if mode & MODE_COMBINE:
            _count_rejected(nin[k], lo[k], hi[k], out_nrej[r])
            combine_row(
                V[k],
                S[k],
                lo[k],
                hi[k],
                keep,
                var,
                wpix,
                r,
                wframe,
                scale,
                ip[IP_IVAR] != 0,
                method,
                eff,
                acc,
                out_data,
                out_sigma,
                out_mask,
            )


@njit(cache=True, nogil=True)
def _count_rejected(
    nin: np.ndarray, lo: np.ndarray, hi: np.ndarray, out: np.ndarray
) -> None:  # pragma: no cover - jit
    """Valid values minus kept values, per pixel of a row."""
    for c in range(out.shape[0]):
        out[c] = nin[c] - (hi[c] - lo[c])


def process_band(
    stack: np.ndarray,
    var: np.ndarray,
    wpix: np.ndarray,
    wframe: np.ndarray,
    scale: np.ndarray,
    zero: np.ndarray,
    gain: np.ndarray,
    rdn: np.ndarray,
    ip: np.ndarray,
    fp: np.ndarray,
    net: np.ndarray,
    eff: np.ndarray,
    out_data: np.ndarray,
    out_sigma: np.ndarray,
    out_mask: np.ndarray,
    out_nrej: np.ndarray,
    flags: np.ndarray,
    row_start: int,
    row_stop: int,
    work: BandWork | None = None,
) -> None:
    """Reject and combine the pixels of rows ``[row_start, row_stop)`` of a band.

    Parameters
    ----------
    stack : (N, R, W) float array
        The band, NaN where a value is masked or invalid.
    var : (N, R, W) float array, or shape (0, 0, 0)
        Variances of the unscaled inputs (empty when the inputs carry none).
    wpix : (N, R, W) float array, or shape (0, 0, 0)
        Per-pixel weights (empty when not used).
    wframe, scale, zero, gain, rdn : (N,) float64 arrays
        Per-frame weight, multiplicative scale, additive zero, and the gain
        (e/ADU) and read noise (e) of the CCD noise model.
    ip, fp : int64 and float64 parameter vectors (``IP_*``/``FP_*`` offsets)
    net : (k, 2) int64 array, the sorting network for N inputs
    eff : float64 array, ``eff[n]`` = n Var(median of n)/sigma^2 (Gaussian)
    out_data, out_sigma : (R, W) float arrays
    out_mask : (R, W) bool array, True where no value survives
    out_nrej : (R, W) uint16 array, the number of valid values rejected
    flags : (N, R, W) uint8 array, or shape (0, 0, 0)
        With ``MODE_FLAGS``: 1 where a valid value was rejected, else 0.
    work : BandWork, optional
        Scratch arrays (reused between calls by the engine).

    Each phase is its own compiled function, and so is each rejection
    algorithm: only the algorithms a program uses are ever compiled.
    """
    nfr, _, width = stack.shape
    ids_needed = bool(ip[IP_IDS] != 0)
    chunk = chunk_rows(nfr, width, stack.dtype.itemsize)
    if work is None or not work.fits(nfr, chunk, width, stack.dtype, ids_needed):
        work = BandWork(nfr, chunk, width, stack.dtype, ids=ids_needed)
    alg = int(ip[IP_ALG])
    dnet = merge_network(nfr)  # deviations from a median are V-shaped: a merger sorts them
    for a in range(row_start, row_stop, chunk):
        b = min(row_stop, a + chunk)
        V, S, ids, lo, hi, nin = work.views(b - a)
        prepare_band(stack, var, wpix, scale, zero, ip, fp, net, V, S, ids, lo, hi, nin, a, b)
        if alg != ALG_NONE:
            reject_band(alg, S, work.D, ids, dnet, lo, hi, ip, fp, scale, zero, gain, rdn, 0, b - a)
        finish_band(
            stack,
            var,
            wpix,
            wframe,
            scale,
            ip,
            eff,
            V,
            S,
            lo,
            hi,
            nin,
            out_data,
            out_sigma,
            out_mask,
            out_nrej,
            flags,
            work.keep,
            work.acc,
            a,
            b,
        )


#: bytes of one chunk's sorted values: small enough to stay in the L2 cache
CHUNK_BYTES = 256 << 10


def chunk_rows(nfr: int, width: int, itemsize: int) -> int:
    """Rows handled per pass of the three phases (their scratch stays in cache).

    >>> chunk_rows(10, 4096, 4), chunk_rows(40, 4096, 4)
    (1, 1)
    >>> chunk_rows(5, 100, 4)
    131
    """
    return max(1, CHUNK_BYTES // max(1, nfr * width * itemsize))


class BandWork:
    """Scratch arrays of the band phases: values, sorted values, frame ids, ranges."""

    def __init__(self, nfr: int, nrow: int, width: int, dtype: np.dtype, *, ids: bool) -> None:
        self.shape = (nfr, nrow, width)
        self.dtype = np.dtype(dtype)
        self.has_ids = bool(ids)
        self.V = np.empty((nrow, nfr, width), dtype)
        self.S = np.empty((nrow, nfr, width), dtype)
        self.ids = np.empty((nrow, nfr, width) if ids else (0, 0, 0), np.int32)
        self.lo = np.empty((nrow, width), np.int64)
        self.hi = np.empty((nrow, width), np.int64)
        self.nin = np.empty((nrow, width), np.int64)
        # per-row scratch, allocated once (large allocations per call are slow)
        self.D = np.empty((nfr, width), dtype)
        self.keep = np.empty((nfr, width), np.bool_)
        self.acc = np.empty((8, width), np.float64)

    def fits(self, nfr: int, nrow: int, width: int, dtype: np.dtype, ids: bool) -> bool:
        """True if these buffers can serve a band of that size."""
        return (
            self.shape[0] == nfr
            and self.shape[1] >= nrow
            and self.shape[2] == width
            and self.dtype == np.dtype(dtype)
            and (self.has_ids or not ids)
        )

    def views(self, nrow: int) -> tuple[np.ndarray, ...]:
        ids = self.ids[:nrow] if self.has_ids else self.ids
        return (self.V[:nrow], self.S[:nrow], ids, self.lo[:nrow], self.hi[:nrow], self.nin[:nrow])

    @staticmethod
    def nbytes_per_row(nfr: int, width: int, itemsize: int, ids: bool) -> int:
        """Bytes these buffers take per band row."""
        return nfr * width * (2 * itemsize + (4 if ids else 0)) + 3 * width * 8

    @staticmethod
    def nbytes_fixed(nfr: int, width: int, itemsize: int) -> int:
        """Bytes of the per-row scratch."""
        return nfr * width * (itemsize + 1) + 8 * width * 8


# --------------------------------------------------------------------------- helpers


@njit(cache=True, nogil=True)
def dilate_flags(
    flags: np.ndarray, radius: float, nrow: int, row_start: int, row_stop: int, out: np.ndarray
) -> None:  # pragma: no cover - jit
    """Grow each frame's rejections to every pixel within ``radius`` (a disk).

    ``flags`` is (N, R, W) for a band with its halo rows, of which the first
    ``nrow`` are valid; ``out`` (N, R, W) receives the grown flags of rows
    ``[row_start, row_stop)``.
    """
    nfr = flags.shape[0]
    width = flags.shape[2]
    g = int(radius)
    r2 = radius * radius
    for i in range(nfr):
        for r in range(row_start, row_stop):
            for c in range(width):
                out[i, r, c] = 0
        for r in range(max(0, row_start - g), min(nrow, row_stop + g)):
            for c in range(width):
                if not flags[i, r, c]:
                    continue
                for dr in range(-g, g + 1):
                    rr = r + dr
                    if rr < row_start or rr >= row_stop:
                        continue
                    for dc in range(-g, g + 1):
                        cc = c + dc
                        if 0 <= cc < width and dr * dr + dc * dc <= r2:
                            out[i, rr, cc] = 1


@njit(cache=True, nogil=True)
def _decode_i16(
    raw: np.ndarray, out: np.ndarray, bscale: float, bzero: float, blank: int, has_blank: bool
) -> None:  # pragma: no cover - jit
    flat = out.reshape(-1)
    for k in range(flat.size):
        u = raw[k]
        s = np.int16(((u >> 8) | (u << 8)) & 0xFFFF)
        value = float(s) * bscale + bzero
        flat[k] = np.nan if (has_blank and s == blank) else value


_BE_TYPES = {8: "u1", 16: ">i2", 32: ">i4", 64: ">i8", -32: ">f4", -64: ">f8"}


def decode_be(
    raw: np.ndarray,
    bitpix: int,
    out: np.ndarray,
    *,
    bscale: float = 1.0,
    bzero: float = 0.0,
    blank: int | None = None,
) -> None:
    """Decode big-endian FITS pixels (``raw``: the bytes, uint8) into the float ``out``.

    ``out = stored * bscale + bzero`` is computed in float64 and rounded once
    to ``out``'s dtype (exact for 16-bit data); integer BLANK values become NaN.

    >>> raw = np.array([0x80, 0x00, 0x7F, 0xFF], dtype=np.uint8)  # -32768, 32767
    >>> out = np.empty(2, np.float32)
    >>> decode_be(raw, 16, out, bzero=32768.0)
    >>> out.tolist()
    [0.0, 65535.0]
    """
    has_blank = blank is not None and bitpix > 0
    if bitpix == 16:
        blank_value = int(blank) if blank is not None else 0
        _decode_i16(raw.view(np.uint16), out, float(bscale), float(bzero), blank_value, has_blank)
        return
    stored = raw.view(np.dtype(_BE_TYPES[bitpix])).reshape(out.shape)
    if bscale == 1.0 and bzero == 0.0:
        np.copyto(out, stored, casting="unsafe")
    else:
        work = stored.astype(np.float64)
        work *= bscale
        work += bzero
        np.copyto(out, work, casting="unsafe")
    if has_blank:
        out[stored == blank] = np.nan


def median_efficiency_table() -> np.ndarray:
    """``eff[n] = n Var(median of n Gaussian values) / sigma^2`` for n = 0..100.

    >>> [round(float(x), 4) for x in median_efficiency_table()[1:4]]
    [1.0, 1.0, 1.346]
    """
    return np.asarray(MEDIAN_EFFICIENCY, dtype=np.float64)


def run_simple(stack: np.ndarray, *, method: int = METHOD_AVERAGE) -> tuple[np.ndarray, ...]:
    """Combine a whole (N, R, W) stack without rejection: (data, sigma, mask, nrej)."""
    nfr, nrow, width = stack.shape
    dt = stack.dtype
    ip, fp = default_params()
    ip[IP_METHOD] = method
    ones = np.ones(nfr, np.float64)
    zeros = np.zeros(nfr, np.float64)
    empty = np.empty((0, 0, 0), dt)
    out = (
        np.empty((nrow, width), dt),
        np.empty((nrow, width), dt),
        np.empty((nrow, width), np.bool_),
        np.empty((nrow, width), np.uint16),
    )
    process_band(
        stack,
        empty,
        empty,
        ones,
        ones,
        zeros,
        ones,
        zeros,
        ip,
        fp,
        sorting_network(nfr),
        median_efficiency_table(),
        *out,
        np.empty((0, 0, 0), np.uint8),
        0,
        nrow,
    )
    return out
