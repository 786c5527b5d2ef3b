"""Reading raw frames for the pipeline: overscan, trim, levels, saturation.

Examples
--------
>>> import numpy as np
>>> from astropy.nddata import CCDData
>>> raw = CCDData(np.array([[10, 65535]], dtype=np.uint16), unit="adu")
>>> saturation_level(FrameRef(path="x"), raw)
65535.0
>>> raw_level(np.array([[1.0, 2.0], [3.0, np.nan]]), step=1)
2.0
"""

from __future__ import annotations

import numpy as np
from astropy.nddata import CCDData
from astropy.stats import mad_std
from numba import njit
from numpy.typing import DTypeLike

from ccdcal.io.fits import read_ccd
from ccdcal.pipeline.model import FrameRef

__all__ = [
    "load_raw",
    "overscan_sigma",
    "prepare_raw",
    "raw_level",
    "read_raw",
    "saturation_level",
    "subtract_masters",
]


def read_raw(frame: FrameRef, *, dtype: DTypeLike | None = None) -> CCDData:
    """Read a raw frame as the camera wrote it (read-only): nothing subtracted or cut.

    A frame that :func:`prepare_raw` will overscan-correct is read as float32
    (unless ``dtype`` says otherwise); any other keeps its stored dtype
    (uint16 for a camera frame) unless ``dtype`` is given.
    """
    if frame.overscan and dtype is None:
        dtype = np.float32
    return read_ccd(frame.path, hdu=frame.hdu, unit="adu", dtype=dtype)


def prepare_raw(frame: FrameRef, raw: CCDData) -> CCDData:
    """Subtract the overscan and trim, when the profile found sections for ``frame``.

    The overscan level is the median of each row's overscan pixels (masked
    pixels left out); the mask, if any, is trimmed with the data.  A frame
    without sections is returned as it is.
    """
    ccd = raw
    if frame.overscan:
        from ccdcal.calibrate import subtract_overscan

        ccd = subtract_overscan(ccd, fits_section=frame.overscan, median=True, overscan_axis=None)
    if frame.trim:
        from ccdcal.calibrate import trim_image

        ccd = trim_image(ccd, fits_section=frame.trim)
    return ccd


def overscan_sigma(frame: FrameRef, raw: CCDData) -> float:
    """σ (ADU) of the overscan level :func:`prepare_raw` subtracts from each line; 0 without.

    Measured on the frame itself: the scatter of the per-line medians from
    one line to the next, divided by sqrt(2) (a smooth trend along the
    overscan hardly changes it; steps further than 5 σ are left out).  This
    is the noise a per-line median of few columns really has, rounding to
    whole ADU included, without a model of the median's efficiency.  Lines
    share nothing else, so it adds to every pixel's variance.

    >>> from astropy.nddata import CCDData
    >>> rng = np.random.default_rng(1)
    >>> data = 1000 + rng.normal(0, 5, (4000, 36)).astype(np.float32)
    >>> frame = FrameRef(path="x", overscan="[33:36, *]")
    >>> round(overscan_sigma(frame, CCDData(data, unit="adu")) / 5, 1)  # median of 4: ~0.59
    0.6
    """
    if not frame.overscan:
        return 0.0
    from ccdcal.calibrate.overscan import overscan_profile
    from ccdcal.calibrate.sections import section_to_slices

    region = section_to_slices(frame.overscan, raw.shape)
    values = np.asarray(raw.data[region], dtype=np.float32)
    mask = None if raw.mask is None else np.asarray(raw.mask, dtype=bool)[region]
    axis = 0 if values.shape[1] > values.shape[0] else 1  # as subtract_overscan(overscan_axis=None)
    profile = overscan_profile(values, axis=axis, mask=mask, median=True)
    steps = np.diff(profile.astype(np.float64))
    if steps.size < 3:
        return 0.0
    centre = float(np.median(steps))
    spread = float(mad_std(steps))
    kept = steps[np.abs(steps - centre) <= 5.0 * max(spread, 1.0)]
    return float(np.std(kept) / np.sqrt(2.0))


def load_raw(frame: FrameRef, *, dtype: DTypeLike | None = None) -> CCDData:
    """:func:`read_raw` then :func:`prepare_raw`: the frame's image area, overscan removed.

    Checks on the values the camera wrote (saturation) must be made between
    the two steps instead.
    """
    return prepare_raw(frame, read_raw(frame, dtype=dtype))


def raw_level(
    data: np.ndarray, *, mask: np.ndarray | None = None, step: int | None = None
) -> float:
    """Median of the finite, unmasked pixels (NaN when there is none).

    Taken on every ``step``-th pixel of every ``step``-th row, by default the
    step that leaves about 10^5 pixels: the sample median is then within a
    few 1e-4 of the full one (flat levels only weigh the flats against each
    other), at a tenth of the cost of a full frame's.
    """
    values = np.asarray(data)
    if step is None:
        step = max(1, int(np.sqrt(values.size / 1e5)))
    values = values[::step, ::step]
    if mask is not None:
        values = values[~np.asarray(mask, dtype=bool)[::step, ::step]]
    elif values.dtype.kind in "ui":
        return float(np.median(values))
    values = values[np.isfinite(values)] if values.dtype.kind == "f" else values.ravel()
    if values.size == 0:
        return float("nan")
    return float(np.median(values))


def saturation_level(frame: FrameRef, raw: CCDData) -> float | None:
    """Saturation level (ADU): from the profile or header, else the top of an integer dtype."""
    if frame.saturation is not None:
        return float(frame.saturation)
    dtype = np.asarray(raw.data).dtype
    if dtype.kind in "ui":
        return float(np.iinfo(dtype).max)
    return None


def subtract_masters(
    raw: np.ndarray,
    bias: np.ndarray,
    dark: np.ndarray | None = None,
    *,
    dark_factor: float = 0.0,
    saturation: float | None = None,
) -> tuple[np.ndarray, int]:
    """``raw - bias - dark_factor * dark`` in float32, and how many raw values reach ``saturation``.

    The same float32 operations, in the same order, as
    ``np.subtract(raw, bias, dtype=np.float32) - np.float32(dark_factor) * dark``
    with ``np.count_nonzero(raw >= saturation)`` (0 without ``saturation``);
    for a uint16 or float32 frame with float32 masters, all C-contiguous, in
    one pass (:func:`_subtract_scaled_kernel`), without temporary arrays.

    Parameters
    ----------
    raw : ndarray
        The frame (integers or floats).
    bias, dark : ndarray
        Master bias and (optionally) master dark, of ``raw``'s shape.
    dark_factor : float
        Scale of the dark (the frame's exposure over the dark's).
    saturation : float, optional
        Level at or above which a raw value counts as saturated.

    Returns
    -------
    data : ndarray
        float32, a new array.
    n_saturated : int

    Examples
    --------
    >>> raw = np.array([[100, 65535]], dtype=np.uint16)
    >>> bias = np.full((1, 2), 10.0, dtype=np.float32)
    >>> dark = np.full((1, 2), 4.0, dtype=np.float32)
    >>> data, n = subtract_masters(raw, bias, dark, dark_factor=0.5, saturation=65535.0)
    >>> data.tolist(), n
    ([[88.0, 65523.0]], 1)
    """
    raw, bias = np.asarray(raw), np.asarray(bias)
    if _fits_kernel(raw, bias, dark):
        assert dark is not None  # for mypy: _fits_kernel checked it
        out = np.empty(raw.shape, dtype=np.float32)
        # a float32 frame is compared in float32, an integer one in float64 (as numpy does)
        threshold = np.inf if saturation is None else saturation
        limit = np.float32(threshold) if raw.dtype == np.float32 else np.float64(threshold)
        n = _subtract_scaled_kernel(
            raw.reshape(-1),
            bias.reshape(-1),
            dark.reshape(-1),
            np.float32(dark_factor),
            limit,
            out.reshape(-1),
        )
        return out, 0 if saturation is None else int(n)
    n = 0 if saturation is None else int(np.count_nonzero(raw >= saturation))
    data = np.subtract(raw, bias, dtype=np.float32)
    if dark is not None:
        data -= np.multiply(dark, np.float32(dark_factor), dtype=np.float32)
    return data, n


def _fits_kernel(raw: np.ndarray, bias: np.ndarray, dark: np.ndarray | None) -> bool:
    """Whether :func:`_subtract_scaled_kernel` has a compiled version for these arrays."""
    if dark is None or raw.dtype not in (np.uint16, np.float32):
        return False
    arrays = (raw, bias, np.asarray(dark))
    return all(a.shape == raw.shape and a.flags.c_contiguous for a in arrays) and all(
        a.dtype == np.float32 and a.dtype.isnative for a in arrays[1:]
    )


@njit(
    [
        "int64(uint16[::1], float32[::1], float32[::1], float32, float64, float32[::1])",
        "int64(float32[::1], float32[::1], float32[::1], float32, float32, float32[::1])",
    ],
    cache=True,
    nogil=True,
)
def _subtract_scaled_kernel(
    raw: np.ndarray,
    bias: np.ndarray,
    dark: np.ndarray,
    factor: np.float32,
    limit: np.float32 | np.float64,
    out: np.ndarray,
) -> int:  # pragma: no cover - jit
    """``out = (raw - bias) - dark * factor`` (float32, rounded at each step); raw values >= limit.

    Compiled when this module is imported (the signatures are given), so
    that a forked worker finds it loaded.
    """
    n = 0
    for i in range(raw.size):
        value = raw[i]
        n += value >= limit
        out[i] = (np.float32(value) - bias[i]) - dark[i] * factor
    return n
