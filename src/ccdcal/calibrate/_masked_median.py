"""Median filters that leave out masked pixels, and a robust noise estimate.

``median_filter(values, bad, size)`` is scipy's ``ndimage.median_filter``
(same boxes, 'reflect' edges, upper median for an even count) computed over
the good pixels only; boxes without a bad pixel are scipy's own result, so
the cost is scipy's plus a sort of the boxes that touch a bad pixel.
``masked_median_at`` gives the same medians at chosen pixels only.

Examples
--------
>>> import numpy as np
>>> values = np.array([[1, 2, 3], [4, 500, 600], [7, 8, 700]], np.float32)
>>> bad = values > 100  # e.g. a masked saturated star
>>> float(median_filter(values, None, 3)[1, 1]), float(median_filter(values, bad, 3)[1, 1])
(7.0, 4.0)
>>> robust_sigma(np.array([0.0, 1.0, -1.0, 100.0]), np.ones(4, bool))
1.482602218505602
"""

from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["masked_median_at", "median_filter", "robust_sigma"]

#: σ of a normal distribution per unit of median absolute deviation.
_MAD_TO_SIGMA = 1.482602218505602
#: Box pixels sorted at once by ``masked_median_at`` (bounds its temporary memory).
_CHUNK_PIXELS = 1 << 22


def masked_median_at(
    values: np.ndarray, bad: np.ndarray, size: int, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Median of the good pixels of the ``size``×``size`` box at each (row, col).

    ``values`` must be floating point.
    Boxes and edges are scipy's ``median_filter`` ones (mode 'reflect', upper
    median for an even count), so with no bad pixel the result is scipy's.
    A box without a good pixel gives NaN.
    """
    before = size // 2
    pad = ((before, size - before - 1),) * 2
    windows = sliding_window_view(np.pad(values, pad, mode="symmetric"), (size, size))
    flags = sliding_window_view(np.pad(bad, pad, mode="symmetric"), (size, size))
    out = np.empty(rows.size, dtype=values.dtype)
    chunk = max(1, _CHUNK_PIXELS // (size * size))
    for start in range(0, rows.size, chunk):
        r, c = rows[start : start + chunk], cols[start : start + chunk]
        box = windows[r, c].reshape(r.size, -1)
        box_bad = flags[r, c].reshape(r.size, -1)
        box[box_bad] = np.inf
        box.sort(axis=1)
        count = box.shape[1] - np.count_nonzero(box_bad, axis=1)
        picked = np.take_along_axis(box, (count // 2)[:, None], axis=1)[:, 0]
        out[start : start + r.size] = np.where(count > 0, picked, np.nan)
    return out


def median_filter(values: np.ndarray, bad: np.ndarray | None, size: int) -> np.ndarray:
    """scipy's ``median_filter(values, size)`` with the ``bad`` pixels left out.

    scipy computes every box; only boxes that hold a bad pixel are computed
    again, without it.
    """
    from scipy import ndimage  # deferred: a costly import most calibrations never need

    if bad is None:
        return ndimage.median_filter(values, size=size)
    med = ndimage.median_filter(np.where(bad, 0, values), size=size)
    rows, cols = np.nonzero(ndimage.maximum_filter(bad, size=size))
    med[rows, cols] = masked_median_at(values, bad, size, rows, cols)
    return med


def robust_sigma(residual: np.ndarray, usable: np.ndarray) -> float:
    """1.4826 · MAD of the residual over the usable pixels (NaN if there are none)."""
    sample = residual[usable]
    if sample.size == 0:
        return math.nan
    centred = np.abs(sample - np.median(sample))
    return float(_MAD_TO_SIGMA * np.median(centred))
