"""Mentor leave (cuti) for coordinators: who is away when and who covers, through the chat's `cuti` functions."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from starlette.responses import Response

from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Refused, Visit
from handlers.consultation.cover import (
    CoverError,
    CoverRequest,
    cancel_absence,
    current_and_coming,
    record_absence,
)
from handlers.kernel.dates import format_range
from handlers.kernel.i18n import t
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS
from storage.models import Person, Role

STAFF_CHOICES = 500  # mentors and backups offered in the form


class CoverPages:
    """GET and POST /console/cuti, POST /console/cuti/{absence_id}/batal."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table: `cuti` is the coordinators'."""
        return [("GET", "/cuti", self.absences, COORDINATORS),
                ("POST", "/cuti", self.record, COORDINATORS),
                ("POST", "/cuti/{absence_id}/batal", self.cancel, COORDINATORS)]

    async def _staff(self, visit: Visit, roles: tuple[str, ...]) -> list[Person]:
        query = (select(Person).where(Person.role.in_(roles), Person.is_active.is_(True))
                 .order_by(Person.name, Person.id).limit(STAFF_CHOICES))
        return list((await visit.db.execute(query)).scalars())

    async def absences(self, visit: Visit, status: int = 200, error: str = "") -> Response:
        """Leave not yet over, soonest first, and the form to record one."""
        found = await current_and_coming(visit.db, visit.now, visit.config)
        paging = Paging(page_number(visit), len(found))
        shown = found[paging.offset:paging.offset + paging.size]
        names = {p.id: p.name for p in (await visit.db.execute(select(Person).where(Person.id.in_(
            {a.mentor_id for a in shown} | {a.backup_id for a in shown})))).scalars()}
        rows = [(a, names.get(a.mentor_id, "-"), names.get(a.backup_id, "-"),
                 format_range(a.starts_on, a.ends_on, visit.lang)) for a in shown]
        return self.pages.render(
            visit, "cuti.html", status=status, error=error, rows=rows, total=len(found), page=paging.page,
            pages=paging.pages, link=lambda page: f"{PREFIX}/cuti?halaman={page}",
            mentors=await self._staff(visit, (Role.PENDAMPING, Role.NARASUMBER)),
            backups=await self._staff(visit, (Role.PENDAMPING, Role.KOORDINATOR)))

    async def record(self, visit: Visit) -> Response:
        """Record a leave as `cuti <mentor> <dari> <sampai> <cadangan> [pindah]` does: both are told."""
        people = [await visit.db.get(Person, n) if (n := record_id(visit.field(name))) is not None else None
                  for name in ("mentor", "backup")]
        try:
            first, last = date.fromisoformat(visit.field("mulai")), date.fromisoformat(visit.field("sampai"))
        except ValueError:
            return await self.absences(visit, status=400, error=visit.text("desk.cover_dates"))
        mentor, backup = people
        if mentor is None or backup is None or mentor.role not in (Role.PENDAMPING, Role.NARASUMBER):
            return await self.absences(visit, status=400, error=visit.text("desk.cover_pick"))
        request = CoverRequest(mentor, backup, first, last, move_open=visit.field("pindah") == "1")
        try:
            absence, messages = await record_absence(visit.db, request, actor_id=visit.me.id, now=visit.now,
                                                     config=visit.config)
        except CoverError as refused:
            return await self.absences(visit, status=400, error=t(refused.key, visit.lang, **refused.values))
        await visit.send(messages)
        visit.notices.append(visit.text(
            "cons.cuti_recorded", id=absence.id, mentor=mentor.name, backup=backup.name,
            days=format_range(first, last, visit.lang),
            moved=visit.text("cons.cuti_moves" if request.move_open else "cons.cuti_stays")))
        return await self.absences(visit)

    async def cancel(self, visit: Visit) -> Response:
        """End a leave early, as `cuti batal 3`: new questions go to the mentor again."""
        number = record_id(str(visit.request.path_params["absence_id"]))
        cancelled = await cancel_absence(visit.db, number, visit.now) if number is not None else None
        if cancelled is None:
            raise Refused("cons.cuti_unknown", status=404, id=str(visit.request.path_params["absence_id"])[:20])
        visit.notices.append(visit.text("cons.cuti_cancelled", id=cancelled.id))
        return await self.absences(visit)
