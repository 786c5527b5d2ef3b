"""A synthetic pt5m night (quarter size), reduced once per session for the QA report tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from ccdcal.pipeline import RunResult, plan_night, run_plan
from ccdcal.testing.night import NightTruth, make_night


@dataclass(frozen=True)
class ReducedNight:
    """The truth of the night, its output directory and the run result."""

    truth: NightTruth
    out_dir: Path
    run: RunResult


@pytest.fixture(scope="session")
def reduced(tmp_path_factory: pytest.TempPathFactory) -> ReducedNight:
    """Quarter-size night with one truncated raw science file, reduced serially."""
    root = tmp_path_factory.mktemp("qa-night")
    truth = make_night(root, seed=11, size_factor=0.25, n_science=3, corrupt_file=True)
    assert truth.raw_dir is not None
    plan = plan_night(truth.raw_dir, out_dir=root / "out", use_cache=False)
    run = run_plan(plan, executor="serial", library=False)
    return ReducedNight(truth=truth, out_dir=root / "out", run=run)
