"""ccd_process against ccdproc 2.5.1, plus saturation, OR-ed masks and the extra options."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.modeling import models
from astropy.nddata import CCDData, StdDevUncertainty

import ccdcal
from ccdcal.errors import IncompatibleFramesError, InvalidParameterError, ParameterTypeError
from ccdcal.io.provenance import read_provenance
from ccdcal.testing.frames import Camera

GAIN = 2.0 * u.electron / u.adu
READNOISE = 10.0 * u.electron


@pytest.fixture(scope="module")
def night():
    """A camera with overscan and simple masters (float32, with σ)."""
    cam = Camera(shape=(40, 50), overscan=8, bias_jitter=2.0, seed=11)
    bias = CCDData(
        (cam.truth.bias - cam.bias_level).astype(np.float32),
        unit="adu",
        uncertainty=StdDevUncertainty(np.full(cam.shape, 1.5, np.float32)),
    )
    dark = CCDData(
        (300.0 * cam.truth.dark_rate).astype(np.float32),
        unit="adu",
        uncertainty=StdDevUncertainty(np.full(cam.shape, 0.7, np.float32)),
        meta={"EXPTIME": 300.0},
    )
    flat = CCDData(
        (20000 * cam.truth.flat).astype(np.float32),
        unit="adu",
        uncertainty=StdDevUncertainty(np.full(cam.shape, 40.0, np.float32)),
    )
    light = cam.light(60.0, sky=3.0, n_stars=5, seed=3, dtype=np.uint16)
    return cam, bias, dark, flat, light


def _in_electrons(frame: CCDData) -> CCDData:
    return CCDData(
        frame.data * 2.0,
        unit=u.electron,
        uncertainty=StdDevUncertainty(frame.uncertainty.array * 2.0),
        meta=frame.meta,
    )


CASES = {
    "minimal": {},
    "overscan-trim": {"oscan": "[51:58, *]", "trim": "[1:50, *]"},
    "everything": {
        "oscan": "[51:58, *]",
        "trim": "[1:50, *]",
        "error": True,
        "gain": GAIN,
        "readnoise": READNOISE,
        "gain_corrected": False,
        "exposure_key": "EXPTIME",
        "exposure_unit": u.s,
        "dark_scale": True,
        "min_value": 15000.0,
        "oscan_median": False,
    },
    "model-explicit-times": {
        "oscan": "[51:58, *]",
        "trim": "[1:50, *]",
        "oscan_model": models.Polynomial1D(1),
        "dark_exposure": 300 * u.s,
        "data_exposure": 60 * u.s,
        "dark_scale": True,
    },
    "gain-corrected-masters": {
        "oscan": "[51:58, *]",
        "trim": "[1:50, *]",
        "error": True,
        "gain": GAIN,
        "readnoise": READNOISE,
        "exposure_key": "EXPTIME",
        "exposure_unit": u.s,
        "dark_scale": True,
    },
}


@pytest.mark.parametrize("case", list(CASES))
def test_matches_ccdproc(night, ccdproc, case):
    _, bias, dark, flat, light = night
    kwargs = dict(CASES[case])
    if case != "minimal" and case != "overscan-trim":
        electrons = case == "gain-corrected-masters"
        kwargs["master_bias"] = _in_electrons(bias) if electrons else bias
        kwargs["dark_frame"] = _in_electrons(dark) if electrons else dark
        kwargs["master_flat"] = flat
    ours = ccdcal.ccd_process(light.ccd, **kwargs)
    ref = ccdproc.ccd_process(light.ccd, **kwargs)
    np.testing.assert_allclose(ours.data, ref.data, rtol=2e-5, atol=2e-3)
    assert ours.unit == ref.unit
    if ref.uncertainty is not None:
        finite = np.isfinite(ref.uncertainty.array)  # ccdproc: NaN for negative pixels
        np.testing.assert_allclose(
            ours.uncertainty.array[finite], ref.uncertainty.array[finite], rtol=2e-5
        )
    for key in ("suboscan", "trimim", "creatvar", "gaincor", "subbias", "subdark", "flatcor"):
        assert ours.meta.get(key) == ref.meta.get(key), key
    assert ours.meta["ccdproc"] == ref.meta["ccdproc"]
    assert ours.data.dtype == (np.uint16 if case == "minimal" else np.float32)


def test_recovers_the_truth_through_every_step(night):
    cam, bias, dark, flat, light = night
    out = ccdcal.ccd_process(
        light.ccd,
        oscan=cam.overscan_section,
        trim=cam.image_section,
        master_bias=bias,
        dark_frame=dark,
        master_flat=flat,
        exposure_key="EXPTIME",
        exposure_unit=u.s,
        dark_scale=True,
        error=True,
        gain=GAIN,
        readnoise=READNOISE,
        gain_corrected=False,
    )
    pull = (out.data / 2.0 - light.signal) / (out.uncertainty.array / 2.0)
    assert abs(pull.mean()) < 0.1
    assert 0.9 < pull.std() < 1.1


def test_saturation_is_masked_before_any_subtraction(night):
    cam, bias, _, _, light = night
    raw = light.ccd.copy()
    raw.data[10, 10] = 65535
    raw.data[11, 11] = 64000  # saturated on raw values, not after the bias is removed
    out = ccdcal.ccd_process(
        raw,
        oscan=cam.overscan_section,
        trim=cam.image_section,
        master_bias=bias,
        saturation="SATURATE",
    )
    assert out.mask[10, 10]
    assert not out.mask[11, 11]
    out = ccdcal.ccd_process(
        raw, oscan=cam.overscan_section, trim=cam.image_section, master_bias=bias, saturation=64000
    )
    assert out.mask[11, 11]
    steps = read_provenance(out.meta)[-1]["params"]["steps"]
    assert steps == ["mask_saturated", "subtract_overscan", "trim_image", "subtract_bias"]


def test_bad_pixel_mask_is_or_ed_not_replaced(night, ccdproc):
    cam, _, _, _, light = night
    raw = light.ccd.copy()
    raw.mask = np.zeros(raw.shape, bool)
    raw.mask[0, 0] = True
    bpm = np.zeros(cam.shape, bool)
    bpm[5, 5] = True
    kwargs = {"oscan": cam.overscan_section, "trim": cam.image_section, "bad_pixel_mask": bpm}
    ref = ccdproc.ccd_process(raw, **kwargs)
    assert not ref.mask[0, 0]  # ccdproc drops the frame's own mask
    ours = ccdcal.ccd_process(raw, **kwargs)
    assert ours.mask[0, 0]
    assert ours.mask[5, 5]
    assert ours.mask.sum() == 2
    assert raw.mask.sum() == 1


def test_ccdproc_example_and_float_bad_pixel_mask(ccdproc):
    ccd_data = CCDData(10.0 * np.ones((100, 100)), unit=u.adu)
    ccd_data.data[:, -10:] = 2
    mask = np.zeros((100, 90))
    masters = {
        name: CCDData(
            value * np.ones((100, 90)),
            unit=u.adu,
            uncertainty=StdDevUncertainty(np.zeros((100, 90))),
        )
        for name, value in (("master_bias", 4.0), ("dark_frame", 0.0), ("master_flat", 5.0))
    }
    occd = ccdcal.ccd_process(
        ccd_data,
        oscan=ccd_data[:, -10:],
        trim="[1:90,1:100]",
        error=True,
        bad_pixel_mask=mask,
        gain=0.5 * u.electron / u.adu,
        readnoise=5**0.5 * u.electron,
        oscan_median=True,
        dark_scale=False,
        dark_exposure=1.0 * u.s,
        data_exposure=1.0 * u.s,
        gain_corrected=False,
        **masters,
    )
    np.testing.assert_allclose(occd.data, 2.0)
    np.testing.assert_allclose(occd.uncertainty.array, 3.0)
    np.testing.assert_array_equal(occd.mask, mask)
    assert occd.unit == u.electron


def test_extra_options_reach_their_steps(night):
    cam, _, _, flat, light = night
    out = ccdcal.ccd_process(
        light.ccd,
        oscan=cam.overscan_section,
        trim=cam.image_section,
        master_flat=flat,
        norm_value=20000.0,
    )
    plain = ccdcal.ccd_process(light.ccd, oscan=cam.overscan_section, trim=cam.image_section)
    np.testing.assert_allclose(out.data, plain.data / (flat.data / 20000.0), rtol=1e-6)
    assert "norm_value=20000.0" in out.meta["flatcor"]
    transposed = CCDData(light.ccd.data.T.copy(), unit="adu")
    by_column = ccdcal.ccd_process(transposed, oscan="[*, 51:58]", overscan_axis=0)
    level = np.median(transposed.data[50:58, :].astype(np.float64), axis=0)
    np.testing.assert_allclose(by_column.data[0], transposed.data[0] - level, atol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"oscan": True}, ParameterTypeError, "oscan is not None"),
        ({"trim": True}, ParameterTypeError, "trim is not None"),
        ({"error": True}, InvalidParameterError, "gain and readnoise must be specified"),
        ({"error": True, "gain": None, "readnoise": 5}, InvalidParameterError, "gain and read"),
        ({"bad_pixel_mask": 3}, ParameterTypeError, "bad_pixel_mask is not None"),
        ({"master_bias": 3}, ParameterTypeError, "master_bias is not None"),
        ({"dark_frame": 3}, ParameterTypeError, "dark_frame is not None"),
        ({"master_flat": 3}, ParameterTypeError, "master_flat is not None"),
        ({"gain": 2.0}, ParameterTypeError, "gain is not None or astropy"),
        ({"bad_pixel_mask": np.zeros((3, 3))}, IncompatibleFramesError, "bad_pixel_mask has"),
    ],
)
def test_argument_errors(make_ccd, ccdproc, kwargs, exc, match):
    ccd = make_ccd()
    with pytest.raises(exc, match=match):
        ccdcal.ccd_process(ccd, **kwargs)
    if exc is not IncompatibleFramesError:
        with pytest.raises(exc.__mro__[2]):
            ccdproc.ccd_process(ccd, **kwargs)


def test_no_step_returns_a_copy_and_input_is_unchanged(night, unchanged):
    snapshot, assert_unchanged = unchanged
    *_, light = night
    before = snapshot(light.ccd)
    out = ccdcal.ccd_process(light.ccd)
    out.data[...] = 0
    out = ccdcal.ccd_process(light.ccd, gain=GAIN, readnoise=READNOISE)
    assert out.unit == u.electron
    assert_unchanged(light.ccd, before)
