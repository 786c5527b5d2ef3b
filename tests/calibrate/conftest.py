"""Fixtures for the calibration-step tests: small frames and ccdproc 2.5.1 as reference."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

REAL_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "umd-sbig-st8-20250624"


def _make_ccd(
    shape: tuple[int, int] = (20, 30),
    *,
    mean: float = 100.0,
    scale: float = 10.0,
    dtype: Any = np.float32,
    sigma: float | None = None,
    mask_fraction: float = 0.0,
    unit: str = "adu",
    header: dict[str, Any] | None = None,
    seed: int = 0,
) -> CCDData:
    """A CCDData with N(mean, scale) data, optional constant-ish σ and a random mask."""
    rng = np.random.default_rng(seed)
    data = rng.normal(mean, scale, shape)
    if np.dtype(dtype).kind in "iu":
        data = np.clip(np.rint(data), 0, np.iinfo(dtype).max)
    ccd = CCDData(data.astype(dtype), unit=unit, meta=fits.Header(header or {}))
    if sigma is not None:
        ccd.uncertainty = StdDevUncertainty(
            (sigma * (1 + 0.1 * rng.random(shape))).astype(np.result_type(dtype, np.float32))
        )
    if mask_fraction:
        ccd.mask = rng.random(shape) < mask_fraction
    return ccd


@pytest.fixture
def make_ccd() -> Callable[..., CCDData]:
    """Factory for small seeded frames (see ``_make_ccd``)."""
    return _make_ccd


@pytest.fixture(scope="session")
def ccdproc() -> Any:
    """ccdproc 2.5.1, the reference implementation."""
    module = pytest.importorskip("ccdproc")
    assert module.__version__.startswith("2.5.1"), module.__version__
    return module


@pytest.fixture(scope="session")
def real_data() -> Path:
    """The UMD SBIG ST-8 night, or skip when it is not next to the repository."""
    if not (REAL_DATA / "PROVENANCE.md").is_file():
        pytest.skip(f"real frames not found at {REAL_DATA} (../shared/data is not checked out)")
    return REAL_DATA


def snapshot(ccd: CCDData) -> dict[str, Any]:
    """Copies of everything a step must not change."""
    return {
        "data": np.array(ccd.data, copy=True),
        "mask": None if ccd.mask is None else np.array(ccd.mask, copy=True),
        "sigma": None if ccd.uncertainty is None else np.array(ccd.uncertainty.array, copy=True),
        "meta": dict(ccd.meta),
        "unit": ccd.unit,
    }


def assert_unchanged(ccd: CCDData, before: dict[str, Any]) -> None:
    """Fail if ``ccd`` differs from its ``snapshot``."""
    np.testing.assert_array_equal(ccd.data, before["data"])
    assert ccd.data.dtype == before["data"].dtype
    if before["mask"] is None:
        assert ccd.mask is None
    else:
        np.testing.assert_array_equal(ccd.mask, before["mask"])
    if before["sigma"] is None:
        assert ccd.uncertainty is None
    else:
        np.testing.assert_array_equal(ccd.uncertainty.array, before["sigma"])
    assert dict(ccd.meta) == before["meta"]
    assert ccd.unit == before["unit"]


@pytest.fixture
def unchanged() -> tuple[Callable[[CCDData], dict[str, Any]], Callable[..., None]]:
    """(snapshot, assert_unchanged) pair."""
    return snapshot, assert_unchanged
