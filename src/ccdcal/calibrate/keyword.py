"""``Keyword`` (ccdproc's header-keyword helper) and reading numbers from headers.

:class:`Keyword` behaves as ``ccdproc.Keyword``: a name, an optional unit and
a value.  :func:`header_value` and :func:`exposure_from_header` read a header
value with errors that name the keyword, the frame and its file, instead of a
bare ``KeyError`` or a silent ``-inf`` later on.

Examples
--------
>>> from astropy import units as u
>>> from astropy.io import fits
>>> hdr = fits.Header({"EXPTIME": 300.0})
>>> Keyword("EXPTIME", unit=u.s).value_from(hdr)
<Quantity 300. s>
>>> exposure_from_header(hdr, "EXPTIME", unit=u.s, role="dark")
<Quantity 300. s>
"""

from __future__ import annotations

import contextlib
import math
import numbers
from collections.abc import Mapping
from typing import Any

from astropy import units as u

from ccdcal.errors import (
    ExposureTimeError,
    HeaderKeywordError,
    InvalidParameterError,
    ParameterTypeError,
)
from ccdcal.io.provenance import FILE_KEY

__all__ = [
    "Keyword",
    "exposure_from_header",
    "header_value",
    "is_keyword",
    "keyword_name",
    "remember_value",
]


class Keyword:
    """A header keyword with an optional unit and a value (as ``ccdproc.Keyword``).

    Parameters
    ----------
    name : str
        The header keyword.
    unit : astropy unit, optional
        The unit of the value.  A number given as the value is multiplied by it.
    value : Quantity, number or str, optional
        A Quantity sets the unit; a number needs a unit; a str is allowed only
        without a unit.

    Examples
    --------
    >>> from astropy import units as u
    >>> key = Keyword("EXPTIME", unit=u.s)
    >>> key.value_from({"EXPTIME": 30})
    <Quantity 30. s>
    >>> key.name, key.unit
    ('EXPTIME', Unit("s"))
    """

    def __init__(self, name: str, unit: Any = None, value: Any = None) -> None:
        self._name = name
        self._unit = unit
        self._value: Any = None
        self.value = value

    @property
    def name(self) -> str:
        """The header keyword (read-only)."""
        return self._name

    @property
    def unit(self) -> Any:
        """The unit of the value, or None (read-only; a Quantity value sets it)."""
        return self._unit

    @property
    def value(self) -> Any:
        """The value: a Quantity, a str, or None."""
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        if value is None:
            self._value = None
        elif isinstance(value, u.Quantity):
            self._unit = value.unit
            self._value = value
        elif isinstance(value, str):
            if self._unit is not None:
                raise InvalidParameterError(
                    f"keyword with a unit cannot have a string value: {self._name!r} "
                    f"has unit {self._unit} but got {value!r}"
                )
            self._value = value
        else:
            if self._unit is None:
                raise InvalidParameterError(
                    f"no unit provided for keyword {self._name!r} (value {value!r}). "
                    f"Set value with an astropy.units.Quantity or create the Keyword "
                    f"with unit=..."
                )
            self._value = value * self._unit

    def value_from(self, header: Mapping[str, Any]) -> Any:
        """Set the value from ``header`` and return it.

        Raises ``HeaderKeywordError`` (a ``KeyError``) naming the keyword when
        it is missing.
        """
        self.value = header_value(header, self._name)
        return self.value

    def __repr__(self) -> str:
        unit = f", unit={self._unit!s}" if self._unit is not None else ""
        value = f", value={self._value!s}" if self._value is not None else ""
        return f"Keyword({self._name!r}{unit}{value})"


def is_keyword(obj: Any) -> bool:
    """True for a ccdcal or ccdproc ``Keyword`` (anything with name, unit and value_from)."""
    return all(hasattr(obj, attr) for attr in ("name", "unit", "value_from"))


def remember_value(key: Any, value: Any) -> None:
    """Store ``value`` in a ``Keyword`` the way ccdproc's ``value_from`` does.

    ccdproc steps that read a ``Keyword`` leave the value read in it, and
    scripts use ``key.value`` afterwards.  Values the Keyword cannot hold
    (a bare number in a Keyword without a unit) are not stored.
    """
    if is_keyword(key):
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            key.value = value


def keyword_name(key: Any) -> str:
    """The header keyword named by a str or a ``Keyword``."""
    return str(key.name) if is_keyword(key) else str(key)


def _where(header: Mapping[str, Any], role: str | None) -> str:
    frame = f" of the {role}" if role else ""
    name = header.get(FILE_KEY) if hasattr(header, "get") else None
    return f"{frame} (file {str(name)!r})" if name else frame


def header_value(header: Mapping[str, Any], name: str, *, role: str | None = None) -> Any:
    """Return ``header[name]``; keywords are case-insensitive as in FITS.

    Raises ``HeaderKeywordError`` (a ``KeyError``) naming the keyword, the
    frame's role and its file when known.

    >>> header_value({"exptime": 2.0}, "EXPTIME")
    2.0
    """
    try:
        value = header[name]
    except KeyError:
        value = _case_insensitive(header, name, role)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], str):
        value = value[0]  # a (value, comment) pair stored in a dict header
    return value


def _case_insensitive(header: Mapping[str, Any], name: str, role: str | None) -> Any:
    wanted = name.upper()
    for key in header:
        if str(key).upper() == wanted:
            return header[key]
    raise HeaderKeywordError(
        f"header keyword {name!r} is missing{_where(header, role)}; add it to the "
        f"header or give the value explicitly"
    )


def _missing(header: Mapping[str, Any], name: str, role: str | None) -> HeaderKeywordError:
    return HeaderKeywordError(
        f"exposure-time keyword {name!r} is missing from the header{_where(header, role)}; "
        f"add it, or pass dark_exposure= and data_exposure= as Quantities"
    )


def exposure_from_header(
    header: Mapping[str, Any],
    key: Any,
    *,
    unit: Any = None,
    role: str | None = None,
) -> u.Quantity:
    """Read an exposure time from ``header`` as a Quantity.

    Parameters
    ----------
    header : mapping
        The frame's header (``ccd.meta``).
    key : str or Keyword
        The keyword.  A ``Keyword`` with a unit gives that unit.
    unit : astropy unit or str, optional
        Unit of a plain number (``exposure_unit``).
    role : str, optional
        Which frame this is (``'dark'``, ``'image'``), for messages.

    Raises
    ------
    HeaderKeywordError
        The keyword is missing (a ``KeyError``, as in ccdproc).
    ExposureTimeError
        The value is not a finite number (a ``ValueError``).
    ParameterTypeError
        The value has no unit and none was given (a ``TypeError``, as in ccdproc).
    """
    name = keyword_name(key)
    try:
        raw = header_value(header, name)
    except HeaderKeywordError:
        raise _missing(header, name, role) from None
    if isinstance(raw, u.Quantity):
        value: u.Quantity = raw
    else:
        number = _as_number(raw, name, header, role)
        key_unit = key.unit if is_keyword(key) else None
        use_unit = key_unit if key_unit is not None else unit
        if use_unit is None:
            raise ParameterTypeError(
                f"must provide unit for exposure time: keyword {name!r} holds the plain "
                f"number {number!r}; pass exposure_unit=u.s (or a Keyword with a unit)"
            )
        try:
            value = number * u.Unit(use_unit)
        except (TypeError, ValueError) as err:
            raise ParameterTypeError(
                f"must provide unit for exposure time: {use_unit!r} is not a unit"
            ) from err
    if not math.isfinite(float(value.value)):
        raise ExposureTimeError(
            f"exposure time {name!r}{_where(header, role)} is {value}, not a finite number"
        )
    remember_value(key, value)
    return value


def _as_number(raw: Any, name: str, header: Mapping[str, Any], role: str | None) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (numbers.Real, str)):
        raise ExposureTimeError(
            f"exposure time {name!r}{_where(header, role)} is {raw!r}, not a number; "
            f"fix the header or pass the exposure times explicitly"
        )
    try:
        return float(raw)
    except ValueError:
        raise ExposureTimeError(
            f"exposure time {name!r}{_where(header, role)} is {raw!r}, not a number; "
            f"fix the header or pass the exposure times explicitly"
        ) from None
