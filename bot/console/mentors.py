"""Mentors in the console: the monthly performance table (the `kinerja` ranking) and each mentor's page."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.responses import RedirectResponse, Response

from bot.console.memo import Memo
from bot.console.months import chosen_month, month_choices
from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Refused, Visit
from handlers.kernel.dates import format_stamp, month_label
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS, MANAGERS
from handlers.reports.numerals import number
from handlers.reports.performance import (
    HEADER,
    MentorMonth,
    improvements,
    mentor_months,
    performance_rows,
)
from storage.models import Person, Role


class MentorPages:
    """GET /console/pendamping (coordinators: the table; a mentor: their own page), /console/pendamping/{id}."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages
        self.memo = Memo()  # the whole programme's month: once a minute, whoever asks

    async def _months(self, visit: Visit, month: str) -> tuple[list[MentorMonth], str]:
        """Every mentor's figures of the month (mentor_months, as `kinerja`) and when they were computed."""
        months, at = await self.memo.get(month, visit.now,
                                         lambda: mentor_months(visit.db, month, visit.now, visit.config))
        return months, format_stamp(at, visit.config.timezone, visit.lang)

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/pendamping", self.ranking, MANAGERS),
                ("GET", "/pendamping/{mentor_id}", self.mentor, MANAGERS)]

    async def ranking(self, visit: Visit) -> Response:
        """The ranking of a month, as in the `kinerja` workbook, one page of mentors."""
        month = chosen_month(visit)
        if visit.me.role not in COORDINATORS:  # `kinerja` gives a mentor their own page only
            return RedirectResponse(f"{PREFIX}/pendamping/{visit.me.id}?" + urlencode({"bulan": month}),
                                    status_code=303)
        months, computed = await self._months(visit, month)
        paging = Paging(page_number(visit), len(months))
        rows = performance_rows(months)[paging.offset:paging.offset + paging.size]
        return self.pages.render(
            visit, "pendamping.html", month=month, months=month_choices(visit), header=HEADER,
            rows=[(months[row[0] - 1].mentor_id, [self._cell(value, visit.lang) for value in row]) for row in rows],
            computed=computed, page=paging.page, pages=paging.pages,
            link=lambda page: f"{PREFIX}/pendamping?" + urlencode({"bulan": month, "halaman": page}))

    async def mentor(self, visit: Visit) -> Response:
        """One mentor's month: the figures of their row and what to improve (a mentor sees only their own)."""
        number_ = record_id(str(visit.request.path_params["mentor_id"]))
        mentor = await visit.db.get(Person, number_) if number_ is not None else None
        if mentor is None or mentor.role != Role.PENDAMPING:
            raise Refused("web.not_found", status=404)
        if visit.me.role not in COORDINATORS and mentor.id != visit.me.id:
            raise Refused("web.refused_not_yours")
        month = chosen_month(visit)
        months, computed = await self._months(visit, month)
        mine = next((m for m in months if m.mentor_id == mentor.id), MentorMonth(mentor.id, mentor.name))
        rank = next((i for i, m in enumerate(months, start=1) if m.mentor_id == mentor.id), None)
        (row,) = performance_rows([mine])
        figures = [(key, self._cell(value, visit.lang)) for key, value in zip(HEADER, row, strict=True)][2:]
        return self.pages.render(
            visit, "pendamping_detail.html", mentor=mentor, month=month, months=month_choices(visit),
            month_name=month_label(month, visit.lang), rank=rank, ranked=len(months), figures=figures,
            tips=improvements(mine, visit.config, visit.lang), is_coordinator=visit.me.role in COORDINATORS,
            computed=computed)

    @staticmethod
    def _cell(value: Any, language: str) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return number(value, language)
        return str(value)
