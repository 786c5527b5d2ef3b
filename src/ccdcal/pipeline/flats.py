"""Master flats: each flat prepared and checked, the flats combined, the master normalised.

The work of a flat :class:`~ccdcal.pipeline.tasks.MasterTask` (see
:mod:`ccdcal.pipeline.masters` for the whole chain of masters):

* each flat is checked against saturation on the values the camera wrote,
  bias- and dark-subtracted (the dark scaled by EXPTIME) in one pass, and
  checked for a minimum level; rejected flats are reported with the reason;
* the flats are scaled to a common level (1 / their median) and combined;
  the master's σ comes from the noise model of the inputs;
* the master is normalised to a mean of 1 over its good pixels (or a median
  with ``flat_normalisation='median'``); pixels below ``flat_floor`` are
  masked;
* a *derived* flat is a finer-binned master flat block-averaged to a coarser
  binning (mask and uncertainty carried), normalised again.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData, StdDevUncertainty

from ccdcal.io.fits import write_ccd
from ccdcal.pipeline.frames import (
    overscan_sigma,
    prepare_raw,
    raw_level,
    read_raw,
    saturation_level,
    subtract_masters,
)
from ccdcal.pipeline.masters import (
    _finish,
    _kept,
    _load_master,
    _native_float32,
    _noise,
    _or_masks,
    _sigma_of,
    _strip_uncertainty,
    _with_overscan_noise,
    _with_sigma,
    combine_frames,
)
from ccdcal.pipeline.model import FrameRef, MasterSpec
from ccdcal.pipeline.noise import flat_sigma
from ccdcal.pipeline.tasks import MasterTask, TaskResult

__all__ = ["build_derived", "build_flat", "normalise_flat"]

log = logging.getLogger(__name__)


def _flat_level_reason(raw: CCDData, sat: float | None, task: MasterTask) -> str | None:
    """Reason to reject a flat whose raw median is too near saturation, or None."""
    if sat is None:
        return None
    opts = task.options
    level = raw_level(np.asarray(raw.data))
    if level > opts.flat_max_saturation_fraction * sat:
        return (
            f"saturated: median {level:.0f} ADU is above "
            f"{opts.flat_max_saturation_fraction:g} x the saturation level {sat:.0f} ADU"
        )
    return None


def _flat_saturated_reason(n_saturated: int, size: int, sat: float, task: MasterTask) -> str | None:
    """Reason to reject a flat with too many raw values at saturation, or None."""
    opts = task.options
    frac = float(n_saturated) / size
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
) -> tuple[CCDData | None, float, str | None, float]:
    """(bias- and scaled-dark-subtracted flat, its median, reason to reject, overscan variance).

    Plain float32 arithmetic: the flat's own uncertainty is not needed (the
    master's comes from the noise model) and nothing is logged per flat.
    ``masters_mask`` is the bias's and dark's masks OR-ed (made once per
    master flat, see :func:`_masters_mask`).  The saturation checks look at
    the values the camera wrote: first the median, then the count of
    saturated values, which a frame used as it was read (no overscan, no
    trim) gets from the pass that subtracts the masters
    (:func:`~ccdcal.pipeline.frames.subtract_masters`).
    """
    raw = read_raw(frame)
    sat = saturation_level(frame, raw)
    reason = _flat_level_reason(raw, sat, task)
    if reason:
        return None, float("nan"), reason, 0.0
    as_read = not (frame.overscan or frame.trim) and raw.shape == bias.shape
    if sat is not None and not as_read:
        data = np.asarray(raw.data)
        reason = _flat_saturated_reason(int(np.count_nonzero(data >= sat)), data.size, sat, task)
        if reason:
            return None, float("nan"), reason, 0.0
    overscan_var = overscan_sigma(frame, raw) ** 2
    raw = prepare_raw(frame, raw)
    if raw.shape != bias.shape:
        raise ValueError(f"{frame.path}: shape {raw.shape} is not the master bias's {bias.shape}")
    factor = 0.0 if dark is None else float(frame.exptime or 0.0) / float(dark.meta["EXPTIME"])
    data, n_saturated = subtract_masters(
        raw.data,
        np.asarray(bias.data, dtype=np.float32),
        None if dark is None else np.asarray(dark.data, dtype=np.float32),
        dark_factor=factor,
        saturation=sat if as_read else None,
    )
    if sat is not None and as_read:
        reason = _flat_saturated_reason(n_saturated, data.size, sat, task)
        if reason:
            return None, float("nan"), reason, 0.0
    if masters_mask is None:
        masters_mask = _masters_mask(bias, dark)
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


@dataclasses.dataclass
class _FlatInputs:
    """What :func:`_combine_flats` learnt about the flats on the way."""

    levels: list[float] = dataclasses.field(default_factory=list)
    used: list[FrameRef] = dataclasses.field(default_factory=list)
    rejected: list[tuple[str, str]] = dataclasses.field(default_factory=list)
    overscan_vars: list[float] = dataclasses.field(default_factory=list)


def _combine_flats(
    task: MasterTask, bias: CCDData, dark: CCDData | None
) -> tuple[CCDData, _FlatInputs]:
    """Prepare the task's flats, combine those kept (each scaled by 1/its level).

    The prepared frames are released on return, before the master's
    uncertainty and normalisation need memory of their own.
    """
    # each flat is prepared without uncertainties (the model gives the master's), from the
    # masters' data converted once to native float32 (they may be mapped from their files)
    bare_bias = _native_float32(_strip_uncertainty(bias))
    bare_dark = _native_float32(_strip_uncertainty(dark)) if dark is not None else None
    info = _FlatInputs()
    kept: list[CCDData] = []
    masters_mask = _masters_mask(bare_bias, bare_dark)
    for frame in task.frames:
        ccd, level, reason, overscan_var = _prepare_flat(
            frame, task, bare_bias, bare_dark, masters_mask=masters_mask
        )
        if ccd is None:
            info.rejected.append((frame.path, reason or "rejected"))
            log.info("flat %s rejected: %s", frame.path, reason)
            continue
        info.overscan_vars.append(overscan_var)
        kept.append(ccd)
        info.levels.append(level)
        info.used.append(frame)
    if not kept:
        reasons = "; ".join(f"{Path(p).name}: {r}" for p, r in info.rejected)
        raise ValueError(f"every flat of {task.key} was rejected ({reasons})")
    inputs = _spill(kept, task)
    try:
        combined = combine_frames(
            inputs,
            task.options.flat_combine,
            mem_limit=task.options.mem_limit,
            scale=[1.0 / lv for lv in info.levels],
            threads=task.threads,
            rejection_map=True,
        )
    finally:
        if task.tmp_dir and Path(task.tmp_dir).exists():
            shutil.rmtree(task.tmp_dir, ignore_errors=True)
    return combined, info


def build_flat(task: MasterTask) -> TaskResult:
    """Build and write the master flat of ``task`` (raises when every flat is rejected)."""
    # mapped: the masters' σ are read once, by flat_sigma, straight from the files
    bias = _load_master(task.uses["bias"], memmap=True)
    dark = _load_master(task.uses["dark"], memmap=True) if "dark" in task.uses else None
    combined, info = _combine_flats(task, bias, dark)
    levels, used, rejected = info.levels, info.used, info.rejected
    overscan_vars = info.overscan_vars
    gain, rn, notes = _noise(task)
    dark_t = float(dark.meta["EXPTIME"]) if dark is not None else 1.0
    kept = _kept(len(used), combined)
    sigma = flat_sigma(
        combined.data,
        kept,
        levels=levels,
        dark_scales=[float(f.exptime or 0.0) / dark_t for f in used],
        gain=gain,
        read_noise=_with_overscan_noise(rn, float(np.mean(overscan_vars))),
        bias_sigma=_sigma_of(bias),
        dark_sigma=_sigma_of(dark) if dark is not None else None,
        out=kept,
    )
    master = _normalise(
        _with_sigma(combined, sigma),
        floor=task.options.flat_floor,
        how=task.options.flat_normalisation,
        overwrite=True,  # the combination is ours
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
    return _normalise(flat, floor=floor, how=how, overwrite=False)


def _normalise(flat: CCDData, *, floor: float, how: str, overwrite: bool) -> CCDData:
    """:func:`normalise_flat`; with ``overwrite`` the flat's float32 planes and header are reused.

    ``overwrite`` is for the pipeline's own intermediate flats: their data
    and σ are divided in place and their header gets the CCDCNORM card.
    """
    data = np.asarray(flat.data, dtype=np.float32)
    mask = np.zeros(data.shape, dtype=bool) if flat.mask is None else np.asarray(flat.mask)
    selected = np.isfinite(data)
    selected &= ~mask
    good = data[selected]
    del selected
    if good.size == 0:
        raise ValueError("the combined flat has no good pixel to normalise by")
    norm = float(np.mean(good, dtype=np.float64) if how == "mean" else np.median(good))
    del good
    if not norm > 0:
        raise ValueError(f"the combined flat has a median of {norm}; it cannot be normalised")
    out = np.divide(data, np.float32(norm), out=data if _own(data, overwrite) else None)
    new_mask = np.isfinite(out)
    np.logical_not(new_mask, out=new_mask)
    new_mask |= mask
    new_mask |= out < floor
    unc = None
    if flat.uncertainty is not None:
        sigma = np.asarray(flat.uncertainty.array, dtype=np.float32)
        sigma = np.divide(sigma, np.float32(norm), out=sigma if _own(sigma, overwrite) else None)
        unc = StdDevUncertainty(sigma, copy=False)
    meta = flat.meta if overwrite else flat.meta.copy()
    meta["CCDCNORM"] = (norm, f"flat divided by this ({how} of good pixels)")
    return CCDData(out, unit=u.dimensionless_unscaled, meta=meta, mask=new_mask, uncertainty=unc)


def _own(array: np.ndarray, overwrite: bool) -> bool:
    """Whether ``array`` may be written to: ``overwrite`` asked for and a writeable array."""
    return overwrite and bool(array.flags.writeable)


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


def build_derived(task: MasterTask) -> TaskResult:
    """Block-average the finer master flat of ``task`` to its binning, normalise, write."""
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
    master = _normalise(
        binned, floor=task.options.flat_floor, how=task.options.flat_normalisation, overwrite=True
    )  # block_average made a new frame
    master.meta["CCDCDERV"] = (
        f"{Path(task.uses['source'].path).name} binned {fx}x{fy}",
        "derived flat",
    )
    return _finish(task, master, {"factor": [fx, fy], "source": task.uses["source"].key})
