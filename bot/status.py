"""What `klinik status` shows, read from the database (a separate process can run it), and the operator's retries."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.processes import ROLE_OF_LOOP, ProcessRole, roles_text
from handlers.kernel.i18n import t
from handlers.kernel.messages import Inbound
from handlers.kernel.outbox import message_of
from storage.models import InboxItem, JobPulse, LoopPulse, OutboxMessage, OutboxStatus

ALIVE = timedelta(seconds=15)  # a process whose heartbeat is older is shown as not running
BACKLOG_STATES = (OutboxStatus.PENDING, OutboxStatus.HELD, OutboxStatus.FAILED)


@dataclass
class Status:
    """Everything `klinik status` prints."""

    now: datetime
    loops: list[LoopPulse] = field(default_factory=list)
    inbox_waiting: int = 0
    inbox_retrying: int = 0
    inbox_failed: int = 0
    inbox_oldest: datetime | None = None
    outbox: dict[str, dict[str, int]] = field(default_factory=dict)  # channel -> state -> rows
    outbox_due: dict[str, int] = field(default_factory=dict)  # channel -> pending rows due now
    oldest: OutboxMessage | None = None
    jobs: list[JobPulse] = field(default_factory=list)


async def collect_status(session: AsyncSession, now: datetime) -> Status:
    """Read the loops' pulses, the inbox and outbox backlogs, the oldest waiting message and the jobs' last runs."""
    status = Status(now=now)
    status.loops = list((await session.execute(
        select(LoopPulse).order_by(LoopPulse.beat_at.desc(), LoopPulse.loop))).scalars())
    unprocessed = InboxItem.processed_at.is_(None)
    status.inbox_waiting = await _count(session, InboxItem, unprocessed,
                                        or_(InboxItem.next_attempt_at.is_(None), InboxItem.next_attempt_at <= now))
    status.inbox_retrying = await _count(session, InboxItem, unprocessed, InboxItem.next_attempt_at > now)
    status.inbox_failed = await _count(session, InboxItem, InboxItem.failed_at.is_not(None))
    status.inbox_oldest = (await session.execute(select(func.min(InboxItem.received_at)).where(unprocessed))).scalar()
    outbox: dict[str, dict[str, int]] = defaultdict(dict)
    for channel, state, count in (await session.execute(
            select(OutboxMessage.channel, OutboxMessage.status, func.count())
            .where(OutboxMessage.status.in_([s.value for s in BACKLOG_STATES]))
            .group_by(OutboxMessage.channel, OutboxMessage.status))).all():
        outbox[channel][state] = count
    status.outbox = dict(outbox)
    status.outbox_due = dict((await session.execute(
        select(OutboxMessage.channel, func.count())
        .where(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now)
        .group_by(OutboxMessage.channel))).all())
    status.oldest = (await session.execute(
        select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.PENDING)
        .order_by(OutboxMessage.id).limit(1))).scalar_one_or_none()
    status.jobs = list((await session.execute(select(JobPulse).order_by(JobPulse.job_id))).scalars())
    return status


async def _count(session: AsyncSession, model: type[InboxItem], *where: ColumnElement[bool]) -> int:
    return int((await session.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


def ago(seconds: float, language: str) -> str:
    """"5 dtk", "3 mnt", "2 jam", "4 hari"."""
    seconds = max(seconds, 0)
    if seconds < 120:
        return t("cli.unit_seconds", language, n=int(seconds))
    if seconds < 2 * 3600:
        return t("cli.unit_minutes", language, n=int(seconds // 60))
    if seconds < 2 * 86400:
        return t("cli.unit_hours", language, n=int(seconds // 3600))
    return t("cli.unit_days", language, n=int(seconds // 86400))


def render_status(status: Status, language: str, zone: tzinfo) -> str:
    """The report, in the CLI's language, times in the programme's time zone."""
    def when(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")

    def age(moment: datetime) -> str:
        return ago((status.now - moment).total_seconds(), language)

    def since(moment: datetime) -> str:
        return t("cli.status_ago", language, age=age(moment))

    lines = [t("cli.status_header", language, now=when(status.now)), "", t("cli.status_loops", language)]
    lines += [t("cli.status_process", language, holder=holder, roles=roles_text(roles))
              for holder, roles in process_roles(status).items()]
    for pulse in status.loops:
        if status.now - pulse.beat_at > ALIVE:
            lines.append(t("cli.status_loop_dead", language, loop=pulse.loop, holder=pulse.holder, beat=since(pulse.beat_at)))
            continue
        last = since(pulse.last_pass_at) if pulse.last_pass_at else t("cli.status_never", language)
        line = t("cli.status_loop", language, loop=pulse.loop, holder=pulse.holder, last_pass=last)
        if pulse.failures:
            line += t("cli.status_loop_failing", language, failures=pulse.failures, error=pulse.last_error or "")
        lines.append(line)
    if not status.loops:
        lines.append(t("cli.status_no_loops", language))
    lines += ["", t("cli.status_inbox", language, waiting=status.inbox_waiting, retrying=status.inbox_retrying,
                    failed=status.inbox_failed)]
    if status.inbox_oldest is not None:
        lines.append(t("cli.status_inbox_oldest", language, since=when(status.inbox_oldest), age=age(status.inbox_oldest)))
    lines += ["", t("cli.status_outbox", language)]
    for channel in sorted(status.outbox):
        states = status.outbox[channel]
        lines.append(t("cli.status_outbox_channel", language, channel=channel,
                       pending=states.get(OutboxStatus.PENDING, 0), due=status.outbox_due.get(channel, 0),
                       held=states.get(OutboxStatus.HELD, 0), failed=states.get(OutboxStatus.FAILED, 0)))
    if not status.outbox:
        lines.append(t("cli.status_none", language))
    if status.oldest is not None:
        row = status.oldest
        error = t("cli.status_oldest_error", language, error=row.error) if row.error else ""
        lines += ["", t("cli.status_oldest", language, id=row.id, channel=row.channel, address=row.address,
                        created=when(row.created_at), age=age(row.created_at), attempts=row.attempts, error=error)]
    lines += ["", t("cli.status_jobs", language)]
    for job in status.jobs:
        moment = when(job.finished_at or job.started_at)
        if job.ok:
            lines.append(t("cli.status_job_ok", language, job=job.job_id, when=moment, messages=job.messages))
        else:
            lines.append(t("cli.status_job_failed", language, job=job.job_id, when=moment, error=job.error or ""))
    if not status.jobs:
        lines.append(t("cli.status_none", language))
    return "\n".join(lines)


def process_roles(status: Status) -> dict[str, frozenset[ProcessRole]]:
    """The roles each running process serves, read from the loops it beats for (`klinik run --only`)."""
    found: dict[str, set[ProcessRole]] = {}
    for pulse in status.loops:
        if status.now - pulse.beat_at <= ALIVE and pulse.loop in ROLE_OF_LOOP:
            found.setdefault(pulse.holder, set()).add(ROLE_OF_LOOP[pulse.loop])
    return {holder: frozenset(roles) for holder, roles in found.items()}


def preview(text: str, width: int = 70) -> str:
    """The start of a message on one line."""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


async def failed_outbox(session: AsyncSession, limit: int = 50) -> list[OutboxMessage]:
    """Failed outbox rows, newest first."""
    query = (select(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
             .order_by(OutboxMessage.id.desc()).limit(limit))
    return list((await session.execute(query)).scalars())


def render_failed_outbox(rows: list[OutboxMessage], language: str, zone: tzinfo) -> str:
    """One entry per failed row: who, when, why and what."""
    if not rows:
        return t("cli.outbox_failed_none", language)
    return "\n".join(t("cli.outbox_failed_row", language, id=row.id, channel=row.channel, address=row.address,
                       created=row.created_at.astimezone(zone).strftime("%Y-%m-%d %H:%M"), attempts=row.attempts,
                       error=row.error or "", text=preview(message_of(row).text)) for row in rows)


async def retry_outbox(session: AsyncSession, ids: list[int] | None, now: datetime) -> int:
    """Send failed rows again (all when ids is None), with a fresh retry window; returns how many."""
    query = (update(OutboxMessage).where(OutboxMessage.status == OutboxStatus.FAILED)
             .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, created_at=now,
                     claimed_by=None, claimed_at=None))
    if ids is not None:
        query = query.where(OutboxMessage.id.in_(ids))
    return int((await session.execute(query)).rowcount or 0)  # type: ignore[attr-defined]


async def failed_inbox(session: AsyncSession, limit: int = 50) -> list[InboxItem]:
    """Inbound messages set aside after repeated failures, newest first."""
    query = (select(InboxItem).where(InboxItem.failed_at.is_not(None))
             .order_by(InboxItem.id.desc()).limit(limit))
    return list((await session.execute(query)).scalars())


def render_failed_inbox(items: list[InboxItem], language: str, zone: tzinfo) -> str:
    """One entry per set-aside inbound: from where, when, why and what."""
    if not items:
        return t("cli.inbox_failed_none", language)
    lines = []
    for item in items:
        try:
            inbound = Inbound.from_json(item.payload)
            sender, text = inbound.address.id, inbound.text or inbound.payload or ""
        except (KeyError, TypeError, ValueError):
            sender, text = "?", ""
        failed = item.failed_at.astimezone(zone).strftime("%Y-%m-%d %H:%M") if item.failed_at else ""
        lines.append(t("cli.inbox_failed_row", language, id=item.id, channel=item.channel, sender=preview(sender, 40),
                       failed=failed, error=item.error or "", text=preview(text)))
    return "\n".join(lines)


async def retry_inbox(session: AsyncSession, ids: list[int] | None) -> int:
    """Hand set-aside inbound messages to the inbox processor again (all when ids is None); returns how many."""
    query = (update(InboxItem).where(InboxItem.failed_at.is_not(None))
             .values(processed_at=None, failed_at=None, attempts=0, next_attempt_at=None))
    if ids is not None:
        query = query.where(InboxItem.id.in_(ids))
    return int((await session.execute(query)).rowcount or 0)  # type: ignore[attr-defined]
