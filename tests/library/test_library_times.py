"""UTC times and observing nights."""

from __future__ import annotations

import datetime as dt

import pytest

from ccdcal.errors import LibraryError
from ccdcal.library import night_of, to_utc

UTC = dt.UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-06-24T03:12:00", dt.datetime(2025, 6, 24, 3, 12, tzinfo=UTC)),
        ("2025-06-24T03:12:00Z", dt.datetime(2025, 6, 24, 3, 12, tzinfo=UTC)),
        ("2025-06-24 05:12:00+02:00", dt.datetime(2025, 6, 24, 3, 12, tzinfo=UTC)),
        ("2025-06-24T03:12:00.5", dt.datetime(2025, 6, 24, 3, 12, 0, 500000, tzinfo=UTC)),
        (dt.datetime(2025, 6, 24, 3, 12), dt.datetime(2025, 6, 24, 3, 12, tzinfo=UTC)),
        (dt.date(2025, 6, 24), dt.datetime(2025, 6, 24, tzinfo=UTC)),
        (
            dt.datetime(2025, 6, 23, 23, 12, tzinfo=dt.timezone(dt.timedelta(hours=-4))),
            dt.datetime(2025, 6, 24, 3, 12, tzinfo=UTC),
        ),
    ],
)
def test_to_utc(value: dt.datetime | dt.date | str, expected: dt.datetime) -> None:
    got = to_utc(value)
    assert got == expected
    assert got.utcoffset() == dt.timedelta(0)


def test_to_utc_rejects_nonsense() -> None:
    with pytest.raises(LibraryError, match=r"DATE-OBS 'yesterday' is not an ISO 8601 time"):
        to_utc("yesterday", what="DATE-OBS")
    with pytest.raises(LibraryError, match="must be a datetime, a date or an ISO 8601 string"):
        to_utc(60850.1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("time", "offset", "night"),
    [
        ("2025-06-24T11:59:59", 0, dt.date(2025, 6, 23)),
        ("2025-06-24T12:00:00", 0, dt.date(2025, 6, 24)),
        ("2025-06-24T15:59:00", -4, dt.date(2025, 6, 23)),  # 11:59 local
        ("2025-06-24T16:00:00", -4, dt.date(2025, 6, 24)),  # local noon
        ("2025-06-24T01:59:00", 10, dt.date(2025, 6, 23)),  # 11:59 local
        ("2025-06-24T02:00:00", 10, dt.date(2025, 6, 24)),
    ],
)
def test_nights_run_from_local_noon(time: str, offset: float, night: dt.date) -> None:
    assert night_of(to_utc(time), utc_offset_hours=offset) == night
