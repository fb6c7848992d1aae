"""Sending a broadcast: one outbox row per recipient (and text part), written in bulk; quiet hours; cancelling.

The rows are ordinary outbox rows (`ref` = `bc:<id>`): the delivery worker paces them per channel,
and the WhatsApp sender decides the 24-hour window at send time (outside it a template notice goes
and the announcement is held until the person replies), as for any other message.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.broadcasts.audience import Audience, Scope, find_audience
from handlers.broadcasts.rules import BroadcastsRules
from handlers.kernel.config import Config
from handlers.kernel.dates import parse_clock, parse_moment
from handlers.kernel.i18n import t
from handlers.kernel.job_runs import CHUNK, is_quiet
from handlers.kernel.messages import Attachment, Channel, Outgoing, OutgoingPart
from handlers.kernel.outbox import address_of, enqueue, split_text, write_owed
from storage.bulk import insert_records
from storage.models import (
    AuditEntry,
    Broadcast,
    BroadcastStatus,
    MediaLink,
    Menu,
    OutboxMessage,
    OutboxStatus,
    Person,
)

COLUMNS = ["channel", "address", "recipient_id", "payload", "ref", "status", "attempts", "created_at",
           "next_attempt_at", "parts_sent"]
CANCELLED_REASON = "broadcast cancelled"
Confirm = Callable[[Broadcast, "Audience | None"], Outgoing]
DEFAULT_TIME = time(8)  # a day without a time ("besok") means 08.00
SCHEDULE_WORDS = re.compile(r"^(?:jadwalkan|jadwal|kirim|nanti|pada)\s+")
WEEKDAY_NEXT = re.compile(r"\b(senin|selasa|rabu|kamis|jumat|jum'at|sabtu|minggu|ahad)\s+(?:depan|ini)\b")


def read_moment(text: str, now: datetime, zone: ZoneInfo) -> datetime | None:
    """"besok jam 9", "kamis depan 08.00", "jadwal 12/3 16.00" → a moment in the programme zone; None if unclear."""
    cleaned = SCHEDULE_WORDS.sub("", " ".join(text.lower().split()))
    next_week = re.search(r"\bdepan\b", cleaned) is not None and WEEKDAY_NEXT.search(cleaned) is not None
    cleaned = " ".join(WEEKDAY_NEXT.sub(r"\1", cleaned).replace(" pagi", " ").split())
    if parse_clock(cleaned) is not None:  # "jam 15" alone: today
        cleaned = f"hari ini {cleaned}"
    moment = parse_moment(cleaned, now, zone, DEFAULT_TIME)
    if moment is not None and next_week and moment.isocalendar()[:2] == now.astimezone(zone).isocalendar()[:2]:
        moment += timedelta(days=7)  # "kamis depan": the Thursday of next week, not tomorrow
    return moment


def ref_of(broadcast_id: int) -> str:
    """The outbox `ref` of a broadcast's rows."""
    return f"bc:{broadcast_id}"


def quiet_end(moment: datetime, config: Config) -> datetime:
    """The first minute at or after `moment` outside quiet hours (at most two days on)."""
    if not config.rules(BroadcastsRules).respect_quiet_hours:
        return moment
    probe = moment
    for _ in range(2 * 24 * 60):
        if not is_quiet(probe, config):
            return probe
        probe = (probe + timedelta(minutes=1)).replace(second=0, microsecond=0)
    return moment


async def sender_of(session: AsyncSession, broadcast: Broadcast) -> Person | None:
    """Who composed it (None for the command line)."""
    return await session.get(Person, broadcast.sender_id) if broadcast.sender_id is not None else None


async def release(session: AsyncSession, broadcast: Broadcast, now: datetime, config: Config, *,
                  audience: Audience | None = None) -> Audience:
    """Write the broadcast's outbox rows for everyone in scope now (skipping who must be skipped)."""
    if audience is None:
        audience = await find_audience(session, Scope(broadcast.scope, broadcast.scope_value),
                                       await sender_of(session, broadcast), config)
    attachments = [Attachment.from_json(item) for item in broadcast.attachments]
    shared = _shared(session, attachments, now, config)
    sender = await sender_of(session, broadcast)
    payloads: dict[tuple[Channel, str], list[dict[str, Any]]] = {}
    records: list[tuple[Any, ...]] = []
    ref = ref_of(broadcast.id)
    for person in audience.recipients:
        address = address_of(person)
        key = (address.channel, person.language or config.language)
        if key not in payloads:
            own = attachments if address.channel == Channel.TELEGRAM else []
            text = announcement(broadcast.text, sender, config, key[1])
            payloads[key] = _parts(text, _for_channel(own, shared), address.channel, config)
        for payload in payloads[key]:
            records.append((address.channel.value, address.id, person.id, payload, ref, OutboxStatus.PENDING.value,
                            0, now, now, 0))
    await _clear_menus(session, [p.phone for p in audience.recipients if address_of(p).channel == Channel.WHATSAPP])
    await write_owed(session)  # replies collected before (the sender's confirmation) go first
    await insert_records(session, OutboxMessage.__table__, COLUMNS, records)  # type: ignore[arg-type]
    broadcast.status, broadcast.queued_at = BroadcastStatus.SENDING, now
    broadcast.recipients, broadcast.skipped = len(audience.recipients), dict(audience.skipped)
    session.add(AuditEntry(at=now, actor_id=broadcast.sender_id, action="broadcast_queued",
                           subject=f"broadcast:{broadcast.id}",
                           detail={"recipients": len(audience.recipients), "rows": len(records),
                                   "skipped": dict(audience.skipped)}))
    return audience


def announcement(text: str, sender: Person | None, config: Config, language: str) -> str:
    """What a participant reads: who it is from, then the text as written."""
    if sender is None:
        return t("bc.announcement_programme", language, programme=config.programme_name, text=text).rstrip()
    return t("bc.announcement", language, sender=sender.name, text=text).rstrip()


def _for_channel(own: list[Attachment], shared: list[Attachment]) -> list[Attachment]:
    # Telegram re-sends a Telegram file by its id; anything else goes through one shared media link.
    return [mine if mine.channel == Channel.TELEGRAM and not mine.ref.startswith("media:") else link
            for mine, link in zip(own, shared, strict=True)] if own else shared


def _shared(session: AsyncSession, attachments: list[Attachment], now: datetime, config: Config) -> list[Attachment]:
    """One media link per attachment for the whole broadcast (not one per recipient)."""
    shared = []
    for item in attachments:
        if item.ref.startswith("media:"):
            shared.append(item)
            continue
        token = secrets.token_urlsafe(24)
        session.add(MediaLink(token=token, source=item.channel.value, ref=item.ref, mime=item.mime[:100],
                              name=item.name[:200], created_at=now,
                              expires_at=now + timedelta(days=config.media_ttl_days)))
        shared.append(Attachment(item.kind, f"media:{token}", Channel.WHATSAPP, item.mime, item.name, item.size))
    return shared


def _parts(text: str, attachments: list[Attachment], channel: Channel, config: Config) -> list[dict[str, Any]]:
    limit = config.telegram_text_limit if channel == Channel.TELEGRAM else config.whatsapp_text_limit
    parts = split_text(text, limit)
    return [OutgoingPart(text=part, part=number, parts=len(parts),
                         attachments=tuple(attachments) if number == len(parts) else ()).to_json()
            for number, part in enumerate(parts, 1)]


async def _clear_menus(session: AsyncSession, phones: list[str]) -> None:
    # A message without options clears the numbered options last shown to a WhatsApp number.
    for start in range(0, len(phones), CHUNK):
        await session.execute(delete(Menu).where(Menu.channel == Channel.WHATSAPP.value,
                                                 Menu.address.in_(phones[start:start + CHUNK])))


async def create(session: AsyncSession, scope: Scope, text: str, attachments: list[Attachment], *,
                 sender: Person | None, wanted: datetime | None, now: datetime, config: Config, source: str,
                 confirm: Confirm | None = None) -> tuple[Broadcast, Audience | None]:
    """Store a confirmed broadcast: sent now (rows written, the audience returned) or scheduled for
    `wanted`, or for the end of quiet hours when it falls in them. `confirm` makes the sender's own
    message, written before the recipients' rows so it does not wait behind them."""
    send_at = quiet_end(max(wanted or now, now), config)
    broadcast = Broadcast(sender_id=sender.id if sender else None, scope=scope.kind, scope_value=scope.value,
                          text=text, attachments=[item.to_json() for item in attachments],
                          status=BroadcastStatus.SCHEDULED, source=source, created_at=now, send_at=send_at,
                          recipients=0, skipped={})
    session.add(broadcast)
    await session.flush()
    audience = await find_audience(session, scope, sender, config) if send_at <= now else None
    if confirm is not None:
        await enqueue(session, confirm(broadcast, audience), now, config)
    if audience is not None:
        await release(session, broadcast, now, config, audience=audience)
    return broadcast, audience


def outcome(broadcast: Broadcast, audience: Audience | None, wanted: datetime | None, now: datetime) -> str:
    """The catalog key telling the sender what happened: sending, scheduled, or waiting for quiet hours to end."""
    if audience is not None:
        return "bc.queued"
    return "bc.scheduled" if wanted is not None and broadcast.send_at == max(wanted, now) else "bc.quiet_wait"


async def release_due(session: AsyncSession, now: datetime, config: Config) -> list[Broadcast]:
    """Every scheduled broadcast whose time has come (none while quiet hours hold them)."""
    if config.rules(BroadcastsRules).respect_quiet_hours and is_quiet(now, config):
        return []
    query = (select(Broadcast).where(Broadcast.status == BroadcastStatus.SCHEDULED, Broadcast.send_at <= now)
             .order_by(Broadcast.send_at, Broadcast.id).with_for_update(skip_locked=True))
    due = list((await session.execute(query)).scalars())
    for broadcast in due:
        await release(session, broadcast, now, config)
    return due


async def cancel(session: AsyncSession, broadcast: Broadcast, now: datetime) -> int | None:
    """Stop a scheduled or sending broadcast; the number of messages stopped (None when it is over).

    A message already in a sender's hands still goes; the rest are marked failed as cancelled.
    """
    if broadcast.status in (BroadcastStatus.DONE, BroadcastStatus.CANCELLED) or broadcast.cancelled_at is not None:
        return None
    broadcast.cancelled_at = now
    if broadcast.status == BroadcastStatus.SCHEDULED:
        broadcast.status = BroadcastStatus.CANCELLED
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.ref == ref_of(broadcast.id), OutboxMessage.claimed_by.is_(None),
               OutboxMessage.status.in_([OutboxStatus.PENDING, OutboxStatus.HELD]))
        .values(status=OutboxStatus.FAILED, error=CANCELLED_REASON))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
