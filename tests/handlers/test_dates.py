"""Dates and times typed in forms: "12/3", "12-03-2026", "besok", "senin", "09.00-11.00"."""

from datetime import date, datetime, time

import pytest

from handlers.activities.dates import format_span, parse_clock_range, parse_day, parse_moment
from tests.conftest import JAKARTA, START

TODAY = START.date()  # Wednesday 4 March 2026


@pytest.mark.parametrize(("text", "day"), [
    ("12/3", date(2026, 3, 12)),
    ("12-03-2026", date(2026, 3, 12)),
    ("12/3/26", date(2026, 3, 12)),
    ("12 Maret", date(2026, 3, 12)),
    ("besok", date(2026, 3, 5)),
    ("hari ini", date(2026, 3, 4)),
    ("senin", date(2026, 3, 9)),
    ("Rabu", date(2026, 3, 11)),
    ("1/2", date(2027, 2, 1)),
])
def test_days_people_type(text: str, day: date) -> None:
    assert parse_day(text, TODAY) == day


@pytest.mark.parametrize("text", ["31/2", "kapan-kapan", "13/13", ""])
def test_unreadable_days_are_none(text: str) -> None:
    assert parse_day(text, TODAY) is None


def test_time_ranges() -> None:
    assert parse_clock_range("09.00-11.00") == (time(9), time(11))
    assert parse_clock_range("9 sampai 11.30") == (time(9), time(11, 30))
    assert parse_clock_range("11.00-09.00") is None


def test_moment_with_and_without_time() -> None:
    assert parse_moment("jumat jam 16", START, JAKARTA, time(23, 59)) == datetime(2026, 3, 6, 16, tzinfo=JAKARTA)
    assert parse_moment("12/3", START, JAKARTA, time(23, 59)) == datetime(2026, 3, 12, 23, 59, tzinfo=JAKARTA)


def test_span_in_indonesian() -> None:
    end = START.replace(hour=11)
    assert format_span(START, end, JAKARTA, "id") == "Rabu, 4 Mar 2026, 09.00–11.00 WIB"
