"""Fixtures for the combination tests: small raw files, stacks, and ccdproc 2.5.1."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ccdcal.stacking import engine
from ccdcal.testing.stacks import write_raw_frames


@pytest.fixture(scope="session")
def ccdproc() -> Any:
    """ccdproc 2.5.1, the reference where it is right."""
    module = pytest.importorskip("ccdproc")
    assert module.__version__.startswith("2.5.1"), module.__version__
    return module


@pytest.fixture(scope="session")
def raw_files(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Seven raw uint16 bias frames (BZERO 32768) of 30 x 41 with cosmic-ray hits."""
    folder = tmp_path_factory.mktemp("raw")
    return write_raw_frames(folder, 7, (30, 41), seed=3, outlier_fraction=0.02)


@pytest.fixture
def small_bands(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the engine cut images into bands of a few rows (value: a setter)."""

    def set_rows(n_frames: int, width: int, rows: int, itemsize: int = 4) -> None:
        monkeypatch.setattr(engine, "TARGET_BAND_BYTES", n_frames * width * itemsize * rows)

    return set_rows


@pytest.fixture
def quiet_astropy() -> Iterator[None]:
    """ccdproc's reads warn about headers (FITSFixedWarning); keep test output clean."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        yield


def stack_of(ccds: list[Any]) -> np.ndarray:
    """The data of CCDData frames as one float64 stack."""
    return np.stack([np.asarray(c.data, dtype=np.float64) for c in ccds])
