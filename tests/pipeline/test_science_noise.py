"""The science frame's uncertainty when the master dark carries the master bias's error."""

from __future__ import annotations

import numpy as np
import pytest
from astropy import units as u
from astropy.nddata import CCDData, StdDevUncertainty

from ccdcal import subtract_bias, subtract_dark
from ccdcal.io.provenance import read_provenance
from ccdcal.pipeline import RunResult
from ccdcal.pipeline.science import correlated_bias_dark

RN = 10.0  # ADU
N_FRAMES = 5
SHAPE = (300, 300)  # 90,000 pixels: 90,000 realisations of the same calibration


def _frame(data: np.ndarray, sigma: float | np.ndarray) -> CCDData:
    unc = np.broadcast_to(np.float32(sigma), data.shape).astype(np.float32)
    return CCDData(data.astype(np.float32), unit="adu", uncertainty=StdDevUncertainty(unc))


def _calibrated_pulls(scale: float, *, correlated: bool) -> np.ndarray:
    """Pulls of a dark-only science frame (no sky: the case where the masters' noise matters)."""
    rng = np.random.default_rng(11)
    bias_level, dark_rate_t = 1000.0, 30.0  # dark counts in the darks' exposure
    biases = bias_level + rng.normal(0.0, RN, (N_FRAMES, *SHAPE))
    master_bias = biases.mean(axis=0)
    darks = bias_level + dark_rate_t + rng.normal(0.0, RN, (N_FRAMES, *SHAPE)) - master_bias
    master_dark = darks.mean(axis=0)
    sigma_b = RN / np.sqrt(N_FRAMES)
    sigma_d = np.sqrt(RN**2 / N_FRAMES + sigma_b**2)  # what the pipeline's noise model records
    science = bias_level + scale * dark_rate_t + rng.normal(0.0, RN, SHAPE)
    bias, dark = _frame(master_bias, sigma_b), _frame(master_dark, sigma_d)
    if correlated:
        bias, dark = correlated_bias_dark(bias, dark, scale)
    ccd = _frame(science, RN)
    ccd = subtract_bias(ccd, bias)
    ccd = subtract_dark(ccd, dark, dark_exposure=1.0 * u.s, data_exposure=scale * u.s, scale=True)
    return np.asarray(ccd.data / ccd.uncertainty.array)  # bias and dark removed: truth is 0


@pytest.mark.parametrize("scale", [0.5, 2.0, 5.0])
def test_pulls_have_unit_scatter_when_the_correlation_is_accounted_for(scale: float) -> None:
    pulls = _calibrated_pulls(scale, correlated=True)
    assert abs(float(np.mean(pulls))) < 0.02
    assert 0.985 < float(np.std(pulls)) < 1.015


def test_adding_the_steps_in_quadrature_overstates_sigma_for_long_exposures() -> None:
    # the check above can fail: without the correction sigma is ~10 % too large at k = 5
    assert float(np.std(_calibrated_pulls(5.0, correlated=False))) < 0.93


def test_the_pipeline_applies_the_correction_and_records_it(reduced: RunResult) -> None:
    frames = list(reduced.iter_science())
    assert frames
    for _, ccd in frames:
        record = next(r for r in read_provenance(ccd.meta) if r["step"] == "calibrate_science")
        assert record["params"]["bias_in_dark"] is True
