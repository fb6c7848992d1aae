"""`ringkasan [2026-W10]` on demand: answered at once, the figures follow from a background job.

Computing a programme's week takes seconds at 100,000 participants, so the command only records the
request (SummaryRequest) and says it is being prepared; the `summary_requests` job (every 10 s, in
whichever process holds the scheduler lease) computes it as of the moment it was asked and queues it
to the chat it was asked from. Asking again while one waits adds nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.forms import command_args
from handlers.kernel.messages import Address, Channel, Outgoing
from handlers.kernel.registry import ANY_ARGS, command
from handlers.kernel.roles import MANAGERS
from handlers.participation.scores import compute_scores, parse_week, scan_scores, week_of
from handlers.reports.digest import (
    WeekScores,
    at_risk_of,
    coordinator_messages,
    digest_of,
    mentor_summaries,
    stored_digest,
    week_scores,
)
from handlers.reports.render import mentor_text
from handlers.reports.shapes import MentorSummary
from storage.models import Person, Role, SummaryRequest

JOB_ID = "summary_requests"
PER_RUN = 5  # requests figured per run: a programme's week takes seconds, the job comes back in 10 s


@command("ringkasan", args=ANY_ARGS, roles=MANAGERS, help_key="part.help_ringkasan", menu_key="part.menu_ringkasan",
         order=60)
async def ask_summary(ctx: Context) -> None:
    """Coordinators get the digest of this week so far (or `ringkasan 2026-W09`); mentors their summary."""
    argument = command_args(ctx)
    week = parse_week(argument) if argument else week_of(ctx.now, ctx.config.timezone)
    if week is None:
        ctx.reply("part.week_usage")
        return
    waiting = (await ctx.session.execute(select(SummaryRequest.id).where(
        SummaryRequest.person_id == ctx.person.id, SummaryRequest.week == week,
        SummaryRequest.done_at.is_(None)).limit(1))).first()
    if waiting is not None:
        ctx.reply("part.summary_still_preparing", week=week)
        return
    address = ctx.inbound.address
    ctx.session.add(SummaryRequest(person_id=ctx.person.id, week=week, requested_at=ctx.now,
                                   address={"channel": address.channel.value, "id": address.id}))
    ctx.reply("part.summary_preparing", week=week)


async def answer_summary_requests(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job body: figure the oldest waiting requests (as of when each was asked) and queue them."""
    requests = list((await session.execute(
        select(SummaryRequest).where(SummaryRequest.done_at.is_(None)).order_by(SummaryRequest.id)
        .limit(PER_RUN))).scalars())
    out: list[Outgoing] = []
    for request in requests:
        request.done_at = now
        person = await session.get(Person, request.person_id)
        if person is None or not person.is_active or person.role not in MANAGERS:
            continue  # left, or no longer staff, since asking
        to = Address(Channel(request.address["channel"]), request.address["id"])
        out += await summary_for(session, person, request.week, request.requested_at, config, to)
    return out


async def running_week(session: AsyncSession, week: str, asked_at: datetime, config: Config) -> WeekScores:
    """A week not closed, streamed and summed as it is scored (no list of 100,000 scores, nothing stored)."""
    summed = await week_scores(session, week, asked_at, config)
    async for score in scan_scores(session, week, asked_at, config):
        summed.add(score)
    return summed


async def summary_for(session: AsyncSession, person: Person, week: str, asked_at: datetime, config: Config,
                      to: Address) -> list[Outgoing]:
    """The coordinator's digest (text, chart, workbook) or the mentor's group summary, to one chat."""
    if person.role == Role.KOORDINATOR:
        # A closed week as stored when it closed (what its Monday digest showed), else the running week.
        stored = await stored_digest(session, week, asked_at, config)
        digest = (stored[1] if stored is not None
                  else await digest_of(session, week, await running_week(session, week, asked_at, config), asked_at,
                                       config))
        try:
            messages = await coordinator_messages(session, digest, [person], asked_at, config)
        finally:
            digest.at_risk.close()
        return [Outgoing(text=message.text, to=to, person_id=person.id, attachments=message.attachments,
                         ref=message.ref) for message in messages]
    scores = await compute_scores(session, week, asked_at, config, scope=Person.mentor_id == person.id)
    at_risk = await at_risk_of(session, week, scores, asked_at, config)
    summary = (await mentor_summaries(session, week, scores, at_risk)).get(person.id, MentorSummary(person.id, week))
    return [Outgoing(text=mentor_text(summary, asked_at, config, person.language or config.language), to=to,
                     person_id=person.id)]
