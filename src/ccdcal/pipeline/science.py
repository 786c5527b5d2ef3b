"""Calibrating one science frame (the work of a :class:`~ccdcal.pipeline.tasks.ScienceTask`).

The chain, for a raw frame ``R`` with master bias ``B``, master dark ``K``
(exposure ``t_K``) and normalised master flat ``F``:

1. read ``R`` read-only, mask the pixels at or above the saturation level
   (in the values the camera wrote), then subtract the overscan and trim
   when the profile says so;
2. uncertainty from the noise model on the bias-subtracted signal
   ``S = R - B`` (``create_deviation``): ``σ² = (g·max(S, 0) + RN²) / g²`` in ADU,
   so the bias level itself adds no Poisson noise; with an overscan, plus the
   variance of the overscan level subtracted (measured on the frame, see
   :func:`~ccdcal.pipeline.frames.overscan_sigma`);
3. ``subtract_bias``: ``R - B``, the master's uncertainty added in quadrature;
4. ``subtract_dark`` scaled by EXPTIME: ``- (t/t_K)·K``;
5. ``flat_correct`` with the normalised flat (``norm_value=1``, so the flat
   is not renormalised per frame);
6. written as float32 data + UNCERT + MASK with a provenance record naming
   every master (file, SHA-256, origin) and the parameters.

Missing calibrations that were allowed (``allow_missing``) are left out and
recorded as such.

Steps 2 to 5 are not run one after the other: their arithmetic is fused
(:mod:`ccdcal.pipeline.fused`) into a few in-place passes over the frame,
on masters reduced once per process to the planes it needs, and recorded in
the header as the steps record themselves.  The result is theirs (data bit
for bit, σ to float32 rounding); ``tests/pipeline/test_science_fused.py``
holds the two side by side.
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar, cast

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData, StdDevUncertainty

from ccdcal.calibrate._frame import describe
from ccdcal.errors import ExposureTimeError, HeaderKeywordError, IncompatibleFramesError
from ccdcal.io.fits import read_ccd, write_ccd_with_identity
from ccdcal.io.provenance import read_provenance, record_step
from ccdcal.pipeline.frames import overscan_sigma, prepare_raw, read_raw, saturation_level
from ccdcal.pipeline.fused import MasterPlanes, calibrate_planes, master_planes
from ccdcal.pipeline.model import FrameRef
from ccdcal.pipeline.state import file_identity
from ccdcal.pipeline.tasks import MasterInput, ScienceTask, TaskResult, measure_for_report

__all__ = ["calibrate_frame", "noise_parameters"]

log = logging.getLogger(__name__)


def noise_parameters(
    frame: FrameRef, *, read_noise_adu: float | None, default_gain: float
) -> tuple[float, float, list[str]]:
    """Gain (e-/ADU) and read noise (e-) for the noise model, with notes on fallbacks.

    >>> noise_parameters(FrameRef(path="x", gain=2.0, read_noise=10.0),
    ...                  read_noise_adu=None, default_gain=1.0)
    (2.0, 10.0, [])
    >>> noise_parameters(FrameRef(path="x"), read_noise_adu=4.0, default_gain=1.0)[:2]
    (1.0, 4.0)
    """
    notes: list[str] = []
    gain = frame.gain
    if gain is None or not gain > 0:
        gain = default_gain
        notes.append(f"gain unknown: {gain:g} e-/ADU assumed")
    rn = frame.read_noise
    if rn is None or rn < 0:
        if read_noise_adu is not None:
            rn = read_noise_adu * gain
            notes.append(f"read noise from the bias frames: {rn:.3g} e-")
        else:
            rn = 0.0
            notes.append("read noise unknown: 0 assumed")
    return float(gain), float(rn), notes


#: Masters kept in memory by this process, newest last: {(path, checksum): frame}.
_MASTER_CACHE: dict[tuple[str, str | None], CCDData] = {}
_CACHE_SIZE = 6
_CACHE_LOCK = threading.Lock()


_T = TypeVar("_T")


def _from_cache(cache: dict[Any, _T], key: Any, make: Callable[[], _T], size: int) -> _T:
    """``cache[key]``, made by ``make()`` when missing; the ``size`` most recently used kept."""
    with _CACHE_LOCK:
        value = cache.pop(key, None)
    if value is None:
        value = make()
    with _CACHE_LOCK:
        cache[key] = value  # newest last
        while len(cache) > size:
            cache.pop(next(iter(cache)))
    return value


def _cached_master(path: str, checksum: str | None) -> CCDData:
    """A master read once per process (the steps never change their inputs)."""
    return _from_cache(_MASTER_CACHE, (path, checksum), lambda: read_ccd(path), _CACHE_SIZE)


def _load_masters(task: ScienceTask) -> dict[str, CCDData]:
    return {kind: _cached_master(use.path, use.checksum) for kind, use in task.uses.items()}


def _dark_made_with(dark: CCDData, bias_use: MasterInput) -> bool:
    """Whether the master dark was bias-subtracted with this very master bias."""
    for record in read_provenance(dark.meta):
        if record.get("step") != "make_master_dark":
            continue
        used = (record.get("params") or {}).get("uses", {}).get("bias") or {}
        same_sum = bias_use.checksum and used.get("checksum") == bias_use.checksum
        return bool(same_sum or used.get("path") == bias_use.path)
    return False


def correlated_bias_dark(bias: CCDData, dark: CCDData, scale: float) -> tuple[CCDData, CCDData]:
    """Bias and dark whose uncertainties add up right when the dark contains the bias's error.

    A master dark made from darks minus the master bias ``B`` carries ``-e_B``,
    the error of ``B``: its variance is ``σ_D² = σ_own² + σ_B²``.  Then
    ``R - B - k·D`` holds ``-(1 - k)·e_B - k·e_own``, of variance
    ``(1 - k)²·σ_B² + k²·σ_own²``, not the ``σ_B² + k²·σ_D²`` that adding
    the two steps' uncertainties in quadrature gives (``2k·σ_B²`` too much).
    Returned: the bias with uncertainty ``|1 - k|·σ_B`` and the dark with
    ``σ_own``, the same data, for ``subtract_bias`` and ``subtract_dark``.

    Examples
    --------
    >>> b = CCDData(np.zeros(1, np.float32), unit="adu",
    ...             uncertainty=StdDevUncertainty(np.full(1, 1.0, np.float32)))
    >>> d = CCDData(np.zeros(1, np.float32), unit="adu",
    ...             uncertainty=StdDevUncertainty(np.full(1, np.sqrt(5.0), np.float32)))
    >>> b2, d2 = correlated_bias_dark(b, d, scale=3.0)
    >>> float(b2.uncertainty.array[0]), float(d2.uncertainty.array[0])
    (2.0, 2.0)
    """
    if bias.uncertainty is None or dark.uncertainty is None:
        return bias, dark
    sb = np.asarray(bias.uncertainty.array, dtype=np.float32)
    own = np.square(np.asarray(dark.uncertainty.array, dtype=np.float32)) - np.square(sb)
    np.sqrt(np.maximum(own, np.float32(0), out=own), out=own)
    bias_unc = StdDevUncertainty(sb * np.float32(abs(1.0 - scale)))
    new_bias = CCDData(
        bias.data, unit=bias.unit, meta=bias.meta, mask=bias.mask, uncertainty=bias_unc
    )
    new_dark = CCDData(
        dark.data,
        unit=dark.unit,
        meta=dark.meta,
        mask=dark.mask,
        uncertainty=StdDevUncertainty(own),
    )
    return new_bias, new_dark


def _saturated(data: np.ndarray, level: float) -> np.ndarray:
    """``data >= level``; integers are compared as integers (several times faster).

    >>> _saturated(np.array([65534, 65535], dtype=np.uint16), 65534.5).tolist()
    [False, True]
    """
    if data.dtype.kind not in "ui" or not math.isfinite(level):
        return data >= level
    info = np.iinfo(data.dtype)
    threshold = math.ceil(level)  # x >= level if and only if x >= ceil(level), for integers
    if threshold > info.max or threshold <= info.min:
        return np.full(data.shape, threshold <= info.min)
    return data >= data.dtype.type(threshold)


def _read_frame(task: ScienceTask) -> tuple[CCDData, float | None, int, float]:
    """The raw frame, saturated pixels masked, then overscan-subtracted and trimmed.

    Saturation is tested on the values the camera wrote, before the overscan
    level is subtracted; the mask is trimmed with the data.  Returns the
    frame, the saturation level, the number of saturated pixels kept and the
    σ of the overscan level (0 without an overscan).
    """
    frame = task.spec.frame
    raw = read_raw(frame)
    sat = saturation_level(frame, raw)
    if task.options.mask_saturated and sat is not None:
        saturated = _saturated(np.asarray(raw.data), sat)
        raw.mask = saturated if raw.mask is None else np.asarray(raw.mask, bool) | saturated
    overscan_sig = overscan_sigma(frame, raw)
    ccd = prepare_raw(frame, raw)
    n_sat = 0 if ccd.mask is None else int(np.count_nonzero(ccd.mask))
    return ccd, sat, n_sat, overscan_sig


@dataclass(frozen=True)
class _Masters:
    """The masters of a task, reduced once for every frame that uses them."""

    planes: MasterPlanes
    bias_in_dark: bool
    dark_exposure: float | None

    def dark_scale(self, exptime: float | None) -> float:
        """``k``: the frame's exposure over the dark's (0 without a dark)."""
        return 0.0 if self.dark_exposure is None else float(exptime or 0.0) / self.dark_exposure


#: Reduced masters kept by this process, newest last: {uses: _Masters}.
_PLANES_CACHE: dict[tuple[Any, ...], _Masters] = {}
_PLANES_CACHE_SIZE = 3


def _dark_exposure(dark: CCDData) -> float:
    """EXPTIME of a master dark, checked: a dark is scaled by it."""
    value = dark.meta.get("EXPTIME")
    if value is None:
        raise HeaderKeywordError(
            f"{describe(dark, 'master dark')} has no EXPTIME: it cannot be scaled to the "
            "frame's exposure; rebuild the master dark, or add EXPTIME to its header"
        )
    try:
        exposure = float(value)
    except (TypeError, ValueError):
        exposure = float("nan")
    if not exposure > 0 or not math.isfinite(exposure):
        raise ExposureTimeError(
            f"{describe(dark, 'master dark')} has EXPTIME = {value!r}: a dark is scaled by "
            "its exposure time, which must be a positive number; fix the master's header"
        )
    return exposure


def _reduce_masters(task: ScienceTask) -> _Masters:
    """Master planes for the task's masters (not cached)."""
    masters = _load_masters(task)
    bias, dark = masters.get("bias"), masters.get("dark")
    bias_in_dark = (
        bias is not None and dark is not None and _dark_made_with(dark, task.uses["bias"])
    )
    planes = master_planes(bias, dark, masters.get("flat"), bias_in_dark=bias_in_dark)
    return _Masters(planes, bias_in_dark, None if dark is None else _dark_exposure(dark))


def _masters_for(task: ScienceTask) -> _Masters:
    """The task's reduced masters, from this process's cache when they were reduced before."""
    key = tuple(sorted((kind, use.path, use.checksum) for kind, use in task.uses.items()))
    return _from_cache(_PLANES_CACHE, key, lambda: _reduce_masters(task), _PLANES_CACHE_SIZE)


def _calibrated(task: ScienceTask) -> tuple[CCDData, dict[str, Any]]:
    """The calibrated frame, in the working dtype, and the parameters used."""
    frame = task.spec.frame
    masters = _masters_for(task)
    raw, sat, n_sat, overscan_sig = _read_frame(task)
    gain, rn, notes = noise_parameters(
        frame, read_noise_adu=task.read_noise_adu, default_gain=task.options.default_gain
    )
    shape = masters.planes.shape
    if shape and raw.shape != shape:
        names = ", ".join(Path(use.path).name for use in task.uses.values())
        raise IncompatibleFramesError(
            f"{frame.path!r} has shape {raw.shape} (after overscan and trim) but its "
            f"masters ({names}) have shape {shape}; use masters of the same section and "
            "binning as the frame"
        )
    data, sigma, mask = calibrate_planes(
        np.asarray(raw.data),
        masters.planes,
        dark_scale=masters.dark_scale(frame.exptime),
        gain=gain,
        read_noise=rn,
        extra_variance=overscan_sig**2,
        mask=None if raw.mask is None else np.asarray(raw.mask, dtype=bool),
    )
    ccd = CCDData(
        data,
        unit=u.adu,
        meta=raw.meta,
        mask=mask,
        uncertainty=StdDevUncertainty(sigma, copy=False),
        wcs=raw.wcs,  # the raw frame's sky coordinates (shifted by the trim, if any)
    )
    params: dict[str, Any] = {
        "gain": gain,
        "read_noise": rn,
        "saturation": sat,
        "saturated_pixels": n_sat,
        "overscan_sigma": overscan_sig,
        "noise_notes": notes,
    }
    _record_steps(ccd, task, params, masters)
    return ccd, params


def _record_steps(
    ccd: CCDData, task: ScienceTask, params: dict[str, Any], masters: _Masters
) -> None:
    """Record the steps as the step-by-step chain did: each in ccdproc's form and ccdcal's.

    The steps name each master by its file (the ``calibrate_science``
    record has the files' SHA-256): no re-hashing of the master arrays for
    every frame.  ``params`` gains ``bias_in_dark`` and ``dark_scale``.
    """
    uses = task.uses
    _log_step(ccd, "create_deviation", {"ccd_data": ccd}, params, None)
    params["bias_in_dark"] = masters.bias_in_dark
    if "bias" in uses:
        _log_step(ccd, "subtract_bias", {"ccd": ccd, "master": ccd}, {}, uses["bias"])
    if masters.dark_exposure is not None:
        dark_t, data_t = masters.dark_exposure, float(task.spec.frame.exptime or 0.0)
        params["dark_scale"] = masters.dark_scale(data_t)
        _log_step(
            ccd,
            "subtract_dark",
            {"ccd": ccd, "master": ccd, "scale": True},
            {"dark_exposure": dark_t, "data_exposure": data_t, "factor": params["dark_scale"]},
            uses["dark"],
        )
    if "flat" in uses:
        _log_step(
            ccd,
            "flat_correct",
            {"ccd": ccd, "flat": ccd, "norm_value": 1.0},
            {"norm_value": 1.0},
            uses["flat"],
        )


def calibrate_frame(task: ScienceTask) -> TaskResult:
    """Calibrate and write one science frame (raises on failure).

    The arithmetic of ``create_deviation``, ``subtract_bias``,
    ``subtract_dark`` and ``flat_correct`` is fused into a few passes
    (:mod:`ccdcal.pipeline.fused`) on masters reduced once per process, and
    recorded in the header as those steps record themselves.
    """
    spec = task.spec
    frame = spec.frame
    ccd, params = _calibrated(task)
    if task.options.cosmic_rays:
        params["cosmic_ray_pixels"] = _mask_cosmic_rays(ccd)
    ccd = _to_dtype(ccd, np.dtype(task.options.output_dtype))
    used = {kind: use.to_dict() for kind, use in task.uses.items()}
    record_step(
        ccd,
        "calibrate_science",
        call_args={},
        params={
            **params,
            "exptime": frame.exptime,
            "masters": used,
            "missing": list(spec.missing),
            "notes": list(spec.notes),
            "raw": Path(frame.path).name,
        },
        calibrations={kind: use.path for kind, use in task.uses.items()},
        add_keyword={},  # the structured record only: no ccdproc-style card
    )
    for kind, use in task.uses.items():
        ccd.meta[f"CCDC{kind[:4].upper()}"] = (Path(use.path).name, f"master {kind} used")
    if spec.missing:
        ccd.meta["CCDCMISS"] = (",".join(spec.missing), "calibrations missing (allowed)")
    out = Path(task.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    product = write_ccd_with_identity(ccd, out, overwrite=task.overwrite)
    quality = _science_quality(ccd, params)
    entry = {"key": spec.output, "exptime": frame.exptime, "quality": quality}
    qa, thumbnail = measure_for_report(
        task.options, ccd, {**entry, "missing": list(spec.missing)}, out, science=True
    )
    return TaskResult(
        key=spec.output,
        kind="science",
        status="built",
        output=str(out),
        checksum=product.sha256,
        quality=quality,
        inputs=(file_identity(frame.path),),
        product=product,
        masters=used,
        message="; ".join(params["noise_notes"]),
        qa=qa,
        thumbnail=thumbnail,
    )


_CR_OBJLIM = 10.0


def _mask_cosmic_rays(ccd: CCDData) -> int:
    """OR L.A.Cosmic's cosmic-ray mask into ``ccd.mask`` (data untouched); the pixels added."""
    from ccdcal.calibrate import cosmicray_lacosmic

    # objlim 10 rather than 5: binned frames sample stars coarsely, and star
    # cores must not pass for cosmic rays
    found = cosmicray_lacosmic(
        ccd,
        invar="uncertainty",
        objlim=_CR_OBJLIM,
        gain_apply=False,
        satlevel=np.inf,
        add_keyword=False,
    )
    found = cast(CCDData, found)  # a CCDData in gives a CCDData out
    before = np.asarray(ccd.mask, dtype=np.bool_)
    mask = before | np.asarray(found.mask, dtype=np.bool_)
    ccd.mask = mask
    added = int(np.count_nonzero(mask & ~before))
    record_step(
        ccd,
        "cosmicray_lacosmic",
        call_args={},
        params={
            "invar": "uncertainty",
            "objlim": _CR_OBJLIM,
            "masked_pixels": added,
            "data_cleaned": False,
        },
        add_keyword={},
    )
    return added


def _log_step(
    ccd: CCDData,
    step: str,
    call_args: dict[str, Any],
    params: dict[str, Any],
    use: Any,
) -> None:
    """Record a step in ccdproc's form and ccdcal's (the master named by its file)."""
    calibrations = {"master": use.path} if use is not None else None
    record_step(ccd, step, call_args=call_args, params=params, calibrations=calibrations)


def _to_dtype(ccd: CCDData, dtype: np.dtype) -> CCDData:
    if ccd.data.dtype == dtype and (
        ccd.uncertainty is None or ccd.uncertainty.array.dtype == dtype
    ):
        return ccd
    data = np.asarray(ccd.data, dtype=dtype)
    unc = None
    if ccd.uncertainty is not None:
        unc = StdDevUncertainty(np.asarray(ccd.uncertainty.array, dtype=dtype))
    return CCDData(data, unit=ccd.unit, meta=ccd.meta, mask=ccd.mask, uncertainty=unc, wcs=ccd.wcs)


def _science_quality(ccd: CCDData, params: dict[str, Any]) -> dict[str, Any]:
    data = np.asarray(ccd.data)
    mask = np.zeros(data.shape, bool) if ccd.mask is None else np.asarray(ccd.mask)
    sample = data[::4, ::4][~mask[::4, ::4]]
    sample = sample[np.isfinite(sample)]
    med = float(np.median(sample)) if sample.size else None
    return {
        "median": med,
        "masked_fraction": np.count_nonzero(mask) / max(mask.size, 1),
        "saturated_pixels": params["saturated_pixels"],
        "gain": params["gain"],
        "read_noise": params["read_noise"],
    }
