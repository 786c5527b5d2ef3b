"""Shared fixtures of the collection tests: an isolated cache and config folder, frame writers."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

REAL_NIGHT = (
    Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "umd-sbig-st8-20250624"
)


@pytest.fixture(autouse=True)
def isolated_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Every test gets its own header cache and user-config folder."""
    base = tmp_path_factory.mktemp("ccdcal-home")
    monkeypatch.setenv("CCDCAL_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("CCDCAL_CONFIG_DIR", str(base / "config"))
    return base


def make_old(path: Path | str, seconds: float = 60.0) -> None:
    """Set a file's mtime into the past, so the header cache accepts it."""
    when = time.time() - seconds
    os.utime(path, (when, when))


def write_frame(
    path: Path,
    header: Mapping[str, Any] | None = None,
    *,
    shape: tuple[int, int] = (4, 6),
    dtype: Any = np.uint16,
    old: bool = True,
) -> Path:
    """Write a small FITS frame with the given header cards (and mtime in the past)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = np.arange(shape[0] * shape[1], dtype=dtype).reshape(shape)
    hdr = fits.Header()
    for key, value in (header or {}).items():
        hdr[key] = value
    fits.PrimaryHDU(data, hdr).writeto(path, overwrite=True)
    if old:
        make_old(path)
    return path


def pt5m_header(
    kind: str, *, exptime: float = 10.0, filt: str = "V", binning: int = 1
) -> dict[str, Any]:
    """Header cards as pt5m writes them."""
    return {
        "TELE": "pt5m",
        "INSTRUME": "QSI 532ws",
        "TYPE": kind,
        "FILTER": filt,
        "EXPTIME": exptime,
        "DATE-OBS": "2025-06-24T21:00:00.5",
        "XBINNING": binning,
        "YBINNING": binning,
        "GAIN": 1.1,
        "RDNOISE": 8.0,
        "CCD-TEMP": -19.9,
        "SET-TEMP": -20.0,
    }


@pytest.fixture
def real_night() -> Path:
    """The UMD SBIG ST-8 night (MaxIm DL headers), or skip."""
    if not REAL_NIGHT.is_dir():
        pytest.skip(f"real data not found at {REAL_NIGHT}")
    return REAL_NIGHT.resolve()
