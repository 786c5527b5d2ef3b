"""Rejection algorithms as parameter objects: ``combine(files, rejection=SigmaClip(...))``.

Each class describes one algorithm and validates its parameters; the work is
done by the row kernels of :mod:`ccdcal.stacking._clip_kernels`.  A rejection
is one object or a sequence of them, applied in a fixed order whatever the
order given:

1. :class:`MinMaxClip` -- absolute thresholds on the *unscaled* values
   (ccdproc's ``minmax_clip``, IRAF's ``lthreshold``/``hthreshold``);
2. :class:`ExtremaClip` -- the ``nlow`` lowest and ``nhigh`` highest values
   (ccdproc's ``clip_extrema``, IRAF's ``minmax``), with an ``nkeep`` floor;
3. at most one statistical algorithm: :class:`SigmaClip` (astropy-style
   iterative sigma clipping, ccdproc's ``sigma_clip``), :class:`CCDClip`
   (IRAF ``ccdclip``: gain, read noise and sensitivity noise),
   :class:`AvSigClip` (IRAF ``avsigclip``), :class:`PClip` (IRAF ``pclip``),
   :class:`WinsorizedSigmaClip` (Siril) or :class:`PercentileClip` (Siril).

Masked and non-finite inputs never take part, neither in the statistics nor
in the result.  ``nkeep`` (IRAF): at least ``nkeep`` values survive a stage
(``nkeep < 0``: at most ``-nkeep`` are rejected); the rejected values closest
to the centre are put back.  ``grow`` (statistical algorithms): after the
rejection, every pixel within ``grow`` pixels (a disk in the image plane) of
a rejected value is rejected too, in the same frame.

Examples
--------
>>> plan = compile_rejection([SigmaClip(low=5, high=5, maxiters=1), MinMaxClip(high=6e4)])
>>> [step.label for step in plan.steps]
['minmax', 'sigclip']
>>> plan.steps[1].describe()
'sigclip(low=5, high=5, maxiters=1, center=median, deviation=std, nkeep=1)'
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal

import numpy as np

from ccdcal.errors import InvalidParameterError, ParameterTypeError
from ccdcal.stacking import _params as K

__all__ = [
    "AvSigClip",
    "CCDClip",
    "ExtremaClip",
    "MinMaxClip",
    "PClip",
    "PercentileClip",
    "Rejection",
    "RejectionPlan",
    "SigmaClip",
    "WinsorizedSigmaClip",
    "compile_rejection",
    "pclip_offset",
]

Center = Literal["median", "mean"]
Deviation = Literal["std", "mad_std", "mad"]
StatFunc = Callable[..., Any]

_CENTER_CODES = {"median": 0, "mean": 1}
_DEVIATION_CODES = {"std": 0, "mad_std": 1, "mad": 2}


def _check_sigma(name: str, value: float | None) -> float:
    """A clipping threshold in sigma: None means 'no clipping on this side'."""
    if value is None:
        return math.inf
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ParameterTypeError(f"{name} must be a number or None, got {value!r}") from None
    if math.isnan(number) or number < 0:
        raise InvalidParameterError(f"{name} must be >= 0 (or None), got {value!r}")
    return number


def _check_int(name: str, value: int, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ParameterTypeError(f"{name} must be an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidParameterError(f"{name} must be >= {minimum}, got {value!r}")
    return int(value)


def _check_maxiters(value: int | None) -> int:
    if value is None:
        return -1
    return _check_int("maxiters", value, minimum=1)


def _check_grow(value: float) -> float:
    number = float(value)
    if not number >= 0 or math.isinf(number):
        raise InvalidParameterError(f"grow must be a finite radius >= 0 pixels, got {value!r}")
    return number


class Rejection:
    """Base class of the rejection parameter objects."""

    #: 0 thresholds, 1 extrema by count, 2 statistical algorithm
    stage: int = 2
    #: the name written to the header
    label: str = ""

    def describe(self) -> str:
        """A one-line description for headers and logs."""
        parts = []
        for f in fields(self):  # type: ignore[arg-type]
            if not f.repr:
                continue
            value = getattr(self, f.name)
            if f.name in ("grow", "pedestal") and not value:
                continue
            if callable(value):
                value = getattr(value, "__name__", repr(value))
            parts.append(f"{f.name}={value}")
        return f"{self.label}({', '.join(parts)})"

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        raise NotImplementedError  # pragma: no cover


@dataclass(frozen=True)
class MinMaxClip(Rejection):
    """Reject values below ``low`` or above ``high`` (unscaled, inclusive bounds kept).

    ccdproc's ``minmax_clip`` / ``Combiner.minmax_clipping``.

    >>> MinMaxClip(high=65000).describe()
    'minmax(low=None, high=65000.0)'
    """

    low: float | None = None
    high: float | None = None
    stage = 0
    label = "minmax"

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))
        if self.low is not None and self.high is not None and self.low > self.high:
            raise InvalidParameterError(
                f"MinMaxClip: low ({self.low}) is above high ({self.high}); nothing would survive"
            )

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        fp[K.FP_TLO] = -math.inf if self.low is None else self.low
        fp[K.FP_THI] = math.inf if self.high is None else self.high


@dataclass(frozen=True)
class ExtremaClip(Rejection):
    """Reject the ``nlow`` lowest and ``nhigh`` highest valid values (IRAF ``minmax``).

    Masked values do not count (ccdproc counts them: see the differences
    document).  At least ``nkeep`` values are kept (``nkeep < 0``: at most
    ``-nkeep`` rejected).

    >>> ExtremaClip(nlow=0, nhigh=1).describe()
    'extrema(nlow=0, nhigh=1, nkeep=1)'
    """

    nlow: int = 1
    nhigh: int = 1
    nkeep: int = 1
    stage = 1
    label = "extrema"

    def __post_init__(self) -> None:
        _check_int("nlow", self.nlow)
        _check_int("nhigh", self.nhigh)
        _check_int("nkeep", self.nkeep, minimum=None)

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        ip[K.IP_NLOW] = self.nlow
        ip[K.IP_NHIGH] = self.nhigh
        ip[K.IP_NKEEP_EXTREMA] = self.nkeep


def _known_functions() -> tuple[dict[int, Center], dict[int, Deviation]]:
    """The functions ccdproc users pass for the centre and deviation, by identity."""
    import bottleneck as bn
    from astropy import stats

    centers: dict[Any, Center] = {
        np.ma.median: "median",
        np.median: "median",
        np.nanmedian: "median",
        bn.nanmedian: "median",
        np.ma.mean: "mean",
        np.mean: "mean",
        np.nanmean: "mean",
        bn.nanmean: "mean",
    }
    deviations: dict[Any, Deviation] = {
        np.ma.std: "std",
        np.std: "std",
        np.nanstd: "std",
        bn.nanstd: "std",
        stats.mad_std: "mad_std",
        stats.median_absolute_deviation: "mad",
    }
    return ({id(f): v for f, v in centers.items()}, {id(f): v for f, v in deviations.items()})


_CENTER_FUNCS, _DEVIATION_FUNCS = _known_functions()
#: recognised by name, without importing their package
_NAMED_DEVIATIONS: dict[str, Deviation] = {"ccdproc.core.sigma_func": "mad_std"}


def _recognise(
    value: Any, known: Mapping[int, str], codes: Mapping[str, int], what: str
) -> str | StatFunc:
    if isinstance(value, str):
        if value not in codes:
            raise InvalidParameterError(
                f"unknown {what} {value!r}; use one of {sorted(codes)} or a function"
            )
        return value
    if not callable(value):
        raise ParameterTypeError(f"{what} must be a name or a function, got {value!r}")
    if id(value) in known:
        return known[id(value)]
    name = f"{getattr(value, '__module__', '')}.{getattr(value, '__name__', '')}"
    if what == "deviation" and name in _NAMED_DEVIATIONS:
        return _NAMED_DEVIATIONS[name]
    return value


@dataclass(frozen=True)
class SigmaClip(Rejection):
    """Iterative sigma clipping, as ``astropy.stats.sigma_clip`` along the stack.

    Each iteration keeps ``center - low*dev <= x <= center + high*dev``,
    ``center`` being the median or mean and ``dev`` the standard deviation
    (about the mean), ``mad_std`` (1.4826 MAD) or the raw MAD, all of the
    values still kept; it stops when nothing changes or after ``maxiters``
    iterations (``None``: until nothing changes).  ``low``/``high`` = None:
    no clipping on that side.

    ``center``/``deviation`` may also be functions: ``numpy.ma.median``,
    ``numpy.mean``, ``astropy.stats.mad_std`` ... are recognised and run by the
    fast kernels; any other function runs on a masked array, band by band
    (correct, slower).

    >>> SigmaClip(low=3, high=3, center="median", deviation="mad_std").describe()
    'sigclip(low=3, high=3, maxiters=5, center=median, deviation=mad_std, nkeep=1)'
    """

    low: float | None = 3.0
    high: float | None = 3.0
    maxiters: int | None = 5
    center: Center | StatFunc = "median"
    deviation: Deviation | StatFunc = "std"
    nkeep: int = 1
    grow: float = 0.0
    label = "sigclip"

    def __post_init__(self) -> None:
        _check_sigma("low", self.low)
        _check_sigma("high", self.high)
        _check_maxiters(self.maxiters)
        _check_int("nkeep", self.nkeep, minimum=None)
        _check_grow(self.grow)
        object.__setattr__(
            self, "center", _recognise(self.center, _CENTER_FUNCS, _CENTER_CODES, "center")
        )
        object.__setattr__(
            self,
            "deviation",
            _recognise(self.deviation, _DEVIATION_FUNCS, _DEVIATION_CODES, "deviation"),
        )

    @property
    def is_custom(self) -> bool:
        """True when the centre or deviation is a function the kernels do not know."""
        return callable(self.center) or callable(self.deviation)

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        ip[K.IP_ALG] = K.ALG_SIGCLIP
        ip[K.IP_MAXITERS] = _check_maxiters(self.maxiters)
        ip[K.IP_CENTER] = _CENTER_CODES[str(self.center)]
        ip[K.IP_DEV] = _DEVIATION_CODES[str(self.deviation)]
        ip[K.IP_NKEEP] = self.nkeep
        fp[K.FP_LOW] = _check_sigma("low", self.low)
        fp[K.FP_HIGH] = _check_sigma("high", self.high)


@dataclass(frozen=True)
class CCDClip(Rejection):
    """IRAF ``ccdclip``: reject against the CCD noise model at the centre.

    ``sigma^2 = (read_noise/gain)^2 + I/gain + (snoise*I)^2`` (ADU^2) at the
    centre level ``I`` (unscaled); a value is rejected when it lies more than
    ``low``/``high`` sigma below/above the centre; iterated until nothing
    changes (``maxiters``).  ``gain`` (e-/ADU) and ``read_noise`` (e-) may be
    header keywords, read per frame.  Needs at least 2 values.

    ``pedestal`` (ADU, unscaled; not in IRAF, which expects bias-subtracted
    frames) is the part of the level that carries no photon noise, such as
    the bias level of raw frames: the photon and sensitivity terms use
    ``I = max(0, centre - pedestal)``.  ``math.inf`` leaves them out (raw bias
    frames: read noise only).

    >>> CCDClip(gain=1.5, read_noise=8.0, snoise=0.01).describe()[:46]
    'ccdclip(gain=1.5, read_noise=8.0, snoise=0.01,'
    >>> CCDClip(gain=1.1, read_noise=8.0, pedestal=1000).describe()[-16:]
    'pedestal=1000.0)'
    """

    gain: float | str = 1.0
    read_noise: float | str = 0.0
    snoise: float = 0.0
    low: float | None = 3.0
    high: float | None = 3.0
    maxiters: int | None = None
    center: Center = "median"
    nkeep: int = 1
    grow: float = 0.0
    pedestal: float = 0.0
    label = "ccdclip"

    def __post_init__(self) -> None:
        _check_sigma("low", self.low)
        _check_sigma("high", self.high)
        _check_maxiters(self.maxiters)
        _check_int("nkeep", self.nkeep, minimum=None)
        _check_grow(self.grow)
        if self.center not in _CENTER_CODES:
            raise InvalidParameterError(f"center must be 'median' or 'mean', got {self.center!r}")
        if not isinstance(self.gain, str) and not float(self.gain) > 0:
            raise InvalidParameterError(f"gain must be > 0 e-/ADU, got {self.gain!r}")
        if not isinstance(self.read_noise, str) and not float(self.read_noise) >= 0:
            raise InvalidParameterError(f"read_noise must be >= 0 e-, got {self.read_noise!r}")
        if not float(self.snoise) >= 0:
            raise InvalidParameterError(f"snoise must be >= 0, got {self.snoise!r}")
        pedestal = float(self.pedestal)
        if math.isnan(pedestal) or pedestal == -math.inf:
            raise InvalidParameterError(
                f"pedestal must be a level in ADU (or math.inf), got {self.pedestal!r}"
            )
        object.__setattr__(self, "pedestal", pedestal)

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        ip[K.IP_ALG] = K.ALG_CCDCLIP
        ip[K.IP_MAXITERS] = _check_maxiters(self.maxiters)
        ip[K.IP_CENTER] = _CENTER_CODES[self.center]
        ip[K.IP_NKEEP] = self.nkeep
        ip[K.IP_MINCLIP] = 2
        fp[K.FP_LOW] = _check_sigma("low", self.low)
        fp[K.FP_HIGH] = _check_sigma("high", self.high)
        fp[K.FP_SNOISE] = float(self.snoise)
        fp[K.FP_PEDESTAL] = self.pedestal


@dataclass(frozen=True)
class AvSigClip(Rejection):
    """IRAF ``avsigclip``: one Poisson-scaled sigma per image row, then clipping.

    For each row, ``g = sum (x - c)^2 / max(1, c) / (n_total - 1)`` over the
    pixels with at least 3 values (c their median); each pixel is clipped
    with ``sigma = sqrt(g * max(1, c))``, iterating (with g fixed) until
    nothing changes.  Suits a few frames whose noise parameters are unknown.

    >>> AvSigClip(low=2.5, high=2.5).describe()
    'avsigclip(low=2.5, high=2.5, maxiters=None, center=median, nkeep=1)'
    """

    low: float | None = 3.0
    high: float | None = 3.0
    maxiters: int | None = None
    center: Center = "median"
    nkeep: int = 1
    grow: float = 0.0
    label = "avsigclip"

    def __post_init__(self) -> None:
        _check_sigma("low", self.low)
        _check_sigma("high", self.high)
        _check_maxiters(self.maxiters)
        _check_int("nkeep", self.nkeep, minimum=None)
        _check_grow(self.grow)
        if self.center not in _CENTER_CODES:
            raise InvalidParameterError(f"center must be 'median' or 'mean', got {self.center!r}")

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        ip[K.IP_ALG] = K.ALG_AVSIGCLIP
        ip[K.IP_MAXITERS] = _check_maxiters(self.maxiters)
        ip[K.IP_CENTER] = _CENTER_CODES[self.center]
        ip[K.IP_NKEEP] = self.nkeep
        ip[K.IP_MINCLIP] = 3
        fp[K.FP_LOW] = _check_sigma("low", self.low)
        fp[K.FP_HIGH] = _check_sigma("high", self.high)


@dataclass(frozen=True)
class PClip(Rejection):
    """IRAF ``pclip``: sigma is the distance from the median to a percentile pixel.

    ``|pclip| >= 1``: that many pixels from the median; ``|pclip| < 1``: that
    fraction of the pixels on one side; negative below the median, positive
    above (the default -0.5 is about the lower quartile).  Values beyond
    ``low``/``high`` such sigmas from the median are rejected; one pass.

    >>> PClip().describe()
    'pclip(pclip=-0.5, low=3.0, high=3.0, nkeep=1)'
    """

    pclip: float = -0.5
    low: float | None = 3.0
    high: float | None = 3.0
    nkeep: int = 1
    grow: float = 0.0
    label = "pclip"

    def __post_init__(self) -> None:
        _check_sigma("low", self.low)
        _check_sigma("high", self.high)
        _check_int("nkeep", self.nkeep, minimum=None)
        _check_grow(self.grow)
        if float(self.pclip) == 0 or not math.isfinite(float(self.pclip)):
            raise InvalidParameterError(f"pclip must be finite and not 0, got {self.pclip!r}")

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        ip[K.IP_ALG] = K.ALG_PCLIP
        ip[K.IP_NKEEP] = self.nkeep
        ip[K.IP_MINCLIP] = 3
        fp[K.FP_LOW] = _check_sigma("low", self.low)
        fp[K.FP_HIGH] = _check_sigma("high", self.high)
        fp[K.FP_PCLIP] = float(self.pclip)


def pclip_offset(pclip: float, n_images: int) -> int:
    """IRAF's conversion of ``pclip`` to a whole number of pixels from the median.

    A fraction (``|pclip| < 1``) is taken of ``(n_images - 1) / 2``; the result
    is truncated and kept between 1 and that half-width (with its sign).

    >>> pclip_offset(-0.5, 9), pclip_offset(-0.5, 4), pclip_offset(2, 9), pclip_offset(7, 9)
    (-2, -1, 2, 4)
    """
    half = (n_images - 1) / 2.0
    value = pclip * half if abs(pclip) < 1 else pclip
    if value < 0:
        return int(min(-1, max(-half, int(value))))
    return int(max(1, min(half, int(value))))


@dataclass(frozen=True)
class WinsorizedSigmaClip(Rejection):
    """Siril's winsorized sigma clipping about the median.

    The sigma is found by winsorizing (clamping the values at
    ``median +- cut*sigma`` and taking ``1.134 * std`` of the clamped values,
    repeated until it changes by less than 0.05 %); values beyond
    ``low``/``high`` sigma are rejected; iterated while anything changes and
    more than 3 values are left.

    >>> WinsorizedSigmaClip().describe()
    'winsorized(low=3.0, high=3.0, maxiters=None, cut=1.5, nkeep=1)'
    """

    low: float | None = 3.0
    high: float | None = 3.0
    maxiters: int | None = None
    cut: float = 1.5
    nkeep: int = 1
    grow: float = 0.0
    label = "winsorized"

    def __post_init__(self) -> None:
        _check_sigma("low", self.low)
        _check_sigma("high", self.high)
        _check_maxiters(self.maxiters)
        _check_int("nkeep", self.nkeep, minimum=None)
        _check_grow(self.grow)
        if not float(self.cut) > 0:
            raise InvalidParameterError(f"cut must be > 0 sigma, got {self.cut!r}")

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        ip[K.IP_ALG] = K.ALG_WINSOR
        ip[K.IP_MAXITERS] = _check_maxiters(self.maxiters)
        ip[K.IP_NKEEP] = self.nkeep
        ip[K.IP_MINCLIP] = 3
        fp[K.FP_LOW] = _check_sigma("low", self.low)
        fp[K.FP_HIGH] = _check_sigma("high", self.high)
        fp[K.FP_WCUT] = float(self.cut)


@dataclass(frozen=True)
class PercentileClip(Rejection):
    """Siril's percentile clipping: reject ``x < m(1 - low)`` or ``x > m(1 + high)``.

    ``m`` is the median of the pixel's values; one pass; needs 3 values.

    >>> PercentileClip(low=0.1, high=0.05).describe()
    'percentile(low=0.1, high=0.05, nkeep=1)'
    """

    low: float = 0.2
    high: float = 0.1
    nkeep: int = 1
    grow: float = 0.0
    label = "percentile"

    def __post_init__(self) -> None:
        for name in ("low", "high"):
            value = float(getattr(self, name))
            if not value >= 0:
                raise InvalidParameterError(f"{name} must be a fraction >= 0, got {value!r}")
        _check_int("nkeep", self.nkeep, minimum=None)
        _check_grow(self.grow)

    def _fill(self, ip: np.ndarray, fp: np.ndarray) -> None:
        ip[K.IP_ALG] = K.ALG_PERCENTILE
        ip[K.IP_NKEEP] = self.nkeep
        ip[K.IP_MINCLIP] = 3
        fp[K.FP_PLOW] = float(self.low)
        fp[K.FP_PHIGH] = float(self.high)


@dataclass
class RejectionPlan:
    """The kernel parameters of a rejection chain (built by :func:`compile_rejection`)."""

    steps: tuple[Rejection, ...]
    ip: np.ndarray
    fp: np.ndarray
    grow: float = 0.0
    custom: SigmaClip | None = None
    noise: CCDClip | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        """The chain in words (``'none'`` without rejection)."""
        return "; ".join(step.describe() for step in self.steps) or "none"

    @property
    def rejects(self) -> bool:
        return bool(self.steps)


def compile_rejection(rejection: Rejection | Sequence[Rejection] | None) -> RejectionPlan:
    """Check a rejection chain and turn it into kernel parameters.

    >>> compile_rejection(None).describe()
    'none'
    >>> compile_rejection([SigmaClip(), PClip()])
    Traceback (most recent call last):
    ...
    ccdcal.errors.InvalidParameterError: only one statistical rejection can be used ...
    """
    if rejection is None:
        steps: list[Rejection] = []
    elif isinstance(rejection, Rejection):
        steps = [rejection]
    elif isinstance(rejection, Sequence) and not isinstance(rejection, str):
        steps = list(rejection)
    else:
        raise ParameterTypeError(
            f"rejection must be a rejection object (SigmaClip(...), ...) or a list of them, "
            f"got {rejection!r}"
        )
    for step in steps:
        if not isinstance(step, Rejection):
            raise ParameterTypeError(
                f"rejection entries must be rejection objects such as SigmaClip(...), got {step!r}"
            )
    for stage, what in ((0, "MinMaxClip"), (1, "ExtremaClip")):
        if sum(step.stage == stage for step in steps) > 1:
            raise InvalidParameterError(f"only one {what} can be used in a rejection, got {steps}")
    stats = [step for step in steps if step.stage == 2]
    if len(stats) > 1:
        names = ", ".join(type(s).__name__ for s in stats)
        raise InvalidParameterError(
            f"only one statistical rejection can be used at a time, got {names}; keep one"
        )
    ordered = tuple(sorted(steps, key=lambda step: step.stage))
    ip, fp = K.default_params()
    ip[K.IP_NKEEP_EXTREMA] = 0
    plan = RejectionPlan(steps=ordered, ip=ip, fp=fp)
    for step in ordered:
        if isinstance(step, SigmaClip) and step.is_custom:
            plan.custom = step
            continue
        step._fill(ip, fp)
        if isinstance(step, CCDClip):
            plan.noise = step
    plan.grow = float(getattr(stats[0], "grow", 0.0)) if stats else 0.0
    return plan
