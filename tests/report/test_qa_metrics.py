"""QA numbers of a reduced synthetic night against its ground truth."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console
from scipy.ndimage import median_filter

from ccdcal.cli.main import main
from ccdcal.errors import ParameterTypeError, PipelineError
from ccdcal.pipeline import RunResult, load_run
from ccdcal.report.measure import MAX_SAMPLE, _sample_step
from ccdcal.report.qa import qa_metrics
from ccdcal.testing.night import make_night

from .conftest import ReducedNight


@pytest.fixture(scope="module")
def metrics(reduced: ReducedNight) -> dict[str, Any]:
    return qa_metrics(reduced.run)


def _master(metrics: dict[str, Any], key: str) -> dict[str, Any]:
    return next(m for m in metrics["masters"] if m["key"] == key)


def test_noise_ratio_of_synthetic_frames_is_one(metrics: dict[str, Any]) -> None:
    science = metrics["science"]
    assert len(science) == 6
    for entry in science:
        assert 0.85 <= entry["noise_ratio"] <= 1.15, entry["file"]
        assert not [f for f in entry["flags"] if f["check"] == "noise-ratio"]
        assert entry["sky_pixels"] > 0.9 * min(MAX_SAMPLE, math.prod(entry["shape"]) / 4)


def test_sky_level_matches_truth(metrics: dict[str, Any], reduced: ReducedNight) -> None:
    truth = reduced.truth
    for entry in metrics["science"]:
        frame = truth.frame(entry["raw"])
        # sky in e-/s per 1x1 pixel, summed over a 2x2 pixel, in ADU
        expected = frame.sky * frame.binning**2 * frame.exptime / truth.gain
        assert entry["sky"] == pytest.approx(expected, rel=0.01), entry["file"]
        assert entry["sky_noise"] > 0
        assert entry["uncert_median"] > 0


def test_science_entries_name_the_masters_used(
    metrics: dict[str, Any], reduced: ReducedNight
) -> None:
    for entry in metrics["science"]:
        frame = reduced.truth.frame(entry["raw"])
        assert entry["masters"]["bias"] == "bias_2x2"
        assert entry["masters"]["flat"].startswith(f"flat_1x1_{frame.filter}")
        assert entry["filter"] == frame.filter
        assert entry["date_obs"].startswith(frame.date_obs[:19])


def _dark_sample(reduced: ReducedNight, binning: int) -> np.ndarray:
    rate = reduced.truth.dark_rate(binning)
    step = _sample_step(rate.shape)
    return np.asarray(rate[::step, ::step]).ravel()


@pytest.mark.parametrize("binning", [1, 2])
def test_dark_current_matches_truth(
    metrics: dict[str, Any], reduced: ReducedNight, binning: int
) -> None:
    dark = _master(metrics, f"dark_{binning}x{binning}_60s")
    t, sigma = dark["exptime"], dark["robust_sigma"]
    assert t == 60.0
    truth = _dark_sample(reduced, binning)  # ADU/s, on the pixels QA samples
    n = truth.size
    # the mean is linear: the master's mean is the truth's mean
    assert abs(dark["current_mean"] - truth.mean()) < 4 * sigma / math.sqrt(n) / t
    # the median of truth + read noise (the noise is wider than the spread of the current)
    rng = np.random.default_rng(3)
    noisy = truth * t + rng.normal(0.0, sigma, (20, n))
    expected = float(np.median(np.median(noisy, axis=1))) / t
    # the master is the mean of 5 integer darks minus that of 5 biases: where nothing is
    # rejected (nearly everywhere) it lies on a grid of 1/5 ADU, and so does its median
    tolerance = 4 * 1.2533 * sigma / math.sqrt(n) + (1 / 5) / 2
    assert abs(dark["current_median"] - expected) < tolerance / t


@pytest.mark.parametrize("binning", [1, 2])
def test_hot_pixels_are_the_true_ones(
    metrics: dict[str, Any], reduced: ReducedNight, binning: int
) -> None:
    dark = _master(metrics, f"dark_{binning}x{binning}_60s")
    signal = reduced.truth.dark_rate(binning) * dark["exptime"]
    excess = signal - median_filter(signal, size=7, mode="nearest")
    sure = int(np.count_nonzero(excess > dark["hot_threshold"] + 4 * dark["robust_sigma"]))
    maybe = int(np.count_nonzero(excess > dark["hot_threshold"] - 4 * dark["robust_sigma"]))
    assert sure >= 5  # the test means something
    assert sure <= dark["hot_pixels"] <= maybe + 2
    # the amplifier glow in the corner is not counted (it is hundreds of pixels in 2x2)
    assert dark["hot_fraction"] < 0.001
    assert not [f for f in dark["flags"] if f["check"] == "hot-pixels"]


def test_flats_are_normalised_with_the_true_profile(
    metrics: dict[str, Any], reduced: ReducedNight
) -> None:
    from ccdcal.report.measure import downsample, flat_profiles

    for name in ("V", "R"):
        flat = _master(metrics, f"flat_1x1_{name}")
        truth = reduced.truth.flat[name]
        assert flat["median"] == pytest.approx(float(np.median(truth)), abs=0.005)
        assert abs(flat["median"] - 1.0) < 0.02
        assert flat["low_fraction"] == float(np.mean(truth < 0.5))
        assert flat["min"] == pytest.approx(float(truth.min()), abs=0.05)
        expected = np.array(flat_profiles(downsample(truth))["radial"], dtype=float)
        assert np.allclose(flat["profiles"]["radial"], expected, atol=0.005)
        assert expected[0] - expected[-1] > 0.05  # vignetting: the corners are darker


def test_left_out_flats_are_the_bad_ones(metrics: dict[str, Any], reduced: ReducedNight) -> None:
    for name in ("V", "R"):
        bad = {
            Path(f.path).name
            for f in reduced.truth.frames
            if f.kind == "flat" and f.filter == name and f.flags
        }
        flat = _master(metrics, f"flat_1x1_{name}")
        assert {r["file"] for r in flat["left_out"]} == bad
        assert all(r["reason"] for r in flat["left_out"])
        assert len(flat["inputs"]) == 5
        assert bad.isdisjoint(flat["inputs"])


def test_bias_master_numbers(metrics: dict[str, Any], reduced: ReducedNight) -> None:
    for binning in (1, 2):
        bias = _master(metrics, f"bias_{binning}x{binning}")
        truth = reduced.truth.bias[binning]
        assert bias["median"] == pytest.approx(float(np.median(truth)), abs=0.5)
        assert bias["ncombine"] == 5
        assert bias["masked_fraction"] == 0.0
        # master noise: the bias pattern plus read noise / sqrt(5)
        pattern = float(np.std(truth))
        noise = reduced.truth.read_noise_adu / math.sqrt(5)
        assert bias["robust_sigma"] == pytest.approx(math.hypot(pattern, noise), rel=0.1)


def test_plan_problems_become_flags(metrics: dict[str, Any], reduced: ReducedNight) -> None:
    corrupt = next(Path(f.path).name for f in reduced.truth.frames if "corrupt" in f.flags)
    flags = [f for f in metrics["flags"] if f["subject"] == corrupt]
    assert flags
    assert flags[0]["check"] == "unreadable"
    assert metrics["night"]["complete"] is False
    assert metrics["night"]["counts"]["unreadable"] == 1
    assert [f["severity"] for f in metrics["flags"]] == sorted(
        (f["severity"] for f in metrics["flags"]), key=["error", "warning", "info"].index
    )


def test_metrics_from_the_folder_equal_those_from_the_run(
    metrics: dict[str, Any], reduced: ReducedNight
) -> None:
    again = qa_metrics(reduced.out_dir)
    assert json.dumps(again["science"]) == json.dumps(metrics["science"])
    assert json.dumps(again["masters"]) == json.dumps(metrics["masters"])


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(PipelineError, match=r"run-summary\.json"):
        qa_metrics(tmp_path)
    with pytest.raises(ParameterTypeError, match="RunResult or the path"):
        qa_metrics(42)  # type: ignore[arg-type]


def _without_task_measurements(run: RunResult) -> RunResult:
    return dataclasses.replace(
        run,
        masters={k: dataclasses.replace(t, qa={}) for k, t in run.masters.items()},
        science=[dataclasses.replace(t, qa={}) for t in run.science],
    )


def test_tasks_measure_their_outputs_as_the_report_would_from_the_files(
    reduced: ReducedNight,
) -> None:
    built = [t for t in [*reduced.run.masters.values(), *reduced.run.science] if t.ok]
    assert built
    assert all(t.qa for t in built)  # measured in the tasks, frames in memory
    recorded = qa_metrics(reduced.run)
    from_files = qa_metrics(_without_task_measurements(reduced.run))
    for part in ("masters", "science"):
        assert [e["key"] for e in recorded[part]] == [e["key"] for e in from_files[part]]
        for a, b in zip(recorded[part], from_files[part], strict=True):
            assert a == b, a["key"]
    assert recorded["flags"] == from_files["flags"]


def test_reduce_without_report_measures_nothing_in_the_tasks(tmp_path: Path) -> None:
    truth = make_night(tmp_path / "n", seed=3, shape=(48, 64), n_bias=2, n_dark=2, n_flat=2,
                       n_science=1)  # fmt: skip
    assert truth.raw_dir is not None
    out = tmp_path / "out"
    argv = ["reduce", str(truth.raw_dir), "-o", str(out), "--executor", "serial", "--no-report"]
    assert main(argv, console=Console(quiet=True)) == 0
    run = load_run(out)
    assert run.science
    assert not any(t.qa for t in [*run.masters.values(), *run.science])
    assert not (out / "qa").exists()
