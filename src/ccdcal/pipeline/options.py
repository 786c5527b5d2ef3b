"""The settings of a reduction: :class:`ReduceOptions`.

One frozen object holds every choice the planner and the tasks make, so that
a plan records exactly how it will run and a changed setting invalidates the
outputs it affects (its hash goes into each output's fingerprint).

Examples
--------
>>> opts = ReduceOptions(allow_missing=("dark",))
>>> opts.allow_missing
('dark',)
>>> ReduceOptions.from_dict(opts.to_dict()) == opts
True
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = [
    "CALIBRATION_KINDS",
    "NOISE_MODEL_CLIP",
    "ClipSettings",
    "MasterKind",
    "ReduceOptions",
    "invalid_parameter",
]


def invalid_parameter(message: str) -> Exception:
    """An :class:`~ccdcal.errors.InvalidParameterError` with ``message``, to raise.

    The class is imported only when one is raised: :mod:`ccdcal.errors` loads
    astropy.units, which the command line should not wait for before it starts
    the workers (this module and :mod:`ccdcal.pipeline.executors` are on that path).

    >>> str(invalid_parameter("jobs must be at least 1"))
    'jobs must be at least 1'
    """
    from ccdcal.errors import InvalidParameterError

    return InvalidParameterError(message)


#: The kinds of master calibration frame, in build order.
MasterKind = Literal["bias", "dark", "flat"]
CALIBRATION_KINDS: tuple[MasterKind, ...] = ("bias", "dark", "flat")


_STDFUNCS = ("mad_std", "std", "mad", "noise_model")


@dataclass(frozen=True)
class ClipSettings:
    """How a master is combined: method and sigma clipping.

    ``ClipSettings()`` is ccdproc's clipping (one pass of 3σ about the
    median with a ``mad_std`` spread), the default for flats;
    :data:`NOISE_MODEL_CLIP` (3.5σ against the CCD noise model) is the
    default for biases and darks.

    Attributes
    ----------
    method : {'average', 'median'}
        The combination of the surviving values.
    sigma_low, sigma_high : float
        Clipping thresholds in units of the spread (``None`` switches clipping off
        when both are ``None``).
    maxiters : int or None
        Clipping passes (``None``: until nothing changes). Default 1, as
        ccdproc's ``combine``: about the median with a MAD spread, one pass
        already catches cosmic rays and hot pixels; more passes cost 2-3
        times the time for little change.
    cenfunc : {'median', 'mean'}
        Centre of the clipping.
    stdfunc : {'mad_std', 'std', 'mad', 'noise_model'}
        The spread: a statistic of the pixel's values (``'mad_std'``,
        ``'std'``, ``'mad'``), or ``'noise_model'``: the σ the CCD noise model
        gives one frame at the pixel's level (IRAF's ``ccdclip``: read noise
        measured on the bias frames, gain, photon noise of the signal above
        the bias; see :class:`~ccdcal.pipeline.noise.ClipNoise`).  Biases and
        darks only: flats of a night differ by more than their noise
        (twilight gradients).

    >>> ClipSettings().stdfunc, NOISE_MODEL_CLIP.stdfunc
    ('mad_std', 'noise_model')
    >>> ClipSettings(stdfunc="iqr")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ccdcal.errors.InvalidParameterError: ClipSettings: stdfunc must be one of [...], got 'iqr'
    """

    method: Literal["average", "median"] = "average"
    sigma_low: float | None = 3.0
    sigma_high: float | None = 3.0
    maxiters: int | None = 1
    cenfunc: Literal["median", "mean"] = "median"
    stdfunc: Literal["mad_std", "std", "mad", "noise_model"] = "mad_std"

    def __post_init__(self) -> None:
        for name, allowed in (
            ("method", ("average", "median")),
            ("cenfunc", ("median", "mean")),
            ("stdfunc", _STDFUNCS),
        ):
            if getattr(self, name) not in allowed:
                raise invalid_parameter(
                    f"ClipSettings: {name} must be one of {list(allowed)}, "
                    f"got {getattr(self, name)!r}"
                )
        if self.maxiters is not None and not (
            isinstance(self.maxiters, int) and self.maxiters >= 1
        ):
            raise invalid_parameter(
                f"ClipSettings: maxiters must be >= 1 or None, got {self.maxiters!r}"
            )

    @property
    def clipping(self) -> bool:
        """Whether sigma clipping is on."""
        return self.sigma_low is not None or self.sigma_high is not None

    @property
    def noise_model(self) -> bool:
        """Whether values are clipped against the CCD noise model (IRAF ``ccdclip``)."""
        return self.clipping and self.stdfunc == "noise_model"


#: The default combination of master biases and darks: the average of the
#: values within 3.5σ of the median, σ from the CCD noise model, iterated.
#: With a known σ, Gaussian values are almost never rejected (the master's
#: error is within 1 % of RN/sqrt(n) for n = 3-10, where a ``mad_std`` from
#: a few values makes it 7-15 % larger) while cosmic rays are rejected more
#: surely than by ``ClipSettings()``.
NOISE_MODEL_CLIP = ClipSettings(sigma_low=3.5, sigma_high=3.5, maxiters=None, stdfunc="noise_model")


def _clip_from(value: Any) -> ClipSettings:
    if isinstance(value, ClipSettings):
        return value
    if isinstance(value, Mapping):
        return ClipSettings(**dict(value))
    raise invalid_parameter(f"expected ClipSettings or a mapping, got {value!r}")


@dataclass(frozen=True)
class ReduceOptions:
    """Every setting of a reduction (planning and running).

    Attributes
    ----------
    exposure_tolerance : float
        Darks whose exposure times differ by more than this fraction make
        separate masters (default 0.10, i.e. 10 %).
    temperature_tolerance : float
        Darks whose CCD temperatures (set-point where the header has one)
        differ by more than this many degrees C make separate masters, and a
        science frame only takes a dark within this distance.
    allow_missing : tuple of {'bias', 'dark', 'flat'}
        Kinds of calibration a science frame may be calibrated *without* when
        no master of that kind exists at its binning (recorded in the
        provenance); by default such frames are skipped.
    derive_flats : bool
        Derive a flat for a coarser binning from a finer-binned flat.
    bias_combine, dark_combine, flat_combine : ClipSettings
        How each kind of master is combined: biases and darks by default with
        :data:`NOISE_MODEL_CLIP` (3.5σ about the median, σ from the CCD noise
        model), flats with ``ClipSettings()`` (3σ, ``mad_std``, as ccdproc);
        ``bias_combine=ClipSettings()`` brings back the earlier clipping.
    flat_max_saturation_fraction : float
        A flat whose median (raw, bias included) is above this fraction of
        the saturation level is rejected.
    flat_max_saturated_pixels : float
        A flat with more than this fraction of saturated pixels is rejected.
    flat_min_level : float
        A flat whose median after bias and dark subtraction is below this
        level (ADU) is rejected as too faint.
    flat_floor : float
        Pixels of a normalised master flat below this value are masked.
    flat_normalisation : {'mean', 'median'}
        A master flat is divided by the mean (as ccdproc's ``flat_correct``
        does) or the median of its good pixels.
    mask_saturated : bool
        Mask pixels at or above the saturation level in science frames.
    cosmic_rays : bool
        Mask cosmic rays in the calibrated science frames with L.A.Cosmic
        (astroscrappy, using the frame's own uncertainty as the noise model);
        the data are left as they are, only the mask grows. Off by default.
    default_gain : float
        Gain (e-/ADU) used when a frame's header and profile give none.
    mem_limit : float
        Memory (bytes) one combination may use.
    output_dtype : {'float32', 'float64'}
        dtype of the calibrated science frames and masters.
    qa_report : bool
        Write the QA report (``OUT_DIR/qa/``) at the end of the run. Each task
        measures its output for it (statistics, flags, a thumbnail) while the
        frame is in memory, so that the report need not read it again. Like
        ``mem_limit`` it changes no calibrated output, so it is left out of
        the options recorded for resuming.
    """

    exposure_tolerance: float = 0.10
    temperature_tolerance: float = 2.0
    allow_missing: tuple[MasterKind, ...] = ()
    derive_flats: bool = True
    bias_combine: ClipSettings = field(default_factory=lambda: NOISE_MODEL_CLIP)
    dark_combine: ClipSettings = field(default_factory=lambda: NOISE_MODEL_CLIP)
    flat_combine: ClipSettings = field(default_factory=ClipSettings)
    flat_max_saturation_fraction: float = 0.8
    flat_max_saturated_pixels: float = 0.01
    flat_min_level: float = 1000.0
    flat_floor: float = 0.1
    flat_normalisation: Literal["mean", "median"] = "mean"
    mask_saturated: bool = True
    cosmic_rays: bool = False
    default_gain: float = 1.0
    mem_limit: float = 1.0e9
    output_dtype: Literal["float32", "float64"] = "float32"
    qa_report: bool = True

    def __post_init__(self) -> None:
        allowed = tuple(sorted({_check_kind(k) for k in self.allow_missing}))
        object.__setattr__(self, "allow_missing", allowed)
        for name in ("bias_combine", "dark_combine", "flat_combine"):
            object.__setattr__(self, name, _clip_from(getattr(self, name)))
        if self.flat_combine.noise_model:
            raise invalid_parameter(
                "flat_combine: stdfunc='noise_model' is for biases and darks (flats of a night "
                "differ by more than their noise); use 'mad_std'"
            )
        if not 0 < self.exposure_tolerance < 10:
            raise invalid_parameter(
                "exposure_tolerance must be a fraction > 0 (e.g. 0.1), "
                f"got {self.exposure_tolerance}"
            )
        if self.temperature_tolerance <= 0:
            raise invalid_parameter(
                f"temperature_tolerance must be > 0 degrees, got {self.temperature_tolerance}"
            )
        if self.mem_limit < 1e6:
            raise invalid_parameter(f"mem_limit must be at least 1e6 bytes, got {self.mem_limit}")
        if self.flat_normalisation not in ("mean", "median"):
            raise invalid_parameter(
                f"flat_normalisation must be 'mean' or 'median', got {self.flat_normalisation!r}"
            )
        if self.output_dtype not in ("float32", "float64"):
            raise invalid_parameter(
                f"output_dtype must be 'float32' or 'float64', got {self.output_dtype!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every setting."""
        out = dataclasses.asdict(self)
        out["allow_missing"] = list(self.allow_missing)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReduceOptions:
        """Rebuild options from :meth:`to_dict` output (unknown keys are an error)."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise invalid_parameter(f"unknown reduce option(s) {unknown}")
        kwargs = dict(data)
        if "allow_missing" in kwargs:
            kwargs["allow_missing"] = tuple(kwargs["allow_missing"])
        return cls(**kwargs)

    def digest(self, *names: str) -> str:
        """A short hash of the named settings (all settings when none are named).

        >>> a, b = ReduceOptions(), ReduceOptions(flat_min_level=5)
        >>> a.digest("flat_floor") == b.digest("flat_floor"), a.digest() == b.digest()
        (True, False)
        """
        data = self.to_dict()
        if names:
            data = {n: data[n] for n in names}
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _check_kind(kind: str) -> MasterKind:
    if kind not in CALIBRATION_KINDS:
        raise invalid_parameter(f"allow_missing accepts {list(CALIBRATION_KINDS)}, got {kind!r}")
    return kind


def parse_allow_missing(values: Iterable[str]) -> tuple[MasterKind, ...]:
    """Split comma-separated CLI values into kinds (``['dark,flat'] -> ('dark', 'flat')``).

    >>> parse_allow_missing(["dark,flat", "bias"])
    ('bias', 'dark', 'flat')
    """
    kinds = {_check_kind(part.strip()) for v in values for part in v.split(",") if part.strip()}
    return tuple(sorted(kinds))
