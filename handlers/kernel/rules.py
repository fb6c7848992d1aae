"""Rules more than one feature reads (KLINIK_RULES__SHARED__*); each feature declares its own in its rules.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time


@dataclass(frozen=True)
class SharedRules:
    """Programme rules read by several features, so declared once below them."""

    # Periods in which no nudge or digest is sent: (weekday or None for every day, from, to), local time;
    # a period may run past midnight. Default: nights and Friday prayers. (participation, reports)
    quiet_hours: tuple[tuple[int | None, time, time], ...] = (
        (None, time(21), time(7)), (4, time(11, 30), time(13)))
    # Laporan bulanan: asked from this day of the month... (activities)
    report_open_day: int = 25
    # ...and editable until this day of the next month; scores count a report as due after it. (activities, participation)
    report_deadline_day: int = 5
    # Participants of a cohort that has ended (alumni) may still ask their mentor questions; else they are told
    # the programme ended, with the coordinator's contact. (consultation, participation)
    alumni_may_ask: bool = True
