"""The combination driver: bands of rows, sized from ``mem_limit``, on a pool of threads.

:func:`combine_sources` reads every frame once, band by band (each band
holds ``rows`` image rows of all N frames), rejects and combines the band
with the numba kernels and writes the result rows into the output arrays.
Bands are independent, so they run on ``threads`` worker threads (numba
kernels and file reads release the GIL); every pixel is computed by one
piece of sequential code, so the result is bit-identical whatever the band
size or the number of threads.

Memory: the output arrays (data, sigma, mask and, if asked, the rejection
map) plus, per worker, one band of the stack (and of the variances and
per-pixel weights when used) and the kernels' scratch rows.  The band height
is the largest that keeps all of that within ``mem_limit`` (capped at a few
MiB of stack per worker, which is fastest).  If even one row does not fit,
a :class:`~ccdcal.errors.CombineMemoryWarning` says so and one row is used.

Examples
--------
>>> import numpy as np
>>> from ccdcal.stacking.reader import ArraySource
>>> from ccdcal.stacking.rejection import compile_rejection
>>> from ccdcal.stacking.scaling import ScalingPlan
>>> from ccdcal.stacking.weights import WeightPlan
>>> frames = [ArraySource(np.full((4, 5), v, np.float32)) for v in (1.0, 2.0, 6.0)]
>>> spec = StackSpec(method="average", rejection=compile_rejection(None),
...                  scaling=ScalingPlan(np.ones(3), np.zeros(3)),
...                  weights=WeightPlan(np.ones(3)), dtype=np.dtype(np.float32))
>>> result = combine_sources(frames, spec)
>>> float(result.data[0, 0]), round(float(result.sigma[0, 0]), 4)
(3.0, 1.5275)
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np

from ccdcal._exit import freeze_at_exit
from ccdcal.errors import CombineMemoryWarning, HeaderKeywordError, InvalidParameterError
from ccdcal.stacking import kernels as K
from ccdcal.stacking._params import METHODS
from ccdcal.stacking._rowstats import sorting_network
from ccdcal.stacking.reader import FrameSource
from ccdcal.stacking.rejection import RejectionPlan, SigmaClip, pclip_offset
from ccdcal.stacking.scaling import ScalingPlan
from ccdcal.stacking.weights import WeightPlan

__all__ = [
    "BandPlan",
    "StackResult",
    "StackSpec",
    "combine_sources",
    "flag_rejections",
    "plan_bands",
]

logger = logging.getLogger(__name__)

freeze_at_exit()  # numba's tables would otherwise slow the interpreter's exit by ~0.3 s

#: stack bytes per worker and band above which larger bands no longer help
TARGET_BAND_BYTES = 4 << 20
#: allowance for what the accounting does not itemise (headers, checksum reads, the
#: kernels' own small arrays, the allocator's overhead)
SLACK_BYTES = 6 << 20
#: share of the remaining budget given to the band buffers (the rest is headroom)
BUFFER_FRACTION = 0.85


@dataclass
class StackSpec:
    """Everything the driver needs besides the frames."""

    method: str
    rejection: RejectionPlan
    scaling: ScalingPlan
    weights: WeightPlan
    dtype: np.dtype
    uncertainty_function: Callable[..., Any] | None = None
    mem_limit: float = 16e9
    threads: int | None = None
    rejection_map: bool = False
    use_variance: bool | None = None


@dataclass
class StackResult:
    """Output arrays of a combination, and how it was cut into bands."""

    data: np.ndarray
    sigma: np.ndarray
    mask: np.ndarray
    nrej: np.ndarray | None
    band_rows: int
    n_bands: int
    threads: int
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BandPlan:
    """Band height, halo and the memory figures behind them."""

    rows: int
    halo: int
    workers: int
    output_bytes: int
    worker_bytes: int
    fits: bool

    @property
    def peak_bytes(self) -> int:
        """Estimated working memory: outputs plus all workers' buffers."""
        return self.output_bytes + self.workers * self.worker_bytes


def plan_bands(
    n_frames: int,
    shape: tuple[int, int],
    itemsize: int,
    *,
    mem_limit: float,
    workers: int,
    variance: bool = False,
    pixel_weights: bool = False,
    flags: bool = False,
    halo: int = 0,
    rejection_map: bool = False,
) -> BandPlan:
    """Choose the band height for a stack so that the combination fits ``mem_limit``.

    >>> plan = plan_bands(10, (4096, 4096), 4, mem_limit=350e6, workers=2)
    >>> plan.rows, plan.fits, plan.peak_bytes <= 350e6
    (25, True, True)
    """
    height, width = shape
    n, w = n_frames, width
    output = height * w * (2 * itemsize + 1 + (2 if rejection_map else 0))
    per_row = n * w * itemsize  # the stack
    per_row += n * w * itemsize if variance else 0
    per_row += n * w * itemsize if pixel_weights else 0
    per_row += 2 * n * w if flags else 0
    per_row += w * (8 + 4 + itemsize + 2)  # raw bytes, mask and variance scratch, nrej
    chunk = K.chunk_rows(n, w, itemsize)
    fixed = chunk * K.BandWork.nbytes_per_row(n, w, itemsize, ids=True)  # one chunk's values
    fixed += K.BandWork.nbytes_fixed(n, w, itemsize) + 16 * w * 8  # the kernels' scratch
    budget = BUFFER_FRACTION * (mem_limit - output - SLACK_BYTES) - workers * fixed
    rows_fit = int(budget // (workers * per_row)) - 2 * halo if budget > 0 else 0
    target = max(1, TARGET_BAND_BYTES // max(1, n * w * itemsize))
    rows = max(1, min(height, target, rows_fit))
    worker = (rows + 2 * halo) * per_row + fixed
    return BandPlan(
        rows=rows,
        halo=halo,
        workers=workers,
        output_bytes=output,
        worker_bytes=worker,
        fits=rows_fit >= 1,
    )


class _Buffers:
    """One worker's band buffers, allocated once per thread."""

    def __init__(
        self,
        n: int,
        rows: int,
        width: int,
        dtype: np.dtype,
        *,
        variance: bool,
        pixel_weights: bool,
        flags: bool,
    ) -> None:
        self.stack = np.empty((n, rows, width), dtype)
        empty = np.empty((0, 0, 0), dtype)
        self.var = np.empty((n, rows, width), dtype) if variance else empty
        self.wpix = np.empty((n, rows, width), dtype) if pixel_weights else empty
        self.flags = (
            np.empty((n, rows, width), np.uint8) if flags else np.empty((0, 0, 0), np.uint8)
        )
        self.grown = np.empty((n, rows, width), np.uint8) if flags else self.flags
        self.nrej = np.empty((rows, width), np.uint16)
        self.work: K.BandWork | None = None


def _frame_noise(plan: RejectionPlan, sources: Sequence[FrameSource]) -> tuple[np.ndarray, ...]:
    """Per-frame gain and read noise of the CCD noise model (keywords read per frame)."""
    n = len(sources)
    gain, rdn = np.ones(n), np.zeros(n)
    noise = plan.noise
    if noise is None:
        return gain, rdn
    for i, src in enumerate(sources):
        gain[i] = _param_value(noise.gain, src, "gain")
        rdn[i] = _param_value(noise.read_noise, src, "read_noise")
        if not gain[i] > 0 or not rdn[i] >= 0:
            raise InvalidParameterError(
                f"{src.name}: CCDClip needs gain > 0 and read noise >= 0, got gain "
                f"{gain[i]} and read noise {rdn[i]}"
            )
    return gain, rdn


def _param_value(value: float | str, src: FrameSource, what: str) -> float:
    if not isinstance(value, str):
        return float(value)
    if value not in src.meta:
        raise HeaderKeywordError(
            f"{src.name}: the header has no keyword {value!r} for the CCDClip {what}; add it "
            "or give a number"
        )
    try:
        return float(src.meta[value])
    except (TypeError, ValueError):
        raise HeaderKeywordError(
            f"{src.name}: keyword {value} = {src.meta[value]!r} is not a number"
        ) from None


def _uniform(*arrays: np.ndarray) -> bool:
    return all(bool(np.all(a == a[0])) for a in arrays)


class _Runner:
    """State shared by the band tasks of one combination."""

    def __init__(
        self,
        sources: Sequence[FrameSource],
        spec: StackSpec,
        workers: int,
        *,
        force_flags: bool = False,
    ) -> None:
        self.sources = sources
        self.spec = spec
        self.n = len(sources)
        self.height, self.width = sources[0].shape
        self.dtype = np.dtype(spec.dtype)
        self.scale = np.ascontiguousarray(spec.scaling.scale, dtype=np.float64)
        self.zero = np.ascontiguousarray(spec.scaling.zero, dtype=np.float64)
        self.wframe = np.ascontiguousarray(spec.weights.frame, dtype=np.float64)
        self.gain, self.rdn = _frame_noise(spec.rejection, sources)
        self.variance = (
            all(s.has_variance for s in sources) if spec.use_variance is None else spec.use_variance
        )
        self.ip = spec.rejection.ip.copy()
        self.fp = spec.rejection.fp.copy()
        self.ip[K.IP_METHOD] = METHODS[spec.method]
        self.ip[K.IP_IVAR] = 1 if spec.weights.ivar else 0
        if self.ip[K.IP_ALG] in (K.ALG_CCDCLIP, K.ALG_AVSIGCLIP):
            self.ip[K.IP_IDS] = 0 if _uniform(self.scale, self.zero, self.gain, self.rdn) else 1
        if self.ip[K.IP_ALG] == K.ALG_PCLIP:
            self.fp[K.FP_PCLIP] = pclip_offset(float(self.fp[K.FP_PCLIP]), self.n)
        self.grow = spec.rejection.grow
        self.custom: SigmaClip | None = spec.rejection.custom
        self.slow = bool(
            force_flags or self.grow > 0 or self.custom is not None or spec.uncertainty_function
        )
        self.net = sorting_network(self.n)
        self.eff = K.median_efficiency_table()
        self.local = threading.local()
        self.plan = plan_bands(
            self.n,
            (self.height, self.width),
            self.dtype.itemsize,
            mem_limit=spec.mem_limit,
            workers=workers,
            variance=self.variance,
            pixel_weights=spec.weights.pixel is not None,
            flags=self.slow,
            halo=math.ceil(self.grow),
            rejection_map=spec.rejection_map,
        )
        self.data = np.empty((self.height, self.width), self.dtype)
        self.sigma = np.empty((self.height, self.width), self.dtype)
        self.mask = np.empty((self.height, self.width), np.bool_)
        self.nrej = np.zeros((self.height, self.width), np.uint16) if spec.rejection_map else None

    def buffers(self) -> _Buffers:
        buf: _Buffers | None = getattr(self.local, "buf", None)
        if buf is None:
            buf = _Buffers(
                self.n,
                self.plan.rows + 2 * self.plan.halo,
                self.width,
                self.dtype,
                variance=self.variance,
                pixel_weights=self.spec.weights.pixel is not None,
                flags=self.slow,
            )
            self.local.buf = buf
        return buf

    def run_band(self, b0: int, b1: int) -> None:
        buf = self.buffers()
        halo = self.plan.halo
        h0, h1 = max(0, b0 - halo), min(self.height, b1 + halo)
        rows = h1 - h0
        for i, src in enumerate(self.sources):
            src.read(h0, h1, buf.stack[i, :rows])
            if self.variance:
                src.read_variance(h0, h1, buf.var[i, :rows])
        if self.spec.weights.pixel is not None:
            np.copyto(buf.wpix[:, :rows], self.spec.weights.pixel[:, h0:h1], casting="unsafe")
        r0, r1 = b0 - h0, b1 - h0
        if self.slow:
            self._slow_band(buf, h0, h1, r0, r1)
        else:
            self._kernel(buf, self.ip, self.fp, h0, h1, buf.flags, r0, r1)
        if self.nrej is not None:
            self.nrej[b0:b1] = buf.nrej[r0:r1]

    def _kernel(
        self,
        buf: _Buffers,
        ip: np.ndarray,
        fp: np.ndarray,
        h0: int,
        h1: int,
        flags: np.ndarray,
        r0: int,
        r1: int,
    ) -> None:
        """Run the kernels on rows r0..r1-1 of the band held in ``buf`` (rows h0..h1-1).

        Whole buffers are passed (only the given rows are touched), so the
        kernels always see C-contiguous arrays: one compiled version each.
        """
        n, _, width = buf.stack.shape
        if buf.work is None:
            chunk = K.chunk_rows(n, width, self.dtype.itemsize)
            buf.work = K.BandWork(n, chunk, width, self.dtype, ids=bool(self.ip[K.IP_IDS]))
        K.process_band(
            buf.stack,
            buf.var,
            buf.wpix,
            self.wframe,
            self.scale,
            self.zero,
            self.gain,
            self.rdn,
            ip,
            fp,
            self.net,
            self.eff,
            self.data[h0:h1],
            self.sigma[h0:h1],
            self.mask[h0:h1],
            buf.nrej,
            flags,
            r0,
            r1,
            buf.work,
        )

    def _flags(self, buf: _Buffers, h0: int, h1: int, r0: int, r1: int) -> np.ndarray:
        """Rejection flags of band rows r0..r1-1 (grown, if asked), as a bool array."""
        rows = h1 - h0
        ip_flags = self.ip.copy()
        ip_flags[K.IP_MODE] = K.MODE_FLAGS
        self._kernel(buf, ip_flags, self.fp, h0, h1, buf.flags, 0, rows)
        flags = buf.flags
        if self.grow > 0:
            K.dilate_flags(buf.flags, self.grow, rows, r0, r1, buf.grown)
            flags = buf.grown
        return flags[:, r0:r1].astype(bool)

    def _slow_band(self, buf: _Buffers, h0: int, h1: int, r0: int, r1: int) -> None:
        """Rejection flags first (grow, custom statistics), then a plain combination."""
        rejected = self._flags(buf, h0, h1, r0, r1)
        band = buf.stack[:, r0:r1]
        finite_before = np.isfinite(band).sum(axis=0)
        band[rejected] = np.nan
        if self.custom is not None:
            _custom_clip(band, self.scale, self.zero, self.custom)
        ip_plain, fp_plain = K.default_params()
        ip_plain[K.IP_METHOD] = self.ip[K.IP_METHOD]
        ip_plain[K.IP_IVAR] = self.ip[K.IP_IVAR]
        self._kernel(buf, ip_plain, fp_plain, h0, h1, buf.flags, r0, r1)
        finite_after = np.isfinite(band).sum(axis=0)
        buf.nrej[r0:r1] += (finite_before - finite_after).astype(np.uint16)
        if self.spec.uncertainty_function is not None:
            self._user_sigma(band, h0 + r0, h0 + r1)

    def flag_band(self, b0: int, b1: int, out: np.ndarray) -> None:
        """Set ``out[:, b0:b1]`` True where the rejection rejects a valid value."""
        buf = self.buffers()
        halo = self.plan.halo
        h0, h1 = max(0, b0 - halo), min(self.height, b1 + halo)
        for i, src in enumerate(self.sources):
            src.read(h0, h1, buf.stack[i, : h1 - h0])
        r0, r1 = b0 - h0, b1 - h0
        rejected = self._flags(buf, h0, h1, r0, r1)
        band = buf.stack[:, r0:r1]
        if self.custom is not None:
            before = np.isfinite(band) & ~rejected
            band[rejected] = np.nan
            _custom_clip(band, self.scale, self.zero, self.custom)
            rejected |= before & ~np.isfinite(band)
        out[:, b0:b1] = rejected

    def _user_sigma(self, band: np.ndarray, a: int, b: int) -> None:
        """ccdproc's ``combine_uncertainty_function``: f(stack, axis=0) / sqrt(n)."""
        values = band.astype(np.float64) * self.scale[:, None, None] + self.zero[:, None, None]
        invalid = ~np.isfinite(values)
        masked = np.ma.MaskedArray(np.where(invalid, np.nan, values), mask=invalid)
        used = (~invalid).sum(axis=0)
        func = self.spec.uncertainty_function
        assert func is not None
        with np.errstate(invalid="ignore", divide="ignore"):
            sig = np.ma.filled(np.ma.asarray(func(masked, axis=0)).astype(np.float64), np.nan)
            sig = sig / np.sqrt(used)
            if self.spec.method == "sum":
                sig = sig * used
        self.sigma[a:b] = sig


def _custom_clip(band: np.ndarray, scale: np.ndarray, zero: np.ndarray, clip: SigmaClip) -> None:
    """Sigma clipping with user functions on a masked array (values NaN'd in place)."""
    values = band.astype(np.float64) * scale[:, None, None] + zero[:, None, None]
    low = math.inf if clip.low is None else float(clip.low)
    high = math.inf if clip.high is None else float(clip.high)
    maxiters = 100 if clip.maxiters is None else int(clip.maxiters)
    center_f = _as_function(clip.center)
    dev_f = _as_function(clip.deviation)
    invalid = ~np.isfinite(values)
    for _ in range(maxiters):
        masked = np.ma.MaskedArray(np.where(invalid, np.nan, values), mask=invalid)
        with np.errstate(invalid="ignore"):
            center = np.ma.filled(np.ma.asarray(center_f(masked, axis=0)).astype(float), np.nan)
            dev = np.ma.filled(np.ma.asarray(dev_f(masked, axis=0)).astype(float), np.nan)
            reject = ~invalid & ((values < center - low * dev) | (values > center + high * dev))
        if not reject.any():
            break
        invalid |= reject
    band[invalid] = np.nan


def _as_function(spec: Any) -> Callable[..., Any]:
    if callable(spec):
        return spec
    from astropy.stats import mad_std, median_absolute_deviation

    named: dict[str, Callable[..., Any]] = {
        "median": np.ma.median,
        "mean": np.ma.mean,
        "std": np.ma.std,
        "mad_std": mad_std,
        "mad": median_absolute_deviation,
    }
    return named[str(spec)]


def _bands(height: int, rows: int) -> list[tuple[int, int]]:
    return [(b, min(height, b + rows)) for b in range(0, height, rows)]


def _run(
    runner: _Runner,
    task: Callable[..., None],
    bands: Sequence[tuple[int, int]],
    workers: int,
    *args: Any,
) -> None:
    if workers == 1 or len(bands) == 1:
        for b0, b1 in bands:
            task(b0, b1, *args)
        return
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ccdcal-combine") as pool:
        for future in [pool.submit(task, b0, b1, *args) for b0, b1 in bands]:
            future.result()


def flag_rejections(sources: Sequence[FrameSource], spec: StackSpec) -> np.ndarray:
    """(N, ny, nx) bool: True where the rejection of ``spec`` rejects a valid value.

    Used by ``Combiner``'s clipping methods, which only add to the stack's mask.
    """
    workers = max(1, int(spec.threads) if spec.threads else int(numba.get_num_threads()))
    flagging = StackSpec(
        method=spec.method,
        rejection=spec.rejection,
        scaling=spec.scaling,
        weights=spec.weights,
        dtype=spec.dtype,
        mem_limit=spec.mem_limit,
        threads=spec.threads,
        use_variance=False,
    )
    runner = _Runner(sources, flagging, workers, force_flags=True)
    out = np.zeros((len(sources), runner.height, runner.width), np.bool_)
    _run(runner, runner.flag_band, _bands(runner.height, runner.plan.rows), workers, out)
    return out


def combine_sources(sources: Sequence[FrameSource], spec: StackSpec) -> StackResult:
    """Reject and combine a stack of frames, band by band, on a pool of threads.

    The frames must all have the same shape (checked by the caller).
    """
    workers = int(spec.threads) if spec.threads else int(numba.get_num_threads())
    workers = max(1, workers)
    runner = _Runner(sources, spec, workers)
    plan = runner.plan
    if not plan.fits:
        warnings.warn(
            f"mem_limit={spec.mem_limit:.3g} bytes is below what combining {len(sources)} "
            f"frames of {runner.height} x {runner.width} needs at the least (about "
            f"{plan.peak_bytes:.3g} bytes: the outputs plus one row per thread); going on with "
            "one row per band. Raise mem_limit to silence this.",
            CombineMemoryWarning,
            stacklevel=3,
        )
    bands = _bands(runner.height, plan.rows)
    logger.info(
        "combining %d frames of %d x %d: %d band(s) of %d rows on %d thread(s), working "
        "memory about %.0f MB (mem_limit %.0f MB)",
        len(sources),
        runner.height,
        runner.width,
        len(bands),
        plan.rows,
        workers,
        plan.peak_bytes / 1e6,
        spec.mem_limit / 1e6,
    )
    _run(runner, runner.run_band, bands, workers)
    return StackResult(
        data=runner.data,
        sigma=runner.sigma,
        mask=runner.mask,
        nrej=runner.nrej,
        band_rows=plan.rows,
        n_bands=len(bands),
        threads=workers,
        info={"peak_bytes": plan.peak_bytes, "variance": runner.variance},
    )
