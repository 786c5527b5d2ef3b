"""Property test: the science frame's fused arithmetic equals the calibration steps (Hypothesis).

For any masters (with masks, NaN, unusable flat pixels, with or without
uncertainties), any exposure ratio and any frame, :func:`calibrate_planes`
gives the data and mask of ``create_deviation`` -> ``subtract_bias`` ->
``subtract_dark`` -> ``flat_correct``, and their σ up to float32 rounding.
"""

from __future__ import annotations

import numpy as np
from astropy import units as u
from astropy.nddata import CCDData, StdDevUncertainty
from hypothesis import given, settings
from hypothesis import strategies as st

from ccdcal import create_deviation, flat_correct, subtract_bias, subtract_dark
from ccdcal.pipeline.fused import calibrate_planes, master_planes
from ccdcal.pipeline.science import correlated_bias_dark


def _frame(
    rng: np.random.Generator, shape: tuple[int, int], level: float, with_sigma: bool, bad: float
) -> CCDData:
    data = rng.normal(level, abs(level) / 10 + 1, shape).astype(np.float32)
    data[rng.random(shape) < bad] = np.nan
    mask = rng.random(shape) < bad
    unc = None
    if with_sigma:
        unc = StdDevUncertainty(rng.uniform(0.01, 5.0, shape).astype(np.float32) * abs(level) / 100)
    return CCDData(data, unit="adu", mask=mask, uncertainty=unc)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    present=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    sigmas=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    bad=st.sampled_from([0.0, 0.1, 0.4]),
    k=st.sampled_from([0.0, 0.3, 1.0, 7.0]),
    correlated=st.booleans(),
    gain=st.floats(0.2, 5.0),
    read_noise=st.floats(0.0, 20.0),
)
def test_fused_arithmetic_equals_the_steps(
    seed: int,
    shape: tuple[int, int],
    present: tuple[bool, bool, bool],
    sigmas: tuple[bool, bool, bool],
    bad: float,
    k: float,
    correlated: bool,
    gain: float,
    read_noise: float,
) -> None:
    rng = np.random.default_rng(seed)
    levels = (1000.0, 30.0, 1.0)
    bias, dark, flat = (
        _frame(rng, shape, level, with_sigma, bad) if given else None
        for given, with_sigma, level in zip(present, sigmas, levels, strict=True)
    )
    if flat is not None:  # flats that are zero or negative here and there too
        flat.data[rng.random(shape) < bad / 2] = 0.0
        flat.data[rng.random(shape) < bad / 2] *= -1
    raw = rng.normal(1200.0, 300.0, shape).astype(np.float32)
    raw[rng.random(shape) < bad / 4] = np.nan
    own = rng.random(shape) < bad

    planes = master_planes(bias, dark, flat, bias_in_dark=correlated)
    data, sigma, mask = calibrate_planes(
        raw, planes, dark_scale=k, gain=gain, read_noise=read_noise, mask=own
    )

    signal = raw - bias.data if bias is not None else raw
    dev = create_deviation(
        CCDData(signal, unit="adu"),
        gain=gain * u.electron / u.adu,
        readnoise=read_noise * u.electron,
        add_keyword=False,
    )
    ccd = CCDData(raw, unit="adu", mask=own, uncertainty=dev.uncertainty)
    if correlated and bias is not None and dark is not None:
        bias, dark = correlated_bias_dark(bias, dark, k)
    if bias is not None:
        ccd = subtract_bias(ccd, bias)
    if dark is not None:
        ccd = subtract_dark(ccd, dark, dark_exposure=1.0 * u.s, data_exposure=k * u.s, scale=True)
    if flat is not None:
        ccd = flat_correct(ccd, flat, norm_value=1.0)

    np.testing.assert_array_equal(data, ccd.data)
    np.testing.assert_array_equal(mask, ccd.mask)
    np.testing.assert_allclose(sigma, ccd.uncertainty.array, rtol=1e-5, atol=0)
