"""``combine()``: ccdproc's call, ccdcal's engine.

Every parameter of ``ccdproc.combine`` 2.5.1 is accepted with its meaning, so
a ccdproc script runs by changing the import; new capabilities come as
keyword options and parameter objects (``rejection=``, ``zero=``,
``weights='inverse_variance'``, ``rejection_map=``, ``threads=``).  What
differs on purpose from ccdproc is listed in ``docs/ccdproc-differences.md``.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> frames = [CCDData(np.full((3, 3), v, dtype=np.float32), unit="adu") for v in (1, 2, 3, 90)]
>>> master = combine(frames, method="average", sigma_clip=True,
...                  sigma_clip_low_thresh=2, sigma_clip_high_thresh=2,
...                  sigma_clip_func=np.ma.median)
>>> float(master.data[0, 0]), master.meta["NCOMBINE"], master.data.dtype
(2.0, 4, dtype('float32'))
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from astropy.nddata import CCDData, StdDevUncertainty
from numpy import ma
from numpy.typing import DTypeLike

from ccdcal.dtypes import working_dtype
from ccdcal.errors import CombineError, InvalidParameterError, StackMismatchError
from ccdcal.io import file_checksum, write_ccd
from ccdcal.stacking._params import METHODS
from ccdcal.stacking.header import combined_exposure, combined_header
from ccdcal.stacking.reader import FrameSource, open_source
from ccdcal.stacking.rejection import (
    ExtremaClip,
    MinMaxClip,
    Rejection,
    RejectionPlan,
    SigmaClip,
    compile_rejection,
)
from ccdcal.stacking.scaling import ScaleBy, ScalingPlan, ZeroBy, resolve_scaling
from ccdcal.stacking.weights import resolve_weights

__all__ = ["combine"]

logger = logging.getLogger(__name__)

#: keyword arguments of CCDData.read that combine() passes on (ccdproc's **ccdkwargs)
READ_OPTIONS = ("hdu", "unit", "hdu_mask", "hdu_uncertainty", "key_uncertainty_type")
_IGNORED_READ_OPTIONS = ("hdu_flags", "hdu_psf")


def _as_list(img_list: Any) -> list[Any]:
    """ccdproc's accepted forms: list, ndarray of names, 'a.fits,b.fits', any iterable."""
    if isinstance(img_list, list):
        items = img_list
    elif isinstance(img_list, np.ndarray):
        items = img_list.tolist()
    elif isinstance(img_list, str):
        items = [name.strip() for name in img_list.split(",")] if "," in img_list else [img_list]
    elif isinstance(img_list, (CCDData, os.PathLike)):
        items = [img_list]
    else:
        try:
            items = list(img_list)
        except TypeError:
            raise InvalidParameterError(
                f"unrecognised input for list of images to combine: {img_list!r}; give a list "
                "of file names or CCDData objects"
            ) from None
    if not items:
        raise CombineError("the list of images to combine is empty")
    return items


def _read_options(ccdkwargs: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(ccdkwargs) - set(READ_OPTIONS) - set(_IGNORED_READ_OPTIONS))
    if unknown:
        raise InvalidParameterError(
            f"combine() got unexpected keyword argument(s) {unknown}; the reading options it "
            f"understands are {list(READ_OPTIONS)}"
        )
    return {k: v for k, v in ccdkwargs.items() if k in READ_OPTIONS}


def _open_all(items: Sequence[Any], read_options: dict[str, Any]) -> list[FrameSource]:
    sources: list[FrameSource] = []
    try:
        for i, item in enumerate(items):
            sources.append(open_source(item, index=i, read_options=read_options))
    except BaseException:
        for src in sources:
            src.close()
        raise
    return sources


def check_stack(sources: Sequence[FrameSource]) -> None:
    """All frames must have the first one's shape and unit (TypeError, as ccdproc)."""
    first = sources[0]
    for src in sources[1:]:
        if src.shape != first.shape:
            raise StackMismatchError(
                f"CCDData objects are not the same size: {src.name} is {src.shape}, "
                f"{first.name} is {first.shape}; combine frames of one size"
            )
        if src.unit != first.unit:
            raise StackMismatchError(
                f"CCDData objects don't have the same unit: {src.name} is in {src.unit}, "
                f"{first.name} in {first.unit}; convert them to one unit first"
            )


def ccdproc_rejection(
    *,
    clip_extrema: bool,
    nlow: int | None,
    nhigh: int | None,
    minmax_clip: bool,
    minmax_clip_min: float | None,
    minmax_clip_max: float | None,
    sigma_clip: bool,
    sigma_clip_low_thresh: float | None,
    sigma_clip_high_thresh: float | None,
    sigma_clip_func: Any,
    sigma_clip_dev_func: Any,
) -> list[Rejection]:
    """The rejection objects equivalent to ccdproc's flags (one pass, nothing kept back)."""
    steps: list[Rejection] = []
    if minmax_clip:
        steps.append(MinMaxClip(low=minmax_clip_min, high=minmax_clip_max))
    if clip_extrema:
        steps.append(ExtremaClip(nlow=int(nlow or 0), nhigh=int(nhigh or 0), nkeep=0))
    if sigma_clip:
        steps.append(
            SigmaClip(
                low=None if sigma_clip_low_thresh is None else abs(sigma_clip_low_thresh),
                high=None if sigma_clip_high_thresh is None else abs(sigma_clip_high_thresh),
                maxiters=1,
                center=sigma_clip_func if sigma_clip_func is not None else "mean",
                deviation=sigma_clip_dev_func if sigma_clip_dev_func is not None else "std",
                nkeep=0,
            )
        )
    return steps


def _merge_rejection(flags: list[Rejection], rejection: Any) -> RejectionPlan:
    extra: list[Rejection] = []
    if isinstance(rejection, Rejection):
        extra = [rejection]
    elif rejection is not None:
        if isinstance(rejection, str) or not isinstance(rejection, Iterable):
            return compile_rejection(rejection)  # type: ignore[arg-type]  # raises a clear error
        extra = list(rejection)
    return compile_rejection(flags + extra)


def _compute_dtype(dtype: DTypeLike | None, sources: Sequence[FrameSource]) -> np.dtype:
    if dtype is not None:
        wanted = np.dtype(dtype)
        return wanted if wanted.kind == "f" else np.dtype(np.float64)
    return working_dtype(*(src.dtype for src in sources))


def _start_checksums(
    sources: Sequence[FrameSource],
) -> tuple[ThreadPoolExecutor | None, list[Future[str] | None]]:
    paths = [src.path for src in sources]
    if not any(paths):
        return None, [None] * len(sources)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ccdcal-checksum")
    return pool, [pool.submit(file_checksum, p) if p is not None else None for p in paths]


def _exposure(sources: Sequence[FrameSource], scale: Any, method: str) -> tuple[str, float] | None:
    keyword = "EXPTIME"
    if isinstance(scale, ScaleBy) and scale.statistic == "exposure" and scale.keyword:
        keyword = scale.keyword
    values: list[float | None] = []
    for src in sources:
        value = src.meta.get(keyword)
        try:
            values.append(float(value) if value is not None else None)
        except (TypeError, ValueError):
            values.append(None)
    total = combined_exposure(values, method)
    return None if total is None else (keyword, total)


def combine(
    img_list: Any,
    output_file: str | os.PathLike[str] | None = None,
    *,
    method: str = "average",
    weights: Any = None,
    scale: Any = None,
    mem_limit: float = 16e9,
    clip_extrema: bool = False,
    nlow: int | None = 1,
    nhigh: int | None = 1,
    minmax_clip: bool = False,
    minmax_clip_min: float | None = None,
    minmax_clip_max: float | None = None,
    sigma_clip: bool = False,
    sigma_clip_low_thresh: float | None = 3,
    sigma_clip_high_thresh: float | None = 3,
    sigma_clip_func: Any = ma.mean,
    sigma_clip_dev_func: Any = ma.std,
    dtype: DTypeLike | None = None,
    combine_uncertainty_function: Callable[..., Any] | None = None,
    overwrite_output: bool = False,
    rejection: Rejection | Sequence[Rejection] | None = None,
    zero: ZeroBy | str | Sequence[float] | None = None,
    rejection_map: bool = False,
    threads: int | None = None,
    **ccdkwargs: Any,
) -> CCDData:
    """Combine frames into one (a master bias, dark or flat), reading each file once.

    Parameters
    ----------
    img_list : list, ndarray, str or iterable
        File names (str or path), ``CCDData`` objects, a comma-separated string
        of names, or any iterable of those (``ImageFileCollection.ccds()``).
    output_file : str or path-like, optional
        Also write the result there (atomically, with checksums).
    method : {'average', 'median', 'sum'}
    weights : None, number, sequence, ndarray or 'inverse_variance'
        One weight per frame, per-pixel weights of shape ``(N, ny, nx)``, or
        1/variance of the inputs' uncertainties.  Used by average and sum.
    scale : array, function, ScaleBy or str, optional
        Multiplicative factors (ccdproc: the data are multiplied by them), a
        function of a frame's data giving its factor, or a measured level
        (:class:`~ccdcal.stacking.scaling.ScaleBy`, ``'median'``, ``'mean'``,
        ``'mode'``, ``'exposure'``).
    mem_limit : float
        Upper bound, in bytes, on the memory the combination uses beyond the
        interpreter (outputs included); default 16e9 as ccdproc.
    clip_extrema, nlow, nhigh : ccdproc's extrema clipping (by count, one pass)
    minmax_clip, minmax_clip_min, minmax_clip_max : ccdproc's absolute thresholds
    sigma_clip, sigma_clip_low_thresh, sigma_clip_high_thresh : ccdproc's sigma clipping
        (one pass; a threshold of None clips nothing on that side).
    sigma_clip_func, sigma_clip_dev_func : str or callable
        Centre and deviation: 'median', 'mean', 'std', 'mad_std' or functions
        (``np.ma.median``, ``astropy.stats.mad_std`` ... run on the fast path).
    dtype : dtype, optional
        Dtype of the result. Default: float32, or float64 when an input is
        float64 or a 32/64-bit integer (ccdproc: always float64).
    combine_uncertainty_function : callable, optional
        ccdproc's: called on the masked stack of kept values along axis 0 and
        divided by sqrt(n) (multiplied by sqrt(n) for the sum).
    overwrite_output : bool
        Replace an existing ``output_file``.
    rejection : Rejection or list of them, optional
        New: :class:`~ccdcal.stacking.rejection.SigmaClip`,
        :class:`~ccdcal.stacking.rejection.CCDClip`, ... (added to the
        ccdproc flags' rejection, if any).
    zero : ZeroBy, str or sequence, optional
        New: additive offsets (after scaling).
    rejection_map : bool
        New: set ``result.flags`` to a uint16 map of how many valid values
        were rejected at each pixel.
    threads : int, optional
        Worker threads (default: ``numba.get_num_threads()``).
    **ccdkwargs
        Reading options for files: ``hdu``, ``unit``, ``hdu_mask``,
        ``hdu_uncertainty``, ``key_uncertainty_type``.

    Returns
    -------
    CCDData
        Data, ``StdDevUncertainty`` and mask (True where every value was
        rejected or masked; data and uncertainty are NaN there); ``meta`` is
        the first input's header plus NCOMBINE, the inputs and their
        checksums, the method, rejection, scaling and weights, and EXPTIME.
    """
    if method not in METHODS:
        raise InvalidParameterError(
            f"unrecognised combine method : {method!r}; use 'average', 'median' or 'sum'"
        )
    items = _as_list(img_list)
    read_options = _read_options(ccdkwargs)
    plan = _merge_rejection(
        ccdproc_rejection(
            clip_extrema=clip_extrema,
            nlow=nlow,
            nhigh=nhigh,
            minmax_clip=minmax_clip,
            minmax_clip_min=minmax_clip_min,
            minmax_clip_max=minmax_clip_max,
            sigma_clip=sigma_clip,
            sigma_clip_low_thresh=sigma_clip_low_thresh,
            sigma_clip_high_thresh=sigma_clip_high_thresh,
            sigma_clip_func=sigma_clip_func,
            sigma_clip_dev_func=sigma_clip_dev_func,
        ),
        rejection,
    )
    sources = _open_all(items, read_options)
    pool = None
    try:
        check_stack(sources)
        pool, checksums = _start_checksums(sources)
        result = _combine_open(
            sources,
            plan,
            method=method,
            weights=weights,
            scale=scale,
            zero=zero,
            mem_limit=mem_limit,
            dtype=dtype,
            uncertainty_function=combine_uncertainty_function,
            rejection_map=rejection_map,
            threads=threads,
            checksums=checksums,
        )
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        for src in sources:
            src.close()
    if output_file is not None:
        write_ccd(result, Path(output_file), overwrite=overwrite_output)
    return result


def _combine_open(
    sources: Sequence[FrameSource],
    plan: RejectionPlan,
    *,
    method: str,
    weights: Any,
    scale: Any,
    zero: Any,
    mem_limit: float,
    dtype: DTypeLike | None,
    uncertainty_function: Callable[..., Any] | None,
    rejection_map: bool,
    threads: int | None,
    checksums: Sequence[Future[str] | None],
) -> CCDData:
    """Combine opened sources and build the result (shared with the pipeline)."""
    n = len(sources)
    shape = sources[0].shape
    weight_plan = resolve_weights(
        weights, n_frames=n, shape=shape, have_variance=[s.has_variance for s in sources]
    )
    scaling: ScalingPlan = resolve_scaling(scale, zero, sources)
    work = _compute_dtype(dtype, sources)
    from ccdcal.stacking.engine import StackSpec, combine_sources  # loads numba on first use

    spec = StackSpec(
        method=method,
        rejection=plan,
        scaling=scaling,
        weights=weight_plan,
        dtype=work,
        uncertainty_function=uncertainty_function,
        mem_limit=float(mem_limit),
        threads=threads,
        rejection_map=rejection_map,
    )
    stack = combine_sources(sources, spec)
    data, sigma = stack.data, stack.sigma
    if dtype is not None and np.dtype(dtype) != data.dtype:
        data = data.astype(dtype)
        sigma = sigma.astype(dtype) if np.dtype(dtype).kind == "f" else sigma
    info = {
        "method": method,
        "rejection": plan.describe(),
        "scale": scaling.scale_text,
        "zero": scaling.zero_text,
        "weights": weight_plan.describe(),
        "scale_factors": [float(f) for f in scaling.scale],
        "zeros": [float(z) for z in scaling.zero],
        "frame_weights": [float(w) for w in weight_plan.frame],
        "uncertainty": "propagated" if stack.info["variance"] else "scatter",
        "dtype": str(data.dtype),
    }
    inputs = [
        (src.name, fut.result() if fut is not None else None)
        for src, fut in zip(sources, checksums, strict=True)
    ]
    meta = combined_header(
        sources[0].meta,
        inputs=inputs,
        info=info,
        exposure=_exposure(sources, scale, method),
    )
    first = sources[0]
    result = CCDData(
        data,
        unit=first.unit,
        mask=stack.mask,
        uncertainty=StdDevUncertainty(sigma, copy=False),
        meta=meta,
        wcs=first.wcs,
    )
    if stack.nrej is not None:
        result.flags = stack.nrej
    return result
