"""Building master calibration frames (the work of a :class:`~ccdcal.pipeline.tasks.MasterTask`).

* **bias**: the raw frames combined (clipped average by default), streamed
  from the files.
* **dark**: the raw darks combined, then the master bias subtracted.  The
  clipping is about the median of each pixel, which moves with the same frame
  subtracted from every input (the noise model's photon term is taken above
  the master bias's median level), so this equals combining bias-subtracted
  darks -- without holding them in memory.  With an overscan the frames are
  prepared one by one instead.  Its EXPTIME is the darks' mean.
* **flat** and **derived flat**: :mod:`ccdcal.pipeline.flats`.

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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from astropy.nddata import CCDData, StdDevUncertainty

from ccdcal.errors import InvalidParameterError
from ccdcal.io.fits import read_ccd, write_ccd_with_identity
from ccdcal.io.provenance import record_step
from ccdcal.pipeline.frames import (
    load_raw,
    overscan_sigma,
    prepare_raw,
    raw_level,
    read_raw,
)
from ccdcal.pipeline.model import FrameRef, MasterSpec
from ccdcal.pipeline.noise import ClipNoise, bias_sigma, dark_sigma, kept_counts
from ccdcal.pipeline.options import ClipSettings
from ccdcal.pipeline.state import FileIdentity, file_identity
from ccdcal.pipeline.tasks import MasterTask, TaskResult, measure_for_report

__all__ = ["build_master", "combine_frames", "master_header"]

log = logging.getLogger(__name__)

_KIND_NAMES = {"bias": "Master Bias", "dark": "Master Dark", "flat": "Master Flat"}
#: Keywords cameras use for the frame type (pt5m writes TYPE, MaxIm DL IMAGETYP...).
_TYPE_KEYS = ("IMAGETYP", "TYPE", "OBSTYPE", "IMGTYPE", "FRAMETYP", "FRAME")
#: astropy's ``mad_std`` factor, 1 / Φ⁻¹(3/4).
_MAD_TO_SIGMA = 1.482602218505602


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
    """``ccd`` with float32 planes; arrays already in float32 are shared, not copied."""
    data = np.asarray(ccd.data, dtype=np.float32)
    unc = None
    if ccd.uncertainty is not None:
        sigma = np.asarray(ccd.uncertainty.array, dtype=np.float32)
        unc = StdDevUncertainty(sigma, copy=False)
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
    qa, thumbnail = measure_for_report(
        task.options, master, {**entry, "quality": quality}, out, science=False
    )
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
        thumbnail=thumbnail,
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
    data = np.asarray(master.data)[::4, ::4]
    good = np.isfinite(data)
    if master.mask is None:
        masked_fraction = 0.0
    else:
        mask = np.asarray(master.mask, dtype=bool)
        masked_fraction = np.count_nonzero(mask) / mask.size  # = np.mean(mask), exactly
        good &= ~mask[::4, ::4]
    values = data[good].astype(np.float64)
    if values.size == 0:
        return {"median": None, "masked_fraction": masked_fraction}
    median, robust_std = _median_and_mad_std(values)
    return {"median": median, "robust_std": robust_std, "masked_fraction": masked_fraction}


def _median_and_mad_std(values: np.ndarray) -> tuple[float, float]:
    """``np.median(values)`` and astropy's ``mad_std(values)``, with one median less.

    ``mad_std`` takes the median again before the median of the absolute
    deviations; both medians are taken here in place (``values``, float64, is
    overwritten), which reorders the values but not their medians.
    """
    median = np.median(values, overwrite_input=True)
    np.abs(np.subtract(values, median, out=values), out=values)
    mad = np.median(values, overwrite_input=True)
    return float(median), float(mad * _MAD_TO_SIGMA)


def _load_master(use: Any, *, memmap: bool = False) -> CCDData:
    """The master ``use`` names; with ``memmap`` its data and σ are mapped from the file.

    Mapped planes stay in FITS (big-endian) byte order: numpy's ufuncs read
    them as they go, without a converted copy in fresh memory.
    """
    return read_ccd(use.path, memmap=memmap)


def _or_masks(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    if a is None:
        return None if b is None else np.asarray(b, dtype=bool)
    if b is None:
        return np.asarray(a, dtype=bool)
    return np.logical_or(a, b)


def _native_float32(ccd: CCDData) -> CCDData:
    """``ccd`` with its data as native float32 (a frame mapped from a file is converted)."""
    data = np.asarray(ccd.data)
    if data.dtype == np.float32 and data.dtype.isnative:
        return ccd
    return CCDData(data.astype(np.float32), unit=ccd.unit, meta=ccd.meta, mask=ccd.mask)


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
    diff = _quarter_difference(frames[0], frames[1])
    if diff.size < 2:
        return None
    sample = diff[:: max(1, min(16, diff.size // 1000))].copy()
    centre, spread = _median_and_mad_std(sample)
    diff -= centre
    limit = 5.0 * max(spread, 1.0)
    inside = np.greater_equal(diff, -limit)  # |d| <= limit, without an array of |d|
    inside &= diff <= limit
    core = diff if inside.all() else diff[inside]  # the same values, in the same order
    return float(np.std(core) / np.sqrt(2.0))


def _quarter_difference(first: FrameRef, second: FrameRef) -> np.ndarray:
    """Float64 differences of every 2nd pixel of every 2nd row of two frames (finite ones), 1-D.

    Integer frames are subtracted straight into float64 (exact, and every
    value is finite); float frames keep only pixels finite in both.
    """
    a = load_raw(first).data[::2, ::2]
    b = load_raw(second).data[::2, ::2]
    diff = np.subtract(a, b, dtype=np.float64).ravel()
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        diff = diff[(np.isfinite(a) & np.isfinite(b)).ravel()]
    return diff


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
    """``ccd`` with the standard deviation ``sigma``, set to NaN where the data are not finite.

    ``sigma`` becomes the result's: a float32 array is changed in place.
    """
    sigma = np.asarray(sigma, dtype=np.float32)
    np.copyto(sigma, np.float32(np.nan), where=~np.isfinite(ccd.data))
    out = CCDData(ccd.data, unit=ccd.unit, meta=ccd.meta, mask=ccd.mask)
    out.uncertainty = StdDevUncertainty(sigma, copy=False)
    return out


def _kept(frames_used: int, combined: CCDData) -> np.ndarray:
    """Values kept per pixel (float32), in the buffer of the combination's own σ if it has one.

    That σ (the scatter of the values) is replaced by the noise model's,
    which the callers then compute in the same buffer: no fresh memory.
    """
    out = None
    if combined.uncertainty is not None:
        array = combined.uncertainty.array
        if (
            isinstance(array, np.ndarray)
            and array.dtype == np.float32
            and array.shape == combined.shape
            and array.flags.writeable
        ):
            out = array
    return kept_counts(frames_used, getattr(combined, "flags", None), combined.shape, out=out)


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
        bare = _native_float32(_strip_uncertainty(bias)) if bias is not None else None
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
        combined = _subtract_master_bias(combined, bias)
    return combined, overscan_var


def _subtract_master_bias(combined: CCDData, bias: CCDData) -> CCDData:
    """The combination minus the master bias: data and masks, rejection map kept.

    ``subtract_bias`` without σ.  When the units and shapes agree the
    combination's data (float32, ours) are changed in place, and its σ (the
    scatter of the values, which the noise model's replaces) is passed on
    as a buffer for :func:`_kept`.
    """
    from ccdcal.calibrate import subtract_bias

    flags = getattr(combined, "flags", None)
    data = np.asarray(combined.data)
    if (
        combined.unit == bias.unit
        and data.shape == bias.shape
        and data.dtype == np.float32
        and data.flags.writeable
    ):
        np.subtract(data, bias.data, out=data, dtype=np.float32)
        mask = _or_masks(combined.mask, bias.mask)
        result = CCDData(
            data,
            unit=combined.unit,
            meta=combined.meta,
            mask=mask,
            wcs=combined.wcs,
            uncertainty=combined.uncertainty,
        )
    else:
        result = subtract_bias(
            _strip_uncertainty(combined),
            _native_float32(_strip_uncertainty(bias)),
            add_keyword=False,
        )
    result.flags = flags
    return result


def _build_bias(task: MasterTask) -> TaskResult:
    estimate = _read_noise_estimate(task.frames)
    gain, rn, notes = _noise(task, estimate)
    # clipped against the read noise of these very frames (the header's is nominal)
    clip_rn = estimate if estimate is not None else rn
    combined, overscan_var = _combine_raw(
        task, task.options.bias_combine, gain=gain, read_noise=clip_rn
    )
    kept = _kept(len(task.frames), combined)
    rejected_fraction = float(1.0 - np.mean(kept) / len(task.frames))
    sigma = bias_sigma(kept, read_noise=_with_overscan_noise(rn, overscan_var), out=kept)
    master = _with_sigma(combined, sigma)
    quality = {
        "read_noise_adu": estimate if estimate is not None else rn,
        "read_noise_header_adu": rn,
        "n_inputs": len(task.frames),
        "rejected_fraction": rejected_fraction,
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
    bias = _load_master(task.uses["bias"], memmap=True)
    gain, rn, notes = _noise(task)
    combined, overscan_var = _combine_raw(
        task,
        task.options.dark_combine,
        bias,
        gain=gain,
        read_noise=_dark_clip_read_noise(task, rn),
    )
    kept = _kept(len(task.frames), combined)
    rejected_fraction = float(1.0 - np.mean(kept) / len(task.frames))
    bias_sig = _sigma_of(bias)
    rn = _with_overscan_noise(rn, overscan_var)
    sigma = dark_sigma(combined.data, kept, gain=gain, read_noise=rn, bias_sigma=bias_sig, out=kept)
    master = _with_sigma(combined, sigma)
    master.meta["EXPTIME"] = float(task.spec.exptime or 0.0)
    quality = {
        "n_inputs": len(task.frames),
        "exptime": task.spec.exptime,
        "rejected_fraction": rejected_fraction,
    }
    return _finish(task, master, quality, notes)


def _sigma_of(ccd: CCDData) -> np.ndarray:
    """The master's σ (NaN only where its data are NaN, which are masked anyway).

    Returned as stored (a mapped plane stays mapped): the noise functions
    read it as float32.
    """
    if ccd.uncertainty is None:
        return np.zeros(ccd.shape, dtype=np.float32)
    return np.asarray(ccd.uncertainty.array)


def _strip_uncertainty(ccd: CCDData) -> CCDData:
    return CCDData(ccd.data, unit=ccd.unit, meta=ccd.meta, mask=ccd.mask)


def build_master(task: MasterTask) -> TaskResult:
    """Build and write the master of ``task`` (raises on failure)."""
    spec = task.spec
    if spec.source == "derived":
        from ccdcal.pipeline.flats import build_derived

        return build_derived(task)
    if not task.frames:
        raise ValueError(f"no input frames for {spec.key}")
    from ccdcal.pipeline.flats import build_flat

    builders = {"bias": _build_bias, "dark": _build_dark, "flat": build_flat}
    return builders[spec.kind](task)
