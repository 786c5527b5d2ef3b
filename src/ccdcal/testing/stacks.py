"""Synthetic stacks with known truth, for the combination tests and benchmarks.

* :func:`gaussian_stack` -- N frames of a known level plus Gaussian noise,
  with optional outliers (cosmic-ray-like hits) at known places;
* :func:`write_raw_frames` -- the same written as a camera writes raw
  frames: uint16 stored as BITPIX 16 with BZERO 32768, one primary HDU.

Examples
--------
>>> stack, truth = gaussian_stack(5, (4, 6), level=100.0, noise=2.0, seed=1)
>>> stack.shape, stack.dtype, truth.level
((5, 4, 6), dtype('float32'), 100.0)
>>> bool(truth.outliers.any())
False
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.nddata import CCDData
from numpy.typing import DTypeLike

__all__ = ["StackTruth", "gaussian_stack", "stack_to_ccds", "write_raw_frames"]


@dataclass
class StackTruth:
    """What a synthetic stack was made of."""

    level: float
    noise: float
    outliers: np.ndarray
    outlier_value: float


def gaussian_stack(
    n: int,
    shape: tuple[int, int],
    *,
    level: float = 1000.0,
    noise: float = 10.0,
    seed: int = 0,
    outlier_fraction: float = 0.0,
    outlier_value: float = 5000.0,
    dtype: DTypeLike = np.float32,
    rounded: bool = False,
) -> tuple[np.ndarray, StackTruth]:
    """N frames of ``level + N(0, noise)``; a fraction of values get ``+outlier_value``.

    ``rounded=True`` rounds to integers (as raw ADU are).
    """
    rng = np.random.default_rng(seed)
    values = level + noise * rng.standard_normal((n, *shape))
    outliers = rng.random((n, *shape)) < outlier_fraction
    values[outliers] += outlier_value
    if rounded:
        values = np.round(values)
    return values.astype(dtype), StackTruth(level, noise, outliers, outlier_value)


def stack_to_ccds(
    stack: np.ndarray,
    *,
    unit: str = "adu",
    mask: np.ndarray | None = None,
    uncertainty: np.ndarray | None = None,
    meta: Sequence[dict[str, object]] | None = None,
) -> list[CCDData]:
    """One ``CCDData`` per frame of a stack (optionally with masks and std uncertainties)."""
    from astropy.nddata import StdDevUncertainty

    return [
        CCDData(
            stack[i].copy(),
            unit=unit,
            mask=None if mask is None else mask[i].copy(),
            uncertainty=None if uncertainty is None else StdDevUncertainty(uncertainty[i]),
            meta=dict(meta[i]) if meta is not None else {},
        )
        for i in range(stack.shape[0])
    ]


def write_raw_frames(
    folder: str | os.PathLike[str],
    n: int,
    shape: tuple[int, int],
    *,
    level: float = 1000.0,
    noise: float = 10.0,
    seed: int = 0,
    outlier_fraction: float = 0.001,
    prefix: str = "bias",
    exptime: float = 0.0,
) -> list[Path]:
    """Write N raw uint16 frames (BITPIX 16, BZERO 32768) and return their paths.

    Frames are generated one at a time, so memory stays at one frame.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        values = level + noise * rng.standard_normal(shape, dtype=np.float32)
        hits = rng.random(shape, dtype=np.float32) < outlier_fraction
        values[hits] += 5000.0
        data = np.clip(np.round(values), 0, 65535).astype(np.uint16)
        hdu = fits.PrimaryHDU(data)
        hdu.header["IMAGETYP"] = ("BIAS" if exptime == 0 else "DARK", "frame type")
        hdu.header["EXPTIME"] = (exptime, "exposure time (s)")
        hdu.header["GAIN"] = (1.5, "e-/ADU")
        hdu.header["RDNOISE"] = (noise * 1.5, "e-")
        path = folder / f"{prefix}_{i:03d}.fits"
        hdu.writeto(path, overwrite=True)
        paths.append(path)
    return paths
