"""The overview's programme-wide figures kept in the database (console_figures) as well as in memory, so a
console just restarted shows the last figures with when they were computed, and recomputes the old ones in
the background, instead of scanning the programme while the page waits."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.console.queries import GroupRow, TrendWeek, WeekRow
from handlers.reports.targets import AgencyProgress, TargetProgress
from storage.models import ConsoleFigure, Person


@dataclass(frozen=True)
class MentorChoice:
    """A mentor in the list's filter, as stored (the page shows the id and name)."""

    id: int
    name: str


def _targets(value: Any) -> TargetProgress | None:
    if value is None:
        return None
    return TargetProgress(**{**value, "agencies": [AgencyProgress(**a) for a in value["agencies"]]})


# key (before any ":") -> how its stored JSON becomes the figure again (stored as plain lists and dicts)
DECODE: dict[str, Callable[[Any], Any]] = {
    "groups": lambda value: [GroupRow(**row) for row in value],
    "targets": _targets,
    "week": lambda value: None if value is None else WeekRow(**value),
    "trend": lambda value: [TrendWeek(**row) for row in value],
    "choices": lambda value: {**value, "mentors": [MentorChoice(**m) for m in value["mentors"]]},
    "laporan": lambda value: (int(value[0]), int(value[1]), [(str(m), int(n), int(total)) for m, n, total in value[2]]),
}


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, Person):  # a mentor of the list's filter
        return {"id": value.id, "name": value.name}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


async def load_figure(db: AsyncSession, key: str) -> tuple[datetime, Any] | None:
    """(computed at, figure) as last stored, or None (never stored, or not a stored figure)."""
    kind = key.partition(":")[0]  # "laporan:2026-11": the month's
    if kind not in DECODE:
        return None
    row = await db.get(ConsoleFigure, key, populate_existing=True)
    if row is None:
        return None
    try:
        return row.computed_at, DECODE[kind](row.value)
    except (TypeError, KeyError, ValueError):  # stored by an older version of the figure: compute it again
        return None


async def store_figure(db: AsyncSession, key: str, computed_at: datetime, value: Any) -> None:
    """Keep the figure (when it is one of the stored ones); the caller commits."""
    if key.partition(":")[0] not in DECODE:
        return
    await db.merge(ConsoleFigure(key=key, computed_at=computed_at, value=_plain(value)))
    await db.flush()
