"""classify: normalised fields from pt5m, MaxIm DL, IRAF-style and generic headers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from astropy.io import fits
from astropy.time import Time

from ccdcal.collection.cards import HeaderCards
from ccdcal.collection.classify import classify, parse_obs_time
from ccdcal.collection.frame import FrameInfo
from ccdcal.collection.profiles import get_profile, load_profile

from .conftest import pt5m_header

IMAGE = {"SIMPLE": True, "BITPIX": 16, "NAXIS": 2, "NAXIS1": 2184, "NAXIS2": 1472, "BZERO": 32768}


def _classify(cards: dict[str, Any], **kwargs: Any) -> FrameInfo:
    return classify({**IMAGE, **cards}, path="/night/x.fits", **kwargs)


@pytest.mark.parametrize(
    ("kind", "expected", "keeps_filter"),
    [
        ("BIAS", "bias", False),
        ("DARK", "dark", False),
        ("SKY", "flat", True),
        ("SCIENCE", "science", True),
    ],
)
def test_pt5m_types_and_filter_rule(kind: str, expected: str, keeps_filter: bool) -> None:
    info = _classify(pt5m_header(kind, exptime=30.0, filt="R", binning=2))
    assert info.instrument == "pt5m"
    assert (info.frame_type, info.raw_type) == (expected, kind)
    assert info.filter == ("R" if keeps_filter else None)
    assert (info.xbin, info.ybin) == (2, 2)
    assert info.exptime == 30.0
    assert (info.gain, info.read_noise) == (1.1, 8.0)
    assert (info.ccd_temp, info.set_temp) == (-19.9, -20.0)
    assert info.telescope == "pt5m"
    assert info.camera == "QSI 532ws"
    assert info.shape == (1472, 2184)
    assert info.saturation == 65535.0
    assert info.problems == ()


def test_observation_time_and_mjd_agree_with_astropy() -> None:
    info = _classify(pt5m_header("SCIENCE"))
    assert info.date_obs == "2025-06-24T21:00:00.5"
    assert info.mjd == pytest.approx(Time("2025-06-24T21:00:00.5", scale="utc").mjd, abs=1e-9)


@pytest.mark.realdata
def test_real_maxim_night(real_night: Path) -> None:
    expected = {
        "calibration/calib-001-bi.fit": ("bias", 0.0, None),
        "calibration/calib-002-bi.fit": ("bias", 0.0, None),
        "calibration/calib-001-d.fit": ("dark", 300.0, None),
        "calibration/calib-002-d.fit": ("dark", 300.0, None),
        "calibration/flat-001-c.fit": ("flat", 2.0, "clear"),
        "calibration/flat-002-c.fit": ("flat", 2.0, "clear"),
        "science/UB17-001-c.fit": ("science", 300.0, "clear"),
        "science/UB17-033-c.fit": ("science", 300.0, "clear"),
        "ancillary/fov.fit": ("science", 30.0, "clear"),
        "ancillary/focus.fit": ("science", 0.05, "clear"),
    }
    for rel, (kind, exptime, filt) in expected.items():
        header = fits.getheader(real_night / rel)
        info = classify(header, path=real_night / rel)
        assert info.instrument == "maximdl", rel
        assert (info.frame_type, info.exptime, info.filter) == (kind, exptime, filt), rel
        assert info.date_obs == header["DATE-OBS"]
        assert info.mjd == pytest.approx(header["JD"] - 2400000.5, abs=2e-6)
        assert info.gain == pytest.approx(2.6, rel=1e-6)
        assert info.ccd_temp == header["CCD-TEMP"]
        assert info.set_temp == 0.0
        assert info.readout_mode == "Normal"
        assert info.shape == (1020, 1530)
        assert info.saturation == 65535.0
        assert info.camera == "SBIG ST-8 3 CCD Camera"
        assert info.object is None
        assert info.telescope is None
        assert info.problems == ()


@pytest.mark.parametrize(
    ("imagetyp", "expected"),
    [
        ("zero", "bias"),
        ("dark", "dark"),
        ("flat", "flat"),
        ("dome flat", "flat"),
        ("SKY FLAT", "flat"),
        ("object", "science"),
    ],
)
def test_iraf_types(imagetyp: str, expected: str) -> None:
    info = _classify({"IMAGETYP": imagetyp, "EXPTIME": 5.0}, profile="iraf")
    assert info.frame_type == expected
    assert info.problems == ()


def test_iraf_comp_is_reported_not_guessed() -> None:
    info = _classify({"IMAGETYP": "comp", "EXPTIME": 5.0})
    assert info.instrument == "iraf"
    assert info.frame_type is None
    assert info.problems == ("not a bias, dark, flat or science frame (IMAGETYP='comp')",)


def test_iraf_sections_binning_and_ut() -> None:
    cards = {
        "IMAGETYP": "object",
        "ITIME": 120,
        "CCDSUM": "2 2",
        "BIASSEC": "[1025:1056,1:1024]",
        "TRIMSEC": "[1:1024,1:1024]",
        "DATE-OBS": "2001-03-04",
        "UT": "05:06:07.5",
        "SUBSET": "V",
    }
    info = _classify(cards)
    assert info.instrument == "iraf"
    assert (info.exptime, info.xbin, info.ybin, info.filter) == (120.0, 2, 2, "V")
    assert (info.overscan, info.trim) == ("[1025:1056,1:1024]", "[1:1024,1:1024]")
    assert info.date_obs == "2001-03-04T05:06:07.5"


def test_unknown_type_is_reported() -> None:
    info = _classify({"IMAGETYP": "Pointing", "EXPTIME": 1.0})
    assert info.frame_type is None
    assert info.raw_type == "Pointing"
    assert info.problems == ("unknown frame type IMAGETYP='Pointing'",)


def test_missing_type_keyword_lists_what_was_looked_for() -> None:
    info = _classify({"EXPTIME": 1.0})
    assert info.frame_type is None
    assert info.problems == (
        "no frame-type keyword (looked for IMAGETYP, OBSTYPE, FRAMETYP, IMGTYPE)",
    )


def test_forced_profile_does_not_detect() -> None:
    info = _classify({"IMAGETYP": "Bias Frame", "SWCREATE": "MaxIm DL"}, profile="pt5m")
    assert info.instrument == "pt5m"
    assert info.frame_type is None
    assert "no frame-type keyword (looked for TYPE)" in info.problems


@pytest.mark.parametrize("kind", ["Dark Frame", "Flat Field", "Light Frame"])
def test_missing_exposure_is_a_problem_except_for_bias(kind: str) -> None:
    info = _classify({"IMAGETYP": kind})
    assert info.problems == ("no exposure time (looked for EXPTIME, EXPOSURE)",)
    assert _classify({"IMAGETYP": "Bias Frame"}).problems == ()


@pytest.mark.parametrize(
    ("cards", "problem"),
    [
        ({"EXPTIME": -1.0}, "negative exposure time -1.0 s"),
        ({"EXPTIME": "long"}, "EXPTIME='long' is not a number"),
        ({"EXPTIME": 1.0, "XBINNING": 0}, "XBINNING=0 is not a positive whole number"),
        ({"EXPTIME": 1.0, "XBINNING": 1.5}, "XBINNING=1.5 is not a positive whole number"),
        ({"EXPTIME": 1.0, "BIASSEC": "cols 1-20"}, "BIASSEC='cols 1-20' is not a FITS section"),
    ],
)
def test_bad_values_are_problems(cards: dict[str, Any], problem: str) -> None:
    info = _classify({"IMAGETYP": "dark", **cards})
    assert any(p.startswith(problem) for p in info.problems), info.problems


def test_exposure_from_fallback_keyword_and_string_numbers() -> None:
    info = _classify({"IMAGETYP": "light", "EXPOSURE": "12.5", "XBINNING": "3"})
    assert (info.exptime, info.xbin, info.ybin) == (12.5, 3, 3)


def test_unit_conversions(tmp_path: Path) -> None:
    path = tmp_path / "units.toml"
    path.write_text(
        'name = "units"\nextends = "generic"\n'
        '[units]\nexptime = "ms"\nccd_temp = "K"\ngain = "adu/e"\nread_noise = "adu"\n'
        "[defaults]\nsaturation = 4095\n"
    )
    profile = load_profile(path)
    cards = {"IMAGETYP": "dark", "EXPTIME": 1500, "CCD-TEMP": 253.15, "GAIN": 0.5, "RDNOISE": 4.0}
    info = _classify(cards, profile=profile)
    assert info.exptime == pytest.approx(1.5)
    assert info.ccd_temp == pytest.approx(-20.0)
    assert info.gain == pytest.approx(2.0)
    assert info.read_noise == pytest.approx(8.0)
    assert info.saturation == 4095.0


@pytest.mark.parametrize(
    ("bitpix", "bzero", "expected"),
    [
        (16, 32768, 65535.0),
        (16, 0, 32767.0),
        (8, 0, 255.0),
        (32, 2147483648, 4294967295.0),
        (-32, 0, None),
    ],
)
def test_saturation_from_bitpix(bitpix: int, bzero: int, expected: float | None) -> None:
    header = {**IMAGE, "BITPIX": bitpix, "BZERO": bzero, "IMAGETYP": "light", "EXPTIME": 1.0}
    assert classify(header, path="x.fits").saturation == expected


def test_saturation_keyword_wins() -> None:
    assert _classify({"IMAGETYP": "light", "EXPTIME": 1.0, "SATURATE": 50000}).saturation == 50000.0


def test_header_forms_give_the_same_record() -> None:
    header = fits.Header({**IMAGE, **pt5m_header("SKY")})
    from_header = classify(header, path="/n/x.fits")
    from_cards = classify(HeaderCards.from_header(header), path="/n/x.fits")
    from_dict = classify({k.lower(): v for k, v in header.items()}, path="/n/x.fits")
    assert from_header == from_cards == from_dict


def test_not_an_image() -> None:
    info = classify({"IMAGETYP": "light", "EXPTIME": 1.0, "NAXIS": 3, "NAXIS1": 4}, path="c.fits")
    assert "not a 2-D image (NAXIS = 3)" in info.problems
    assert info.shape is None


@pytest.mark.parametrize(
    ("date", "time", "expected"),
    [
        ("2025-06-24T21:00:00", None, "2025-06-24T21:00:00"),
        ("2025-06-24T21:00:00.123456Z", None, "2025-06-24T21:00:00.123456"),
        ("2025-06-24 21:00:00", None, "2025-06-24T21:00:00"),
        ("2025-06-24T23:30:00+02:00", None, "2025-06-24T21:30:00"),
        ("2025-06-24T00:30:00-0130", None, "2025-06-24T02:00:00"),
        ("2025-06-24", "21:00:01.25", "2025-06-24T21:00:01.25"),
        ("24/06/98", "21:00:00", "1998-06-24T21:00:00"),
    ],
)
def test_obs_time_forms(date: str, time: str | None, expected: str) -> None:
    when = parse_obs_time(date, time)
    assert when is not None
    assert when == Time(expected, scale="utc").to_datetime()


@pytest.mark.parametrize("bad", ["yesterday", "2025-13-01T00:00:00", "2025/06/24"])
def test_bad_dates_give_none(bad: str) -> None:
    assert parse_obs_time(bad) is None


def test_time_from_mjd_or_jd_when_no_date() -> None:
    info = _classify({"IMAGETYP": "light", "EXPTIME": 1.0, "MJD-OBS": 60851.5})
    assert info.date_obs == "2025-06-25T12:00:00"
    assert info.mjd == 60851.5
    info = _classify({"IMAGETYP": "light", "EXPTIME": 1.0, "JD": 2460852.0})
    assert info.mjd == pytest.approx(60851.5)


def test_frame_info_dict_round_trip() -> None:
    info = _classify(pt5m_header("SKY"))
    assert FrameInfo.from_dict(info.to_dict()) == info
    with pytest.raises(ValueError, match=r"unknown field\(s\) \['colour'\]"):
        FrameInfo.from_dict({"path": "x", "colour": "red"})


def test_profile_names_are_resolved() -> None:
    assert (
        _classify({"IMAGETYP": "Bias Frame"}, profile=get_profile("maxim")).instrument == "maximdl"
    )
