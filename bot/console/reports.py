"""Monthly reports as a table (what `laporan` shows staff) and the accountability workbook (`rekap`) as a download."""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from bot.console.months import month_choices
from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Visit
from handlers.activities.money import format_rupiah
from handlers.activities.report_views import (
    comparison,
    latest_report_month,
    permit_names,
    roll_counts,
)
from handlers.kernel.config import Config
from handlers.kernel.dates import format_stamp, month_label, previous_month
from handlers.kernel.roles import COORDINATORS, MANAGERS
from handlers.reports.digest import XLSX
from handlers.reports.rekap import (
    Rekap,
    build_rekap,
    file_name,
    month_period,
    parse_month,
    write_rekap,
)
from handlers.reports.rekap_chat import scope_of
from storage.models import MonthlyReport, Person, Role

TREND_MONTHS = 6  # months in the omzet chart
SCOPE_CHOICES = 500  # cohorts or mentors offered in the export form


class Cached(Protocol):
    """Console.cached: a programme-wide figure (value, computed at), at most a minute old."""

    async def __call__(self, key: str, now: datetime, compute: Callable[[AsyncSession], Awaitable[Any]],
                       db: AsyncSession) -> tuple[Any, datetime]: ...


async def report_figures(db: AsyncSession, month: str, now: datetime, config: Config,
                         scope: ColumnElement[bool] | None = None) -> tuple[int, int, list[tuple[str, int, int]]]:
    """(sent, due, trend): the `laporan` roll counted in SQL and (month, reports sent, omzet total) for the
    months up to this one (one GROUP BY over the index)."""
    sent, due = await roll_counts(db, month, now, config, scope)
    months = [month]
    while len(months) < TREND_MONTHS:
        months.insert(0, previous_month(months[0]))
    query = (select(MonthlyReport.month, func.count(), func.coalesce(func.sum(MonthlyReport.omzet), 0))
             .where(MonthlyReport.month.in_(months), MonthlyReport.submitted_at.is_not(None))
             .group_by(MonthlyReport.month))
    if scope is not None:  # a report's participant always exists: the whole programme reads the index alone
        query = query.join(Person, Person.id == MonthlyReport.participant_id).where(scope)
    found = {m: (int(n), int(total or 0)) for m, n, total in await db.execute(query)}
    return sent, due, [(m, *found.get(m, (0, 0))) for m in months]


def group_scope(visit: Visit) -> ColumnElement[bool] | None:
    """`laporan`'s scope: everyone for a coordinator, a mentor's own participants."""
    return None if visit.me.role in COORDINATORS else Person.mentor_id == visit.me.id


class ReportPages:
    """GET /console/laporan; GET and POST /console/rekap (the POST answers with the workbook)."""

    def __init__(self, pages: Pages, cached: Cached) -> None:
        self.pages = pages
        self.cached = cached  # Console.cached: the programme's roll and trend, stored and renewed once a minute

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/laporan", self.reports, MANAGERS),
                ("GET", "/rekap", self.export_form, MANAGERS),
                ("POST", "/rekap", self.export, MANAGERS)]

    # ------------------------------------------------------------------ laporan bulanan

    async def reports(self, visit: Visit) -> Response:
        """One month: who sent (the `laporan` roll), one page of reports with the change from the month before,
        and the omzet of the last months as a chart."""
        month = parse_month(visit.request.query_params.get("bulan", "")[:7]) or latest_report_month(visit.now,
                                                                                                   visit.config)
        scope = group_scope(visit)
        figures, at = await self._figures(visit, month, scope)
        sent, due, trend = figures
        people = [Person.role == Role.PESERTA, Person.is_active.is_(True), *([scope] if scope is not None else [])]
        total = int((await visit.db.execute(select(func.count()).select_from(Person).where(*people))).scalar_one())
        paging = Paging(page_number(visit), total)
        page = list((await visit.db.execute(select(Person).where(*people).order_by(Person.name, Person.id)
                                            .limit(paging.size).offset(paging.offset))).scalars())
        reports = await self._reports(visit, [p.id for p in page], [month, previous_month(month)])
        rows = [(person, reports.get((person.id, month)), self._change(visit, reports, person.id, month))
                for person in page]
        return self.pages.render(
            visit, "laporan.html", month=month, month_name=month_label(month, visit.lang), rows=rows,
            months=month_choices(visit), sent=sent, due=due, total=total,
            computed=format_stamp(at, visit.config.timezone, visit.lang),
            trend=trend, trend_top=max([omzet for _, _, omzet in trend] + [1]), page=paging.page, pages=paging.pages,
            rupiah=lambda amount: format_rupiah(amount) if amount is not None else "–",
            permits=lambda report: permit_names(list(report.permits), visit.lang),
            link=lambda number: f"{PREFIX}/laporan?" + urlencode({"bulan": month, "halaman": number}))

    async def _figures(self, visit: Visit, month: str, scope: ColumnElement[bool] | None) -> tuple[Any, datetime]:
        """(sent, due, trend) with when computed: the `laporan` roll and the omzet of the last months; a
        coordinator's (the whole programme) one of the console's stored figures (a minute old at most, renewed
        in the background), a mentor's group always fresh."""
        if scope is not None:
            found: Any = await report_figures(visit.db, month, visit.now, visit.config, scope)
            at = visit.now
        else:
            found, at = await self.cached(f"laporan:{month}", visit.now,
                                          lambda db: report_figures(db, month, visit.now, visit.config), visit.db)
        sent, due, trend = found
        return (sent, due, [(month_label(m, visit.lang), n, total) for m, n, total in trend]), at

    async def _reports(self, visit: Visit, ids: list[int], months: list[str]) -> dict[tuple[int, str], MonthlyReport]:
        query = select(MonthlyReport).where(MonthlyReport.participant_id.in_(ids), MonthlyReport.month.in_(months),
                                            MonthlyReport.submitted_at.is_not(None))
        return {(r.participant_id, r.month): r for r in (await visit.db.execute(query)).scalars()}

    @staticmethod
    def _change(visit: Visit, reports: dict[tuple[int, str], MonthlyReport], person_id: int, month: str) -> str:
        report, previous = reports.get((person_id, month)), reports.get((person_id, previous_month(month)))
        return comparison(report, previous, visit.lang) if report is not None and previous is not None else ""

    # ------------------------------------------------------------------ rekap

    async def export_form(self, visit: Visit, status: int = 200, error: str = "") -> Response:
        """Month and, for coordinators, whose figures (programme, a cohort or a mentor's group)."""
        is_coordinator = visit.me.role in COORDINATORS
        cohorts: list[str] = []
        mentors: list[tuple[int, str]] = []
        if is_coordinator:
            cohorts = list((await visit.db.execute(
                select(Person.cohort).where(Person.role == Role.PESERTA, Person.cohort != "").distinct()
                .order_by(Person.cohort).limit(SCOPE_CHOICES))).scalars())
            mentors = [(mid, name) for mid, name in await visit.db.execute(
                select(Person.id, Person.name).where(Person.role == Role.PENDAMPING, Person.is_active.is_(True))
                .order_by(Person.name).limit(SCOPE_CHOICES))]
        return self.pages.render(visit, "rekap.html", status=status, error=error, months=month_choices(visit),
                                 month=month_choices(visit)[0][0], is_coordinator=is_coordinator, cohorts=cohorts,
                                 mentors=mentors)

    async def export(self, visit: Visit) -> Response:
        """The same workbook `rekap` sends in chat, built in this request and downloaded."""
        month = parse_month(visit.field("bulan")[:7])
        if month is None:
            return await self.export_form(visit, status=400, error=visit.text("desk.export_month"))
        if visit.me.role in COORDINATORS:  # only coordinators choose (`rkp` options are theirs)
            kind, _, value = visit.field("scope").partition(":")
            scope = await scope_of(visit.db, kind, value, visit.lang) if kind in ("programme", "cohort",
                                                                                   "mentor") else None
        else:
            scope = await scope_of(visit.db, "mentor", str(visit.me.id), visit.lang)
        if scope is None:
            return await self.export_form(visit, status=400, error=visit.text("desk.export_scope"))
        book = await build_rekap(visit.db, scope, month_period(month, visit.config), visit.config, visit.lang)
        content = await asyncio.to_thread(_workbook_bytes, book, visit.lang)
        return Response(content, media_type=XLSX,
                        headers={"Content-Disposition": f'attachment; filename="{file_name(book)}"'})


def _workbook_bytes(book: Rekap, language: str) -> bytes:
    """write_rekap writes a file: into a temporary folder, read back."""
    with tempfile.TemporaryDirectory(prefix="klinik-rekap-") as folder:
        path = Path(folder) / "rekap.xlsx"
        write_rekap(book, path, language)
        return path.read_bytes()
