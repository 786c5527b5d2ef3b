"""Scaling and zero offsets of the frames before they are combined.

Every frame's values become ``x * scale_i + zero_i`` before rejection and
combination.  ``scale`` follows ccdproc (the data are *multiplied* by it):

* an array of N factors, used as given;
* a function, called on each whole frame's data (``scale(data)``), whose
  result is the factor (ccdproc's ``scale=inv_median``);
* a :class:`ScaleBy` (or the strings ``'median'``, ``'mean'``, ``'mode'``,
  ``'exposure'``): a level ``S_i`` is measured on each frame (on ``statsec``
  if given, sampled on a regular grid of at most ``max_samples`` pixels) and
  the factor is ``ref / S_i``, with ``ref`` the mean of the levels (IRAF:
  frames brought to their average level), the first frame's level, or 1
  (``normalize='none'``: every frame brought to unit level, as for flats).

``zero`` (new) is a :class:`ZeroBy` (or ``'median'``, ``'mean'``, ``'mode'``):
the level ``Z_i`` of each *scaled* frame is measured the same way and the
offset is ``ref - Z_i``.  Masked and non-finite pixels are never measured.

Examples
--------
>>> ScaleBy("median", statsec="[1:100, 1:50]").describe()
'median on [1:100, 1:50], normalised to the mean'
>>> half_sample_mode(np.array([1.0, 2.0, 2.05, 2.2, 9.0]))
2.025
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ccdcal.errors import (
    CombineError,
    ExposureTimeError,
    HeaderKeywordError,
    InvalidParameterError,
    ParameterTypeError,
    SectionError,
)
from ccdcal.stacking.reader import FrameSource

__all__ = ["ScaleBy", "ScalingPlan", "ZeroBy", "half_sample_mode", "resolve_scaling"]

Statistic = Literal["median", "mean", "mode", "exposure", "keyword"]
Normalize = Literal["mean", "first", "none"]

_SECTION = re.compile(r"^\[\s*(\d+)\s*:\s*(\d+)\s*,\s*(\d+)\s*:\s*(\d+)\s*\]$")


@dataclass(frozen=True)
class ScaleBy:
    """Multiplicative scaling by a level measured on each frame.

    Parameters
    ----------
    statistic : {'median', 'mean', 'mode', 'exposure', 'keyword'} or callable
        How the level of a frame is measured: a statistic of its pixels (the
        mode is the half-sample mode), its exposure time, the value of a
        header keyword, or a function of the sampled pixel values.
    keyword : str, optional
        The header keyword for ``'exposure'`` (default ``EXPTIME``) or ``'keyword'``.
    statsec : str, optional
        FITS section ``'[x1:x2, y1:y2]'`` (1-based, inclusive) to measure on.
    normalize : {'mean', 'first', 'none'}
        Bring the frames to the mean level, the first frame's level, or to 1.
    max_samples : int or None
        Measure on a regular grid of at most this many pixels (None: all).
    """

    statistic: Statistic | Callable[[np.ndarray], float] = "median"
    keyword: str | None = None
    statsec: str | None = None
    normalize: Normalize = "mean"
    max_samples: int | None = 100_000

    def __post_init__(self) -> None:
        _validate(self, allowed=("median", "mean", "mode", "exposure", "keyword"))

    def describe(self) -> str:
        """A one-line description for headers and logs."""
        return _describe(self)


@dataclass(frozen=True)
class ZeroBy:
    """Additive offsets by a level measured on each (scaled) frame.

    Same parameters as :class:`ScaleBy`, without ``'exposure'``.

    >>> ZeroBy("mode", normalize="first").describe()
    'mode, normalised to the first frame'
    """

    statistic: Literal["median", "mean", "mode", "keyword"] | Callable[[np.ndarray], float] = (
        "median"
    )
    keyword: str | None = None
    statsec: str | None = None
    normalize: Normalize = "mean"
    max_samples: int | None = 100_000

    def __post_init__(self) -> None:
        _validate(self, allowed=("median", "mean", "mode", "keyword"))

    def describe(self) -> str:
        """A one-line description for headers and logs."""
        return _describe(self)


def _validate(obj: ScaleBy | ZeroBy, *, allowed: Sequence[str]) -> None:
    stat = obj.statistic
    if isinstance(stat, str):
        if stat not in allowed:
            raise InvalidParameterError(
                f"unknown statistic {stat!r}; use one of {list(allowed)} or a function"
            )
    elif not callable(stat):
        raise ParameterTypeError(f"statistic must be a name or a function, got {stat!r}")
    if stat == "keyword" and not obj.keyword:
        raise InvalidParameterError("statistic='keyword' needs keyword= naming the header keyword")
    if obj.normalize not in ("mean", "first", "none"):
        raise InvalidParameterError(
            f"normalize must be 'mean', 'first' or 'none', got {obj.normalize!r}"
        )
    if obj.max_samples is not None and obj.max_samples < 1:
        raise InvalidParameterError(f"max_samples must be >= 1 or None, got {obj.max_samples!r}")
    if obj.statsec is not None:
        parse_statsec(obj.statsec, (1 << 30, 1 << 30))


def _describe(obj: ScaleBy | ZeroBy) -> str:
    stat = obj.statistic
    text = stat if isinstance(stat, str) else getattr(stat, "__name__", "function")
    if stat in ("exposure", "keyword"):
        text += f" {obj.keyword or 'EXPTIME'}"
    elif obj.statsec:
        text += f" on {obj.statsec}"
    norm = {"mean": "the mean", "first": "the first frame", "none": "1"}[obj.normalize]
    return f"{text}, normalised to {norm}"


def parse_statsec(text: str, shape: tuple[int, int]) -> tuple[slice, slice]:
    """Rows and columns of a FITS section ``'[x1:x2, y1:y2]'`` (1-based, inclusive).

    >>> parse_statsec("[2:4, 1:3]", (10, 10))
    (slice(0, 3, None), slice(1, 4, None))
    """
    match = _SECTION.match(text.strip())
    if not match:
        raise SectionError(
            f"statsec {text!r} is not a FITS section like '[x1:x2, y1:y2]' (1-based, inclusive)"
        )
    x1, x2, y1, y2 = (int(g) for g in match.groups())
    if not (1 <= x1 <= x2 <= shape[1] and 1 <= y1 <= y2 <= shape[0]):
        raise SectionError(
            f"statsec {text!r} is outside the frame of {shape[1]} x {shape[0]} pixels (x, y)"
        )
    return slice(y1 - 1, y2), slice(x1 - 1, x2)


def half_sample_mode(values: np.ndarray) -> float:
    """The half-sample mode (Bickel & Fruehwirth): a robust mode of a 1-D sample."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    while x.size > 3:
        half = math.ceil(x.size / 2)
        widths = x[half - 1 :] - x[: x.size - half + 1]
        start = int(np.argmin(widths))
        x = x[start : start + half]
    if x.size == 3:
        left, right = x[1] - x[0], x[2] - x[1]
        if left < right:
            return float((x[0] + x[1]) / 2)
        if left > right:
            return float((x[1] + x[2]) / 2)
        return float(x[1])
    return float(np.mean(x)) if x.size else math.nan


def _sample(source: FrameSource, statsec: str | None, max_samples: int | None) -> np.ndarray:
    """The valid pixel values of a frame (or its statsec), on a regular grid."""
    rows, cols = (
        parse_statsec(statsec, source.shape)
        if statsec
        else (slice(0, source.shape[0]), slice(0, source.shape[1]))
    )
    nrow = rows.stop - rows.start
    ncol = cols.stop - cols.start
    step = 1
    if max_samples is not None and nrow * ncol > max_samples:
        step = math.ceil(math.sqrt(nrow * ncol / max_samples))
    buf = np.empty((1, source.shape[1]), np.float64)
    picked = []
    for r in range(rows.start, rows.stop, step):
        source.read(r, r + 1, buf)
        picked.append(buf[0, cols.start : cols.stop : step].copy())
    values = np.concatenate(picked)
    return values[np.isfinite(values)]


def _keyword_value(source: FrameSource, keyword: str) -> float:
    if keyword not in source.meta:
        raise HeaderKeywordError(
            f"{source.name}: the header has no keyword {keyword!r} needed for scaling; add it "
            "or choose another statistic"
        )
    value = source.meta[keyword]
    try:
        return float(value)
    except (TypeError, ValueError):
        raise HeaderKeywordError(
            f"{source.name}: keyword {keyword} = {value!r} is not a number"
        ) from None


def measure_level(spec: ScaleBy | ZeroBy, source: FrameSource) -> float:
    """The level of one frame as ``spec`` defines it."""
    stat = spec.statistic
    if stat in ("exposure", "keyword"):
        keyword = spec.keyword or "EXPTIME"
        level = _keyword_value(source, keyword)
        if stat == "exposure" and not level > 0:
            raise ExposureTimeError(
                f"{source.name}: exposure time {keyword} = {level} cannot scale a frame; it "
                "must be > 0"
            )
        return level
    values = _sample(source, spec.statsec, spec.max_samples)
    if values.size == 0:
        raise CombineError(
            f"{source.name}: no valid pixel to measure the {stat!r} level on (all masked or "
            "NaN in the statistics section)"
        )
    if callable(stat):
        return float(stat(values))
    if stat == "median":
        return float(np.median(values))
    if stat == "mean":
        return float(np.mean(values))
    return half_sample_mode(values)


def _reference(levels: np.ndarray, normalize: str) -> float:
    if normalize == "mean":
        return float(np.mean(levels))
    if normalize == "first":
        return float(levels[0])
    return 1.0


@dataclass
class ScalingPlan:
    """Per-frame factors and offsets, and how they were obtained."""

    scale: np.ndarray
    zero: np.ndarray
    scale_text: str = "none"
    zero_text: str = "none"


def _factors_from(scale: Any, sources: Sequence[FrameSource]) -> tuple[np.ndarray, str]:
    n = len(sources)
    if isinstance(scale, str):
        scale = ScaleBy(scale)  # type: ignore[arg-type]
    if isinstance(scale, ScaleBy):
        levels = np.array([measure_level(scale, s) for s in sources], dtype=np.float64)
        bad = [
            s.name for s, v in zip(sources, levels, strict=True) if not (v != 0 and np.isfinite(v))
        ]
        if bad:
            raise CombineError(
                f"cannot scale by {scale.describe()}: the level is 0 or not finite for {bad[:5]}"
            )
        return _reference(levels, scale.normalize) / levels, scale.describe()
    if callable(scale):
        factors = np.array([float(scale(s.read_full())) for s in sources])
        return factors, f"function {getattr(scale, '__name__', 'scale')}"
    try:
        count = len(scale)
    except TypeError:
        raise ParameterTypeError(
            "scaling must be a function or an array the same length as the number of images, "
            f"got {scale!r}"
        ) from None
    if count != n:
        raise InvalidParameterError(
            "scaling must be a function or an array the same length as the number of images: "
            f"got {count} factors for {n} images"
        )
    factors = np.asarray(scale, dtype=np.float64).reshape(n)
    return factors, "factors " + ", ".join(f"{f:.6g}" for f in factors[:10])


def resolve_scaling(scale: Any, zero: Any, sources: Sequence[FrameSource]) -> ScalingPlan:
    """Measure or check the scale factors and zero offsets of the frames."""
    n = len(sources)
    plan = ScalingPlan(scale=np.ones(n), zero=np.zeros(n))
    if scale is not None:
        plan.scale, plan.scale_text = _factors_from(scale, sources)
        if not np.all(np.isfinite(plan.scale)):
            raise CombineError(f"the scale factors are not all finite: {plan.scale.tolist()}")
    if zero is not None:
        if isinstance(zero, str):
            zero = ZeroBy(zero)  # type: ignore[arg-type]
        if isinstance(zero, ZeroBy):
            levels = np.array([measure_level(zero, s) for s in sources]) * plan.scale
            plan.zero = _reference(levels, zero.normalize) - levels
            plan.zero_text = zero.describe()
        else:
            offsets = np.asarray(zero, dtype=np.float64)
            if offsets.shape != (n,):
                raise InvalidParameterError(
                    f"zero must be a ZeroBy, a statistic name or {n} offsets, got {zero!r}"
                )
            plan.zero = offsets
            plan.zero_text = "offsets " + ", ".join(f"{z:.6g}" for z in offsets[:10])
    return plan
