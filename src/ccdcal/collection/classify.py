"""Turn a header into a :class:`~ccdcal.collection.frame.FrameInfo`: type, exposure, binning...

:func:`classify` picks the instrument profile (or uses the one given), reads
each normalised field from the keywords the profile lists, converts units and
fills defaults. What it cannot tell it does not guess: a frame whose type is
missing or unknown gets ``frame_type=None`` and a reason in ``problems``, as
does a dark, flat or science frame without an exposure time, or a file that
holds no 2-D image.

Examples
--------
>>> header = {"SIMPLE": True, "BITPIX": 16, "NAXIS": 2, "NAXIS1": 1530, "NAXIS2": 1020,
...           "BZERO": 32768, "IMAGETYP": "Flat Field", "EXPTIME": 2.0, "FILTER": "clear",
...           "DATE-OBS": "2025-06-25T06:51:41", "CCD-TEMP": 0.19, "XBINNING": 1,
...           "YBINNING": 1, "EGAIN": 2.6, "SWCREATE": "MaxIm DL Version 5.12"}
>>> info = classify(header, path="flat-001-c.fit")
>>> info.instrument, info.frame_type, info.exptime, info.filter, info.shape
('maximdl', 'flat', 2.0, 'clear', (1020, 1530))
>>> round(info.mjd, 5), info.saturation
(60851.28589, 65535.0)
>>> classify({"IMAGETYP": "Pointing"}, path="x.fits").problems
("unknown frame type IMAGETYP='Pointing'", 'no image data (NAXIS = 0)')
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import re
from collections import ChainMap
from collections.abc import Mapping, Sequence
from typing import Any

from astropy.io import fits

from ccdcal.collection.cards import HeaderCards
from ccdcal.collection.frame import FrameInfo
from ccdcal.collection.profiles import (
    InstrumentProfile,
    detect_profile,
    get_profile,
    load_profiles,
)

__all__ = ["classify", "parse_obs_time", "section_is_valid"]

logger = logging.getLogger(__name__)

_MJD_EPOCH = dt.datetime(1858, 11, 17)
_ISO_RE = re.compile(
    r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})"
    r"(?:[T ](?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{1,2}(?:\.\d*)?))?)?"
    r"\s*(?P<tz>Z|[+-]\d{2}:?\d{2})?\Z"
)
_OLD_DATE_RE = re.compile(r"(?P<d>\d{2})/(?P<m>\d{2})/(?P<y>\d{2})\Z")
_TIME_RE = re.compile(r"(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{1,2}(?:\.\d*)?))?\Z")
_SECTION_RE = re.compile(r"\[\s*\*?\d*\s*:?\s*\d*\s*,\s*\*?\d*\s*:?\s*\d*\s*\]\Z")
_BINNING_RE = re.compile(r"\s*(\d+)\s*[xX, ]\s*(\d+)\s*\Z")


def section_is_valid(text: str) -> bool:
    """True for a FITS/IRAF 2-D section such as ``'[1:2048, 1:4096]'`` or ``'[*, 1:50]'``.

    Examples
    --------
    >>> section_is_valid("[2049:2080, 1:4096]"), section_is_valid("2049-2080")
    (True, False)
    """
    return bool(_SECTION_RE.match(text.strip()))


def _seconds(text: str | None) -> float:
    return float(text) if text else 0.0


def parse_obs_time(date: str, time: str | None = None) -> dt.datetime | None:
    """The UTC time of a ``DATE-OBS`` value (with ``TIME-OBS`` for a date-only value).

    Accepts ISO 8601 (``'2025-06-25T06:12:46.5'``, with ``'Z'`` or an offset, or a
    blank instead of ``'T'``) and the old FITS ``'DD/MM/YY'`` form (19YY).

    Examples
    --------
    >>> parse_obs_time("2025-06-25T06:12:46")
    datetime.datetime(2025, 6, 25, 6, 12, 46)
    >>> parse_obs_time("25/06/98", "06:12:46.25")
    datetime.datetime(1998, 6, 25, 6, 12, 46, 250000)
    >>> parse_obs_time("not a date") is None
    True
    """
    text = date.strip()
    match = _ISO_RE.match(text)
    old = None if match else _OLD_DATE_RE.match(text)
    try:
        if match:
            day = dt.datetime(int(match["y"]), int(match["m"]), int(match["d"]))
            hms = (match["H"], match["M"], match["S"]) if match["H"] else None
        elif old:
            day = dt.datetime(1900 + int(old["y"]), int(old["m"]), int(old["d"]))
            hms = None
        else:
            return None
    except ValueError:
        return None
    if hms is None and time is not None:
        tmatch = _TIME_RE.match(time.strip())
        hms = (tmatch["H"], tmatch["M"], tmatch["S"]) if tmatch else None
    if hms is not None:
        day += dt.timedelta(hours=int(hms[0]), minutes=int(hms[1]), seconds=_seconds(hms[2]))
    if match and match["tz"] and match["tz"] != "Z":
        sign = 1 if match["tz"][0] == "+" else -1
        digits = match["tz"][1:].replace(":", "")
        day -= sign * dt.timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return day


def _iso(when: dt.datetime) -> str:
    text = when.strftime("%Y-%m-%dT%H:%M:%S")
    if when.microsecond:
        text += f".{when.microsecond:06d}".rstrip("0")
    return text


def _mjd(when: dt.datetime) -> float:
    return (when - _MJD_EPOCH) / dt.timedelta(days=1)


def _from_mjd(mjd: float) -> dt.datetime:
    return _MJD_EPOCH + dt.timedelta(days=mjd)


class _Reader:
    """Reads normalised fields from one header with one profile, collecting problems."""

    def __init__(self, header: Mapping[str, Any], profile: InstrumentProfile) -> None:
        self.header = header
        self.profile = profile
        self.problems: list[str] = []

    def raw(self, field: str, *, use_default: bool = True) -> tuple[str | None, Any]:
        """``(keyword, value)`` of the first keyword present for ``field``, else the default."""
        for key in self.profile.keywords_for(field):
            try:
                value = self.header.get(key)
            except ValueError as exc:
                self.problems.append(f"{key} cannot be parsed ({exc})")
                continue
            if value is None or isinstance(value, fits.card.Undefined):
                continue
            if isinstance(value, str) and not value.strip():
                continue
            return key, value
        if use_default and field in self.profile.defaults:
            return None, self.profile.defaults[field]
        return None, None

    def text(self, field: str) -> str | None:
        _, value = self.raw(field)
        if value is None:
            return None
        return str(value).strip() or None

    def number(self, field: str) -> float | None:
        key, value = self.raw(field)
        if value is None:
            return None
        number = _to_float(value)
        if number is None or not math.isfinite(number):
            self.problems.append(f"{key or field}={value!r} is not a number")
            return None
        return number

    def integer(self, field: str) -> int | None:
        key, value = self.raw(field)
        if value is None:
            return None
        number = _to_float(value)
        if number is None or number != int(number) or number < 1:
            self.problems.append(f"{key or field}={value!r} is not a positive whole number")
            return None
        return int(number)


def _to_float(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip().replace("D", "E"))
        except ValueError:
            return None
    return None


def _frame_type(reader: _Reader) -> tuple[Any, str | None]:
    keys = reader.profile.keywords_for("frame_type")
    key, raw = reader.raw("frame_type", use_default=False)
    if raw is None:
        looked = ", ".join(keys) if keys else "none configured"
        reader.problems.append(f"no frame-type keyword (looked for {looked})")
        return None, None
    raw_text = str(raw).strip()
    kind = reader.profile.map_type(raw)
    if kind is None:
        reader.problems.append(f"unknown frame type {key}={raw_text!r}")
        return None, raw_text
    if kind == "other":
        reader.problems.append(f"not a bias, dark, flat or science frame ({key}={raw_text!r})")
        return None, raw_text
    return kind, raw_text


_EXPTIME_SCALE = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "min": 60.0}


def _exptime(reader: _Reader, frame_type: str | None) -> float | None:
    value = reader.number("exptime")
    if value is not None:
        value *= _EXPTIME_SCALE[reader.profile.units.get("exptime", "s")]
        if value < 0:
            reader.problems.append(f"negative exposure time {value} s")
            return None
    elif frame_type in ("dark", "flat", "science"):
        looked = ", ".join(reader.profile.keywords_for("exptime"))
        reader.problems.append(f"no exposure time (looked for {looked})")
    return value


def _binning(reader: _Reader) -> tuple[int, int]:
    xbin = reader.integer("xbin")
    ybin = reader.integer("ybin")
    if xbin is None and ybin is None:
        key, combined = reader.raw("binning")
        if combined is not None:
            match = _BINNING_RE.match(str(combined))
            if match and int(match[1]) > 0 and int(match[2]) > 0:
                return int(match[1]), int(match[2])
            reader.problems.append(f"{key}={combined!r} is not a binning like '2 2'")
        return 1, 1
    return (xbin or ybin or 1), (ybin or xbin or 1)


def _temperature(reader: _Reader, field: str) -> float | None:
    value = reader.number(field)
    if value is not None and reader.profile.units.get(field, "C") == "K":
        value -= 273.15
    return value


def _gain_and_noise(reader: _Reader) -> tuple[float | None, float | None]:
    gain = reader.number("gain")
    if gain is not None and reader.profile.units.get("gain", "e/adu") == "adu/e":
        gain = 1.0 / gain if gain else None
    if gain is not None and gain <= 0:
        reader.problems.append(f"gain {gain} e-/ADU is not positive")
        gain = None
    noise = reader.number("read_noise")
    if noise is not None and reader.profile.units.get("read_noise", "e") == "adu":
        noise = noise * gain if gain is not None else None
    return gain, noise


def _header_int(header: Mapping[str, Any], key: str) -> int | None:
    try:
        value = header.get(key)
    except ValueError:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _saturation(reader: _Reader) -> float | None:
    value = reader.number("saturation")
    if value is not None:
        return value
    bitpix = _header_int(reader.header, "BITPIX")
    if bitpix is None or bitpix < 0:
        return None
    bzero = _header_int(reader.header, "BZERO") or 0
    stored_max = 255 if bitpix == 8 else 2 ** (bitpix - 1) - 1  # BITPIX 8 is unsigned
    top = stored_max + bzero
    return float(top) if top > 0 else None


def _shape(reader: _Reader) -> tuple[int, int] | None:
    naxis = _header_int(reader.header, "NAXIS") or 0
    if naxis != 2:
        what = "no image data" if naxis == 0 else "not a 2-D image"
        reader.problems.append(f"{what} (NAXIS = {naxis})")
        return None
    nx = _header_int(reader.header, "NAXIS1")
    ny = _header_int(reader.header, "NAXIS2")
    if not nx or not ny:
        reader.problems.append(f"empty image (NAXIS1 = {nx}, NAXIS2 = {ny})")
        return None
    return ny, nx


def _section(reader: _Reader, field: str, shape: tuple[int, int] | None) -> str | None:
    key, value = reader.raw(field)
    if value is None:
        return None
    text = str(value).strip()
    if not section_is_valid(text):
        reader.problems.append(
            f"{key or field}={text!r} is not a FITS section like '[1:2048, 1:4096]'"
        )
        return None
    if shape is not None:
        from ccdcal.calibrate.sections import section_to_slices  # a parser with no heavy imports
        from ccdcal.errors import SectionError

        try:
            section_to_slices(text, shape)
        except SectionError:
            reader.problems.append(
                f"{key or field}={text!r} lies outside the image "
                f"(NAXIS1 = {shape[1]}, NAXIS2 = {shape[0]}); fix the keyword or the "
                "instrument profile"
            )
            return None
    return text


def _obs_time(reader: _Reader) -> tuple[str | None, float | None]:
    key, date = reader.raw("date_obs")
    if date is not None:
        when = parse_obs_time(str(date), reader.text("time_obs"))
        if when is not None:
            return _iso(when), _mjd(when)
        logger.warning("%s=%r is not a date; no observation time", key, date)
    mjd = reader.number("mjd")
    if mjd is None:
        jd = reader.number("jd")
        mjd = jd - 2400000.5 if jd is not None else None
    if mjd is None:
        return None, None
    return _iso(_from_mjd(mjd)), mjd


def _lookup_form(header: Mapping[str, Any]) -> Mapping[str, Any]:
    """A header whose ``get`` is case-insensitive (HeaderCards indexed for many lookups)."""
    if isinstance(header, HeaderCards):
        return header.indexed()
    if isinstance(header, ChainMap):
        parts = [p.indexed() if isinstance(p, HeaderCards) else p for p in header.maps]
        return ChainMap(*parts)  # type: ignore[arg-type]
    if isinstance(header, fits.Header):
        return header
    return {str(key).upper(): value for key, value in header.items()}


def _pick_profile(
    header: Mapping[str, Any],
    profile: InstrumentProfile | str | None,
    profiles: Sequence[InstrumentProfile] | None,
) -> InstrumentProfile:
    if isinstance(profile, InstrumentProfile):
        return profile
    pool = profiles if profiles is not None else load_profiles()
    if isinstance(profile, str):
        return get_profile(profile, pool)
    return detect_profile(header, pool)


def classify(
    header: Mapping[str, Any],
    *,
    path: str | os.PathLike[str],
    profile: InstrumentProfile | str | None = None,
    hdu: int = 0,
    profiles: Sequence[InstrumentProfile] | None = None,
) -> FrameInfo:
    """The normalised record of one frame.

    Parameters
    ----------
    header : mapping
        The frame's header: an astropy ``Header``, a
        :class:`~ccdcal.collection.cards.HeaderCards` or any mapping of
        keyword to value (keywords in any case).
    path : path-like
        The file (made absolute in the result).
    profile : InstrumentProfile or str, optional
        The instrument profile, or its name; by default the first profile that
        recognises the header (see :func:`~ccdcal.collection.profiles.detect_profile`).
    hdu : int, optional
        The HDU index the image is in.
    profiles : sequence of InstrumentProfile, optional
        The profiles to choose from (default: built-in and user profiles).

    Returns
    -------
    FrameInfo
        With ``frame_type=None`` and reasons in ``problems`` when the frame
        cannot be used as it is.
    """
    lookup = _lookup_form(header)
    chosen = _pick_profile(lookup, profile, profiles)
    reader = _Reader(lookup, chosen)
    frame_type, raw_type = _frame_type(reader)
    exptime = _exptime(reader, frame_type)
    xbin, ybin = _binning(reader)
    date_obs, mjd = _obs_time(reader)
    gain, read_noise = _gain_and_noise(reader)
    filt = reader.text("filter")
    if frame_type is not None and frame_type not in chosen.filter_applies_to:
        filt = None
    ccd_temp, set_temp = _temperature(reader, "ccd_temp"), _temperature(reader, "set_temp")
    readout_mode = reader.text("readout_mode")
    saturation = _saturation(reader)
    shape = _shape(reader)  # read in this order, the problems keep their order
    return FrameInfo(
        path=os.path.abspath(os.fspath(path)),
        hdu=hdu,
        instrument=chosen.name,
        frame_type=frame_type,
        raw_type=raw_type,
        exptime=exptime,
        xbin=xbin,
        ybin=ybin,
        filter=filt,
        date_obs=date_obs,
        mjd=mjd,
        ccd_temp=ccd_temp,
        set_temp=set_temp,
        readout_mode=readout_mode,
        gain=gain,
        read_noise=read_noise,
        saturation=saturation,
        shape=shape,
        overscan=_section(reader, "overscan", shape),
        trim=_section(reader, "trim", shape),
        object=reader.text("object"),
        telescope=reader.text("telescope"),
        camera=reader.text("camera"),
        problems=tuple(dict.fromkeys(reader.problems)),
    )
