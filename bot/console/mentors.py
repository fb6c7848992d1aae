"""Mentors in the console: the monthly performance table (the `kinerja` ranking) and each mentor's page.

Both read the month's stored figures (mentor_month_figures: one page of rows, or one row) instead of
computing every mentor's month in the request. The monthly `kinerja` job stores the month it sends; the
console stores the month shown when it has none yet and, for a month not over, again in the background once
the stored one is older than a minute (in the request when the console refreshes nothing in the background).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlencode

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement
from starlette.responses import RedirectResponse, Response

from bot.console.months import chosen_month, month_choices
from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Refused, Visit
from handlers.kernel.config import Config
from handlers.kernel.dates import format_stamp, month_label
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS, MANAGERS
from handlers.reports.month_figures import (
    groups_changed_at,
    month_figure,
    month_snapshot,
    store_month_figures,
)
from handlers.reports.numerals import number
from handlers.reports.performance import (
    HEADER,
    MentorMonth,
    improvements,
    mentor_months,
    performance_rows,
)
from handlers.reports.rekap import month_period
from storage.models import MentorMonthFigure, MentorMonthSnapshot, Person, Role

FRESH_SECONDS = 60  # a running month's stored figures are recomputed when older than this (the overview's rule)
F = MentorMonthFigure
# ?urut=…: the columns the table sorts by (the best first), each then by rank
SORTS: dict[str, tuple[str, ColumnElement[Any]]] = {
    "peringkat": ("kin.col_rank", F.rank.asc()),
    "nama": ("kin.col_mentor", F.name.asc()),
    "peserta": ("kin.col_participants", F.participants.desc()),
    "tepat": ("kin.col_within_pct", F.within_pct.desc().nulls_last()),
    "hadir": ("kin.col_attendance_pct", F.attendance_pct.desc().nulls_last()),
    "nilai": ("kin.col_rating", F.rating_average.desc().nulls_last()),
}

Compute = Callable[[AsyncSession], Awaitable[Any]]


class Renew(Protocol):
    """Console.renew: recompute a figure with its own session, waited for or in the background."""

    async def __call__(self, key: str, now: datetime, compute: Compute, *, wait: bool) -> None: ...


async def store_month(db: AsyncSession, month: str, now: datetime, config: Config) -> datetime:
    """Compute every mentor's month as `kinerja` does and store it (own transaction); when."""
    await store_month_figures(db, month, await mentor_months(db, month, now, config), now)
    await db.commit()
    return now


def as_month(row: MentorMonthFigure) -> MentorMonth:
    """The stored row as performance.py's MentorMonth (the medians as one-value lists: the same median)."""
    return MentorMonth(
        row.mentor_id, row.name, participants=row.participants, questions=row.questions, answered=row.answered,
        within=row.within_deadline, late=row.late,
        response_hours=None if row.response_median is None else [row.response_median],
        rating_total=row.rating_total, ratings=row.ratings, sessions=row.sessions, present=row.present,
        recorded=row.recorded, reviewed=row.reviewed,
        review_hours=None if row.review_median is None else [row.review_median],
        reports_due=row.reports_due, reports_sent=row.reports_sent, at_risk=row.at_risk, recovered=row.recovered,
        omzet_before=row.omzet_before, omzet_after=row.omzet_after)


class MentorPages:
    """GET /console/pendamping (coordinators: the table; a mentor: their own page), /console/pendamping/{id}."""

    def __init__(self, pages: Pages, renew: Renew) -> None:
        self.pages = pages
        self.renew = renew

    async def _snapshot(self, visit: Visit, month: str) -> MentorMonthSnapshot:
        """The month's stored figures, stored now if there are none; a running month's renewed when old."""
        key = f"mentors:{month}"
        config = visit.config

        async def compute(db: AsyncSession) -> datetime:
            return await store_month(db, month, visit.now, config)

        for _attempt in range(2):  # a refresh already running may have started before the change
            found = await month_snapshot(visit.db, month)
            if found is None or (found.computed_at < month_period(month, config).end
                                 and found.computed_at < (await groups_changed_at(visit.db) or found.computed_at)):
                # none yet, or a mentor change or new participants since: the table would mislead
                await self.renew(key, visit.now, compute, wait=True)
            else:
                age = visit.now - found.computed_at
                if found.computed_at < month_period(month, config).end and (
                        age >= timedelta(seconds=FRESH_SECONDS) or age < timedelta(0)):
                    await self.renew(key, visit.now, compute, wait=False)  # shown while renewed
                return found
            await visit.db.commit()  # nothing written: a fresh read sees what the refresh stored
        found = await month_snapshot(visit.db, month)
        if found is None:
            raise RuntimeError(f"the figures of {month} could not be computed")
        return found

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/pendamping", self.ranking, MANAGERS),
                ("GET", "/pendamping/{mentor_id}", self.mentor, MANAGERS)]

    async def ranking(self, visit: Visit) -> Response:
        """The ranking of a month, as in the `kinerja` workbook, one page of mentors (sorted by a column)."""
        month = chosen_month(visit)
        if visit.me.role not in COORDINATORS:  # `kinerja` gives a mentor their own page only
            return RedirectResponse(f"{PREFIX}/pendamping/{visit.me.id}?" + urlencode({"bulan": month}),
                                    status_code=303)
        sort = visit.request.query_params.get("urut", "peringkat")
        if sort not in SORTS:
            sort = "peringkat"
        snapshot = await self._snapshot(visit, month)
        paging = Paging(page_number(visit), snapshot.mentors)
        found = list((await visit.db.execute(
            select(F).where(F.month == month).order_by(SORTS[sort][1], F.rank)
            .offset(paging.offset).limit(paging.size))).scalars())
        rows = [[row.rank, *cells[1:]] for row, cells in zip(found, performance_rows([as_month(r) for r in found]),
                                                           strict=True)]
        return self.pages.render(
            visit, "pendamping.html", month=month, months=month_choices(visit), header=HEADER,
            rows=[(row.mentor_id, [self._cell(value, visit.lang) for value in cells])
                  for row, cells in zip(found, rows, strict=True)],
            computed=format_stamp(snapshot.computed_at, visit.config.timezone, visit.lang),
            page=paging.page, pages=paging.pages, sort=sort,
            sorts={key: (name, urlencode({"bulan": month, "urut": name})) for name, (key, _order) in SORTS.items()},
            link=lambda page: f"{PREFIX}/pendamping?" + urlencode({"bulan": month, "urut": sort, "halaman": page}))

    async def mentor(self, visit: Visit) -> Response:
        """One mentor's month: the figures of their row and what to improve (a mentor sees only their own)."""
        number_ = record_id(str(visit.request.path_params["mentor_id"]))
        mentor = await visit.db.get(Person, number_) if number_ is not None else None
        if mentor is None or mentor.role != Role.PENDAMPING:
            raise Refused("web.not_found", status=404)
        if visit.me.role not in COORDINATORS and mentor.id != visit.me.id:
            raise Refused("web.refused_not_yours")
        month = chosen_month(visit)
        snapshot = await self._snapshot(visit, month)
        row = await month_figure(visit.db, month, mentor.id)
        mine = as_month(row) if row is not None else MentorMonth(mentor.id, mentor.name)
        (cells,) = performance_rows([mine])
        figures = [(key, self._cell(value, visit.lang)) for key, value in zip(HEADER, cells, strict=True)][2:]
        return self.pages.render(
            visit, "pendamping_detail.html", mentor=mentor, month=month, months=month_choices(visit),
            month_name=month_label(month, visit.lang), rank=row.rank if row is not None else None,
            ranked=snapshot.mentors, figures=figures,
            tips=improvements(mine, visit.config, visit.lang), is_coordinator=visit.me.role in COORDINATORS,
            computed=format_stamp(snapshot.computed_at, visit.config.timezone, visit.lang))

    @staticmethod
    def _cell(value: Any, language: str) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return number(value, language)
        return str(value)

