"""A night whose frames have an overscan (BIASSEC/TRIMSEC) reduced end to end.

The synthetic bias level drifts from frame to frame (the same offset in the
overscan and the image area), so only a real overscan subtraction recovers
the truth; a reduction that ignores the overscan is run as the control.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy.io import fits

from ccdcal.io.fits import read_ccd
from ccdcal.io.provenance import read_provenance
from ccdcal.pipeline import RunResult
from ccdcal.pipeline.demo import compare_with_truth
from ccdcal.testing.night import FrameTruth, NightTruth, make_night

OVERSCAN = 32  # columns per unbinned width: 32 at 1x1, 16 at 2x2
BAD_RUN = "r0009999.fits"  # a bias whose BIASSEC reaches past the image


def _binning(shape: tuple[int, int], b: int) -> tuple[int, int]:
    return (shape[0] // b, shape[1] // b)


def _add_bad_bias(truth: NightTruth) -> Path:
    """A copy of the first 1x1 bias whose BIASSEC ends 8 columns past the frame."""
    assert truth.raw_dir is not None
    first = next(f for f in truth.frames if f.kind == "bias" and f.binning == 1)
    source = truth.raw_dir / first.path
    bad = source.with_name(BAD_RUN)
    with fits.open(source) as hdul:
        header = hdul[0].header.copy()
        nx, ny = header["NAXIS1"], header["NAXIS2"]
        header["BIASSEC"] = f"[{nx - OVERSCAN + 1}:{nx + 8},1:{ny}]"
        fits.PrimaryHDU(hdul[0].data, header).writeto(bad)
    return bad


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> NightTruth:
    truth = make_night(
        tmp_path_factory.mktemp("osnight"), seed=7, size_factor=0.25, n_bias=3, n_dark=3,
        n_flat=3, n_science=2, overscan=OVERSCAN,
    )  # fmt: skip
    _add_bad_bias(truth)
    return truth


@pytest.fixture(scope="module")
def reduced(night: NightTruth, reducer: Any, tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    assert night.raw_dir is not None
    result: RunResult = reducer(night.raw_dir, tmp_path_factory.mktemp("out"))
    return result


@pytest.fixture
def no_overscan_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A user pt5m profile that reads TRIMSEC but not BIASSEC: frames trimmed, drift kept."""
    config = tmp_path / "config"
    (config / "instruments").mkdir(parents=True)
    (config / "instruments" / "pt5m.toml").write_text(
        'name = "pt5m"\nextends = "pt5m"\n'
        '[detect]\nany = [{ keyword = "TELE", equals = "pt5m" }]\n'
        "[keywords]\noverscan = []\n"
    )
    monkeypatch.setenv("CCDCAL_CONFIG_DIR", str(config))


def _science_truth(night: NightTruth, result: RunResult) -> list[tuple[FrameTruth, Path]]:
    assert night.raw_dir is not None
    out = []
    for spec in result.plan.science:
        done = next(s for s in result.science if s.key == spec.output)
        assert done.ok, done
        assert done.output is not None
        out.append(
            (night.frame(Path(spec.frame.path).relative_to(night.raw_dir)), Path(done.output))
        )
    return out


def _drift_error(night: NightTruth, frame: FrameTruth, dark_exptime: float) -> float:
    """What a reduction without the overscan leaves in ``frame`` (ADU, before the flat).

    calibrated = raw - B - (t/t_K) K with B the mean of the biases and K the
    mean of the darks minus B: each brings its frames' mean offset.
    """
    same = [f for f in night.frames if f.binning == frame.binning]
    bias = np.mean([f.bias_offset for f in same if f.kind == "bias"])
    dark = np.mean([f.bias_offset for f in same if f.kind == "dark"])
    return float(frame.bias_offset - bias - frame.exptime / dark_exptime * (dark - bias))


def _good_residual(night: NightTruth, frame: FrameTruth, path: Path) -> np.ndarray:
    ccd = read_ccd(path)
    good = ~np.asarray(ccd.mask, dtype=bool) & np.isfinite(ccd.data)
    return np.asarray(ccd.data - night.signal[frame.path], dtype=np.float64)[good]


# ----------------------------------------------------------------------------- shapes, provenance


def test_masters_and_science_have_the_trimmed_shape(night: NightTruth, reduced: RunResult) -> None:
    assert len(reduced.calibrated) == 4
    masters = reduced.master_paths()
    assert set(masters) >= {"bias_1x1", "bias_2x2", "dark_1x1_60s", "dark_2x2_60s"}
    for key, path in masters.items():
        binning = 2 if "2x2" in key else 1
        assert read_ccd(path).shape == _binning(night.shape, binning), key
    for path in reduced.science_paths():
        assert read_ccd(path).shape == _binning(night.shape, 2)


def test_science_provenance_records_overscan_and_trim(
    night: NightTruth, reduced: RunResult
) -> None:
    for frame, path in _science_truth(night, reduced):
        records = read_provenance(read_ccd(path).meta)
        steps = [r["step"] for r in records]
        assert steps[:3] == ["subtract_overscan", "trim_image", "create_deviation"]
        assert night.raw_dir is not None
        raw_header = fits.getheader(night.raw_dir / frame.path)
        overscan, trim = records[0]["params"], records[1]["params"]
        assert overscan["region"] == raw_header["BIASSEC"]
        assert overscan["median"] is True
        assert overscan["overscan_axis"] == 1  # one level per row
        # the level subtracted carries this frame's drift
        true_level = float(np.mean(night.overscan_level(2))) + frame.bias_offset
        assert overscan["mean_level"] == pytest.approx(true_level, abs=1.0)
        assert trim["section"] == raw_header["TRIMSEC"]
        assert trim["shape"] == list(_binning(night.shape, 2))


def test_overscan_noise_is_measured_and_in_the_uncertainty(
    night: NightTruth, reduced: RunResult
) -> None:
    for _, path in _science_truth(night, reduced):
        record = next(
            r for r in read_provenance(read_ccd(path).meta) if r["step"] == "calibrate_science"
        )
        # median of 16 columns: about sqrt(pi / (2 * 16)) of the read noise
        expected = np.sqrt(np.pi / (2 * OVERSCAN // 2)) * night.read_noise_adu
        assert record["params"]["overscan_sigma"] == pytest.approx(expected, rel=0.15)


# ----------------------------------------------------------------------------- against the truth


def test_calibrated_frames_match_the_truth(night: NightTruth, reduced: RunResult) -> None:
    report = compare_with_truth(reduced, night)
    assert len(report.frames) == 4
    for frame in report.frames:
        assert abs(frame.median_pull) < 0.1, frame
        assert 0.9 < frame.pull_std < 1.1, frame
    assert report.ok


def test_the_drift_is_removed(night: NightTruth, reduced: RunResult) -> None:
    for frame, path in _science_truth(night, reduced):
        error = _drift_error(night, frame, 60.0)
        assert abs(error) > 4.0  # the night injects a drift worth detecting (~0.2 sigma)
        residual = np.median(_good_residual(night, frame, path))
        assert abs(residual) < 0.1 * abs(error), (frame.path, residual, error)


def test_without_the_overscan_the_drift_stays(
    night: NightTruth, reducer: Any, no_overscan_profile: None, tmp_path: Path
) -> None:
    """The control: frames only trimmed keep the drift the truth predicts, and fail the check."""
    assert night.raw_dir is not None
    result = reducer(night.raw_dir, tmp_path / "out")
    assert all(f.overscan is None and f.trim for f in result.plan.frames if f.shape)
    report = compare_with_truth(result, night)
    assert len(report.frames) == 4
    assert not report.ok
    for frame, path in _science_truth(night, result):
        residual = np.median(_good_residual(night, frame, path))
        # flat-fielded: the error is divided by a flat of mean 1 (within ~15 %)
        assert residual == pytest.approx(_drift_error(night, frame, 60.0), rel=0.25)


# ----------------------------------------------------------------------------- bad sections, plan


def test_bias_with_biassec_outside_the_image_is_skipped(
    night: NightTruth, reduced: RunResult
) -> None:
    problems = [p for p in reduced.plan.problems if Path(p.path or "").name == BAD_RUN]
    assert len(problems) == 1
    message = problems[0].message
    assert "BIASSEC=" in message
    assert "outside the image" in message
    assert "passed over" in message
    bias = reduced.masters["bias_1x1"]
    assert bias.ok
    assert BAD_RUN not in {Path(i.path).name for i in bias.inputs}
    assert len(bias.inputs) == 3
    assert reduced.exit_code == 3  # finished, with a frame passed over


def test_plan_lists_the_overscan_and_trim(night: NightTruth, reduced: RunResult) -> None:
    text = reduced.plan.describe()
    lines = text.splitlines()
    assert "Overscan and trim (from the headers):" in lines
    for b in (1, 2):
        ny, nx = _binning(night.shape, b)
        cols = OVERSCAN // b
        expected = (
            f"  {b}x{b}: overscan [{nx + 1}:{nx + cols},1:{ny}] subtracted (median per line), "
            f"trimmed to [1:{nx},1:{ny}]"
        )
        assert any(line.startswith(expected) for line in lines), text
    assert BAD_RUN in text  # listed under the problems, not with the sections


# ----------------------------------------------------------------------------- overscan noise


def test_master_bias_uncertainty_includes_a_noisy_overscan(tmp_path: Path, reducer: Any) -> None:
    """With 2 overscan columns at 1x1 (1 at 2x2) the overscan level is as noisy as a pixel.

    The master bias's σ must then include it: the pull of the master against
    the truth stays near 1, where read noise alone would give about sqrt(2).
    """
    truth = make_night(
        tmp_path / "night", seed=3, shape=(128, 192), n_bias=5, n_dark=1, n_flat=0,
        n_science=0, bad_flats=False, overscan=2,
    )  # fmt: skip
    assert truth.raw_dir is not None
    result = reducer(truth.raw_dir, tmp_path / "out")
    paths = result.master_paths()
    for b in (1, 2):
        master = read_ccd(paths[f"bias_{b}x{b}"])
        error = np.asarray(master.data, dtype=np.float64) - (
            truth.bias[b] - truth.overscan_level(b)
        )
        sigma = np.asarray(master.uncertainty.array, dtype=np.float64)
        pull = error / sigma
        med = np.median(pull)
        robust = 1.4826 * np.median(np.abs(pull - med))
        # the overscan level's error is common to a row: the rows' mean pulls scatter as much
        # as the pulls of a few frames, and the median's standard error is theirs / sqrt(rows)
        rows = pull.mean(axis=1)
        assert abs(med) < 4 * np.std(rows) / np.sqrt(rows.size), (b, med)
        assert 0.9 < robust < 1.15, (b, robust)
        read_noise_only = truth.read_noise_adu / np.sqrt(5)
        assert 1.4826 * np.median(np.abs(error - np.median(error))) / read_noise_only > 1.25
