"""Building master calibration frames (the work of a :class:`~ccdcal.pipeline.tasks.MasterTask`).

* **bias**: the raw frames combined (clipped average by default), streamed
  from the files.
* **dark**: the raw darks combined, then the master bias subtracted.  The
  clipping is about the median of each pixel, which moves with the same frame
  subtracted from every input (the noise model's photon term is taken above
  the master bias's median level), so this equals combining bias-subtracted
  darks -- without holding them in memory.  With an overscan the frames are
  prepared one by one instead.  Its EXPTIME is the darks' mean.
* **flat**: each flat checked against saturation (raw level), bias- and
  dark-subtracted (the dark scaled by EXPTIME), checked for a minimum level,
  scaled to a common level (1 / its median), combined, then normalised to a
  mean of 1 (as ccdproc's ``flat_correct`` normalises; or a median of 1 with
  ``flat_normalisation='median'``); pixels below ``flat_floor`` are masked.  Flats rejected on the
  way are reported with the reason.
* **derived flat**: a finer-binned master flat block-averaged to the coarser
  binning (mask and uncertainty carried) and normalised again.

Biases and darks are clipped by default against the CCD noise model (IRAF's
``ccdclip``, :data:`~ccdcal.pipeline.options.NOISE_MODEL_CLIP`): the read
noise measured on the bias frames, the gain, and the photon noise of the
signal above the bias -- a σ known far better than a ``mad_std`` of a few
values, so that good values are kept and the master's error is the
``RN/sqrt(n)`` its uncertainty says.

With an overscan, the variance of the overscan level subtracted from each
frame (measured on the frames, :func:`~ccdcal.pipeline.frames.overscan_sigma`)
adds to the read-noise variance in the masters' noise model.

Every master is written atomically as float32 data + UNCERT + MASK, with the
kind, binning, filter, exposure, inputs and a provenance record in its header.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData, StdDevUncertainty
from astropy.stats import mad_std

from ccdcal.errors import InvalidParameterError
from ccdcal.io.fits import read_ccd, write_ccd, write_ccd_with_identity
from ccdcal.io.provenance import record_step
from ccdcal.pipeline.frames import (
    load_raw,
    overscan_sigma,
    prepare_raw,
    raw_level,
    read_raw,
    saturation_level,
)
from ccdcal.pipeline.model import FrameRef, MasterSpec
from ccdcal.pipeline.noise import ClipNoise, bias_sigma, dark_sigma, flat_sigma, kept_counts
from ccdcal.pipeline.options import ClipSettings
from ccdcal.pipeline.state import FileIdentity, file_identity
from ccdcal.pipeline.tasks import MasterTask, TaskResult, measure_for_report

__all__ = ["build_master", "combine_frames", "master_header"]

log = logging.getLogger(__name__)

_KIND_NAMES = {"bias": "Master Bias", "dark": "Master Dark", "flat": "Master Flat"}
#: Keywords cameras use for the frame type (pt5m writes TYPE, MaxIm DL IMAGETYP...).
_TYPE_KEYS = ("IMAGETYP", "TYPE", "OBSTYPE", "IMGTYPE", "FRAMETYP", "FRAME")


def master_header(spec: MasterSpec, *, n_inputs: int) -> dict[str, Any]:
    """Header cards describing a master (kind, binning, filter, exposure, span)."""
    cards: dict[str, Any] = {
        "IMAGETYP": _KIND_NAMES[spec.kind],
        "CCDCKIND": spec.kind,
        "CCDCKEY": spec.key,
        "XBINNING": spec.xbin,
        "YBINNING": spec.ybin,
        "NCOMBINE": n_inputs,
        "EXPTIME": float(spec.exptime or 0.0) if spec.kind != "flat" else None,
    }
    if spec.kind == "flat" and spec.filter is not None:
        cards["FILTER"] = spec.filter
    if spec.readout_mode:
        cards["READOUTM"] = spec.readout_mode
    if spec.instrument:
        cards["INSTRUME"] = spec.instrument
    if spec.temperature is not None:
        cards["CCD-TEMP"] = float(spec.temperature)
    if spec.date_start:
        cards["DATE-BEG"] = spec.date_start
        cards["DATE-OBS"] = spec.date_start
    if spec.date_end:
        cards["DATE-END"] = spec.date_end
    return {k: v for k, v in cards.items() if v is not None}


def combine_frames(
    inputs: Sequence[CCDData] | Sequence[str],
    clip: ClipSettings,
    *,
    mem_limit: float,
    scale: Sequence[float] | None = None,
    threads: int | None = None,
    rejection_map: bool = False,
    noise: ClipNoise | None = None,
) -> CCDData:
    """Combine frames (or files) as ``clip`` says, in float32.

    With ``rejection_map`` the result's ``flags`` count the values rejected at each pixel.
    ``noise`` is the CCD noise model that ``ClipSettings(stdfunc='noise_model')``
    clips against (IRAF's ``ccdclip``).

    >>> frames = [CCDData(np.full((2, 2), v, np.float32), unit="adu") for v in (9, 10, 11, 90)]
    >>> clip = ClipSettings(sigma_low=3.5, sigma_high=3.5, stdfunc="noise_model")
    >>> noise = ClipNoise(gain=1.0, read_noise=1.0, pedestal=float("inf"))
    >>> combine_frames(frames, clip, mem_limit=1e8, noise=noise).data.tolist()
    [[10.0, 10.0], [10.0, 10.0]]
    """
    from ccdcal.stacking import CCDClip, SigmaClip, combine

    kwargs: dict[str, Any] = {
        "method": clip.method,
        "mem_limit": mem_limit,
        "dtype": np.float32,
        "threads": threads,
        "rejection_map": rejection_map,
    }
    if clip.noise_model:
        if noise is None:
            raise InvalidParameterError(
                "ClipSettings(stdfunc='noise_model') clips against the CCD noise model: "
                "give noise=ClipNoise(gain, read_noise, pedestal)"
            )
        kwargs["rejection"] = CCDClip(
            gain=noise.gain,
            read_noise=noise.read_noise * noise.gain,  # CCDClip takes electrons
            low=clip.sigma_low,
            high=clip.sigma_high,
            maxiters=clip.maxiters,
            center=clip.cenfunc,
            pedestal=noise.pedestal,
        )
    elif clip.clipping and clip.stdfunc != "noise_model":
        kwargs["rejection"] = SigmaClip(
            low=clip.sigma_low,
            high=clip.sigma_high,
            maxiters=clip.maxiters,
            center=clip.cenfunc,
            deviation=clip.stdfunc,
        )
    if scale is not None:
        kwargs["scale"] = np.asarray(scale, dtype=np.float64)
    if inputs and isinstance(inputs[0], str):
        kwargs["unit"] = "adu"
    return combine(list(inputs), **kwargs)


def _identities(
    frames: Sequence[FrameRef], meta: Any = None, known: Sequence[FileIdentity] = ()
) -> tuple[FileIdentity, ...]:
    """Size, time and SHA-256 of the input files.

    The SHA-256 that ``combine`` recorded for an input (``IMCMBnnn``/``IMCSMnnn``
    cards), or a ``known`` identity whose size and modification time are the
    file's still, is used instead of reading the file again.
    """
    by_path = {k.path: k for k in known}
    out = []
    for i, frame in enumerate(frames, start=1):
        sha = None
        seen = by_path.get(frame.path)
        if seen is not None:
            st = os.stat(frame.path)
            if (st.st_size, st.st_mtime_ns) == (seen.size, seen.mtime_ns):
                out.append(seen)
                continue
        if meta is not None and meta.get(f"IMCMB{i:03d}") == Path(frame.path).name:
            value = meta.get(f"IMCSM{i:03d}")
            if isinstance(value, str) and value.startswith("sha256:"):
                sha = value[len("sha256:") :]
        if sha is None:
            out.append(file_identity(frame.path))
        else:
            st = os.stat(frame.path)
            out.append(FileIdentity(frame.path, st.st_size, st.st_mtime_ns, sha))
    return tuple(out)


def _as_float32(ccd: CCDData) -> CCDData:
    data = np.asarray(ccd.data, dtype=np.float32)
    unc = None
    if ccd.uncertainty is not None:
        unc = StdDevUncertainty(np.asarray(ccd.uncertainty.array, dtype=np.float32))
    mask = None if ccd.mask is None else np.asarray(ccd.mask, dtype=bool)
    return CCDData(data, unit=ccd.unit, meta=ccd.meta, uncertainty=unc, mask=mask)


def _finish(
    task: MasterTask,
    master: CCDData,
    extra_quality: dict[str, Any],
    notes: Sequence[str] = (),
    *,
    combined: Sequence[FrameRef] | None = None,
) -> TaskResult:
    """Header, provenance, write, identity.

    ``combined`` are the frames that went into the master (default: all the
    task's frames; flats rejected on the way are left out of NCOMBINE).
    """
    spec = task.spec
    master = _as_float32(master)
    combined = task.frames if combined is None else combined
    n_inputs = len(combined) if spec.source == "tonight" else 1
    for key in _TYPE_KEYS:  # the first input's frame type must not survive in the master
        if key in master.meta:
            master.meta[key] = _KIND_NAMES[spec.kind]
    if spec.kind == "flat":
        master.meta.pop("EXPTIME", None)  # a normalised flat has no exposure time
    for key, value in master_header(spec, n_inputs=n_inputs).items():
        master.meta[key] = value
    record_step(
        master,
        f"make_master_{spec.kind}",
        call_args={},
        params={
            "key": spec.key,
            "source": spec.source,
            "inputs": [Path(f.path).name for f in combined],
            "combine": _clip_params(task, spec),
            "uses": {role: m.to_dict() for role, m in task.uses.items()},
            "uncertainty": "noise model (gain, read noise, values kept per pixel)",
            "notes": list(notes),
        },
        calibrations={role: m.path for role, m in task.uses.items()},
        add_keyword={},  # the structured record only: no ccdproc-style card
    )
    quality = {**_quality(master), **extra_quality}
    out = Path(task.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    product = write_ccd_with_identity(master, out, overwrite=task.overwrite)
    entry = {"key": spec.key, "kind": spec.kind, "source": spec.source, "exptime": spec.exptime}
    qa = measure_for_report(task.options, master, {**entry, "quality": quality}, out, science=False)
    return TaskResult(
        key=spec.key,
        kind=spec.kind,
        status="built",
        output=str(out),
        checksum=product.sha256,
        quality=quality,
        inputs=_identities(task.frames, master.meta, task.known_inputs),
        product=product,
        masters={role: m.to_dict() for role, m in task.uses.items()},
        message="; ".join(notes),
        qa=qa,
    )


def _clip_params(task: MasterTask, spec: MasterSpec) -> dict[str, Any]:
    clip = {"bias": task.options.bias_combine, "dark": task.options.dark_combine}.get(
        spec.kind, task.options.flat_combine
    )
    if clip.noise_model:
        rejection = (
            "ccdclip: sigma of one frame from the CCD noise model, read noise measured on "
            "the bias frames, photon noise of the signal above the bias (COMBREJ: the values)"
        )
    else:
        rejection = f"sigclip: sigma = {clip.stdfunc} of the values" if clip.clipping else "none"
    return {
        "method": clip.method,
        "rejection": rejection,
        "sigma_low": clip.sigma_low,
        "sigma_high": clip.sigma_high,
        "maxiters": clip.maxiters,
        "cenfunc": clip.cenfunc,
        "stdfunc": clip.stdfunc,
    }


def _quality(master: CCDData) -> dict[str, Any]:
    """Level, robust spread (on every 4th pixel of every 4th row) and masked fraction."""
    mask = np.zeros(master.shape, bool) if master.mask is None else np.asarray(master.mask)
    data = np.asarray(master.data)[::4, ::4]
    good = data[~mask[::4, ::4] & np.isfinite(data)].astype(np.float64)
    if good.size == 0:
        return {"median": None, "masked_fraction": float(np.mean(mask))}
    return {
        "median": float(np.median(good)),
        "robust_std": float(mad_std(good)),
        "masked_fraction": float(np.mean(mask)),
    }


def _load_master(use: Any) -> CCDData:
    return read_ccd(use.path)


# ----------------------------------------------------------------------------- bias


def _read_noise_estimate(frames: Sequence[FrameRef]) -> float | None:
    """Read noise in ADU from the difference of the first two frames (robust).

    The standard deviation of the difference within 5 ``mad_std`` of its
    median, over sqrt(2): the ``mad_std`` alone is quantised on integer
    data (by up to 7 % at a read noise of 7 ADU); the clipped standard
    deviation is not, and it counts the rounding, which is noise of the
    frames too.  On darks it includes the dark current's shot noise.  The
    centre and the ``mad_std`` that only place the window come from every
    16th value (medians of the whole difference cost more than the rest of
    the master's statistics); the standard deviation uses every value.
    """
    if len(frames) < 2:
        return None
    a = load_raw(frames[0]).data[::2, ::2].astype(np.float64)
    b = load_raw(frames[1]).data[::2, ::2].astype(np.float64)
    diff = (a - b)[np.isfinite(a) & np.isfinite(b)]
    if diff.size < 2:
        return None
    sample = diff[:: max(1, min(16, diff.size // 1000))]
    spread = float(mad_std(sample))  # mad_std takes its own median out
    diff -= np.median(sample)
    core = diff[np.abs(diff) <= 5.0 * max(spread, 1.0)]
    return float(np.std(core) / np.sqrt(2.0))


def _noise(task: MasterTask, estimate: float | None = None) -> tuple[float, float, list[str]]:
    """Gain (e-/ADU) and read noise (ADU) of the task's frames, with notes on fallbacks."""
    first = task.frames[0] if task.frames else None
    notes: list[str] = []
    gain = first.gain if first is not None and first.gain else None
    if gain is None or not gain > 0:
        gain = task.options.default_gain
        notes.append(f"gain unknown: {gain:g} e-/ADU assumed")
    if first is not None and first.read_noise is not None and first.read_noise >= 0:
        return float(gain), float(first.read_noise) / float(gain), notes
    rn = estimate if estimate is not None else task.read_noise_adu
    if rn is None:
        notes.append("read noise unknown: 0 assumed")
        rn = 0.0
    else:
        notes.append(f"read noise {rn:.3g} ADU measured on the bias frames")
    return float(gain), float(rn), notes


def _with_sigma(ccd: CCDData, sigma: np.ndarray) -> CCDData:
    """``ccd`` with the given standard deviation (NaN where the data are NaN)."""
    sigma = np.where(np.isfinite(ccd.data), sigma, np.nan).astype(np.float32)
    out = CCDData(ccd.data, unit=ccd.unit, meta=ccd.meta, mask=ccd.mask)
    out.uncertainty = StdDevUncertainty(sigma)
    return out


def _kept(frames_used: int, combined: CCDData) -> np.ndarray:
    return kept_counts(frames_used, getattr(combined, "flags", None), combined.shape)


def _needs_preparation(frames: Sequence[FrameRef]) -> bool:
    return any(f.overscan or f.trim for f in frames)


def _with_overscan_noise(read_noise: float, overscan_var: float) -> float:
    """Read noise (ADU) of a frame whose overscan level has variance ``overscan_var`` (ADU²)."""
    return float(np.sqrt(read_noise**2 + overscan_var))


def _clip_settings(clip: ClipSettings, read_noise: float | None, n_frames: int) -> ClipSettings:
    """``clip``, or ccdproc's clipping when it asks for a noise model and no read noise is known.

    With two frames both values lie equally far from their centre: a
    noise-model clipping then rejects only the higher (IRAF's ``crreject``),
    the side of cosmic rays and hot outliers, instead of both.
    """
    if not clip.noise_model:
        return clip
    if read_noise is None or not read_noise > 0:
        if n_frames > 1:
            log.warning("no read noise known to clip against: clipping with mad_std instead")
        return dataclasses.replace(clip, stdfunc="mad_std")
    if n_frames == 2 and clip.sigma_high is not None:
        return dataclasses.replace(clip, sigma_low=None)
    return clip


def _combine_raw(
    task: MasterTask,
    clip: ClipSettings,
    bias: CCDData | None = None,
    *,
    gain: float = 1.0,
    read_noise: float | None = None,
) -> tuple[CCDData, float]:
    """Combine the task's raw frames (bias-subtracted first when the frames need preparing).

    ``gain`` (e-/ADU) and ``read_noise`` (ADU, of a raw frame) make the noise
    model a ``'noise_model'`` clipping uses; without a bias the frames are
    biases (read noise only), with one darks (photon noise above the bias).
    Also returns the mean variance (ADU²) of the overscan levels subtracted
    (0 without an overscan): it adds to each frame's read noise.
    """
    from ccdcal.calibrate import subtract_bias

    frames = task.frames
    clip = _clip_settings(clip, read_noise, len(frames))
    overscan_var = 0.0
    if not _needs_preparation(frames):
        inputs: list[Any] = [f.path for f in frames]
    else:
        inputs = []
        bare = _strip_uncertainty(bias) if bias is not None else None
        for f in frames:
            raw = read_raw(f, dtype=np.float32)
            overscan_var += overscan_sigma(f, raw) ** 2 / len(frames)
            ccd = prepare_raw(f, raw)
            inputs.append(subtract_bias(ccd, bare, add_keyword=False) if bare is not None else ccd)
    noise = None
    if clip.noise_model:
        if bias is None:
            pedestal = math.inf  # bias frames: no photons
        elif _needs_preparation(frames):
            pedestal = 0.0  # bias-subtracted already
        else:  # raw darks: the photon term counts from the bias level up
            pedestal = raw_level(np.asarray(bias.data), mask=bias.mask)
        rn = _with_overscan_noise(float(read_noise or 0.0), overscan_var)
        noise = ClipNoise(gain=gain, read_noise=rn, pedestal=pedestal)
    combined = combine_frames(
        inputs,
        clip,
        mem_limit=task.options.mem_limit,
        threads=task.threads,
        rejection_map=True,
        noise=noise,
    )
    if bias is not None and not _needs_preparation(frames):
        # clipping about the median (with a spread of the values or the noise model, its
        # photon term above the bias level) moves with an offset common to every input, so
        # combining raw darks and subtracting the bias once equals combining
        # bias-subtracted darks
        flags = getattr(combined, "flags", None)
        combined = subtract_bias(
            _strip_uncertainty(combined), _strip_uncertainty(bias), add_keyword=False
        )
        combined.flags = flags
    return combined, overscan_var


def _build_bias(task: MasterTask) -> TaskResult:
    estimate = _read_noise_estimate(task.frames)
    gain, rn, notes = _noise(task, estimate)
    # clipped against the read noise of these very frames (the header's is nominal)
    clip_rn = estimate if estimate is not None else rn
    combined, overscan_var = _combine_raw(
        task, task.options.bias_combine, gain=gain, read_noise=clip_rn
    )
    kept = _kept(len(task.frames), combined)
    sigma = bias_sigma(kept, read_noise=_with_overscan_noise(rn, overscan_var))
    master = _with_sigma(combined, sigma)
    quality = {
        "read_noise_adu": estimate if estimate is not None else rn,
        "read_noise_header_adu": rn,
        "n_inputs": len(task.frames),
        "rejected_fraction": float(1.0 - np.mean(kept) / len(task.frames)),
    }
    return _finish(task, master, quality, notes)


# ----------------------------------------------------------------------------- dark


def _dark_clip_read_noise(task: MasterTask, header_rn: float) -> float | None:
    """Read noise (ADU) to clip darks against: the bias frames', else the header's.

    Failing both, it is measured on the darks themselves, where the dark
    current's shot noise adds to it (a slightly wider clipping).
    """
    if task.read_noise_adu is not None:
        return task.read_noise_adu
    if header_rn > 0:
        return header_rn
    if not task.options.dark_combine.noise_model:
        return None
    return _read_noise_estimate(task.frames)


def _build_dark(task: MasterTask) -> TaskResult:
    bias = _load_master(task.uses["bias"])
    gain, rn, notes = _noise(task)
    combined, overscan_var = _combine_raw(
        task,
        task.options.dark_combine,
        bias,
        gain=gain,
        read_noise=_dark_clip_read_noise(task, rn),
    )
    kept = _kept(len(task.frames), combined)
    bias_sig = _sigma_of(bias)
    rn = _with_overscan_noise(rn, overscan_var)
    sigma = dark_sigma(combined.data, kept, gain=gain, read_noise=rn, bias_sigma=bias_sig)
    master = _with_sigma(combined, sigma)
    master.meta["EXPTIME"] = float(task.spec.exptime or 0.0)
    quality = {
        "n_inputs": len(task.frames),
        "exptime": task.spec.exptime,
        "rejected_fraction": float(1.0 - np.mean(kept) / len(task.frames)),
    }
    return _finish(task, master, quality, notes)


def _sigma_of(ccd: CCDData) -> np.ndarray:
    """The master's σ (NaN only where its data are NaN, which are masked anyway)."""
    if ccd.uncertainty is None:
        return np.zeros(ccd.shape, dtype=np.float32)
    return np.asarray(ccd.uncertainty.array, dtype=np.float32)


def _strip_uncertainty(ccd: CCDData) -> CCDData:
    return CCDData(ccd.data, unit=ccd.unit, meta=ccd.meta, mask=ccd.mask)


# ----------------------------------------------------------------------------- flat


def _flat_check_raw(frame: FrameRef, raw: CCDData, task: MasterTask) -> str | None:
    """Reason to reject a flat from its raw level (saturation), or None."""
    opts = task.options
    sat = saturation_level(frame, raw)
    if sat is None:
        return None
    data = np.asarray(raw.data)
    level = raw_level(data)
    if level > opts.flat_max_saturation_fraction * sat:
        return (
            f"saturated: median {level:.0f} ADU is above "
            f"{opts.flat_max_saturation_fraction:g} x the saturation level {sat:.0f} ADU"
        )
    frac = float(np.count_nonzero(data >= sat)) / data.size
    if frac > opts.flat_max_saturated_pixels:
        return (
            f"saturated: {100 * frac:.2f}% of the pixels are at or above {sat:.0f} ADU "
            f"(limit {100 * opts.flat_max_saturated_pixels:g}%)"
        )
    return None


def _prepare_flat(
    frame: FrameRef,
    task: MasterTask,
    bias: CCDData,
    dark: CCDData | None,
    *,
    masters_mask: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> tuple[CCDData | None, float, str | None, float]:
    """(bias- and scaled-dark-subtracted flat, its median, reason to reject, overscan variance).

    Plain float32 arithmetic: the flat's own uncertainty is not needed (the
    master's comes from the noise model) and nothing is logged per flat.
    ``masters_mask`` is the bias's and dark's masks OR-ed (made once per
    master flat, see :func:`_masters_mask`); ``scratch`` a float32 array of
    the frame's shape reused for the scaled dark.  The raw frame is converted
    and bias-subtracted in one pass, into a new array.
    """
    raw = read_raw(frame)
    reason = _flat_check_raw(frame, raw, task)  # on the values the camera wrote
    if reason:
        return None, float("nan"), reason, 0.0
    overscan_var = overscan_sigma(frame, raw) ** 2
    raw = prepare_raw(frame, raw)
    if raw.shape != bias.shape:
        raise ValueError(f"{frame.path}: shape {raw.shape} is not the master bias's {bias.shape}")
    data = np.subtract(raw.data, np.asarray(bias.data, dtype=np.float32), dtype=np.float32)
    if masters_mask is None:
        masters_mask = _masters_mask(bias, dark)
    if dark is not None:
        factor = np.float32(float(frame.exptime or 0.0) / float(dark.meta["EXPTIME"]))
        dark_data = np.asarray(dark.data, dtype=np.float32)
        if scratch is None or scratch.shape != data.shape:
            scratch = np.empty_like(data)
        data -= np.multiply(dark_data, factor, out=scratch)
    mask = _or_masks(raw.mask, masters_mask)
    level = raw_level(data, mask=mask)
    if not np.isfinite(level) or level < task.options.flat_min_level:
        return (
            None,
            level,
            (
                f"too faint: median {level:.0f} ADU after bias and dark is below "
                f"{task.options.flat_min_level:g} ADU"
            ),
            overscan_var,
        )
    return CCDData(data, unit=raw.unit, meta=raw.meta, mask=mask), level, None, overscan_var


def _masters_mask(bias: CCDData, dark: CCDData | None) -> np.ndarray | None:
    """The bias's and (if any) the dark's masks OR-ed: what every flat inherits from them."""
    return _or_masks(bias.mask, dark.mask if dark is not None else None)


def _or_masks(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None if b is None else np.asarray(b, dtype=bool)
    if b is None:
        return np.asarray(a, dtype=bool)
    return np.logical_or(a, b)


def _spill(frames: list[CCDData], task: MasterTask) -> list[str] | list[CCDData]:
    """Keep prepared frames in memory when they fit in half of mem_limit, else on disk."""
    size = sum(f.data.size * 4 for f in frames)
    if size <= task.options.mem_limit / 2 or task.tmp_dir is None:
        return frames
    folder = Path(task.tmp_dir)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, f in enumerate(frames):
        path = folder / f"{i:04d}.fits"
        write_ccd(f, path, overwrite=True, checksum=False, hdu_uncertainty=None)
        paths.append(str(path))
    return paths


def _build_flat(task: MasterTask) -> TaskResult:
    bias = _load_master(task.uses["bias"])
    dark = _load_master(task.uses["dark"]) if "dark" in task.uses else None
    # each flat is prepared without uncertainties (the model gives the master's)
    bare_bias = _strip_uncertainty(bias)
    bare_dark = _strip_uncertainty(dark) if dark is not None else None
    kept: list[CCDData] = []
    levels: list[float] = []
    used: list[FrameRef] = []
    rejected: list[tuple[str, str]] = []
    overscan_vars: list[float] = []
    masters_mask = _masters_mask(bare_bias, bare_dark)
    scratch = np.empty(bias.shape, dtype=np.float32) if dark is not None else None
    for frame in task.frames:
        ccd, level, reason, overscan_var = _prepare_flat(
            frame, task, bare_bias, bare_dark, masters_mask=masters_mask, scratch=scratch
        )
        if ccd is None:
            rejected.append((frame.path, reason or "rejected"))
            log.info("flat %s rejected: %s", frame.path, reason)
            continue
        overscan_vars.append(overscan_var)
        kept.append(ccd)
        levels.append(level)
        used.append(frame)
    if not kept:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in rejected)
        raise ValueError(f"every flat of {task.key} was rejected ({reasons})")
    inputs = _spill(kept, task)
    try:
        combined = combine_frames(
            inputs,
            task.options.flat_combine,
            mem_limit=task.options.mem_limit,
            scale=[1.0 / lv for lv in levels],
            threads=task.threads,
            rejection_map=True,
        )
    finally:
        if task.tmp_dir and Path(task.tmp_dir).exists():
            shutil.rmtree(task.tmp_dir, ignore_errors=True)
    gain, rn, notes = _noise(task)
    dark_t = float(dark.meta["EXPTIME"]) if dark is not None else 1.0
    sigma = flat_sigma(
        combined.data,
        _kept(len(used), combined),
        levels=levels,
        dark_scales=[float(f.exptime or 0.0) / dark_t for f in used],
        gain=gain,
        read_noise=_with_overscan_noise(rn, float(np.mean(overscan_vars))),
        bias_sigma=_sigma_of(bias),
        dark_sigma=_sigma_of(dark) if dark is not None else None,
    )
    master = normalise_flat(
        _with_sigma(combined, sigma),
        floor=task.options.flat_floor,
        how=task.options.flat_normalisation,
    )
    quality = {
        "n_inputs": len(used),
        "levels": [round(lv, 2) for lv in levels],
        "n_rejected": len(rejected),
    }
    result = _finish(task, master, quality, notes, combined=used)
    return _with_rejected(result, rejected, task)


def _with_rejected(
    result: TaskResult, rejected: list[tuple[str, str]], task: MasterTask
) -> TaskResult:
    import dataclasses

    return dataclasses.replace(result, rejected=tuple(rejected))


def normalise_flat(flat: CCDData, *, floor: float, how: str = "mean") -> CCDData:
    """Divide a flat by the mean (or median) of its good pixels; mask pixels below ``floor``.

    >>> f = CCDData(np.array([[1.0, 2.0], [3.0, 6.0]], dtype=np.float32), unit="adu")
    >>> normalise_flat(f, floor=0.3).data.tolist()
    [[0.3333333432674408, 0.6666666865348816], [1.0, 2.0]]
    >>> normalise_flat(f, floor=0.5).mask.tolist()
    [[True, False], [False, False]]
    """
    data = np.asarray(flat.data, dtype=np.float32)
    mask = np.zeros(data.shape, dtype=bool) if flat.mask is None else np.asarray(flat.mask)
    good = data[~mask & np.isfinite(data)]
    if good.size == 0:
        raise ValueError("the combined flat has no good pixel to normalise by")
    norm = float(np.mean(good, dtype=np.float64) if how == "mean" else np.median(good))
    if not norm > 0:
        raise ValueError(f"the combined flat has a median of {norm}; it cannot be normalised")
    out = (data / np.float32(norm)).astype(np.float32)
    new_mask = mask | ~np.isfinite(out) | (out < floor)
    unc = None
    if flat.uncertainty is not None:
        unc = StdDevUncertainty(
            np.asarray(flat.uncertainty.array, dtype=np.float32) / np.float32(norm)
        )
    meta = flat.meta.copy()
    meta["CCDCNORM"] = (norm, f"flat divided by this ({how} of good pixels)")
    return CCDData(out, unit=u.dimensionless_unscaled, meta=meta, mask=new_mask, uncertainty=unc)


# ----------------------------------------------------------------------------- derived


def _derive_factor(spec: MasterSpec, source: CCDData) -> tuple[int, int]:
    """``(fx, fy)``: the derived master's binning over the source master's."""
    factors = []
    for want, key in ((spec.xbin, "XBINNING"), (spec.ybin, "YBINNING")):
        have = int(source.meta.get(key, 1))
        factor, rest = divmod(int(want), have)
        if rest or factor < 1:
            raise ValueError(
                f"{spec.key}: binning {spec.binning} is not a whole multiple of the source "
                f"master's ({key} = {have})"
            )
        factors.append(factor)
    return factors[0], factors[1]


def _build_derived(task: MasterTask) -> TaskResult:
    from ccdcal.calibrate import block_average

    source = _load_master(task.uses["source"])
    spec = task.spec
    sy, sx = source.shape
    # the factor comes from the binnings: spec.shape is the raw frame's, overscan included,
    # while the source master is trimmed
    fx, fy = _derive_factor(spec, source)
    ny, nx = sy // fy, sx // fx
    trimmed = source[: ny * fy, : nx * fx] if (ny * fy, nx * fx) != (sy, sx) else source
    binned = block_average(trimmed, (fy, fx))
    master = normalise_flat(
        binned, floor=task.options.flat_floor, how=task.options.flat_normalisation
    )
    master.meta["CCDCDERV"] = (
        f"{Path(task.uses['source'].path).name} binned {fx}x{fy}",
        "derived flat",
    )
    return _finish(task, master, {"factor": [fx, fy], "source": task.uses["source"].key})


def build_master(task: MasterTask) -> TaskResult:
    """Build and write the master of ``task`` (raises on failure)."""
    spec = task.spec
    if spec.source == "derived":
        return _build_derived(task)
    if not task.frames:
        raise ValueError(f"no input frames for {spec.key}")
    builders = {"bias": _build_bias, "dark": _build_dark, "flat": _build_flat}
    return builders[spec.kind](task)
