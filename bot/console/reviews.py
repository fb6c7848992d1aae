"""Decisions waiting for staff: FAQ proposals (`tinjaufaq`) and izin/sakit requests (`izin`, `setujui`, `tolak`).

Each decision runs the chat's own function as the signed-in person (the same checks, the same messages
to the mentor or participant); what the chat would have replied becomes a notice on the page.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import aliased
from starlette.responses import Response

from bot.console.paging import Paging, page_number
from bot.console.web import PREFIX, Page, Pages, Refused, Visit
from handlers.activities.attendance import STATUS_KEYS as LEAVE_KEYS
from handlers.activities.attendance import span
from handlers.activities.audience import oversees
from handlers.activities.leave import decide, pending_query
from handlers.consultation.faq import review
from handlers.consultation.ticketing import topic_label
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS, MANAGERS
from storage.models import FaqEntry, FaqStatus, LeaveRequest, Person

VERBS = {"setujui": "ok", "tolak": "no"}  # the form's button -> the chat's lv:ok / lv:no


class ReviewPages:
    """GET /console/faq, POST /console/faq/{id}; GET /console/izin, POST /console/izin/{id}."""

    def __init__(self, pages: Pages) -> None:
        self.pages = pages

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path, page, roles) for the console's route table."""
        return [("GET", "/faq", self.faq, COORDINATORS),
                ("POST", "/faq/{entry_id}", self.decide_faq, COORDINATORS),
                ("GET", "/izin", self.leave, MANAGERS),
                ("POST", "/izin/{request_id}", self.decide_leave, MANAGERS)]

    def _verb(self, visit: Visit) -> str:
        verb = VERBS.get(visit.field("keputusan"))
        if verb is None:
            raise Refused("desk.decision_unknown", status=400)
        return verb

    # ------------------------------------------------------------------ FAQ

    async def faq(self, visit: Visit, status: int = 200) -> Response:
        """Proposals waiting for approval, oldest first, one page."""
        pending = FaqEntry.status == FaqStatus.PENDING
        total = int((await visit.db.execute(select(func.count()).select_from(FaqEntry).where(pending))).scalar_one())
        paging = Paging(page_number(visit), total, size=20)
        proposer = aliased(Person)
        rows = [(entry, name or "-", topic_label(visit.config, entry.topic, visit.lang)) for entry, name in
                await visit.db.execute(select(FaqEntry, proposer.name)
                                       .outerjoin(proposer, proposer.id == FaqEntry.proposed_by_id)
                                       .where(pending).order_by(FaqEntry.id)
                                       .limit(paging.size).offset(paging.offset))]
        return self.pages.render(visit, "faq.html", status=status, rows=rows, total=total, page=paging.page,
                                 pages=paging.pages, link=lambda page: f"{PREFIX}/faq?halaman={page}")

    async def decide_faq(self, visit: Visit) -> Response:
        """Approve or reject with the chat's `review`: the proposing mentor is told."""
        approve = self._verb(visit) == "ok"
        number = record_id(str(visit.request.path_params["entry_id"]))
        entry = await visit.db.get(FaqEntry, number) if number is not None else None
        if entry is None:
            raise Refused("web.not_found", status=404)
        if entry.status != FaqStatus.PENDING:
            visit.notices.append(visit.text("desk.faq_decided", id=entry.id))
            return await self.faq(visit, status=409)
        ctx = visit.chat_context()
        await review(ctx, str(entry.id), approve=approve)
        await visit.finish_chat(ctx)
        return await self.faq(visit)

    # ------------------------------------------------------------------ izin / sakit

    async def leave(self, visit: Visit, status: int = 200) -> Response:
        """Undecided izin/sakit requests of the participants this person oversees, soonest session first."""
        ctx = visit.chat_context()
        pending = pending_query(visit.me)  # the chat's list: a mentor's own group, a coordinator's all
        total = int((await visit.db.execute(select(func.count()).select_from(pending.order_by(None).subquery())))
                    .scalar_one())
        paging = Paging(page_number(visit), total, size=20)
        rows = [(request, person, meeting, visit.text(LEAVE_KEYS[request.kind]), span(ctx, meeting))
                for request, person, meeting in await visit.db.execute(pending.limit(paging.size)
                                                                       .offset(paging.offset))]
        return self.pages.render(visit, "izin.html", status=status, rows=rows, total=total, page=paging.page,
                                 pages=paging.pages, link=lambda page: f"{PREFIX}/izin?halaman={page}")

    async def decide_leave(self, visit: Visit) -> Response:
        """Approve (recorded as izin/sakit) or reject with a reason, through the chat's `decide`."""
        number = record_id(str(visit.request.path_params["request_id"]))
        request = await visit.db.get(LeaveRequest, number) if number is not None else None
        participant = await visit.db.get(Person, request.participant_id) if request is not None else None
        if request is None or participant is None:
            raise Refused("web.not_found", status=404)
        if not oversees(visit.me, participant):  # decide() checks it too; a foreign id is refused before
            raise Refused("web.refused_not_yours")
        verb = self._verb(visit)
        ctx = visit.chat_context()
        await decide(ctx, f"{verb}:{request.id}", visit.field("alasan")[:500] if verb == "no" else "")
        await visit.finish_chat(ctx)
        return await self.leave(visit)
