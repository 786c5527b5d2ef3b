"""The synthetic pt5m-like night: layout, headers, and a truth that matches the frames."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from astropy import units as u
from astropy.io import fits

from ccdcal.errors import FrameReadError, InvalidParameterError, OutputExistsError
from ccdcal.io import read_ccd
from ccdcal.testing.night import (
    CR_RATE,
    QSI532_SHAPE,
    FrameTruth,
    NightTruth,
    block_sum,
    load_truth,
    make_night,
    simulate_frame,
)

# 1/8 size; cosmic rays 60x denser than real, so that every dark and science frame has some
TINY = {
    "size_factor": 1 / 8,
    "n_bias": 3,
    "n_dark": 3,
    "n_flat": 3,
    "n_science": 2,
    "cosmic_ray_rate": 60 * CR_RATE,
}
_PATH = re.compile(r"^M67/20250624/(BIAS|DARK|SKY/FILT_[VR]|SCIENCE/FILT_[VR])/r\d{7}\.fits$")
_FOLDER_TYPE = {"BIAS": "BIAS", "DARK": "DARK", "SKY": "SKY", "SCIENCE": "SCIENCE"}


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, NightTruth]:
    root = tmp_path_factory.mktemp("night")
    truth = make_night(root, seed=11, junk_files=True, corrupt_file=True, **TINY)
    return root, truth


def _good(truth: NightTruth, kind: str) -> list[FrameTruth]:
    return [f for f in truth.frames if f.kind == kind and not f.flags]


def _data(truth: NightTruth, frame: FrameTruth) -> np.ndarray:
    assert truth.raw_dir is not None
    return np.asarray(fits.getdata(truth.raw_dir / frame.path), dtype=np.float64)


# ----------------------------------------------------------------------------- layout and headers


def test_layout_and_file_names(night: tuple[Path, NightTruth]) -> None:
    root, truth = night
    assert truth.raw_dir == (root / "raw").resolve()
    fits_files = sorted(p.relative_to(root / "raw").as_posix() for p in root.rglob("*.fits"))
    assert fits_files == sorted(f.path for f in truth.frames)
    assert all(_PATH.match(p) for p in fits_files)
    # the truth lives outside the raw tree, and is not FITS
    assert not any((root / "raw").rglob("*truth*"))
    assert (root / "truth" / "night_truth.npz").is_file()
    counts = {}
    for f in truth.frames:
        key = (f.kind, f.binning, f.filter if f.kind in ("flat", "science") else "")
        counts[key] = counts.get(key, 0) + 1
    assert counts == {
        ("bias", 1, ""): 3,
        ("bias", 2, ""): 3,
        ("dark", 1, ""): 3,
        ("dark", 2, ""): 3,
        ("flat", 1, "V"): 4,  # 3 good + 1 saturated
        ("flat", 1, "R"): 4,  # 3 good + 1 too faint
        ("science", 2, "V"): 3,  # 2 good + the corrupt copy
        ("science", 2, "R"): 2,
    }


def test_headers_are_pt5m_like(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    assert truth.raw_dir is not None
    for frame in truth.frames:
        if "corrupt" in frame.flags:
            continue
        with fits.open(truth.raw_dir / frame.path) as hdul:
            header = hdul[0].header
            assert hdul[0].data.dtype == np.uint16
        assert (header["BITPIX"], header["BZERO"]) == (16, 32768)
        assert header["TELE"] == "pt5m"
        folder = frame.path.split("/")[2]
        assert header["TYPE"] == _FOLDER_TYPE[folder]
        assert "IMAGETYP" not in header
        assert "BUNIT" not in header
        assert header["FILTER"] in "BVRI"
        if frame.kind in ("flat", "science"):
            assert f"FILT_{header['FILTER']}" in frame.path
        assert header["EXPTIME"] == frame.exptime
        assert header["XBINNING"] == header["YBINNING"] == frame.binning
        ny, nx = truth.shape[0] // frame.binning, truth.shape[1] // frame.binning
        assert (header["NAXIS2"], header["NAXIS1"]) == (ny, nx)
        for key in ("GAIN", "RDNOISE", "CCD-TEMP", "SET-TEMP", "INSTRUME", "OBJECT"):
            assert key in header
        assert dt.datetime.fromisoformat(header["DATE-OBS"]).year == 2025


def test_runs_follow_the_clock(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    frames = [f for f in truth.frames if "corrupt" not in f.flags]
    times = [dt.datetime.fromisoformat(f.date_obs) for f in frames]
    runs = [f.run for f in frames]
    assert runs == sorted(runs)
    assert times == sorted(times)
    kinds = [f.kind for f in frames]
    last_calibration = max(i for i, k in enumerate(kinds) if k in ("bias", "dark"))
    first_science = kinds.index("science")
    assert last_calibration < kinds.index("flat") < first_science  # dusk flats, then night
    assert kinds[-1] == "flat"  # dawn flats
    darks = {f.exptime for f in frames if f.kind == "dark"}
    science = {f.exptime for f in frames if f.kind == "science"}
    assert max(darks) < min(science)  # the dark must be scaled


def test_bias_and_dark_filters_vary(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    filters = {f.filter for f in truth.frames if f.kind in ("bias", "dark")}
    assert len(filters) > 1  # whatever was in the beam: a pipeline must not group by it


@pytest.mark.filterwarnings("ignore:File may have been truncated")
def test_extras_and_corrupt_file(night: tuple[Path, NightTruth]) -> None:
    root, truth = night
    night_dir = root / "raw" / "M67" / "20250624"
    assert (night_dir / "notes.txt").is_file()
    assert (night_dir / "pt5m_20250624.log").is_file()
    corrupt = [f for f in truth.frames if "corrupt" in f.flags]
    assert len(corrupt) == 1
    assert truth.raw_dir is not None
    with pytest.raises(FrameReadError, match=r"r\d{7}\.fits.*truncated"):
        read_ccd(truth.raw_dir / corrupt[0].path)


def test_raw_frames_read_as_adu_uint16(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    assert truth.raw_dir is not None
    ccd = read_ccd(truth.raw_dir / truth.frames[0].path)
    assert ccd.unit == u.adu
    assert ccd.data.dtype == np.uint16


# ----------------------------------------------------------------------------- truth vs frames


def test_binned_expectation_is_block_sum_of_unbinned_physics(
    night: tuple[Path, NightTruth],
) -> None:
    _, truth = night
    for frame in _good(truth, "science") + _good(truth, "dark"):
        unbinned = FrameTruth(**{**frame.__dict__, "binning": 1})
        charge_1x1 = truth.expected(unbinned) - truth.bias[1]
        charge_2x2 = truth.expected(frame) - truth.bias[frame.binning]
        np.testing.assert_allclose(charge_2x2, block_sum(charge_1x1, frame.binning), rtol=1e-12)
    np.testing.assert_allclose(truth.dark_rate(2), block_sum(truth.dark_rate(1), 2), rtol=1e-12)
    # a binned pixel's bias is its own level, not four unbinned ones
    assert abs(truth.bias[2].mean() - truth.bias[1].mean()) < 100


def test_science_signal_is_the_light_before_the_flat(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    frame = _good(truth, "science")[0]
    light = block_sum(truth.light(frame) * frame.exptime, 2) / truth.gain
    np.testing.assert_allclose(truth.signal[frame.path], light, rtol=1e-6)
    # sky level in ADU per binned pixel, as the plan says
    sky_adu = frame.sky * frame.exptime * 4 / truth.gain
    assert np.median(truth.signal[frame.path]) == pytest.approx(sky_adu, rel=0.02)


def test_mean_of_many_biases_is_the_truth(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    rng = np.random.default_rng(5)
    n = 40
    for binning in (1, 2):
        spec = FrameTruth("b.fits", "bias", binning, "V", 0.0, "2025-06-24T19:30:00", 1)
        stack = np.array([simulate_frame(truth, spec, rng)[0] for _ in range(n)], dtype=float)
        residual = stack.mean(axis=0) - truth.bias[binning]
        sigma = np.sqrt(truth.read_noise_adu**2 + 1 / 12)  # read noise and rounding
        assert abs(residual.mean()) < 5 * sigma / np.sqrt(residual.size * n)
        assert residual.std() == pytest.approx(sigma / np.sqrt(n), rel=0.05)
        # one read per binned pixel: the same read noise at 2x2 as at 1x1
        assert (stack[0] - truth.bias[binning]).std() == pytest.approx(sigma, rel=0.03)


def test_darks_match_dark_rate_and_hot_pixels(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    hit = 0
    for binning in (1, 2):
        frames = [f for f in _good(truth, "dark") if f.binning == binning]
        for frame in frames:
            data = _data(truth, frame)
            crs = truth.cosmic_rays[frame.path]
            expected = truth.bias[binning] + truth.dark_rate(binning) * frame.exptime
            sigma = np.sqrt(
                truth.read_noise_adu**2 + 1 / 12 + (expected - truth.bias[binning]) / truth.gain
            )
            pull = ((data - expected) / sigma)[~crs]
            assert abs(pull.mean()) < 0.05
            assert pull.std() == pytest.approx(1.0, rel=0.05)
            hit += int(crs.sum())
            if crs.any():  # marked pixels really got extra charge
                assert (data[crs] - expected[crs]).min() > 2 * truth.read_noise_adu
    assert hit > 0  # cosmic rays hit the darks
    hot = truth.hot_pixels
    assert len(hot) >= 5
    assert (truth.dark_current[hot[:, 0], hot[:, 1]] > 0.5).all()


def test_flats_follow_the_flat_field(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    for name in ("V", "R"):
        flat = truth.flat[name]
        assert flat.mean() == pytest.approx(1.0, abs=1e-12)
        # vignetting: corners darker than the centre; PRNU about 1 %
        ny, nx = flat.shape
        assert flat[: ny // 8, : nx // 8].mean() < flat[3 * ny // 8 : 5 * ny // 8].mean()
        for frame in [f for f in _good(truth, "flat") if f.filter == name]:
            data = _data(truth, frame)
            dark = truth.dark_rate(1) * frame.exptime
            estimate = (data - truth.bias[1] - dark) / frame.level
            sigma = np.sqrt(frame.level * flat / truth.gain + truth.read_noise_adu**2) / frame.level
            pull = (estimate - flat) / sigma
            assert abs(pull.mean()) < 0.05
            assert pull.std() == pytest.approx(1.0, rel=0.05)
    assert not np.allclose(truth.flat["V"], truth.flat["R"])  # dust differs per filter


def test_bad_flats_are_bad(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    saturated = next(f for f in truth.frames if "saturated" in f.flags)
    faint = next(f for f in truth.frames if "faint" in f.flags)
    data = _data(truth, saturated)
    assert (data == truth.saturation).mean() > 0.5
    assert np.median(_data(truth, faint)) - truth.bias[1].mean() < 1000
    good_levels = [f.level for f in _good(truth, "flat")]
    assert min(good_levels) > 10000
    assert max(good_levels) < 0.6 * truth.saturation


def test_perfect_calibration_recovers_the_signal(night: tuple[Path, NightTruth]) -> None:
    _, truth = night
    for frame in _good(truth, "science"):
        data = _data(truth, frame)
        dark = truth.dark_rate(2) * frame.exptime
        flat2 = truth.flat_for(frame.filter, 2)
        calibrated = (data - truth.bias[2] - dark) / flat2
        signal = truth.signal[frame.path]
        ok = ~truth.cosmic_rays[frame.path] & (data < truth.saturation)
        expected_raw = truth.expected(frame)
        sigma = np.sqrt(
            truth.read_noise_adu**2 + 1 / 12 + (expected_raw - truth.bias[2]) / truth.gain
        )
        pull = ((calibrated - signal) * flat2 / sigma)[ok]
        # sky pixels dominate; star cores carry the flat's sub-block structure
        assert np.median(np.abs(pull)) == pytest.approx(0.674, rel=0.05)
        assert abs(np.median(pull)) < 0.05
        assert truth.signal[frame.path].max() > 50 * np.median(signal)  # there are stars


# ----------------------------------------------------------------------------- determinism, I/O


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((root / "raw").rglob("*.fits"))
    }


def test_same_seed_same_night(tmp_path: Path) -> None:
    small = {"shape": (48, 64), "n_bias": 1, "n_dark": 1, "n_flat": 1, "n_science": 1}
    make_night(tmp_path / "a", seed=3, **small)
    make_night(tmp_path / "b", seed=3, **small)
    make_night(tmp_path / "c", seed=4, **small)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_truth_round_trip(night: tuple[Path, NightTruth]) -> None:
    root, truth = night
    again = load_truth(root)
    assert again.frames == truth.frames
    assert again.raw_dir == truth.raw_dir
    assert (again.gain, again.read_noise, again.saturation) == (
        truth.gain,
        truth.read_noise,
        truth.saturation,
    )
    for b in truth.bias:
        np.testing.assert_array_equal(again.bias[b], truth.bias[b].astype(np.float32))
    for name in truth.flat:
        np.testing.assert_array_equal(again.flat[name], truth.flat[name].astype(np.float32))
    assert again.signal.keys() == truth.signal.keys()
    for key, value in truth.signal.items():
        np.testing.assert_array_equal(again.signal[key], value)
    for key, value in truth.cosmic_rays.items():
        np.testing.assert_array_equal(again.cosmic_rays[key], value)
    assert again.frame("r" + truth.frames[3].path.split("/r")[-1]) == truth.frames[3]


def test_full_size_shape() -> None:
    assert QSI532_SHAPE == (1472, 2184)


def test_existing_night_is_not_overwritten(tmp_path: Path) -> None:
    small = {"shape": (16, 24), "n_bias": 1, "n_dark": 1, "n_flat": 1, "n_science": 1}
    make_night(tmp_path, seed=1, **small)
    with pytest.raises(OutputExistsError, match=r"already holds a synthetic night.*overwrite=True"):
        make_night(tmp_path, seed=1, **small)
    make_night(tmp_path, seed=2, overwrite=True, **small)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"size_factor": 1.5}, r"size_factor must be in \(0, 1\], got 1\.5"),
        ({"shape": (15, 24)}, r"shape must be even.*\(15, 24\)"),
        ({"filters": ()}, "at least one filter"),
    ],
)
def test_bad_options(tmp_path: Path, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        make_night(tmp_path, **kwargs)


# ----------------------------------------------------------------------------- overscan

_OVERSCAN = 8  # columns per unbinned width: 8 at 1x1, 4 at 2x2


@pytest.fixture(scope="module")
def overscan_night(tmp_path_factory: pytest.TempPathFactory) -> NightTruth:
    small: dict[str, Any] = {
        "shape": (48, 64),
        "n_bias": 4,
        "n_dark": 2,
        "n_flat": 2,
        "n_science": 2,
    }
    return make_night(tmp_path_factory.mktemp("osnight"), seed=8, overscan=_OVERSCAN, **small)


def test_overscan_columns_and_sections(overscan_night: NightTruth) -> None:
    truth = overscan_night
    assert truth.raw_dir is not None
    for frame in truth.frames:
        b = frame.binning
        ny, nx, cols = 48 // b, 64 // b, _OVERSCAN // b
        with fits.open(truth.raw_dir / frame.path) as hdul:
            header, data = hdul[0].header, hdul[0].data.astype(np.float64)
        assert data.shape == (ny, nx + cols)
        assert header["BIASSEC"] == f"[{nx + 1}:{nx + cols},1:{ny}]"
        assert header["TRIMSEC"] == f"[1:{nx},1:{ny}]"
        # the overscan holds the bias level of each row plus this frame's offset, and read noise
        over = data[:, nx:] - truth.overscan_level(b) - frame.bias_offset
        sigma = np.sqrt(truth.read_noise_adu**2 + 1 / 12)
        assert abs(over.mean()) < 5 * sigma / np.sqrt(over.size)
        assert over.std() == pytest.approx(sigma, rel=0.25)
        if frame.kind == "bias":  # the image area carries the same offset
            image = data[:, :nx] - truth.bias[b] - frame.bias_offset
            assert abs(image.mean()) < 5 * sigma / np.sqrt(image.size)


def test_overscan_bias_drifts_through_the_night(overscan_night: NightTruth) -> None:
    frames = overscan_night.frames
    start = dt.datetime.fromisoformat(frames[0].date_obs)
    hours = np.array(
        [(dt.datetime.fromisoformat(f.date_obs) - start).seconds / 3600 for f in frames]
    )
    offsets = np.array([f.bias_offset for f in frames])
    assert len(set(offsets)) == len(frames)  # a different level in every frame
    slope, intercept = np.polyfit(hours, offsets, 1)
    scatter = np.std(offsets - (slope * hours + intercept), ddof=2)
    # 3 ADU/h over ~10 h, 2 ADU jitter (loose bounds: ~24 frames)
    assert slope == pytest.approx(3.0, abs=0.6)
    assert 1.0 < scatter < 3.2
    # science frames come ~3 h after the biases: without the overscan subtraction they would
    # be off by well over the master bias's own error (RN / sqrt(4 frames) = 3.6 ADU)
    bias = np.mean([f.bias_offset for f in frames if f.kind == "bias"])
    science = [f.bias_offset - bias for f in frames if f.kind == "science"]
    assert min(science) > 1.5 * overscan_night.read_noise_adu / np.sqrt(4)


def test_overscan_truth_round_trip(overscan_night: NightTruth) -> None:
    assert overscan_night.raw_dir is not None
    again = load_truth(overscan_night.raw_dir.parent)
    assert again.overscan == _OVERSCAN
    assert again.frames == overscan_night.frames
    np.testing.assert_allclose(again.overscan_level(2), overscan_night.overscan_level(2), atol=1e-3)


def test_no_overscan_no_sections_no_drift(tmp_path: Path) -> None:
    small: dict[str, Any] = {
        "shape": (16, 24),
        "n_bias": 1,
        "n_dark": 1,
        "n_flat": 1,
        "n_science": 1,
    }
    truth = make_night(tmp_path, seed=1, **small)
    assert truth.overscan == 0
    assert {f.bias_offset for f in truth.frames} == {0.0}
    assert truth.raw_dir is not None
    header = fits.getheader(truth.raw_dir / truth.frames[0].path)
    assert "BIASSEC" not in header
    assert "TRIMSEC" not in header
    assert header["NAXIS1"] == 24
    # the truth file of a night without an overscan is what it was before the option existed
    text = (tmp_path / "truth" / "night_truth.json").read_text()
    assert "overscan" not in text
    assert "bias_offset" not in text


@pytest.mark.parametrize(
    ("overscan", "message"),
    [
        (3, r"overscan must be 0 or a positive multiple of 2.*got 3"),
        (-2, r"overscan must be 0 or a positive multiple of 2.*got -2"),
        (4.0, r"overscan must be a whole number of columns, got 4\.0"),
    ],
)
def test_bad_overscan(tmp_path: Path, overscan: object, message: str) -> None:
    with pytest.raises(InvalidParameterError, match=message):
        make_night(tmp_path, shape=(16, 24), overscan=overscan)  # type: ignore[arg-type]
