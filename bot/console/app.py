"""Routes of the web console under /console; each page calls the same handler functions as the chat.

Coordinators see the programme; mentors their own participants and queue; experts the tickets
escalated to them. Every action runs in one transaction with the chat's role checks, and its
messages go through the outbox like a chat reply.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.datastructures import UploadFile
from starlette.middleware import Middleware
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from bot.console import queries
from bot.console.desk import desk_table
from bot.console.mentors import store_month
from bot.console.reports import report_figures
from bot.console.signin import SignIn, home_of
from bot.console.stored import load_figure, store_figure
from bot.console.tools import ToolPages, expert_choices
from bot.console.web import (
    PREFIX,
    STATIC,
    UPLOAD_MAX_BYTES,
    Page,
    Pages,
    Refused,
    SecurityHeaders,
    Visit,
    utc_now,
)
from handlers.activities.audience import oversees
from handlers.activities.report_views import latest_report_month
from handlers.console.direct import direct_message
from handlers.consultation.answers import post_answer
from handlers.consultation.escalation import experts_for
from handlers.consultation.notes import add_note, may_read_notes, may_write_note, notes_on
from handlers.consultation.queue import STATUS_KEYS as TICKET_STATUS_KEYS
from handlers.consultation.rules import ConsultationRules
from handlers.consultation.ticketing import age_text, ticket_for_staff, topic_label, waiting_since
from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import format_stamp, month_of
from handlers.kernel.numbers import record_id
from handlers.kernel.roles import COORDINATORS, EVERYONE, MANAGERS, STAFF
from handlers.people.membership import deactivate_person, release_recycled_numbers
from handlers.people.roster import (
    RosterFileError,
    RosterInvalid,
    RosterRow,
    apply_roster,
    read_roster,
)
from handlers.reports.figures import unanswered_by_age
from handlers.reports.mentor_change import MappingRow, apply_moves, plan_mapping
from handlers.reports.targets import target_progress
from storage.models import Person, Role, Ticket, TicketStatus

ROSTER_SUFFIXES = (".csv", ".xlsx")
CACHE_SECONDS = 60  # the overview's aggregates and the list's filter values over the whole programme
PROBLEMS_SHOWN = 200

log = logging.getLogger(__name__)


class Console:
    """The console's routes, mounted by the HTTP server at /console."""

    def __init__(self, *, sessions: async_sessionmaker[AsyncSession], config: Config, public_base_url: str,
                 after_commit: Callable[[], None] = lambda: None,
                 clock: Callable[[], datetime] = utc_now, refresh_in_background: bool = False) -> None:
        self.config = config
        self.pages = Pages(sessions=sessions, config=config, secure=public_base_url.lower().startswith("https://"),
                           after_commit=after_commit, clock=clock)
        self.sign_in = SignIn(self.pages)
        self.cache: dict[str, tuple[datetime, Any]] = {}  # programme-wide figures, briefly (see CACHE_SECONDS)
        # `klinik run`: a figure older than CACHE_SECONDS is shown while a fresh one is computed in the background,
        # and the first visit to any console page (the sign-in page) starts computing them: no page waits for a
        # scan of the whole programme. Off (tests): an old figure is recomputed in the request.
        self.background = refresh_in_background
        self.refreshing: dict[str, asyncio.Task[None]] = {}
        self.sessions = sessions

    async def cached(self, key: str, now: datetime, compute: Callable[[AsyncSession], Awaitable[Any]],
                     db: AsyncSession) -> tuple[Any, datetime]:
        """A programme-wide figure computed at most once per CACHE_SECONDS; with when it was computed."""
        found = self.cache.get(key)
        if found is None and key not in self.refreshing:
            found = await self._stored(key, db)  # as last computed, before a restart
        if found is None and key in self.refreshing:
            await asyncio.shield(self.refreshing[key])  # already being computed (the warm-up)
            found = self.cache.get(key)
        is_old = found is not None and (now - found[0] >= timedelta(seconds=CACHE_SECONDS) or now < found[0])
        if found is None or (is_old and not self.background):
            value = await compute(db)
            found = self.cache[key] = (now, value)
            await store_figure(db, key, now, value)  # committed with the page's transaction
        elif is_old:
            self._refresh(key, now, compute)
        return found[1], found[0]

    async def _stored(self, key: str, db: AsyncSession) -> tuple[datetime, Any] | None:
        """The figure as stored in the database (console_figures), now also in memory."""
        stored = await load_figure(db, key)
        if stored is not None and key not in self.cache:
            self.cache[key] = stored
        return self.cache.get(key)

    def _refresh(self, key: str, now: datetime, compute: Callable[[AsyncSession], Awaitable[Any]]) -> None:
        """Compute a figure in the background with its own session (once at a time per figure)."""
        if key in self.refreshing:
            return

        async def run() -> None:
            try:
                async with self.sessions() as db:
                    value = await compute(db)
                    self.cache[key] = (now, value)
                    await store_figure(db, key, now, value)
                    await db.commit()
            except Exception:  # the old figure stays; the next visit tries again
                log.exception("console figure %s failed", key)
            finally:
                self.refreshing.pop(key, None)

        self.refreshing[key] = asyncio.get_running_loop().create_task(run())

    async def renew(self, key: str, now: datetime, compute: Callable[[AsyncSession], Awaitable[Any]], *,
                    wait: bool) -> None:
        """Recompute a stored figure (it writes its table) with its own session, once at a time: waited for
        when `wait` or when nothing refreshes in the background (tests), else left running."""
        self._refresh(key, now, compute)
        task = self.refreshing.get(key)
        if task is not None and (wait or not self.background):
            await asyncio.shield(task)

    def figures(self, viewer: Person) -> dict[str, Callable[[AsyncSession], Awaitable[Any]]]:
        """The programme-wide figures of the overview and the list's filter values (a coordinator's)."""
        config = self.config
        month = month_of(self.pages.clock(), config.timezone)
        reports_month = latest_report_month(self.pages.clock(), config)  # /laporan's default month
        return {
            "groups": lambda db: queries.groups(db, self.pages.clock(), config),
            "targets": lambda db: target_progress(db, self.pages.clock(), config),
            "week": queries.latest_week,
            "trend": queries.score_trend,
            "choices": lambda db: queries.choices(db, viewer, config),
            f"mentors:{month}": lambda db: store_month(db, month, self.pages.clock(), config),  # /pendamping
            f"laporan:{reports_month}": lambda db: report_figures(db, reports_month, self.pages.clock(), config),
        }

    async def warm(self, visit: Visit, keys: tuple[str, ...] = ()) -> None:
        """Start computing the programme-wide figures (`keys`, else all) not computed yet, side by side
        (background mode)."""
        if self.background:
            coordinator = Person(id=0, role=Role.KOORDINATOR)
            for key, compute in self.figures(coordinator).items():
                if key not in self.cache and key not in self.refreshing and (not keys or key in keys):
                    stored = await self._stored(key, visit.db)
                    if stored is None or visit.now - stored[0] >= timedelta(seconds=CACHE_SECONDS) or \
                            visit.now < stored[0]:
                        self._refresh(key, visit.now, compute)

    async def show_sign_in(self, visit: Visit) -> Response:
        """The sign-in page; its first visit starts the figures a coordinator will see next."""
        await self.warm(visit)
        return await self.sign_in.show(visit)

    def table(self) -> list[tuple[str, str, Page, frozenset[str] | None]]:
        """(method, path under /console, page, roles allowed; None: signed in or not) — the role matrix reads it."""
        sign_in = self.sign_in
        return [
            ("GET", "/masuk", self.show_sign_in, None),
            ("POST", "/masuk", sign_in.send_code, None),
            ("POST", "/masuk/kode", sign_in.verify, None),
            ("GET", "/", self.overview, STAFF),
            ("GET", "/peserta", self.participants, MANAGERS),
            ("GET", "/peserta/{person_id}", self.participant, MANAGERS),
            ("GET", "/antrian", self.queue, STAFF),
            ("GET", "/tiket/{ticket_id}", self.ticket, STAFF),
            ("GET", "/roster", self.roster, COORDINATORS),
            ("POST", "/peserta/{person_id}/pesan", self.message, MANAGERS),
            ("POST", "/peserta/{person_id}/catatan", self.note, MANAGERS),
            ("POST", "/peserta/{person_id}/pindah", self.move, COORDINATORS),
            ("POST", "/tiket/{ticket_id}/jawab", self.answer, STAFF),
            ("POST", "/roster", self.roster_upload, COORDINATORS),
            ("POST", "/peserta/{person_id}/nonaktif", self.deactivate, COORDINATORS),
            ("POST", "/keluar", sign_in.sign_out, EVERYONE),
            *desk_table(self.pages, self.renew, self.cached),
            *ToolPages(self.pages, self._ticket, self.ticket).table(),
        ]

    def routes(self) -> list[BaseRoute]:
        """One Mount with the security headers on every answer; pages behind sign-in unless public."""
        pages: list[BaseRoute] = [
            Route(path, self.pages.guarded(page, roles=roles, public=roles is None), methods=[method])
            for method, path, page, roles in self.table()]
        pages.append(Mount("/static", app=StaticFiles(directory=STATIC), name="console_static"))
        return [Route(PREFIX, lambda _request: RedirectResponse(f"{PREFIX}/", status_code=307)),
                Mount(PREFIX, routes=pages, middleware=[Middleware(SecurityHeaders)])]

    # ------------------------------------------------------------------ overview

    async def overview(self, visit: Visit) -> Response:
        """Coordinators: participants, at risk and silent per agency and cohort; open questions by age; the
        latest week's attendance and tugas; targets. Others go to their own start page."""
        if visit.me.role not in COORDINATORS:
            return RedirectResponse(home_of(visit.me), status_code=303)
        figures = self.figures(visit.me)
        await self.warm(visit, ("groups", "trend", "week", "targets"))  # after a restart: side by side
        groups, computed = await self.cached("groups", visit.now, figures["groups"], visit.db)
        ages = await unanswered_by_age(visit.db, visit.now)
        trend, _at = await self.cached("trend", visit.now, figures["trend"], visit.db)
        week, _at = await self.cached("week", visit.now, figures["week"], visit.db)
        targets, _at = await self.cached("targets", visit.now, figures["targets"], visit.db)
        return self.pages.render(
            visit, "overview.html", groups=groups, ages=ages, week=week,
            trend=trend, trend_points=queries.trend_points(trend),
            computed=self._stamp(visit, computed),
            targets=targets,
            deadline_hours=self.config.rules(ConsultationRules).sla_remind_hours,
            totals=(sum(g.participants for g in groups), sum(g.at_risk for g in groups), sum(g.silent for g in groups)))

    # ------------------------------------------------------------------ participants

    def _filters(self, visit: Visit) -> queries.Filters:
        params = visit.request.query_params
        mentor = record_id(params.get("mentor", "")) if params.get("mentor") else None
        page = record_id(params.get("halaman", "1")) or 1
        return queries.Filters(q=params.get("q", "").strip()[:100], cohort=params.get("cohort", "")[:100],
                               agency=params.get("agency", "")[:100], district=params.get("district", "")[:100],
                               mentor=mentor, at_risk=params.get("risiko") == "1",
                               score=params.get("skor", "") if params.get("skor", "") in queries.SCORE_BANDS else "",
                               no_consent=params.get("tanpa_izin") == "1", unreachable=params.get("tak_terjangkau") == "1",
                               page=min(page, 100_000))

    async def participants(self, visit: Visit) -> Response:
        """The list: search `q`, filters cohort/agency/district/mentor/at risk; one page of PAGE_SIZE."""
        filters = self._filters(visit)
        if visit.me.role in COORDINATORS:
            await self.warm(visit, ("choices",))  # after a restart: the filter values beside the page's rows
        total, rows = await queries.participants_page(visit.db, visit.me, filters, self.config, visit.now)
        if filters.q.strip() and total >= queries.SEARCH_CAP:
            visit.notices.append(visit.text("tools.search_capped", count=queries.SEARCH_CAP))
        params = {key: value for key, value in visit.request.query_params.items() if key != "halaman"}
        pages = max(1, -(-total // queries.PAGE_SIZE))
        return self.pages.render(
            visit, "peserta.html", rows=rows, total=total, filters=filters,
            choices=await self._choices(visit), page=filters.page, pages=pages, bands=queries.SCORE_BAND_KEYS,
            link=lambda page: f"{PREFIX}/peserta?" + urlencode({**params, "halaman": page}),
            last_seen=lambda person: self._stamp(visit, person.last_inbound_at))

    async def _choices(self, visit: Visit) -> dict[str, list[Any]]:
        if visit.me.role not in COORDINATORS:  # a mentor's own group: small, always fresh
            return await queries.choices(visit.db, visit.me, self.config)
        found, _at = await self.cached("choices", visit.now, self.figures(visit.me)["choices"], visit.db)
        return dict(found)

    def _stamp(self, visit: Visit, moment: datetime | None) -> str:
        return format_stamp(moment, self.config.timezone, visit.lang) if moment else visit.text("web.never")

    async def _participant(self, visit: Visit) -> Person:
        number = record_id(str(visit.request.path_params["person_id"]))
        person = await visit.db.get(Person, number) if number is not None else None
        if person is None or person.role != Role.PESERTA or person.erased_at is not None:
            raise Refused("web.not_found", status=404)
        if not oversees(visit.me, person):
            raise Refused("web.refused_not_yours")
        return person

    async def participant(self, visit: Visit, status: int = 200, error: str = "") -> Response:
        """The participant's story in time order, and the actions the viewer may take."""
        person = await self._participant(visit)
        mentor = await visit.db.get(Person, person.mentor_id) if person.mentor_id else None
        events = await queries.story(visit.db, person, visit.lang)
        is_coordinator = visit.me.role in COORDINATORS
        return self.pages.render(
            visit, "peserta_detail.html", status=status, person=person, mentor=mentor, events=events, error=error,
            mentors=await queries.mentors(visit.db) if is_coordinator else [], is_coordinator=is_coordinator,
            notes=await notes_on(visit.db, person) if may_read_notes(visit.me, person) else None,
            may_note=may_write_note(visit.me, person), stamp=lambda moment: self._stamp(visit, moment))

    async def message(self, visit: Visit) -> Response:
        """Message the participant on their own channel (as the viewer, audit-logged)."""
        person = await self._participant(visit)
        outgoing = direct_message(visit.db, visit.me, person, visit.field("text"), visit.now, self.config)
        if outgoing is None:
            return await self.participant(visit, status=400, error=visit.text("web.message_empty"))
        await visit.send([outgoing])
        visit.notices.append(visit.text("web.message_sent", name=person.name))
        return await self.participant(visit)

    async def note(self, visit: Visit) -> Response:
        """A mentor's note on their participant (the chat's `catatan 0812… teks`); coordinators only read."""
        person = await self._participant(visit)
        if not may_write_note(visit.me, person):
            raise Refused("notes.read_only")
        if add_note(visit.db, visit.me, person, visit.field("note"), visit.now) is None:
            return await self.participant(visit, status=400, error=visit.text("notes.usage"))
        visit.notices.append(visit.text("notes.saved", name=person.name))
        return await self.participant(visit)

    async def move(self, visit: Visit) -> Response:
        """Move to another mentor with the chat's mentor-change functions (plan, then apply)."""
        person = await self._participant(visit)
        number = record_id(visit.field("mentor"))
        target = await visit.db.get(Person, number) if number is not None else None
        if target is None:
            return await self.participant(visit, status=400, error=visit.text("web.move_pick"))
        plan = await plan_mapping(visit.db, [MappingRow(1, person.phone, target.phone)])
        if plan.problems or not plan.moves:
            problems = "; ".join(visit.text(key, **values) for key, values in plan.problems)
            return await self.participant(visit, status=400, error=problems or visit.text("web.move_pick"))
        await visit.send(await apply_moves(visit.db, plan.moves, visit.now, self.config, actor_id=visit.me.id,
                                           source="console"))
        visit.notices.append(visit.text("web.moved", name=person.name, mentor=target.name))
        return await self.participant(visit)

    async def deactivate(self, visit: Visit) -> Response:
        """Deactivate with the chat's membership function: their open questions move on, history stays."""
        person = await self._participant(visit)
        if person.is_active:
            await visit.send(await deactivate_person(visit.db, person, visit.now, self.config, actor_id=visit.me.id,
                                                     source="console"))
        return self.pages.render(visit, "done.html", message=visit.text("web.deactivated", name=person.name),
                                 back=f"{PREFIX}/peserta")

    # ------------------------------------------------------------------ queue and tickets

    async def queue(self, visit: Visit) -> Response:
        """Open tickets: the viewer's own (a coordinator: all), longest waiting first, one page."""
        page = min(record_id(visit.request.query_params.get("halaman", "1")) or 1, 100_000)
        total, rows = await queries.queue_page(visit.db, visit.me, page)
        pages = max(1, -(-total // queries.PAGE_SIZE))
        deadline = self.config.rules(ConsultationRules).sla_remind_hours
        return self.pages.render(
            visit, "antrian.html", rows=rows, total=total, page=page, pages=pages, deadline_hours=deadline,
            link=lambda number: f"{PREFIX}/antrian?" + urlencode({"halaman": number}),
            age=lambda ticket: age_text(visit.now - waiting_since(ticket), visit.lang),
            late=lambda ticket: (visit.now - waiting_since(ticket)).total_seconds() > deadline * 3600,
            topic=lambda ticket: topic_label(self.config, ticket.topic, visit.lang))

    async def _ticket(self, visit: Visit) -> tuple[Ticket, Context]:
        ctx = visit.chat_context()
        ticket = await ticket_for_staff(ctx, str(visit.request.path_params["ticket_id"]))  # the chat's own check
        if ticket is None:
            raise Refused("web.refused_ticket")
        return ticket, ctx

    async def ticket(self, visit: Visit, status: int = 200, error: str = "") -> Response:
        """The ticket's thread and the answer form."""
        ticket, _ctx = await self._ticket(visit)
        participant = await visit.db.get(Person, ticket.participant_id)
        is_open = ticket.status != TicketStatus.CLOSED
        mentors = await queries.mentors(visit.db) if is_open and visit.me.role in COORDINATORS else []
        experts = expert_choices((await experts_for(visit.db, ticket.topic, self.config))[0]) if is_open else []
        return self.pages.render(
            visit, "tiket.html", status=status, ticket=ticket, participant=participant, error=error,
            mentors=mentors, experts=experts,
            thread=await queries.thread(visit.db, ticket), topic=topic_label(self.config, ticket.topic, visit.lang),
            status_text=visit.text(TICKET_STATUS_KEYS[ticket.status]), stamp=lambda moment: self._stamp(visit, moment))

    async def answer(self, visit: Visit) -> Response:
        """Answer through the chat's own post_answer: the participant gets it on their channel."""
        ticket, ctx = await self._ticket(visit)
        text = visit.field("answer")
        if not text:
            return await self.ticket(visit, status=400, error=visit.text("web.answer_empty"))
        await post_answer(ctx, ticket, text=text, attachments=())
        await visit.finish_chat(ctx)
        return await self.ticket(visit)

    # ------------------------------------------------------------------ roster

    async def roster(self, visit: Visit) -> Response:
        """The upload form."""
        return self.pages.render(visit, "roster_upload.html", problems=[], more=0)

    async def roster_upload(self, visit: Visit) -> Response:
        """The same all-or-nothing import as `klinik roster import`: any bad line and nothing changes."""
        upload = visit.form.get("file") if visit.form is not None else None
        if not isinstance(upload, UploadFile) or not upload.filename:
            return self.pages.render(visit, "roster_upload.html", status=400, problems=[visit.text("web.roster_no_file")], more=0)
        suffix = Path(upload.filename).suffix.lower()
        if suffix not in ROSTER_SUFFIXES:
            return self.pages.render(visit, "roster_upload.html", status=400, problems=[visit.text("web.roster_type")], more=0)
        content = await upload.read(UPLOAD_MAX_BYTES + 1)
        try:
            rows = await asyncio.to_thread(_read_upload, content, suffix)
        except RosterFileError as error:
            return self.pages.render(visit, "roster_upload.html", status=400, problems=[str(error)], more=0)
        try:
            async with visit.db.begin_nested():  # all or nothing, like `klinik roster import`
                await release_recycled_numbers(visit.db, rows, visit.now)
                summary = await apply_roster(visit.db, rows, visit.now, source=f"console:{upload.filename}"[:100])
        except RosterInvalid as invalid:
            problems = [str(problem) for problem in invalid.problems]
            return self.pages.render(visit, "roster_upload.html", status=400, problems=problems[:PROBLEMS_SHOWN],
                                     more=max(0, len(problems) - PROBLEMS_SHOWN))
        self.cache.clear()  # new cohorts, districts and people show at once
        return self.pages.render(visit, "roster_upload.html", problems=[], more=0, summary=summary, rows=len(rows))


def _read_upload(content: bytes, suffix: str) -> list[RosterRow]:
    """read_roster reads a file: the upload goes to a temporary one with its own name's suffix."""
    with tempfile.TemporaryDirectory(prefix="klinik-roster-") as folder:
        path = Path(folder) / f"roster{suffix}"
        path.write_bytes(content)
        return read_roster(path)

