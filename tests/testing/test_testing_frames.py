"""ccdcal.testing.frames: the synthetic frames follow their stated truth and noise model."""

from __future__ import annotations

import numpy as np
import pytest

from ccdcal.testing.frames import Camera


@pytest.fixture(scope="module")
def cam() -> Camera:
    return Camera(shape=(120, 150), seed=4)


def test_truth_maps(cam):
    truth = cam.truth
    assert truth.flat.mean() == pytest.approx(1.0, abs=1e-12)
    assert 0.7 < truth.flat.min() < truth.flat.max() < 1.2
    assert truth.hot_pixels.any()
    assert (truth.dark_rate[truth.hot_pixels] >= 1.0).all()
    assert (truth.dark_rate[~truth.hot_pixels] == cam.dark_rate).all()
    np.testing.assert_allclose(truth.bias.mean(), cam.bias_level, atol=3 * cam.column_pattern)
    assert (truth.bias == truth.bias[0]).all()  # a pure column pattern
    assert cam.truth is cam.truth  # computed once


def test_bias_noise_is_the_read_noise(cam):
    frames = [cam.bias(seed=i) for i in range(4)]
    resid = np.stack([f.ccd.data - f.expected for f in frames])
    assert resid.std() == pytest.approx(cam.read_noise, rel=0.02)
    assert abs(resid.mean()) < 0.05
    np.testing.assert_array_equal(frames[0].signal, 0)
    np.testing.assert_allclose(frames[0].variance, cam.read_noise**2)


def test_dark_and_light_noise_follow_the_variance(cam):
    for frame in (cam.dark(600.0, seed=1), cam.light(60.0, sky=20.0, seed=2)):
        pull = (frame.ccd.data - frame.expected) / np.sqrt(frame.variance)
        unsaturated = frame.expected < cam.saturation
        assert abs(pull[unsaturated].mean()) < 0.03
        assert pull[unsaturated].std() == pytest.approx(1.0, abs=0.03)


def test_signals(cam):
    dark = cam.dark(300.0, seed=3)
    np.testing.assert_allclose(dark.signal, 300.0 * cam.truth.dark_rate)
    flat = cam.flat(20000.0, seed=4)
    np.testing.assert_allclose(flat.signal, 20000.0 * cam.truth.flat)
    light = cam.light(30.0, sky=2.0, n_stars=0, seed=5)
    np.testing.assert_allclose(light.signal, 60.0)
    starry = cam.light(30.0, sky=2.0, n_stars=5, peak=(1000.0, 1000.0), seed=5)
    assert starry.signal.max() == pytest.approx(1060.0, rel=0.2)


def test_headers_and_dtypes(cam):
    raw = cam.light(120.0, seed=6, dtype=np.uint16)
    assert raw.ccd.data.dtype == np.uint16
    assert raw.ccd.unit == "adu"
    header = raw.ccd.header
    assert header["IMAGETYP"] == "Light Frame"
    assert header["EXPTIME"] == 120.0
    assert header["EGAIN"] == cam.gain
    assert header["FILTER"] == "V"
    assert "BIASSEC" not in header
    assert cam.bias(seed=1).ccd.data.dtype == np.float32


def test_seeds_reproduce_and_differ(cam):
    a, b = cam.dark(10.0, seed=7), cam.dark(10.0, seed=7)
    np.testing.assert_array_equal(a.ccd.data, b.ccd.data)
    assert not np.array_equal(a.ccd.data, cam.dark(10.0, seed=8).ccd.data)
    other_camera = Camera(shape=(120, 150), seed=5)
    assert not np.array_equal(cam.truth.flat, other_camera.truth.flat)


def test_overscan_columns_and_sections():
    cam = Camera(shape=(30, 40), overscan=6, bias_jitter=4.0, seed=1)
    frame = cam.flat(10000.0, seed=2)
    assert frame.ccd.shape == (30, 46)
    assert frame.signal.shape == (30, 40)
    assert cam.image_section == "[1:40, 1:30]"
    assert cam.overscan_section == "[41:46, 1:30]"
    assert frame.ccd.header["BIASSEC"] == cam.overscan_section
    overscan = frame.ccd.data[:, 40:]
    assert overscan.std() == pytest.approx(cam.read_noise, rel=0.2)
    offset = frame.expected[0, 40] - cam.bias_level
    np.testing.assert_allclose(
        frame.expected[:, :40] - frame.signal, cam.truth.bias + offset + 2.0 * cam.truth.dark_rate
    )
    assert abs(offset) > 0  # the per-frame offset the overscan must remove


def test_saturation_clips_raw_values():
    cam = Camera(shape=(40, 40), saturation=3000.0, seed=2)
    frame = cam.light(10.0, n_stars=3, peak=(20000.0, 30000.0), seed=1, dtype=np.uint16)
    assert frame.ccd.data.max() == 3000
    assert frame.expected.max() > 3000
