"""Times in the calibration library: timezone-aware UTC everywhere.

Every date the library stores or compares is a :class:`datetime.datetime`
in UTC.  Inputs may be aware datetimes in any zone, naive datetimes (taken as
UTC, which is what FITS ``DATE-OBS`` means) or ISO 8601 strings such as
``'2025-06-24T03:12:00'`` or ``'2025-06-24T03:12:00Z'``.  The database keeps
naive UTC values (the same column type on SQLite and PostgreSQL, so date
arithmetic never depends on the backend); :class:`UTCDateTime` adds the zone
back when reading.

An *observing night* is named after the local calendar date on which it
starts: with the site's UTC offset, a time belongs to the night of
``(t + offset - 12 h).date()``, so the boundary is local noon.

Examples
--------
>>> to_utc("2025-06-24T03:12:00Z")
datetime.datetime(2025, 6, 24, 3, 12, tzinfo=datetime.timezone.utc)
>>> night_of(to_utc("2025-06-24T03:12:00"), utc_offset_hours=-4)
datetime.date(2025, 6, 23)
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from ccdcal.errors import LibraryError

__all__ = ["UTCDateTime", "days_between", "night_of", "now_utc", "to_utc"]

UTC = _dt.UTC


def to_utc(value: _dt.datetime | _dt.date | str, *, what: str = "date") -> _dt.datetime:
    """Return ``value`` as an aware UTC datetime.

    Parameters
    ----------
    value : datetime, date or str
        An aware datetime (converted to UTC), a naive one (taken as UTC), a
        date (midnight UTC) or an ISO 8601 string (``Z`` suffix allowed).
    what : str, optional
        Name of the value, used in the error message.

    Raises
    ------
    LibraryError
        If a string cannot be read as an ISO 8601 time.

    Examples
    --------
    >>> import datetime as dt
    >>> eastern = dt.timezone(dt.timedelta(hours=-4))
    >>> to_utc(dt.datetime(2025, 6, 23, 23, 0, tzinfo=eastern)).isoformat()
    '2025-06-24T03:00:00+00:00'
    """
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise LibraryError(
                f"{what} {value!r} is not an ISO 8601 time; give e.g. '2025-06-24T03:12:00'"
            ) from None
        value = parsed
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=UTC)
    raise LibraryError(
        f"{what} must be a datetime, a date or an ISO 8601 string, not {type(value).__name__}"
    )


def now_utc() -> _dt.datetime:
    """The current time as an aware UTC datetime (microseconds dropped).

    >>> now_utc().tzinfo is not None
    True
    """
    return _dt.datetime.now(UTC).replace(microsecond=0)


def days_between(a: _dt.datetime, b: _dt.datetime) -> float:
    """Signed difference ``b - a`` in days.

    >>> days_between(to_utc("2025-06-24T00:00"), to_utc("2025-06-25T12:00"))
    1.5
    """
    return (b - a).total_seconds() / 86400.0


def night_of(time: _dt.datetime, *, utc_offset_hours: float = 0.0) -> _dt.date:
    """The observing night ``time`` belongs to, named after its local start date.

    The night runs from local noon to the next local noon.

    >>> night_of(to_utc("2025-06-24T11:59"))
    datetime.date(2025, 6, 23)
    >>> night_of(to_utc("2025-06-24T12:00"))
    datetime.date(2025, 6, 24)
    """
    utc = time if time.tzinfo is UTC else to_utc(time)
    return (utc + _dt.timedelta(hours=utc_offset_hours - 12)).date()


class UTCDateTime(TypeDecorator[_dt.datetime]):
    """A datetime column stored as naive UTC and read back as aware UTC.

    The same ``TIMESTAMP WITHOUT TIME ZONE`` (PostgreSQL) / ISO text (SQLite)
    storage on every backend, so comparisons and ordering agree everywhere.
    """

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> _dt.datetime | None:
        """Convert to naive UTC for storage."""
        if value is None:
            return None
        return to_utc(value).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> _dt.datetime | None:
        """Attach the UTC zone to a stored value."""
        if value is None:
            return None
        if isinstance(value, str):  # pragma: no cover - only for exotic drivers
            value = _dt.datetime.fromisoformat(value)
        return to_utc(value)
