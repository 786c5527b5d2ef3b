"""Measurements of one output frame for the QA report: robust statistics, checks, thumbnail.

:func:`measure_output` reads a master or a calibrated science frame once and
fills its QA entry (a plain dict) with numbers and flags, writing its
thumbnail on the way; :mod:`ccdcal.report.qa` runs it over a whole night.

Robust statistics are computed on a regular grid of at most
:data:`MAX_SAMPLE` good pixels of each frame (every ``k``-th row and column:
neighbouring pixels are not averaged, so the noise measured is the pixel
noise; 65536 pixels give a noise to about 0.5 %). Counts (masked, hot, below
0.5), extremes and thumbnails use every pixel.

Examples
--------
>>> rng = np.random.default_rng(1)
>>> sky = rng.normal(1000.0, 20.0, 20000)
>>> sky[:200] += 5000.0  # stars
>>> level, noise, kept = clipped_stats(sky.astype(np.float32))
>>> round(level, -1), round(noise), int(kept.sum()) < 19810
(1000.0, 20, True)
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

if TYPE_CHECKING:
    from astropy.nddata import CCDData

__all__ = [
    "MAX_SAMPLE",
    "QAChecks",
    "clipped_stats",
    "downsample",
    "flat_profiles",
    "hot_pixels",
    "measure_ccd",
    "measure_in_task",
    "measure_output",
]

log = logging.getLogger(__name__)

#: Most pixels a robust statistic of one frame is computed on.
MAX_SAMPLE = 1 << 16
#: Side of the square around a candidate hot pixel whose median is its background.
HOT_WINDOW = 7

Severity = Literal["error", "warning", "info"]
Flag = dict[str, Any]


@dataclass(frozen=True)
class QAChecks:
    """Limits beyond which a QA number is flagged.

    Attributes
    ----------
    noise_ratio : (float, float)
        Accepted range of sky noise / median uncertainty of science frames.
    hot_sigma : float
        Dark pixels more than this many robust sigma above the median of
        their 7 x 7 neighbourhood are hot.
    max_hot_fraction : float
        Largest fraction of hot pixels in a master dark before a flag.
    flat_median_tolerance : float
        Largest ``|median - 1|`` of a master flat.
    low_flat : float
        Flat values below this count as vignetted or dusty.
    max_low_flat_fraction : float
        Largest fraction of flat pixels below ``low_flat``.
    max_masked_fraction : float
        Largest masked fraction of any output.
    clip_sigma : float
        Sigma-clipping limit of the sky statistics.

    Examples
    --------
    >>> QAChecks(noise_ratio=(0.9, 1.1)).hot_sigma
    5.0
    """

    noise_ratio: tuple[float, float] = (0.8, 1.25)
    hot_sigma: float = 5.0
    max_hot_fraction: float = 0.001
    flat_median_tolerance: float = 0.05
    low_flat: float = 0.5
    max_low_flat_fraction: float = 0.01
    max_masked_fraction: float = 0.05
    clip_sigma: float = 3.0


def flag(severity: Severity, subject: str, check: str, message: str) -> Flag:
    """One flag: ``{'severity', 'subject', 'check', 'message'}``."""
    return {"severity": severity, "subject": subject, "check": check, "message": message}


# --------------------------------------------------------------------------- statistics


def _sample_step(shape: tuple[int, ...]) -> int:
    return max(1, math.ceil(math.sqrt(math.prod(shape) / MAX_SAMPLE)))


def _good(data: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
    """Boolean map of usable pixels, or None when every pixel is usable."""
    bad = ~np.isfinite(data)
    if mask is not None:
        bad |= mask
    return ~bad if bad.any() else None


def _sample(array: np.ndarray, good: np.ndarray | None) -> np.ndarray:
    step = _sample_step(array.shape)
    values = np.asarray(array[::step, ::step])
    if good is not None:
        return values[good[::step, ::step]]
    return values.ravel()


def _fraction(flags: np.ndarray) -> float:
    return float(np.count_nonzero(flags)) / flags.size if flags.size else 0.0


def number(value: Any, digits: int = 6) -> float | None:
    """A JSON-safe float (None for NaN or infinity) to ``digits`` significant digits.

    >>> number(np.float32(1.23456789)), number(float("nan"))
    (1.23457, None)
    """
    if value is None:
        return None
    result = float(value)
    if not math.isfinite(result):
        return None
    return float(f"{result:.{digits}g}")


#: astropy's ``mad_std`` factor: the standard deviation of a normal distribution over its MAD.
_MAD_TO_STD = 1.482602218505602


def _kth_smallest(a: np.ndarray, b: np.ndarray, k: int) -> Any:
    """The ``k``-th smallest (from 0) of the values of two ascending arrays together."""
    lo, hi = max(0, k + 1 - b.size), min(k + 1, a.size)
    while lo < hi:  # the least i with a[i] >= b[k - i]: the k+1 smallest are a[:i], b[:k+1-i]
        i = (lo + hi) // 2
        if a[i] < b[k - i]:
            lo = i + 1
        else:
            hi = i
    j = k + 1 - lo
    if lo == 0:
        return b[j - 1]
    if j == 0:
        return a[lo - 1]
    return max(a[lo - 1], b[j - 1])


def _sorted_median(values: np.ndarray) -> Any:
    """``np.median`` of ascending ``values`` (same dtype and rounding), without sorting."""
    half = values.size // 2
    return np.median(values[half - 1 + values.size % 2 : half + 1])


def _sorted_median_deviation(values: np.ndarray, centre: Any) -> Any:
    """``np.median(np.abs(values - centre))`` of ascending ``values``, by selection.

    The deviations below ``centre`` are ascending when read backwards and
    those above ascending as they are, so their median is picked from two
    sorted runs instead of partitioning all of them.
    """
    split = int(np.searchsorted(values, centre))
    below = np.subtract(centre, values[:split])[::-1]  # |v - c| = c - v, exactly
    above = np.subtract(values[split:], centre)
    n = values.size
    upper = _kth_smallest(below, above, n // 2)
    if n % 2:
        return np.median(np.asarray([upper]))
    return np.median(np.asarray([_kth_smallest(below, above, n // 2 - 1), upper]))


def _sorted_stats(values: np.ndarray) -> tuple[float, float]:
    """Median and ``mad_std`` of ascending finite ``values`` (as numpy and astropy compute them)."""
    centre = _sorted_median(values)
    spread = _sorted_median_deviation(values, centre) * _MAD_TO_STD
    return float(centre), float(spread)


def clipped_stats(
    values: np.ndarray, *, sigma: float = 3.0, maxiters: int = 5
) -> tuple[float, float, np.ndarray]:
    """Sigma-clipped median and ``mad_std`` of ``values``, and which values were kept.

    Each pass keeps the values within ``sigma`` robust standard deviations
    of the median of the previous pass (as astropy's ``sigma_clip`` with
    ``cenfunc='median', stdfunc='mad_std'``) until nothing changes.  The
    values are sorted once: the values kept are then a run of the sorted
    values, whose median and MAD are picked rather than computed afresh
    (the same numbers as ``np.median`` and astropy's ``mad_std`` of them).

    Examples
    --------
    >>> clipped_stats(np.array([1.0, 2.0, 3.0, 2.0, 2.0, 500.0]))[:2]
    (2.0, 0.0)
    """
    keep = np.ones(values.size, dtype=bool)
    if values.size == 0:
        return math.nan, math.nan, keep
    ordered = np.sort(values, axis=None)
    if np.isnan(ordered[-1]):  # NaN sorts last; np.median gives NaN
        return math.nan, math.nan, keep
    lo, hi = 0, ordered.size
    centre, spread = _sorted_stats(ordered)
    limit = None
    for _ in range(maxiters):
        if not spread > 0:
            break
        inside = np.flatnonzero(np.abs(ordered - centre) <= sigma * spread)  # a run
        new = (int(inside[0]), int(inside[-1]) + 1) if inside.size else (0, 0)
        if new == (lo, hi):
            break
        (lo, hi), limit = new, (centre, sigma * spread)
        if lo == hi:
            centre = spread = math.nan
            break
        centre, spread = _sorted_stats(ordered[lo:hi])
    if limit is not None:
        keep = np.abs(values - limit[0]) <= limit[1]
    return centre, spread, keep


def hot_pixels(
    data: np.ndarray, good: np.ndarray | None, level: float, threshold: float
) -> np.ndarray:
    """Positions ``(n, 2)`` of pixels more than ``threshold`` above their local median.

    Candidates are the pixels above ``level + threshold``; each is kept when
    it also stands ``threshold`` above the median of its 7 x 7
    neighbourhood, so that a smooth glow (an amplifier corner) is not
    counted as hot pixels, while a cluster smaller than the window is.

    Examples
    --------
    >>> dark = np.zeros((20, 20)); dark[5, 5] = 100.0; dark[:, 15:] += 60.0
    >>> hot_pixels(dark, None, 0.0, 50.0).tolist()
    [[5, 5]]
    """
    candidates = data > level + threshold
    if good is not None:
        candidates &= good
    ys, xs = np.nonzero(candidates)
    if ys.size == 0:
        return np.zeros((0, 2), dtype=np.intp)
    half = HOT_WINDOW // 2
    offsets = np.arange(-half, half + 1)
    rows = np.clip(ys[:, None] + offsets[None, :], 0, data.shape[0] - 1)
    cols = np.clip(xs[:, None] + offsets[None, :], 0, data.shape[1] - 1)
    hot = np.zeros(ys.size, dtype=bool)
    for start in range(0, ys.size, 20000):  # bounded memory for a frame full of candidates
        part = slice(start, start + 20000)
        window = data[rows[part, :, None], cols[part, None, :]].reshape(-1, HOT_WINDOW**2)
        hot[part] = data[ys[part], xs[part]] - np.median(window, axis=1) > threshold
    return np.column_stack([ys[hot], xs[hot]])


def downsample(image: np.ndarray, *, max_size: int = 512) -> np.ndarray:
    """Block-average ``image`` so that its longer side is at most ``max_size`` pixels.

    Non-finite pixels are replaced by the median of the others (a thumbnail
    shows the frame, not its holes); rows and columns that do not fill a
    whole block at the top and right edges are dropped.

    Examples
    --------
    >>> downsample(np.arange(24.0).reshape(4, 6), max_size=3).tolist()
    [[3.5, 5.5, 7.5], [15.5, 17.5, 19.5]]
    """
    factor = max(1, math.ceil(max(image.shape) / max_size))
    ny, nx = image.shape[0] // factor, image.shape[1] // factor
    block = np.asarray(image[: ny * factor, : nx * factor], dtype=np.float32)
    if factor > 1:
        # strided sums rather than sums over reshaped copies: the same
        # additions, in the same order for small factors (else the same up
        # to float32 rounding)
        rows = block[0::factor].copy()
        for i in range(1, factor):
            rows += block[i::factor]
        block = rows[:, 0::factor].copy()
        for i in range(1, factor):
            block += rows[:, i::factor]
        block /= np.float32(factor * factor)
    finite = np.isfinite(block)
    if not finite.all():
        fill = float(np.median(block[finite])) if finite.any() else 0.0
        block = np.where(finite, block, np.float32(fill))
    return block


def flat_profiles(
    image: np.ndarray, *, bins: int = 24, points: int = 128
) -> dict[str, list[float | None]]:
    """Row, column and radial median profiles of a (downsampled) flat field.

    ``rows`` and ``columns`` are the medians of (at most ``points``) bands of
    rows and of columns; ``radial`` the median in ``bins`` rings of equal
    width from the centre to the corners, at radii ``radius`` (0 at the
    centre, 1 in the corners).

    Examples
    --------
    >>> y, x = np.mgrid[0:40, 0:60]
    >>> flat = 1.1 - 0.2 * np.hypot((y - 19.5) / 19.5, (x - 29.5) / 29.5) / np.sqrt(2)
    >>> radial = flat_profiles(flat, bins=4)["radial"]
    >>> bool(np.all(np.diff(radial) < 0)), 1.0 < radial[0] < 1.1, 0.9 < radial[-1] < 1.0
    (True, True, True)
    """
    ny, nx = image.shape
    y, x = np.ogrid[0:ny, 0:nx]
    radius = np.hypot((y - (ny - 1) / 2) / max(ny - 1, 1), (x - (nx - 1) / 2) / max(nx - 1, 1))
    ring = np.minimum((radius * (bins / math.sqrt(0.5))).astype(np.intp), bins - 1).ravel()
    order = np.argsort(ring, kind="stable")
    edges = np.searchsorted(ring[order], np.arange(bins + 1))
    flat = image.ravel()[order]
    radial = [number(np.median(flat[a:b]), 5) if b > a else None for a, b in pairwise(edges)]

    def bands(values: np.ndarray) -> list[float | None]:
        step = max(1, math.ceil(values.size / points))
        usable = values[: values.size // step * step].reshape(-1, step).mean(axis=1)
        return [number(v, 5) for v in usable]

    return {
        "rows": bands(np.median(image, axis=1)),
        "columns": bands(np.median(image, axis=0)),
        "radius": [round((i + 0.5) / bins, 4) for i in range(bins)],
        "radial": radial,
    }


# --------------------------------------------------------------------------- measuring


def _header_value(meta: Mapping[str, Any], key: str) -> Any:
    value = meta.get(key)
    return None if value is None or isinstance(value, bool) else value


def _combined_inputs(meta: Mapping[str, Any]) -> list[str]:
    """The ``IMCMBnnn`` cards of a combined frame: the files actually combined."""
    names: list[str] = []
    while (value := meta.get(f"IMCMB{len(names) + 1:03d}")) is not None:
        names.append(str(value))
    return names


def _extremes(data: np.ndarray, good: np.ndarray | None) -> tuple[Any, Any]:
    """Least and greatest value of the good pixels (there is one at least)."""
    if good is None:
        return data.min(), data.max()
    if data.dtype.kind != "f":
        values = data[good]
        return values.min(), values.max()
    return np.min(data, where=good, initial=np.inf), np.max(data, where=good, initial=-np.inf)


def _common(
    ccd: CCDData, metrics: dict[str, Any], *, robust: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    data = np.asarray(ccd.data)
    mask = None if ccd.mask is None else np.asarray(ccd.mask, dtype=bool)
    good = _good(data, mask)
    n_good = data.size if good is None else int(np.count_nonzero(good))
    metrics["shape"] = list(data.shape)
    metrics["masked_fraction"] = number(0.0 if good is None else 1.0 - n_good / good.size)
    low, high = _extremes(data, good) if n_good else (None, None)
    metrics["min"], metrics["max"] = number(low), number(high)
    if robust:
        from astropy.stats import mad_std

        sample = _sample(data, good)
        metrics["median"] = number(np.median(sample)) if sample.size else None
        metrics["robust_sigma"] = number(mad_std(sample)) if sample.size else None
        metrics["sample_pixels"] = int(sample.size)
    return data, good


def _masked_flag(metrics: dict[str, Any], subject: str, checks: QAChecks) -> list[Flag]:
    masked = metrics.get("masked_fraction")
    if masked is not None and masked > checks.max_masked_fraction:
        return [flag("warning", subject, "masked", f"{masked:.1%} of the pixels are masked")]
    return []


def _master(ccd: CCDData, metrics: dict[str, Any], checks: QAChecks) -> list[Flag]:
    data, good = _common(ccd, metrics, robust=True)
    meta, subject = ccd.meta, metrics["key"]
    flags: list[Flag] = []
    combined = _combined_inputs(meta)
    if combined and metrics.get("source") != "derived":  # the files actually combined
        metrics["inputs"] = combined
    ncombine = _header_value(meta, "NCOMBINE")
    metrics["ncombine"] = int(ncombine) if ncombine is not None else None
    derived = metrics.get("source") == "derived"  # a rebinned copy keeps its source's cards
    if combined and ncombine is not None and int(ncombine) != len(combined) and not derived:
        flags.append(
            flag("info", subject, "ncombine",
                 f"NCOMBINE = {ncombine} but the header lists {len(combined)} combined frames")
        )  # fmt: skip
    exptime = _header_value(meta, "EXPTIME")
    if metrics["kind"] == "flat":
        metrics["exptime"] = None  # a normalised flat has no exposure time
    elif exptime is not None:
        metrics["exptime"] = number(exptime)
    if metrics["median"] is None:
        flags.append(flag("error", subject, "empty", "the master has no good pixel"))
    elif metrics["kind"] == "dark":
        flags += _dark(data, good, metrics, checks)
    elif metrics["kind"] == "flat":
        flags += _flat(data, metrics, checks)
    return flags + _masked_flag(metrics, subject, checks)


def _dark(
    data: np.ndarray, good: np.ndarray | None, metrics: dict[str, Any], checks: QAChecks
) -> list[Flag]:
    subject, median, sigma = metrics["key"], metrics["median"], metrics["robust_sigma"]
    threshold = checks.hot_sigma * sigma
    n_hot = len(hot_pixels(data, good, median, threshold))
    metrics["hot_threshold"] = number(threshold)
    metrics["hot_pixels"] = n_hot
    metrics["hot_fraction"] = number(n_hot / data.size)
    flags: list[Flag] = []
    exptime = metrics.get("exptime")
    if exptime:
        metrics["current_median"] = number(median / exptime)
        metrics["current_mean"] = number(float(np.mean(_sample(data, good))) / exptime)
        error = 1.2533 * sigma / math.sqrt(max(1, metrics["sample_pixels"]))
        if median < -5 * error:
            flags.append(
                flag("warning", subject, "dark-negative",
                     f"median {median:.3g} ADU is below zero: the bias does not match the darks")
            )  # fmt: skip
    else:
        flags.append(flag("info", subject, "exptime", "no EXPTIME: dark current not computed"))
    if n_hot / data.size > checks.max_hot_fraction:
        flags.append(
            flag("warning", subject, "hot-pixels",
                 f"{n_hot} hot pixels ({n_hot / data.size:.2%}) more than {threshold:.3g} ADU "
                 "above their surroundings")
        )  # fmt: skip
    return flags


def _flat(data: np.ndarray, metrics: dict[str, Any], checks: QAChecks) -> list[Flag]:
    subject, median = metrics["key"], metrics["median"]
    low = _fraction(data < checks.low_flat)
    metrics["low_fraction"] = number(low)
    flags: list[Flag] = []
    if abs(median - 1.0) > checks.flat_median_tolerance:
        flags.append(
            flag("warning", subject, "flat-normalisation",
                 f"median {median:.4g} is not near 1: the flat is not normalised")
        )  # fmt: skip
    if low > checks.max_low_flat_fraction:
        flags.append(
            flag("warning", subject, "flat-low",
                 f"{low:.2%} of the pixels are below {checks.low_flat:g} (vignetting or dust)")
        )  # fmt: skip
    if metrics["min"] is not None and metrics["min"] <= 0:
        flags.append(flag("warning", subject, "flat-nonpositive", "unmasked values <= 0"))
    return flags


def _sky_samples(
    data: np.ndarray, good: np.ndarray | None, unc: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The sample grid's good pixels of ``data`` and ``unc`` where σ is finite and positive.

    The same pixels as :func:`_sample` with ``good`` narrowed to usable σ,
    tested on the grid only.
    """
    if unc is None:
        return _sample(data, good), np.zeros(0, dtype=np.float32)
    step = _sample_step(data.shape)
    unc_grid = np.asarray(unc[::step, ::step])
    usable = np.isfinite(unc_grid) & (unc_grid > 0)
    if good is not None:
        usable &= good[::step, ::step]
    return np.asarray(data[::step, ::step])[usable], unc_grid[usable]


def _science(ccd: CCDData, metrics: dict[str, Any], checks: QAChecks) -> list[Flag]:
    data, good = _common(ccd, metrics, robust=False)
    for key, card in (("filter", "FILTER"), ("exptime", "EXPTIME"), ("date_obs", "DATE-OBS")):
        value = _header_value(ccd.meta, card)
        if value is not None:
            metrics[key] = value
    subject = metrics["file"] or metrics["key"]
    flags: list[Flag] = []
    unc = None if ccd.uncertainty is None else np.asarray(ccd.uncertainty.array)
    values, unc_values = _sky_samples(data, good, unc)
    sky, noise, kept = clipped_stats(values, sigma=checks.clip_sigma)
    metrics.update(sky=number(sky), sky_noise=number(noise), sky_pixels=int(kept.sum()))
    exptime = metrics.get("exptime")
    rate = sky / float(exptime) if isinstance(exptime, int | float) and exptime > 0 else None
    metrics["sky_rate"] = number(rate)
    saturated = metrics["quality"].get("saturated_pixels")
    metrics["saturated_fraction"] = None if saturated is None else number(saturated / data.size)
    metrics["uncert_median"] = metrics["noise_ratio"] = None
    if unc is None:
        flags.append(flag("warning", subject, "uncertainty", "no uncertainty plane (UNCERT)"))
    elif kept.any():
        median_unc = float(np.median(unc_values[kept]))
        ratio = noise / median_unc if median_unc > 0 else math.nan
        metrics.update(uncert_median=number(median_unc), noise_ratio=number(ratio, 4))
        low, high = checks.noise_ratio
        if not low <= ratio <= high:
            flags.append(
                flag("warning", subject, "noise-ratio",
                     f"sky noise / median uncertainty = {ratio:.3g}, outside [{low:g}, {high:g}]:"
                     " the uncertainties do not match the scatter")
            )  # fmt: skip
    if not kept.any():
        flags.append(flag("error", subject, "empty", "no good sky pixel"))
    flags += [
        flag("warning", subject, "missing-calibration", f"calibrated without {kind}")
        for kind in metrics.get("missing") or ()
    ]
    return flags + _masked_flag(metrics, subject, checks)


def measure_output(
    metrics: dict[str, Any],
    path: Path | None,
    *,
    science: bool,
    checks: QAChecks,
    thumbnail: Path | None = None,
) -> list[Flag]:
    """Read the output at ``path`` once, fill ``metrics`` and return its flags.

    ``metrics`` holds what the run recorded (``key``, ``kind``, ``status``,
    ``file``, ``quality``...); the numbers measured are added to it, and the
    downsampled frame is written to ``thumbnail`` (a PNG) when given. A task
    that failed, a missing output or a file that cannot be read gives an
    ``error`` flag naming the file, never an exception.

    Examples
    --------
    >>> metrics = {"key": "science/x.fits", "file": "science/x.fits", "status": "failed",
    ...            "message": "FrameReadError: truncated"}
    >>> measure_output(metrics, None, science=True, checks=QAChecks())[0]["check"]
    'failed'
    """
    subject = metrics.get("file") or metrics["key"]
    status = metrics.get("status")
    if status in ("failed", "skipped"):
        return [flag("error", subject, str(status), metrics.get("message") or str(status))]
    if path is None:
        return [flag("error", subject, "no-output", "the run recorded no output file")]
    try:
        from ccdcal.io.fits import read_ccd

        ccd = read_ccd(path, hdu_uncertainty="UNCERT" if science else None)
        return measure_ccd(metrics, ccd, science=science, checks=checks, thumbnail=thumbnail)
    except Exception as exc:  # a broken output must not sink the report
        log.warning("QA: cannot measure %s: %s", path, exc)
        metrics["error"] = f"{type(exc).__name__}: {exc}"
        return [flag("error", subject, "unreadable", f"{path}: {type(exc).__name__}: {exc}")]


def measure_ccd(
    metrics: dict[str, Any],
    ccd: CCDData,
    *,
    science: bool,
    checks: QAChecks,
    thumbnail: Path | None = None,
    write_thumbnail: Callable[[Path, np.ndarray], object] | None = None,
) -> list[Flag]:
    """Fill ``metrics`` from a frame in memory and return its flags (raises on failure).

    What :func:`measure_output` does once it has read the file, and what the
    pipeline's tasks call on the frame they have just written.  The
    downsampled frame goes to ``thumbnail`` through ``write_thumbnail``
    (default :func:`ccdcal.report.plots.write_thumbnail`, a PNG).

    Examples
    --------
    >>> from astropy.nddata import CCDData
    >>> rng = np.random.default_rng(1)
    >>> ccd = CCDData(rng.normal(100.0, 5.0, (64, 64)).astype(np.float32), unit="adu")
    >>> metrics = {"key": "bias_1x1", "kind": "bias", "file": "masters/bias_1x1.fits"}
    >>> flags = measure_ccd(metrics, ccd, science=False, checks=QAChecks())
    >>> round(metrics["median"]), round(metrics["robust_sigma"])
    (100, 5)
    """
    flags = (_science if science else _master)(ccd, metrics, checks)
    if thumbnail is not None or metrics.get("kind") == "flat":
        image = downsample(np.asarray(ccd.data))
        if metrics.get("kind") == "flat":
            metrics["profiles"] = flat_profiles(image)
        if thumbnail is not None:
            if write_thumbnail is None:
                from ccdcal.report import plots

                write_thumbnail = plots.write_thumbnail
            write_thumbnail(thumbnail, image)
            metrics["thumbnail"] = thumbnail.parent.name + "/" + thumbnail.name
    return flags


def measure_in_task(
    metrics: dict[str, Any],
    ccd: CCDData,
    *,
    science: bool,
    thumbnail: Path | None,
    write_thumbnail: Callable[[Path, np.ndarray], object] | None = None,
) -> dict[str, Any]:
    """The QA measurements a pipeline task records: ``{'metrics', 'flags'}`` or ``{}``.

    Taken with the default :class:`QAChecks`; a failure is logged and gives
    ``{}`` (the report then measures the file itself), never an exception.

    >>> measure_in_task({"key": "k", "kind": "bias"}, None, science=False, thumbnail=None)
    {}
    """
    try:
        flags = measure_ccd(
            metrics,
            ccd,
            science=science,
            checks=QAChecks(),
            thumbnail=thumbnail,
            write_thumbnail=write_thumbnail,
        )
    except Exception as exc:  # QA must never fail a calibration
        log.warning("QA: cannot measure %s in its task: %s", metrics.get("key"), exc)
        return {}
    return {"metrics": metrics, "flags": flags}
