"""The coordinator's tools in the console: a ticket's reassignment and escalation, and broadcasts (siaran).

Each action calls the chat's own function (move_ticket, chosen + escalate, the broadcasts package's
find_audience / create / cancel / tally) in the page's one transaction, behind the chat's role checks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from starlette.responses import Response

from bot.console.web import Page, Pages, Refused, Visit
from handlers.broadcasts.audience import (
    NAMED,
    SCOPE_KEYS,
    Scope,
    find_audience,
    scope_label,
    skipped_text,
)
from handlers.broadcasts.report import STATUS_KEYS as BROADCAST_STATUS_KEYS
from handlers.broadcasts.report import report_text, tally
from handlers.broadcasts.rules import BroadcastsRules
from handlers.broadcasts.sending import announcement, cancel, create, outcome, read_moment
from handlers.consultation.escalation import chosen, escalate
from handlers.consultation.sla import move_ticket
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment, format_stamp
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS, MANAGERS, STAFF
from storage.models import Broadcast, BroadcastStatus, Person, Role, Ticket, TicketStatus

TicketOf = Callable[[Visit], Awaitable[tuple[Ticket, Context]]]  # the ticket of the path, with the chat's check
ShowTicket = Callable[..., Awaitable[Response]]  # the ticket page (status, error)

BROADCASTS_LISTED = 20
SCOPE_KINDS = tuple(SCOPE_KEYS)  # all, cohort, agency, district, at_risk


class ToolPages:
    """Routes of the ticket actions and the broadcasts page."""

    def __init__(self, pages: Pages, ticket_of: TicketOf, show_ticket: ShowTicket) -> None:
        self.pages, self.ticket_of, self.show_ticket = pages, ticket_of, show_ticket

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        return [
            ("POST", "/tiket/{ticket_id}/alihkan", self.reassign, COORDINATORS),
            ("POST", "/tiket/{ticket_id}/eskalasi", self.escalate, STAFF),
            ("GET", "/siaran", self.broadcasts, MANAGERS),
            ("POST", "/siaran/pratinjau", self.preview, MANAGERS),
            ("POST", "/siaran/kirim", self.send, MANAGERS),
            ("POST", "/siaran/batal", self.cancel, MANAGERS),
        ]

    # ------------------------------------------------------------------ ticket actions

    async def reassign(self, visit: Visit) -> Response:
        """`pindahkan N <pendamping>` from the page: move_ticket (a mentor on leave only when confirmed)."""
        ticket, ctx = await self.ticket_of(visit)
        number = record_id(visit.field("mentor"))
        mentor = await visit.db.get(Person, number) if number is not None else None
        if mentor is None or mentor.role != Role.PENDAMPING or not mentor.is_active:
            return await self.show_ticket(visit, status=400, error=visit.text("web.move_pick"))
        if ticket.status == TicketStatus.CLOSED:
            return await self.show_ticket(visit, status=400, error=visit.text("core.ticket_already_closed",
                                                                                 number=ticket.id))
        await move_ticket(ctx, ticket, mentor, is_confirmed=visit.field("walau_cuti") == "1")
        await visit.finish_chat(ctx)
        return await self.show_ticket(visit)

    async def escalate(self, visit: Visit) -> Response:
        """`eskalasi N` from the page: the chat's own checks (chosen) and escalate, with the typed note."""
        ticket, ctx = await self.ticket_of(visit)
        if record_id(visit.field("expert")) is None:
            return await self.show_ticket(visit, status=400, error=visit.text("tools.escalate_pick"))
        found = await chosen(ctx, f"{ticket.id}:{visit.field('expert')}")
        if found is None:
            return await self.show_ticket(visit, status=400, error=visit.text("tools.escalate_pick"))
        await escalate(ctx, *found, note=visit.field("note")[:1000])
        await visit.finish_chat(ctx)
        return await self.show_ticket(visit)

    # ------------------------------------------------------------------ broadcasts

    def _refuse_mentor(self, visit: Visit) -> None:
        if visit.me.role == Role.PENDAMPING and not visit.config.rules(BroadcastsRules).mentors_may_send:
            raise Refused("bc.mentors_off")

    def _own(self, visit: Visit) -> bool:
        return visit.me.role == Role.PENDAMPING

    async def broadcasts(self, visit: Visit, status: int = 200, error: str = "", draft: dict[str, Any] | None = None,
                         preview: dict[str, Any] | None = None) -> Response:
        """Compose form, the latest broadcasts with their state, and a delivery report on request."""
        self._refuse_mentor(visit)
        query = select(Broadcast).order_by(Broadcast.id.desc()).limit(BROADCASTS_LISTED)
        if self._own(visit):
            query = query.where(Broadcast.sender_id == visit.me.id)
        listed = list((await visit.db.execute(query)).scalars())
        report = ""
        asked = record_id(visit.request.query_params.get("laporan", "")[:12])
        if asked is not None and visit.request.method == "GET":
            found = await self._find(visit, asked)
            if found is None:
                raise Refused("bc.not_found", status=404, number=asked)
            sender = await visit.db.get(Person, found.sender_id) if found.sender_id else None
            report = report_text(found, await tally(visit.db, found), sender, visit.config, visit.lang)
        own = self._own(visit)
        zone = visit.config.timezone
        return self.pages.render(
            visit, "siaran.html", status=status, error=error, listed=listed, report=report,
            draft=draft or {"scope": "all", "value": "", "text": "", "when": ""}, preview=preview,
            scopes=[(kind, scope_label(Scope(kind, "…" if kind in NAMED else ""), visit.lang, own_group=False))
                   for kind in SCOPE_KINDS],
            scope=lambda b: scope_label(Scope(b.scope, b.scope_value), visit.lang, own_group=own),
            state=lambda b: visit.text(BROADCAST_STATUS_KEYS[BroadcastStatus(b.status)]),
            when=lambda b: format_stamp(b.send_at, zone, visit.lang),
            open_=lambda b: b.status in (BroadcastStatus.SCHEDULED, BroadcastStatus.SENDING) and b.cancelled_at is None)

    def _draft(self, visit: Visit) -> tuple[dict[str, Any], Scope | None, datetime | None, str]:
        """The posted draft, its scope and time, and what is wrong with it ("" when nothing)."""
        draft = {"scope": visit.field("scope"), "value": " ".join(visit.field("value").split())[:200],
                 "text": visit.field("text"), "when": visit.field("when")[:100]}
        limit = visit.config.rules(BroadcastsRules).max_text_chars
        text = visit.form.get("text") if visit.form is not None else None
        full = text.strip() if isinstance(text, str) else ""
        if draft["scope"] not in SCOPE_KINDS or (draft["scope"] in NAMED and not draft["value"]):
            return draft, None, None, visit.text("tools.scope_pick")
        if not full:
            return draft, None, None, visit.text("bc.need_text")
        if len(full) > limit:
            return draft, None, None, visit.text("bc.too_long", count=len(full), limit=limit)
        draft["text"] = full
        scope = Scope(draft["scope"], draft["value"] if draft["scope"] in NAMED else "")
        wanted = None
        if draft["when"]:
            wanted = read_moment(draft["when"], visit.now, visit.config.timezone)
            if wanted is None:
                return draft, None, None, visit.text("tools.when_unclear")
            if wanted <= visit.now:
                return draft, None, None, visit.text("tools.when_past", when=format_moment(
                    wanted, visit.config.timezone, visit.lang))
        return draft, scope, wanted, ""

    async def preview(self, visit: Visit) -> Response:
        """What participants will read, to how many (and who is skipped), and when; nothing is stored."""
        self._refuse_mentor(visit)
        draft, scope, wanted, error = self._draft(visit)
        if scope is None:
            return await self.broadcasts(visit, status=400, error=error, draft=draft)
        audience = await find_audience(visit.db, scope, visit.me, visit.config)
        label = scope_label(scope, visit.lang, own_group=self._own(visit))
        skipped = skipped_text(audience.skipped, visit.lang)
        if not audience.recipients:
            nobody = visit.text("bc.nobody", scope=label,
                                skipped=visit.text("bc.nobody_skipped", reasons=skipped) if skipped else "")
            return await self.broadcasts(visit, status=400, error=nobody, draft=draft)
        zone = visit.config.timezone
        return await self.broadcasts(visit, draft=draft, preview={
            "scope": label, "count": len(audience.recipients), "skipped": skipped,
            "text": announcement(draft["text"], visit.me, visit.config, visit.lang),
            "when": format_moment(wanted, zone, visit.lang) if wanted else ""})

    async def send(self, visit: Visit) -> Response:
        """Store it with the broadcasts package's create: sent now, or scheduled (quiet hours respected)."""
        self._refuse_mentor(visit)
        draft, scope, wanted, error = self._draft(visit)
        if scope is None:
            return await self.broadcasts(visit, status=400, error=error, draft=draft)
        broadcast, audience = await create(visit.db, scope, draft["text"], [], sender=visit.me, wanted=wanted,
                                           now=visit.now, config=visit.config, source="console")
        if audience is not None and not audience.recipients:
            raise Refused("bc.nobody", status=400, scope=scope_label(scope, visit.lang, own_group=self._own(visit)),
                          skipped="")  # rolled back: nothing is stored
        visit.sent = visit.sent or audience is not None  # the rows are in the outbox: wake the worker
        zone = visit.config.timezone
        visit.notices.append(visit.text(outcome(broadcast, audience, wanted, visit.now), number=broadcast.id,
                                        when=format_moment(broadcast.send_at, zone, visit.lang),
                                        count=len(audience.recipients) if audience else 0))
        return await self.broadcasts(visit)

    async def _find(self, visit: Visit, number: int) -> Broadcast | None:
        broadcast = await visit.db.get(Broadcast, number, with_for_update=True)
        if broadcast is None or (self._own(visit) and broadcast.sender_id != visit.me.id):
            return None
        return broadcast

    async def cancel(self, visit: Visit) -> Response:
        """`siaran batal N`: a scheduled one is dropped, a sending one stops what is not yet sent."""
        self._refuse_mentor(visit)
        number = record_id(visit.field("broadcast")[:12])
        broadcast = await self._find(visit, number) if number is not None else None
        if broadcast is None:
            raise Refused("bc.not_found", status=404, number=visit.field("broadcast")[:12] or "-")
        stopped = await cancel(visit.db, broadcast, visit.now)
        visit.notices.append(visit.text("bc.cannot_cancel", number=broadcast.id) if stopped is None
                             else visit.text("bc.cancelled", number=broadcast.id, count=stopped))
        return await self.broadcasts(visit)


def expert_choices(experts: list[Person]) -> list[tuple[int, str]]:
    """(id, label) of the narasumber a ticket may go to."""
    return [(expert.id, f"{expert.name} ({', '.join(expert.topic_list[:3])})" if expert.topic_list else expert.name)
            for expert in experts]

