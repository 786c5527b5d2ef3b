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
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any, cast

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData, StdDevUncertainty

from ccdcal.io.fits import read_ccd, write_ccd
from ccdcal.io.provenance import read_provenance, record_step
from ccdcal.pipeline.frames import overscan_sigma, prepare_raw, read_raw, saturation_level
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


def _sigma(signal: np.ndarray, gain: float, read_noise: float) -> np.ndarray:
    """Per-pixel standard deviation (ADU) of a bias-subtracted signal (ADU)."""
    electrons = np.maximum(signal, 0, dtype=np.float32) * np.float32(gain)
    var = (electrons + np.float32(read_noise) ** 2) / np.float32(gain) ** 2
    return np.sqrt(var, dtype=np.float32)


#: Masters kept in memory by this process, newest last: {(path, checksum): frame}.
_MASTER_CACHE: dict[tuple[str, str | None], CCDData] = {}
_CACHE_SIZE = 6
_CACHE_LOCK = threading.Lock()


def _cached_master(path: str, checksum: str | None) -> CCDData:
    """A master read once per process (the steps never change their inputs)."""
    key = (path, checksum)
    with _CACHE_LOCK:
        ccd = _MASTER_CACHE.pop(key, None)
    if ccd is None:
        ccd = read_ccd(path)
    with _CACHE_LOCK:
        _MASTER_CACHE[key] = ccd
        while len(_MASTER_CACHE) > _CACHE_SIZE:
            _MASTER_CACHE.pop(next(iter(_MASTER_CACHE)))
    return ccd


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
        saturated = np.asarray(raw.data) >= sat
        raw.mask = saturated if raw.mask is None else np.asarray(raw.mask, bool) | saturated
    overscan_sig = overscan_sigma(frame, raw)
    ccd = prepare_raw(frame, raw)
    n_sat = 0 if ccd.mask is None else int(np.count_nonzero(ccd.mask))
    return ccd, sat, n_sat, overscan_sig


def _uncertain_raw(
    task: ScienceTask,
    raw: CCDData,
    bias: CCDData | None,
    sat: float | None,
    n_sat: int,
    overscan_sig: float,
) -> tuple[CCDData, dict[str, Any]]:
    """The prepared frame as float32 with its mask and noise-model uncertainty."""
    from ccdcal.calibrate import create_deviation

    frame = task.spec.frame
    opts = task.options
    data = np.asarray(raw.data, dtype=np.float32)
    mask = np.zeros(data.shape, dtype=bool) if raw.mask is None else np.asarray(raw.mask, bool)
    gain, rn, notes = noise_parameters(
        frame, read_noise_adu=task.read_noise_adu, default_gain=opts.default_gain
    )
    signal = data - np.asarray(bias.data, dtype=np.float32) if bias is not None else data
    dev = create_deviation(
        CCDData(signal, unit=u.adu),
        gain=gain * u.electron / u.adu,
        readnoise=rn * u.electron,
        disregard_nan=True,
        add_keyword=False,
    )
    sigma = np.asarray(dev.uncertainty.array, dtype=np.float32)
    if overscan_sig > 0:
        sigma = np.sqrt(np.square(sigma) + np.float32(overscan_sig) ** 2, dtype=np.float32)
    ccd = CCDData(data, unit=u.adu, meta=raw.meta, mask=mask, uncertainty=StdDevUncertainty(sigma))
    params = {
        "gain": gain,
        "read_noise": rn,
        "saturation": sat,
        "saturated_pixels": n_sat,
        "overscan_sigma": overscan_sig,
        "noise_notes": notes,
    }
    return ccd, params


def calibrate_frame(task: ScienceTask) -> TaskResult:
    """Calibrate and write one science frame (raises on failure)."""
    from ccdcal.calibrate import flat_correct, subtract_bias, subtract_dark

    spec = task.spec
    frame = spec.frame
    masters = _load_masters(task)
    raw, sat, n_sat, overscan_sig = _read_frame(task)
    ccd, params = _uncertain_raw(task, raw, masters.get("bias"), sat, n_sat, overscan_sig)
    _log_step(ccd, "create_deviation", {"ccd_data": ccd}, params, None)
    # the steps record themselves here, naming each master by its file (the
    # calibrate_science record below has the files' SHA-256): no re-hashing of
    # the master arrays for every frame
    dark_scale = None
    if "dark" in masters:
        dark_scale = float(frame.exptime or 0.0) / float(masters["dark"].meta["EXPTIME"])
    params["bias_in_dark"] = (
        "bias" in masters
        and "dark" in masters
        and _dark_made_with(masters["dark"], task.uses["bias"])
    )
    if params["bias_in_dark"] and dark_scale is not None:
        masters["bias"], masters["dark"] = correlated_bias_dark(
            masters["bias"], masters["dark"], dark_scale
        )
    if "bias" in masters:
        ccd = subtract_bias(ccd, masters["bias"], add_keyword=False)
        _log_step(
            ccd, "subtract_bias", {"ccd": ccd, "master": masters["bias"]}, {}, task.uses["bias"]
        )
    if "dark" in masters:
        dark_t = float(masters["dark"].meta["EXPTIME"])
        data_t = float(frame.exptime or 0.0)
        ccd = subtract_dark(
            ccd,
            masters["dark"],
            data_exposure=data_t * u.s,
            dark_exposure=dark_t * u.s,
            scale=True,
            add_keyword=False,
        )
        params["dark_scale"] = data_t / dark_t
        _log_step(
            ccd,
            "subtract_dark",
            {"ccd": ccd, "master": masters["dark"], "scale": True},
            {"dark_exposure": dark_t, "data_exposure": data_t, "factor": data_t / dark_t},
            task.uses["dark"],
        )
    if "flat" in masters:
        ccd = flat_correct(ccd, masters["flat"], norm_value=1.0, add_keyword=False)
        _log_step(
            ccd,
            "flat_correct",
            {"ccd": ccd, "flat": masters["flat"], "norm_value": 1.0},
            {"norm_value": 1.0},
            task.uses["flat"],
        )
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
    write_ccd(ccd, out, overwrite=task.overwrite)
    product = file_identity(out)
    quality = _science_quality(ccd, params)
    entry = {"key": spec.output, "exptime": frame.exptime, "quality": quality}
    qa = measure_for_report(
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
        "masked_fraction": float(np.mean(mask)),
        "saturated_pixels": params["saturated_pixels"],
        "gain": params["gain"],
        "read_noise": params["read_noise"],
    }
