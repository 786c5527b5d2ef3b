"""The calibration steps on the real SBIG ST-8 night (../shared/data), against ccdproc 2.5.1.

PROVENANCE.md of the data set measured: bias ~899 ADU, read noise ~6.7 ADU from a bias
difference, dark current ~9.5 ADU per 300 s (median), EGAIN 2.6 e-/ADU.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest
from astropy.nddata import CCDData
from astropy.stats import mad_std
from astropy.wcs import FITSFixedWarning

import ccdcal

pytestmark = pytest.mark.realdata

FILES = {
    "bias1": "calibration/calib-001-bi.fit",
    "bias2": "calibration/calib-002-bi.fit",
    "dark1": "calibration/calib-001-d.fit",
    "dark2": "calibration/calib-002-d.fit",
    "flat1": "calibration/flat-001-c.fit",
    "flat2": "calibration/flat-002-c.fit",
    "light": "science/UB17-001-c.fit",
}


def _read(path: Path) -> CCDData:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        return CCDData.read(path, unit="adu")


@pytest.fixture(scope="module")
def frames(real_data: Path) -> dict[str, CCDData]:
    return {name: _read(real_data / rel) for name, rel in FILES.items()}


def _mean(*ccds: CCDData) -> CCDData:
    """A plain float32 average (the combine step is tested elsewhere)."""
    stack = np.stack([np.asarray(c.data, dtype=np.float32) for c in ccds])
    return CCDData(stack.mean(axis=0), unit="adu", meta=ccds[0].meta.copy())


@pytest.fixture(scope="module")
def masters(frames):
    bias = _mean(frames["bias1"], frames["bias2"])
    darks = [ccdcal.subtract_bias(frames[k], bias) for k in ("dark1", "dark2")]
    dark = _mean(*darks)
    return bias, dark


def test_raw_frames_are_uint16(frames):
    assert all(f.data.dtype == np.uint16 for f in frames.values())


def test_bias_difference_does_not_wrap_and_gives_the_read_noise(frames, ccdproc):
    b1, b2 = frames["bias1"], frames["bias2"]
    ref = ccdproc.subtract_bias(b1, b2)
    assert ref.data.max() > 60000  # ccdproc: uint16 - uint16 wraps around
    diff = ccdcal.subtract_bias(b1, b2)
    assert diff.data.dtype == np.float32
    np.testing.assert_array_equal(diff.data, b1.data.astype(np.float32) - b2.data)
    read_noise = mad_std(diff.data) / np.sqrt(2)
    assert 6.0 < read_noise < 7.5  # PROVENANCE.md: ~6.7 ADU


def test_bias_subtraction_matches_ccdproc(frames, masters, ccdproc):
    bias, _ = masters
    for name in ("dark1", "flat1", "light"):
        ours = ccdcal.subtract_bias(frames[name], bias)
        ref = ccdproc.subtract_bias(frames[name], bias)
        np.testing.assert_allclose(ours.data, ref.data, atol=1e-3)
        assert ours.header["subbias"] == ref.header["subbias"]
    assert 880 < np.median(bias.data) < 920  # PROVENANCE.md: ~899 ADU


def test_dark_current_rate(masters):
    _, dark = masters
    assert 8.5 < np.median(dark.data) < 10.5  # PROVENANCE.md: ~9.5 ADU per 300 s
    hot = np.count_nonzero(dark.data > 1000)
    assert 1000 < hot < 2500  # PROVENANCE.md: ~1.7k hot pixels above 1000 ADU


@pytest.mark.parametrize("target", ["light", "flat1", "dark2"])
def test_dark_subtraction_matches_ccdproc(frames, masters, ccdproc, target):
    bias, dark = masters
    image = ccdcal.subtract_bias(frames[target], bias)
    kwargs = {"exposure_time": "EXPTIME", "exposure_unit": u.s, "scale": True}
    ours = ccdcal.subtract_dark(image, dark, **kwargs)
    ref = ccdproc.subtract_dark(image, dark, **kwargs)
    np.testing.assert_allclose(ours.data, ref.data, atol=2e-3)
    assert ours.data.dtype == np.float32
    assert ref.data.dtype == np.float64
    k = frames[target].header["EXPTIME"] / 300.0
    np.testing.assert_allclose(ours.data, image.data - k * dark.data, atol=2e-3)
    if target == "dark2":  # the other dark: only noise should remain
        assert abs(np.median(ours.data)) < 1.0


def test_full_reduction_of_a_light_matches_ccdproc(frames, masters, ccdproc):
    bias, dark = masters
    flat = _mean(
        *[
            ccdcal.subtract_dark(
                ccdcal.subtract_bias(frames[k], bias),
                dark,
                exposure_time="EXPTIME",
                exposure_unit=u.s,
                scale=True,
            )
            for k in ("flat1", "flat2")
        ]
    )
    kwargs = {
        "master_bias": bias,
        "dark_frame": dark,
        "master_flat": flat,
        "exposure_key": "EXPTIME",
        "exposure_unit": u.s,
        "dark_scale": True,
        "error": True,
        "gain": 2.6 * u.electron / u.adu,
        "readnoise": 17.5 * u.electron,
        "gain_corrected": False,
    }
    ours = ccdcal.ccd_process(frames["light"], **kwargs)
    ref = ccdproc.ccd_process(frames["light"], **kwargs)
    assert ours.unit == ref.unit == u.electron
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-4, atol=0.05)
    finite = np.isfinite(ref.uncertainty.array)
    np.testing.assert_allclose(
        ours.uncertainty.array[finite], ref.uncertainty.array[finite], rtol=1e-4
    )
    assert np.isfinite(ours.uncertainty.array).all()
    assert ours.data.dtype == np.float32
    assert 20000 < np.median(flat.data) < 27000  # PROVENANCE.md: flats ~23.5k ADU above bias
