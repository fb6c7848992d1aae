"""Dates and times typed in forms ("12/3", "7 Des", "besok", "senin", "09.00-11.00") and as shown ("30 Nov–6 Des 2026")."""

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from handlers.kernel.dates import (
    format_range,
    format_span,
    format_stamp,
    format_time,
    format_week,
    month_label,
    parse_clock_range,
    parse_day,
    parse_moment,
)
from storage.models import Person
from tests.conftest import JAKARTA, START
from tests.support.driver import Driver

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


@pytest.mark.parametrize(("text", "ahead", "day"), [
    ("7/12", True, date(2026, 12, 7)),
    ("7 Des", True, date(2026, 12, 7)),
    ("7 desember", True, date(2026, 12, 7)),
    ("tgl 7-des", True, date(2026, 12, 7)),
    ("2026-12-07", True, date(2026, 12, 7)),
    ("2/3", True, date(2027, 3, 2)),  # a session on a day that has passed: the next one
    ("2/3", False, date(2026, 3, 2)),  # a leave that began two days ago: this year
    ("2 Mar", False, date(2026, 3, 2)),
])
def test_short_dates_are_in_the_programme_year(text: str, ahead: bool, day: date) -> None:
    assert parse_day(text, TODAY, ahead=ahead) == day


@pytest.mark.parametrize(("first", "last", "shown"), [
    (date(2026, 3, 2), date(2026, 3, 8), "2–8 Mar 2026"),
    (date(2026, 11, 30), date(2026, 12, 6), "30 Nov–6 Des 2026"),
    (date(2026, 12, 28), date(2027, 1, 3), "28 Des 2026–3 Jan 2027"),
    (date(2026, 3, 4), date(2026, 3, 4), "4 Mar 2026"),
])
def test_ranges_of_days(first: date, last: date, shown: str) -> None:
    assert format_range(first, last, "id") == shown


def test_weeks_months_and_times_as_people_read_them() -> None:
    makassar, jayapura = ZoneInfo("Asia/Makassar"), ZoneInfo("Asia/Jayapura")
    moment = datetime(2026, 3, 4, 10, 1, tzinfo=JAKARTA)

    assert (format_week("2026-W49", "id"), format_week("2026-W53", "en")) == (
        "30 Nov–6 Des 2026", "28 Dec 2026–3 Jan 2027")
    assert (month_label("2026-12", "id"), month_label("2026-12", "en")) == ("Desember 2026", "December 2026")
    assert [format_time(moment, zone) for zone in (JAKARTA, makassar, jayapura)] == [
        "10.01 WIB", "11.01 WITA", "12.01 WIT"]
    assert format_stamp(moment, JAKARTA, "id") == "4 Mar, 10.01 WIB"


async def test_session_date_typed_short_is_this_years(driver: Driver, participant: Person,
                                                      coordinator: Person) -> None:
    await driver.press(coordinator, "sesf:new")
    for answer in ("Kelas Keuangan", "7 desember", "09.00-11.00", "Aula Dinas KUKM"):
        await driver.say(coordinator, answer)

    assert "*Kelas Keuangan*\nSenin, 7 Des 2026, 09.00–11.00 WIB\n" in (await driver.received(coordinator))[-1]
