"""Shared fixtures: tiny synthetic pt5m nights, reduced once per module."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ccdcal.pipeline import RunResult, plan_night, run_plan
from ccdcal.testing.night import NightTruth, make_night

#: Unbinned shape of the test nights: small, even, binnable by 2.
TINY = (64, 96)


def tiny_night(directory: Path, **kwargs: Any) -> NightTruth:
    """A small pt5m-like night: 3 biases and darks per binning, 3+1 flats per filter."""
    settings: dict[str, Any] = {
        "seed": 5,
        "shape": TINY,
        "n_bias": 3,
        "n_dark": 3,
        "n_flat": 3,
        "n_science": 2,
        "junk_files": True,
    }
    settings.update(kwargs)
    return make_night(directory, **settings)


def reduce(raw: Path, out: Path, **kwargs: Any) -> RunResult:
    """Plan and run serially (no library unless asked)."""
    plan_kw = {k: kwargs.pop(k) for k in ("options", "library_lookup") if k in kwargs}
    plan = plan_night(
        raw, out_dir=out, options=plan_kw.get("options"), library=plan_kw.get("library_lookup")
    )
    kwargs.setdefault("executor", "serial")
    return run_plan(plan, **kwargs)


def tree_checksums(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


Reducer = Callable[..., RunResult]


@pytest.fixture(scope="session")
def reducer() -> Reducer:
    """``reducer(raw, out, **kwargs)``: plan and run serially."""
    return reduce


@pytest.fixture(scope="session")
def checksums() -> Callable[[Path], dict[str, str]]:
    """``checksums(folder)``: SHA-256 of every file under it."""
    return tree_checksums


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> NightTruth:
    """A tiny night with a corrupt science file, a log and a notes file."""
    return tiny_night(tmp_path_factory.mktemp("night"), corrupt_file=True)


@pytest.fixture(scope="module")
def raw_before(night: NightTruth) -> dict[str, str]:
    """Checksums of the raw tree before any reduction touched it."""
    assert night.raw_dir is not None
    return tree_checksums(night.raw_dir)


@pytest.fixture(scope="module")
def reduced(
    night: NightTruth, raw_before: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> RunResult:
    """The night reduced once, serially, with the default library in OUT_DIR."""
    assert night.raw_dir is not None
    return reduce(night.raw_dir, tmp_path_factory.mktemp("out"))


@pytest.fixture
def make_tiny(tmp_path: Path) -> Callable[..., NightTruth]:
    """Make a tiny night in a fresh folder."""

    def make(**kwargs: Any) -> NightTruth:
        return tiny_night(tmp_path / "night", **kwargs)

    return make
