"""The month a console page shows: `?bulan=2026-11`, this month by default, and the months offered."""

from __future__ import annotations

from bot.console.web import Visit
from handlers.kernel.dates import month_label, month_of, previous_month
from handlers.reports.rekap import parse_month

MONTHS_OFFERED = 12  # the month picker: this month and the eleven before


def chosen_month(visit: Visit) -> str:
    """The month asked for, else the current one (programme zone)."""
    return parse_month(visit.request.query_params.get("bulan", "")[:7]) or month_of(visit.now, visit.config.timezone)


def month_choices(visit: Visit) -> list[tuple[str, str]]:
    """("2026-11", "November 2026") for this month and the ones before it, newest first."""
    month, found = month_of(visit.now, visit.config.timezone), []
    for _ in range(MONTHS_OFFERED):
        found.append((month, month_label(month, visit.lang)))
        month = previous_month(month)
    return found
