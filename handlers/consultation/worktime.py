"""Working hours for answer deadlines: weekdays, opening hours, national holidays, cuti bersama."""

from __future__ import annotations

import importlib.util
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from handlers.consultation.rules import ConsultationRules
from handlers.kernel.config import Config

DEFAULT_CUTI_BERSAMA_FILE = Path(__file__).parent / "defaults" / "cuti_bersama.toml"
MAX_DAYS = 3660  # stop walking the calendar after ten years (a calendar with no working day)


@dataclass(frozen=True)
class WorkCalendar:
    """When a programme's staff work: days of the week, opening hours, and days off."""

    zone: ZoneInfo
    opens: time = time(8)
    closes: time = time(16)
    workdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    days_off: frozenset[date] = frozenset()
    country: str | None = "ID"

    def is_working_day(self, day: date) -> bool:
        """A workday that is neither a national holiday nor a listed day off."""
        if day.weekday() not in self.workdays or day in self.days_off:
            return False
        return self.country is None or day not in national_holidays(self.country, day.year)

    def window(self, day: date) -> tuple[datetime, datetime]:
        """Opening and closing time of a day, timezone-aware."""
        return (datetime.combine(day, self.opens, tzinfo=self.zone),
                datetime.combine(day, self.closes, tzinfo=self.zone))


@cache
def national_holidays(country: str, year: int) -> frozenset[date]:
    """Public holidays of a country in a year (the `holidays` package)."""
    return frozenset(country_calendar(country)(years=year).keys())


@cache
def country_calendar(country: str) -> Callable[..., Mapping[date, str]]:
    """The `holidays` class of a country (a code: "ID"), imported at first use with its own module only.

    `holidays.country_holidays` imports the package of all ≈250 countries first (8 MB resident for good, in a
    bot that needs one): the package's registry names the country's module, which is loaded alone (0.5 MB).
    A code the registry lacks, or a module not where it was: the package's own way, and its error.
    """
    import holidays
    from holidays.registry import COUNTRIES

    found = next(((module, names[0]) for module, names in COUNTRIES.items() if country in names[1:]), None)
    path = Path(holidays.__file__).parent / "countries" / f"{found[0]}.py" if found else None
    spec = (importlib.util.spec_from_file_location(f"holidays.countries.{found[0]}", path)
            if found and path and path.is_file() else None)
    if found is None or spec is None or spec.loader is None:
        return lambda **options: holidays.country_holidays(country, **options)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    entity: Callable[..., Mapping[date, str]] = getattr(module, found[1])
    return entity


def working_hours_between(start: datetime, end: datetime, calendar: WorkCalendar) -> float:
    """Working hours elapsed from start to end (0 when end is not after start)."""
    if end <= start:
        return 0.0
    day, last = start.astimezone(calendar.zone).date(), end.astimezone(calendar.zone).date()
    seconds = 0.0
    while day <= last:
        if calendar.is_working_day(day):
            opens, closes = calendar.window(day)
            seconds += max(0.0, (min(end, closes) - max(start, opens)).total_seconds())
        day += timedelta(days=1)
    return seconds / 3600


def add_working_hours(start: datetime, hours: float, calendar: WorkCalendar) -> datetime:
    """The moment when `hours` working hours have passed since start."""
    remaining = timedelta(hours=hours)
    day = start.astimezone(calendar.zone).date()
    for _ in range(MAX_DAYS):
        if calendar.is_working_day(day):
            opens, closes = calendar.window(day)
            begin = max(start, opens)
            if begin < closes and remaining <= closes - begin:
                return (begin + remaining).astimezone(calendar.zone)
            remaining -= max(timedelta(0), closes - begin)
        day += timedelta(days=1)
    raise ValueError("the working calendar has no working hours")


def load_days_off(path: Path) -> frozenset[date]:
    """Dates listed in a cuti bersama file (see handlers/consultation/defaults/cuti_bersama.toml)."""
    return _load_days_off(path, path.stat().st_mtime_ns)


@cache
def _load_days_off(path: Path, _mtime_ns: int) -> frozenset[date]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    days = [item["date"] for item in data.get("cuti", [])]
    wrong = [day for day in days if not isinstance(day, date) or isinstance(day, datetime)]
    if wrong:
        raise ValueError(f"{path}: not a date: {wrong[0]!r} (write 2026-03-20, without quotes)")
    return frozenset(days)


def calendar_of(config: Config) -> WorkCalendar:
    """The programme's working calendar from its settings and the cuti bersama file."""
    rules = config.rules(ConsultationRules)
    path = Path(rules.cuti_bersama_file) if rules.cuti_bersama_file else DEFAULT_CUTI_BERSAMA_FILE
    return WorkCalendar(zone=config.timezone, opens=rules.work_opens, closes=rules.work_closes,
                        workdays=frozenset(rules.work_days), days_off=load_days_off(path),
                        country=rules.holiday_country or None)
