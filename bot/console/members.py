"""The roster beyond the upload (coordinators): everyone on it with deactivate/reactivate (the chat's `nonaktif`
and `aktif`, through the same membership functions), and the numbers that wrote without being on it (the
chat's `asing`): a number that belongs to someone deactivated can be reactivated from there; anyone else is
added with a roster upload, as in chat."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sqlalchemy import ColumnElement, func, or_, select
from starlette.responses import Response

from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Refused, Visit
from handlers.kernel.dates import format_stamp
from handlers.kernel.i18n import t
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS
from handlers.people.membership import ROLE_KEYS, deactivate_person, reactivate_person
from storage.models import Person, UnknownContact

STATES = ("aktif", "nonaktif")  # the list's state filter; empty: everyone


class MemberPages:
    """GET /console/roster/orang, POST …/{id}/nonaktif and …/{id}/aktif; GET /console/roster/asing."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/roster/orang", self.people, COORDINATORS),
                ("POST", "/roster/orang/{person_id}/nonaktif", self.deactivate, COORDINATORS),
                ("POST", "/roster/orang/{person_id}/aktif", self.reactivate, COORDINATORS),
                ("GET", "/roster/asing", self.unknown, COORDINATORS)]

    # ------------------------------------------------------------------ everyone on the roster

    def _filters(self, visit: Visit) -> tuple[str, str, str]:
        source = visit.form if visit.request.method == "POST" and visit.form is not None else visit.request.query_params
        q = str(source.get("q") or "").strip()[:100]
        state = str(source.get("status") or "")
        role = str(source.get("peran") or "")
        return q, state if state in STATES else "", role if role in ROLE_KEYS else ""

    async def people(self, visit: Visit, status: int = 200) -> Response:
        """Everyone on the roster (not erased), by role and name, one page; search by name or number."""
        q, state, role = self._filters(visit)
        conditions: list[ColumnElement[bool]] = [Person.erased_at.is_(None)]
        if q:
            digits = "".join(ch for ch in q if ch.isdigit())
            found: list[ColumnElement[bool]] = [Person.name.ilike(f"%{q}%")]
            if len(digits) >= 4:
                found.append(Person.phone.contains(digits.removeprefix("0")))
            conditions.append(or_(*found))
        if state:
            conditions.append(Person.is_active.is_(state == "aktif"))
        if role:
            conditions.append(Person.role == role)
        total = int((await visit.db.execute(select(func.count()).select_from(Person).where(*conditions))).scalar_one())
        paging = Paging(page_number(visit), total)
        rows = list((await visit.db.execute(select(Person).where(*conditions).order_by(Person.role, Person.name, Person.id)
                                            .limit(paging.size).offset(paging.offset))).scalars())
        params = {"q": q, "status": state, "peran": role}
        return self.pages.render(
            visit, "roster_people.html", status=status, rows=rows, total=total, q=q, state=state, role_filter=role,
            role_choices=list(ROLE_KEYS.items()), page=paging.page, pages=paging.pages,
            link=lambda page: f"{PREFIX}/roster/orang?" + urlencode({**params, "halaman": page}))

    async def _person(self, visit: Visit) -> Person:
        number = record_id(str(visit.request.path_params["person_id"]))
        person = await visit.db.get(Person, number) if number is not None else None
        if person is None or person.erased_at is not None:
            raise Refused("web.not_found", status=404)
        return person

    @staticmethod
    def _who(visit: Visit, person: Person) -> dict[str, Any]:
        return {"name": person.name, "role": t(ROLE_KEYS[person.role], visit.lang), "phone": person.phone}

    async def deactivate(self, visit: Visit) -> Response:
        """The chat's `nonaktif` after its confirmation: open questions move on, history stays; not oneself."""
        person = await self._person(visit)
        if person.id == visit.me.id:
            visit.notices.append(visit.text("people.not_yourself"))
            return await self.people(visit, status=400)
        if not person.is_active:
            visit.notices.append(visit.text("people.already_inactive", **self._who(visit, person)))
            return await self.people(visit, status=409)
        await visit.send(await deactivate_person(visit.db, person, visit.now, visit.config, actor_id=visit.me.id,
                                                 source="console"))
        visit.notices.append(visit.text("people.deactivated", **self._who(visit, person)))
        return await self.people(visit)

    async def reactivate(self, visit: Visit) -> Response:
        """The chat's `aktif`: served again, unless the number was given up to someone else."""
        person = await self._person(visit)
        if person.is_active:
            visit.notices.append(visit.text("people.already_active", **self._who(visit, person)))
            return await self.people(visit, status=409)
        if not reactivate_person(visit.db, person, visit.now, actor_id=visit.me.id, source="console"):
            visit.notices.append(visit.text("members.cannot_reactivate", name=person.name))
            return await self.people(visit, status=409)
        visit.notices.append(visit.text("people.reactivated", **self._who(visit, person)))
        return await self.people(visit)

    # ------------------------------------------------------------------ numbers not on the roster

    async def unknown(self, visit: Visit) -> Response:
        """Numbers that wrote without being on the roster, latest first, one page; those of someone deactivated
        are shown with them and can be reactivated."""
        total = int((await visit.db.execute(select(func.count()).select_from(UnknownContact))).scalar_one())
        paging = Paging(page_number(visit), total)
        contacts = list((await visit.db.execute(
            select(UnknownContact).order_by(UnknownContact.last_seen_at.desc(), UnknownContact.id.desc())
            .limit(paging.size).offset(paging.offset))).scalars())
        phones = sorted({contact.phone for contact in contacts if contact.phone})
        known = {person.phone: person for person in (await visit.db.execute(
            select(Person).where(Person.phone.in_(phones), Person.erased_at.is_(None)))).scalars()} if phones else {}
        rows = [(contact, known.get(contact.phone or "")) for contact in contacts]
        return self.pages.render(
            visit, "roster_unknown.html", rows=rows, total=total, page=paging.page, pages=paging.pages,
            link=lambda page: f"{PREFIX}/roster/asing?" + urlencode({"halaman": page}),
            seen=lambda contact: visit.text("members.seen", count=contact.message_count, at=format_stamp(
                contact.last_seen_at, visit.config.timezone, visit.lang)))
