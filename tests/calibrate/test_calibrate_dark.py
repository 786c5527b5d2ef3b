"""subtract_dark: the seed's two calls, ccdproc 2.5.1 agreement, and the documented improvements."""

from __future__ import annotations

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.nddata import CCDData, StdDevUncertainty

import ccdcal
from ccdcal.errors import (
    ExposureRequiredError,
    ExposureTimeError,
    HeaderKeywordError,
    IncompatibleFramesError,
    ParameterTypeError,
    UnitMismatchError,
)


@pytest.fixture
def seed_frames() -> tuple[CCDData, CCDData]:
    """A 2 s flat and a 60 s master dark with EXPTIME, known values and σ."""
    rows, cols = np.mgrid[0:8, 0:10]
    flat = CCDData(
        (20000.0 + 10 * rows + cols).astype(np.float32),
        unit="adu",
        uncertainty=StdDevUncertainty(np.full((8, 10), 150.0, dtype=np.float32)),
        meta=fits.Header({"EXPTIME": 2.0, "IMAGETYP": "Flat Field"}),
    )
    dark = CCDData(
        (30.0 + 3 * cols).astype(np.float32),
        unit="adu",
        uncertainty=StdDevUncertainty(np.full((8, 10), 6.0, dtype=np.float32)),
        meta=fits.Header({"EXPTIME": 60.0, "IMAGETYP": "Dark Frame"}),
    )
    return flat, dark


def _expected(flat: CCDData, dark: CCDData) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.mgrid[0:8, 0:10]
    data = (20000.0 + 10 * rows + cols) - (30.0 + 3 * cols) * (2.0 / 60.0)
    sigma = np.sqrt(150.0**2 + (6.0 * 2.0 / 60.0) ** 2) * np.ones((8, 10))
    return data, sigma


def test_seed_call_explicit_exposures(seed_frames):
    flat, masterdark = seed_frames
    darksub = ccdcal.subtract_dark(
        flat,
        masterdark,
        dark_exposure=60.0 * u.s,
        data_exposure=2.0 * u.s,
        scale=True,
        exposure_unit="adu",
    )
    data, sigma = _expected(flat, masterdark)
    np.testing.assert_allclose(darksub.data, data, rtol=1e-6)
    np.testing.assert_allclose(darksub.uncertainty.array, sigma, rtol=1e-6)
    assert darksub.data.dtype == np.float32
    assert darksub.unit == u.adu


def test_seed_call_exposure_keyword(seed_frames):
    flat, masterdark = seed_frames
    darksub = ccdcal.subtract_dark(
        flat, masterdark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True
    )
    data, sigma = _expected(flat, masterdark)
    np.testing.assert_allclose(darksub.data, data, rtol=1e-6)
    np.testing.assert_allclose(darksub.uncertainty.array, sigma, rtol=1e-6)
    assert darksub.data.dtype == np.float32


def test_seed_calls_match_ccdproc_including_header_cards(seed_frames, ccdproc):
    flat, dark = seed_frames
    explicit = {"dark_exposure": 60.0 * u.s, "data_exposure": 2.0 * u.s}
    calls = [
        {**explicit, "scale": True, "exposure_unit": "adu"},
        {"exposure_time": "EXPTIME", "exposure_unit": u.s, "scale": True},
    ]
    for kwargs in calls:
        ours = ccdcal.subtract_dark(flat, dark, **kwargs)
        ref = ccdproc.subtract_dark(flat, dark, **kwargs)
        np.testing.assert_allclose(ours.data, ref.data, rtol=1e-6)
        np.testing.assert_allclose(ours.uncertainty.array, ref.uncertainty.array, rtol=1e-6)
        assert ours.unit == ref.unit
        assert ours.header["subtract_dark"] == ref.header["subtract_dark"] == "subdark"
        assert ours.header["subdark"] == ref.header["subdark"]


@pytest.mark.parametrize("scale", [True, False])
@pytest.mark.parametrize("form", ["explicit-mixed-units", "keyword-str", "keyword-object"])
def test_matches_ccdproc(make_ccd, ccdproc, scale, form):
    ccd = make_ccd(sigma=2.0, mask_fraction=0.05, header={"exposure": 30.0}, seed=1)
    dark = make_ccd(
        mean=1.7, scale=0.2, sigma=0.3, mask_fraction=0.05, header={"exposure": 60.0}, seed=2
    )
    if form == "explicit-mixed-units":
        ours_kw = ref_kw = {"dark_exposure": 1.0 * u.min, "data_exposure": 30 * u.s}
    elif form == "keyword-str":
        ours_kw = ref_kw = {"exposure_time": "exposure", "exposure_unit": u.s}
    else:
        ours_kw = {"exposure_time": ccdcal.Keyword("exposure", unit=u.s)}
        ref_kw = {"exposure_time": ccdproc.Keyword("exposure", unit=u.s)}
    ours = ccdcal.subtract_dark(ccd, dark, scale=scale, **ours_kw)
    ref = ccdproc.subtract_dark(ccd, dark, scale=scale, **ref_kw)
    np.testing.assert_allclose(ours.data, ref.data, rtol=1e-6)
    np.testing.assert_allclose(ours.uncertainty.array, ref.uncertainty.array, rtol=1e-5)
    np.testing.assert_array_equal(ours.mask, ref.mask)
    expected_k = 0.5 if scale else 1.0
    np.testing.assert_allclose(ours.data, ccd.data - expected_k * dark.data, rtol=1e-6)


def test_float32_stays_float32_where_ccdproc_promotes(make_ccd, ccdproc):
    ccd = make_ccd(header={"EXPTIME": 10.0})
    dark = make_ccd(mean=5, header={"EXPTIME": 100.0}, seed=3)
    kwargs = {"exposure_time": "EXPTIME", "exposure_unit": u.s, "scale": True}
    assert ccdproc.subtract_dark(ccd, dark, **kwargs).data.dtype == np.float64
    assert ccdcal.subtract_dark(ccd, dark, **kwargs).data.dtype == np.float32


def test_uint16_inputs_never_wrap(make_ccd):
    raw = CCDData(np.array([[100, 5000]], dtype=np.uint16), unit="adu", meta={"EXPTIME": 1.0})
    dark = CCDData(np.array([[200, 200]], dtype=np.uint16), unit="adu", meta={"EXPTIME": 1.0})
    out = ccdcal.subtract_dark(raw, dark, exposure_time="EXPTIME", exposure_unit=u.s)
    np.testing.assert_array_equal(out.data, [[-100.0, 4800.0]])
    assert out.data.dtype == np.float32


# --- errors: ccdproc's types and order, with clear messages -------------------------------


def test_shape_checked_before_types(make_ccd):
    ccd = make_ccd(header={"exptime": 30.0})
    with pytest.raises(ValueError, match="shapes"):
        ccdcal.subtract_dark(ccd, np.zeros((1, 1)), exposure_time="exptime")
    with pytest.raises(IncompatibleFramesError, match=r"\(20, 30\) \(1, 1\)"):
        ccdcal.subtract_dark(ccd, CCDData(np.zeros((1, 1)), unit="adu"))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"dark_exposure": 30 * u.s}, ExposureRequiredError, "data_exposure is missing"),
        ({"data_exposure": 30 * u.s}, ExposureRequiredError, "dark_exposure is missing"),
        (
            {"dark_exposure": 10 * u.s, "data_exposure": 10 * u.s, "exposure_time": "exptime"},
            ParameterTypeError,
            "not both",
        ),
        ({}, ExposureRequiredError, "must specify either exposure_time"),
        ({"exposure_time": "exptime"}, ParameterTypeError, "must provide unit"),
        ({"dark_exposure": 10, "data_exposure": 10}, ParameterTypeError, "Quantity"),
        (
            {"dark_exposure": 10 * u.s, "exposure_time": "exptime", "exposure_unit": u.s},
            ExposureRequiredError,
            "data_exposure is missing",
        ),
    ],
)
def test_type_errors_as_ccdproc(make_ccd, ccdproc, kwargs, exc, match):
    ccd = make_ccd(header={"exptime": 30.0})
    master = make_ccd(header={"exptime": 30.0}, seed=5)
    with pytest.raises(TypeError):
        ccdproc.subtract_dark(ccd, master, **kwargs)
    with pytest.raises(exc, match=match):
        ccdcal.subtract_dark(ccd, master, **kwargs)
    assert issubclass(exc, TypeError)


def test_not_ccddata_is_type_error(make_ccd):
    ccd = make_ccd(header={"exptime": 30.0})
    with pytest.raises(TypeError, match="master must be an astropy CCDData"):
        ccdcal.subtract_dark(ccd, ccd.data, exposure_time="exptime", exposure_unit=u.s)
    with pytest.raises(TypeError, match="ccd must be an astropy CCDData"):
        ccdcal.subtract_dark(ccd.data, ccd, exposure_time="exptime", exposure_unit=u.s)


def test_missing_keyword_is_key_error_naming_keyword_and_file(make_ccd):
    ccd = make_ccd(header={"EXPTIME": 30.0})
    dark = make_ccd(header={"CCDCFILE": "dark-300s.fits"}, seed=4)
    with pytest.raises(KeyError, match=r"'EXPTIME'.*master dark.*dark-300s\.fits"):
        ccdcal.subtract_dark(ccd, dark, exposure_time="EXPTIME", exposure_unit=u.s)
    with pytest.raises(HeaderKeywordError, match="dark_exposure= and data_exposure="):
        ccdcal.subtract_dark(ccd, dark, exposure_time="EXPTIME", exposure_unit=u.s)


def test_unit_mismatch_is_units_error(make_ccd):
    ccd = make_ccd(header={"exptime": 30.0})
    master = make_ccd(header={"exptime": 30.0}, unit="m", seed=5)
    with pytest.raises(u.UnitsError, match="uncalibrated image"):
        ccdcal.subtract_dark(ccd, master, exposure_time="exptime", exposure_unit=u.second)
    electrons = make_ccd(header={"exptime": 30.0}, unit="electron", seed=5)
    with pytest.raises(UnitMismatchError, match=r"'adu'.*'electron'"):
        ccdcal.subtract_dark(ccd, electrons, exposure_time="exptime", exposure_unit=u.s)


# --- deliberate improvements over ccdproc ----------------------------------------------------


@pytest.mark.parametrize("dark_time", [0.0, -5.0])
def test_zero_or_negative_dark_exposure_is_an_error_not_minus_inf(make_ccd, ccdproc, dark_time):
    ccd = make_ccd(header={"EXPTIME": 30.0})
    dark = make_ccd(mean=5, header={"EXPTIME": dark_time, "CCDCFILE": "bad-dark.fits"}, seed=6)
    kwargs = {"exposure_time": "EXPTIME", "exposure_unit": u.s, "scale": True}
    if dark_time == 0.0:
        with np.errstate(divide="ignore", invalid="ignore"):
            ref = ccdproc.subtract_dark(ccd, dark, **kwargs)
        assert np.isinf(ref.data).all()  # ccdproc's silent -inf
    with pytest.raises(ExposureTimeError, match=r"EXPTIME.*bad-dark\.fits") as info:
        ccdcal.subtract_dark(ccd, dark, **kwargs)
    assert isinstance(info.value, ValueError)
    # without scaling the exposure is not used, so a zero-second dark is fine
    out = ccdcal.subtract_dark(ccd, dark, exposure_time="EXPTIME", exposure_unit=u.s)
    np.testing.assert_allclose(out.data, ccd.data - dark.data)


@pytest.mark.parametrize("value", ["thirty", "", True])
def test_non_numeric_exposure_names_keyword_and_file(make_ccd, value):
    ccd = make_ccd(header={"EXPTIME": value, "CCDCFILE": "light-007.fits"})
    dark = make_ccd(header={"EXPTIME": 60.0}, seed=7)
    with pytest.raises(ExposureTimeError, match=r"'EXPTIME'.*light-007\.fits.*not a number"):
        ccdcal.subtract_dark(ccd, dark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True)


def test_nan_explicit_exposure_is_rejected(make_ccd):
    ccd, dark = make_ccd(), make_ccd(seed=8)
    with pytest.raises(ExposureTimeError, match="finite"):
        ccdcal.subtract_dark(ccd, dark, dark_exposure=np.nan * u.s, data_exposure=1 * u.s)


def test_numeric_string_and_lowercase_dict_keys_are_read(make_ccd):
    ccd = CCDData(np.full((2, 2), 10.0, np.float32), unit="adu", meta={"exptime": "30"})
    dark = CCDData(np.full((2, 2), 6.0, np.float32), unit="adu", meta={"EXPTIME": 60})
    out = ccdcal.subtract_dark(ccd, dark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True)
    np.testing.assert_allclose(out.data, 7.0)


def test_exposures_that_are_not_times_are_rejected_when_scaling(make_ccd):
    ccd, dark = make_ccd(), make_ccd(seed=9)
    with pytest.raises(UnitMismatchError, match="not a time"):
        ccdcal.subtract_dark(ccd, dark, dark_exposure=3 * u.m, data_exposure=1 * u.s, scale=True)


def test_keyword_value_is_left_in_the_keyword_as_ccdproc_does(make_ccd):
    key = ccdcal.Keyword("EXPTIME", unit=u.s)
    ccd = make_ccd(header={"EXPTIME": 30.0})
    dark = make_ccd(header={"EXPTIME": 90.0}, seed=10)
    out = ccdcal.subtract_dark(ccd, dark, exposure_time=key, scale=True)
    assert key.value == 90.0 * u.s
    np.testing.assert_allclose(out.data, ccd.data - dark.data / 3, rtol=1e-6)


def test_provenance_records_exposures_factor_and_master(make_ccd):
    ccd = make_ccd(header={"EXPTIME": 30.0})
    dark = make_ccd(header={"EXPTIME": 120.0, "CCDCFILE": "master-dark.fits"}, seed=11)
    out = ccdcal.subtract_dark(ccd, dark, exposure_time="EXPTIME", exposure_unit=u.s, scale=True)
    (rec,) = ccdcal.io.provenance.read_provenance(out.meta)
    assert rec["step"] == "subtract_dark"
    assert rec["params"]["factor"] == pytest.approx(0.25)
    assert rec["params"]["dark_exposure"] == {"value": 120.0, "unit": "s"}
    assert rec["params"]["exposure_keyword"] == "EXPTIME"
    assert rec["calibrations"]["master"]["file"] == "master-dark.fits"
    assert len(rec["calibrations"]["master"]["checksum"]) == 16
