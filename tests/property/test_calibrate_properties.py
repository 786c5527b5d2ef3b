"""Property tests of the calibration steps (Hypothesis).

* Calibrate-then-trim equals trim-then-calibrate for every pixel-wise step.
* Bias, dark and flat correction of synthetic frames recovers the known truth within the
  propagated noise: the pull (calibrated - truth) / sigma has mean ~0 and std ~1.
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.modeling import models
from astropy.nddata import CCDData, StdDevUncertainty
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccdcal
from ccdcal.testing.frames import Camera, SyntheticFrame

# --- calibrate-then-trim == trim-then-calibrate ----------------------------------------------


def _frame(rng: np.random.Generator, shape, dtype, mean, planes: bool, exptime: float) -> CCDData:
    data = rng.normal(mean, mean / 10 + 1, shape)
    if np.dtype(dtype).kind == "u":
        data = np.clip(np.rint(data), 0, 65535)
    ccd = CCDData(data.astype(dtype), unit="adu", meta={"EXPTIME": exptime})
    if planes:
        ccd.uncertainty = StdDevUncertainty(rng.uniform(0.5, 5, shape).astype(np.float32))
        ccd.mask = rng.random(shape) < 0.1
    return ccd


@st.composite
def _sections(draw):
    rows, cols = draw(st.integers(3, 24)), draw(st.integers(3, 24))
    y = sorted(draw(st.lists(st.integers(1, rows), min_size=2, max_size=2)))
    x = sorted(draw(st.lists(st.integers(1, cols), min_size=2, max_size=2)))
    if draw(st.booleans()):
        x = x[::-1]  # a flipped axis
    step = draw(st.integers(1, 3))
    return (rows, cols), f"[{x[0]}:{x[1]}:{step}, {y[0]}:{y[1]}]"


def _apply(step: str, ccd: CCDData, master: CCDData) -> CCDData:
    if step == "subtract_bias":
        return ccdcal.subtract_bias(ccd, master)
    if step == "subtract_dark":
        return ccdcal.subtract_dark(
            ccd, master, exposure_time="EXPTIME", exposure_unit=u.s, scale=True
        )
    if step == "flat_correct":
        return ccdcal.flat_correct(ccd, master, norm_value=1000.0, min_value=500.0)
    if step == "gain_correct":
        return ccdcal.gain_correct(ccd, 2.6 * u.electron / u.adu)
    if step == "create_deviation":
        return ccdcal.create_deviation(ccd, gain=2 * u.electron / u.adu, readnoise=9 * u.electron)
    if step == "mask_saturated":
        return ccdcal.mask_saturated(ccd, 110)
    return ccdcal.ccd_process(
        ccd,
        master_bias=master,
        dark_frame=master,
        master_flat=master,
        norm_value=1000.0,
        error=True,
        gain=2 * u.electron / u.adu,
        readnoise=9 * u.electron,
        gain_corrected=False,
        exposure_key="EXPTIME",
        exposure_unit=u.s,
        dark_scale=True,
        saturation=110,
    )


STEPS = [
    "subtract_bias",
    "subtract_dark",
    "flat_correct",
    "gain_correct",
    "create_deviation",
    "mask_saturated",
    "ccd_process",
]


@settings(max_examples=60, deadline=None)
@given(
    geometry=_sections(),
    step=st.sampled_from(STEPS),
    dtype=st.sampled_from([np.float32, np.uint16, np.float64]),
    planes=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_calibrate_then_trim_equals_trim_then_calibrate(geometry, step, dtype, planes, seed):
    shape, section = geometry
    rng = np.random.default_rng(seed)
    ccd = _frame(rng, shape, dtype, 100.0, planes, exptime=30.0)
    master = _frame(rng, shape, np.float32, 1000.0, planes, exptime=60.0)
    first = ccdcal.trim_image(_apply(step, ccd, master), fits_section=section)
    trimmed_master = ccdcal.trim_image(master, fits_section=section)
    second = _apply(step, ccdcal.trim_image(ccd, fits_section=section), trimmed_master)
    np.testing.assert_array_equal(first.data, second.data)
    assert first.data.dtype == second.data.dtype
    assert first.unit == second.unit
    for a, b in ((first.mask, second.mask), (first.uncertainty, second.uncertainty)):
        assert (a is None) == (b is None)
    if first.mask is not None:
        np.testing.assert_array_equal(first.mask, second.mask)
    if first.uncertainty is not None:
        np.testing.assert_array_equal(first.uncertainty.array, second.uncertainty.array)


# --- bias, dark, flat recover the truth within the noise -------------------------------------


def _reduce(
    frame: SyntheticFrame,
    cam: Camera,
    bias: CCDData | None = None,
    dark: CCDData | None = None,
    flat: CCDData | None = None,
) -> CCDData:
    """Overscan, trim, uncertainty, then the masters that are given, all in ADU.

    The overscan level is a line fitted to the per-row means: its noise is then negligible
    (the noise of a per-row overscan estimate, rn²/n_columns, is not part of σ).
    """
    ccd = ccdcal.subtract_overscan(
        frame.ccd, fits_section=cam.overscan_section, model=models.Polynomial1D(1)
    )
    ccd = ccdcal.trim_image(ccd, fits_section=cam.image_section)
    ccd = ccdcal.create_deviation(
        ccd, gain=cam.gain * u.electron / u.adu, readnoise=cam.read_noise * cam.gain * u.electron
    )
    if bias is not None:
        ccd = ccdcal.subtract_bias(ccd, bias)
    if dark is not None:
        ccd = ccdcal.subtract_dark(
            ccd, dark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True
        )
    if flat is not None:
        ccd = ccdcal.flat_correct(ccd, flat)
    return ccd


def _average(frames: list[CCDData]) -> CCDData:
    """Plain mean of frames, σ of the mean from their σ (the combine step is tested elsewhere)."""
    data = np.mean([f.data for f in frames], axis=0, dtype=np.float64)
    var = np.sum([f.uncertainty.array.astype(np.float64) ** 2 for f in frames], axis=0)
    sigma = np.sqrt(var) / len(frames)
    return CCDData(
        data.astype(np.float32),
        unit=frames[0].unit,
        uncertainty=StdDevUncertainty(sigma.astype(np.float32)),
        meta=frames[0].meta.copy(),
    )


def _masters(cam: Camera, dtype, flat_level: float, n: int, seed: int):
    """Master bias, dark and flat whose errors are independent of each other.

    Each master is the average of raw frames (overscan-subtracted and trimmed) from
    which *independent* lower-level masters are subtracted once.  Subtracting one master
    bias from both the dark and the light would correlate their errors, which no
    per-step propagation (ccdproc's or ours) can know about.
    """

    def raw_average(make, first: int) -> CCDData:
        return _average([_reduce(make(seed=first + i, dtype=dtype), cam) for i in range(n)])

    biases = [raw_average(cam.bias, 1000 * k) for k in range(3)]
    darks = [
        ccdcal.subtract_bias(
            raw_average(lambda **kw: cam.dark(300.0, **kw), 5000 + 1000 * k), biases[k + 1]
        )
        for k in range(2)
    ]
    flat = ccdcal.subtract_dark(
        ccdcal.subtract_bias(raw_average(lambda **kw: cam.flat(flat_level, **kw), 9000), biases[2]),
        darks[1],
        exposure_time="EXPTIME",
        exposure_unit=u.s,
        scale=True,
    )
    return biases[0], darks[0], flat


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    read_noise=st.floats(3.0, 12.0),
    gain=st.floats(1.0, 4.0),
    dark_rate=st.floats(0.005, 0.5),
    light_time=st.floats(60.0, 600.0),
    sky=st.floats(2.0, 20.0),
    flat_level=st.floats(8000.0, 30000.0),
    dtype=st.sampled_from([np.float32, np.uint16]),
    seed=st.integers(0, 2**16),
)
def test_bias_dark_flat_recover_the_truth(
    read_noise, gain, dark_rate, light_time, sky, flat_level, dtype, seed
):
    """Pulls of the calibrated light and of the master dark have mean ~0 and std ~1.

    The Poisson term of create_deviation uses the measured value, which biases the
    pull mean by about -1/(2 sqrt(variance in e-)); the signal here is >= 120 e-, so that
    stays below 0.05.  The overscan level of each frame is one number with an error common
    to all its pixels, which moves the mean pull by ~0.02 (rms); the bound allows both.
    """
    cam = Camera(
        shape=(64, 80),
        overscan=32,
        bias_jitter=3.0,
        read_noise=read_noise,
        gain=gain,
        dark_rate=dark_rate,
        seed=seed,
    )
    bias, dark, flat = _masters(cam, dtype, flat_level, n=16, seed=seed)
    light = cam.light(light_time, sky=sky, n_stars=8, peak=(50.0, 3000.0), seed=999, dtype=dtype)
    out = _reduce(light, cam, bias, dark, flat)
    assert out.data.dtype == np.float32
    pull = (out.data.astype(np.float64) - light.signal) / out.uncertainty.array
    assert abs(pull.mean()) < 0.15, pull.mean()
    assert 0.94 < pull.std() < 1.06, pull.std()
    dark_pull = (dark.data - 300.0 * cam.truth.dark_rate) / dark.uncertainty.array
    assert abs(dark_pull.mean()) < 0.15, dark_pull.mean()
    assert 0.94 < dark_pull.std() < 1.06, dark_pull.std()
