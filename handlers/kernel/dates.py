"""Dates and times as people type them ("7/12", "7 Des", "besok", "senin", "09.00-11.00") and as every
feature shows them ("Kamis, 5 Mar 2026", "10.01 WIB", "30 Nov–6 Des 2026", "Desember 2026").

Weekday names mean the next such day after today ("senin" on a Monday is next Monday; use
"hari ini" for today). A date without a year is in the programme's year (the year of `today`,
which callers take in the programme zone); when the date is meant to be ahead (a session, a
deadline) and has passed, it is the next one, in the following year.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from handlers.kernel.i18n import t

WEEKDAYS = {"senin": 0, "selasa": 1, "rabu": 2, "kamis": 3, "jumat": 4, "jum'at": 4, "sabtu": 5,
            "minggu": 6, "ahad": 6, "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3,
            "friday": 4, "saturday": 5, "sunday": 6}
RELATIVE = {"hari ini": 0, "sekarang": 0, "today": 0, "besok": 1, "tomorrow": 1, "lusa": 2}
MONTHS = {"jan": 1, "feb": 2, "peb": 2, "mar": 3, "apr": 4, "mei": 5, "may": 5, "jun": 6, "jul": 7,
          "agu": 8, "agt": 8, "aug": 8, "sep": 9, "okt": 10, "oct": 10, "nov": 11, "des": 12, "dec": 12}
NUMERIC_DATE = re.compile(r"^(\d{1,2})\s*[/-]\s*(\d{1,2})(?:\s*[/-]\s*(\d{2}|\d{4}))?$")
ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
WORD_DATE = re.compile(r"^(\d{1,2})\s*[-\s]\s*([a-z']+)\.?(?:[-\s]+(\d{4}))?$")
DAY_WORDS = re.compile(r"^(?:tanggal|tgl\.?)\s*")
CLOCK = re.compile(r"^(?:jam|pukul|pk\.?)?\s*(\d{1,2})(?:[.:](\d{2}))?\s*(?:wib|wita|wit)?$")
RANGE_SPLIT = re.compile(r"\s*(?:-|–|—|s/d|s\.d\.?|sd|sampai|hingga|to)\s*")
TRAILING_CLOCK = re.compile(r"(?:^|\s)((?:jam|pukul|pk\.?)\s*\d{1,2}(?:[.:]\d{2})?|\d{1,2}[.:]\d{2})"
                            r"\s*(?:wib|wita|wit)?$")


def parse_day(text: str, today: date, *, ahead: bool = True) -> date | None:
    """The calendar day meant by "7/12", "07-12-2026", "2026-12-07", "7 Des", "tgl 7 desember", "besok" or
    "senin"; None if unclear. Without a year: `today`'s year, or the next year when `ahead` and it has passed."""
    words = DAY_WORDS.sub("", " ".join(text.lower().replace(",", " ").split()))
    iso = ISO_DATE.match(words)
    if iso:
        return _build_day(today, int(iso[3]), int(iso[2]), iso[1], ahead=ahead)
    if words in RELATIVE:
        return today + timedelta(days=RELATIVE[words])
    if words in WEEKDAYS:
        days = (WEEKDAYS[words] - today.weekday() - 1) % 7 + 1
        return today + timedelta(days=days)
    numeric = NUMERIC_DATE.match(words)
    if numeric:
        return _build_day(today, int(numeric[1]), int(numeric[2]), numeric[3], ahead=ahead)
    worded = WORD_DATE.match(words)
    if worded and worded[2][:3] in MONTHS:
        return _build_day(today, int(worded[1]), MONTHS[worded[2][:3]], worded[3], ahead=ahead)
    return None


def _build_day(today: date, day: int, month: int, year_text: str | None, *, ahead: bool) -> date | None:
    year = today.year if year_text is None else int(year_text) + (2000 if len(year_text) == 2 else 0)
    try:
        result = date(year, month, day)
    except ValueError:
        return None
    if year_text is None and ahead and result < today:
        return _build_day(today, day, month, str(year + 1), ahead=ahead)
    return result


def parse_clock(text: str) -> time | None:
    """"9", "09.00", "9:30", "jam 14", "14.00 WIB" → a time of day; None if not one."""
    match = CLOCK.match(text.strip().lower())
    if not match:
        return None
    hour, minute = int(match[1]), int(match[2] or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def parse_clock_range(text: str) -> tuple[time, time] | None:
    """"09.00-11.00", "9 sampai 11.30" → start and end; None unless the end is after the start."""
    parts = RANGE_SPLIT.split(text.strip().lower(), maxsplit=1)
    if len(parts) != 2:
        return None
    start, end = parse_clock(parts[0]), parse_clock(parts[1])
    if start is None or end is None or end <= start:
        return None
    return start, end


def parse_moment(text: str, now: datetime, zone: ZoneInfo, default_time: time) -> datetime | None:
    """"besok", "12/3 17.00", "jumat jam 16" → an aware datetime in the programme zone."""
    words = text.strip().lower()
    clock_text = TRAILING_CLOCK.search(words)
    clock = default_time
    if clock_text:
        parsed = parse_clock(clock_text[1])
        if parsed is None:
            return None
        clock, words = parsed, words[:clock_text.start()].strip()
    day = parse_day(words, now.astimezone(zone).date())
    return None if day is None else datetime.combine(day, clock, tzinfo=zone)


def zone_name(zone: ZoneInfo, at: datetime) -> str:
    """WIB, WITA or WIT (the tz database already uses these abbreviations)."""
    return at.astimezone(zone).tzname() or ""


def _month_name(month: int, language: str, *, short: bool = True) -> str:
    return t("dates.months_short" if short else "dates.months", language).split(",")[month - 1]


def format_date(day: date, language: str) -> str:
    """"5 Mar 2026"."""
    return f"{day.day} {_month_name(day.month, language)} {day.year}"


def format_day(day: date, language: str) -> str:
    """"Kamis, 5 Mar 2026"."""
    return f"{t('dates.weekdays', language).split(',')[day.weekday()]}, {format_date(day, language)}"


def format_day_month(day: date, language: str) -> str:
    """"5 Mar" (the year goes without saying: lists, buttons)."""
    return f"{day.day} {_month_name(day.month, language)}"


def format_range(first: date, last: date, language: str) -> str:
    """Days from first to last inclusive: "2–8 Mar 2026", "30 Nov–6 Des 2026", "28 Des 2026–3 Jan 2027"."""
    if first == last:
        return format_date(first, language)
    if first.year != last.year:
        return f"{format_date(first, language)}–{format_date(last, language)}"
    if first.month != last.month:
        return f"{format_day_month(first, language)}–{format_date(last, language)}"
    return f"{first.day}–{format_date(last, language)}"


def format_week(week: str, language: str) -> str:
    """An ISO week key ("2026-W49") as its Monday-to-Sunday dates: "30 Nov–6 Des 2026"."""
    year, number = (int(part) for part in week.split("-W"))
    monday = date.fromisocalendar(year, number, 1)
    return format_range(monday, monday + timedelta(days=6), language)


def format_clock(moment: datetime, zone: ZoneInfo) -> str:
    """"09.00" in the programme zone (the zone said once nearby; see format_time)."""
    return moment.astimezone(zone).strftime("%H.%M")


def format_time(moment: datetime, zone: ZoneInfo) -> str:
    """"10.01 WIB"."""
    return f"{format_clock(moment, zone)} {zone_name(zone, moment)}"


def format_moment(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """"Kamis, 5 Mar 2026 17.00 WIB"."""
    local = moment.astimezone(zone)
    return f"{format_day(local.date(), language)} {format_time(local, zone)}"


def format_stamp(moment: datetime, zone: ZoneInfo, language: str) -> str:
    """"5 Mar, 10.01 WIB": when something happened, for lines of a list or a thread."""
    local = moment.astimezone(zone)
    return f"{format_day_month(local.date(), language)}, {format_time(local, zone)}"


def format_span(start: datetime, end: datetime, zone: ZoneInfo, language: str) -> str:
    """"Kamis, 5 Mar 2026, 09.00–11.00 WIB"."""
    local = start.astimezone(zone)
    return (f"{format_day(local.date(), language)}, {format_clock(start, zone)}–{format_clock(end, zone)} "
            f"{zone_name(zone, local)}")


def month_label(month: str, language: str) -> str:
    """"2026-03" → "Maret 2026"."""
    year, number = month.split("-")
    return f"{_month_name(int(number), language, short=False)} {year}"


def month_of(moment: datetime, zone: ZoneInfo) -> str:
    """The "YYYY-MM" key of the local month a moment falls in."""
    return moment.astimezone(zone).strftime("%Y-%m")


def previous_month(month: str) -> str:
    """"2026-03" → "2026-02"; "2026-01" → "2025-12"."""
    year, number = (int(part) for part in month.split("-"))
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"
