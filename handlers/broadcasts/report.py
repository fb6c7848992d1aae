"""A broadcast's delivery report: each recipient's state from the outbox, failures grouped by reason."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.broadcasts.audience import Scope, scope_label, skipped_text
from handlers.broadcasts.sending import CANCELLED_REASON, ref_of, release_due, sender_of
from handlers.kernel.config import Config
from handlers.kernel.dates import format_moment
from handlers.kernel.i18n import t
from handlers.kernel.messages import Outgoing
from storage.models import Broadcast, BroadcastStatus, OutboxMessage, OutboxStatus, Person, Role

TWILIO_CODE = re.compile(r"twilio (\d{5})")
# Twilio's codes, grouped by what the sender can do about them.
REASON_BY_CODE = {63016: "window", 63003: "not_on_whatsapp", 63024: "not_on_whatsapp", 21211: "invalid_number",
                  21614: "not_on_whatsapp", 21610: "opted_out", 63032: "opted_out", 63018: "daily_limit"}
REASON_KEYS = {"window": "bc.why_window", "not_on_whatsapp": "bc.why_not_on_whatsapp",
               "invalid_number": "bc.why_invalid_number", "opted_out": "bc.why_opted_out",
               "daily_limit": "bc.why_daily_limit", "gave_up": "bc.why_gave_up", "blocked": "bc.why_blocked",
               "undelivered": "bc.why_undelivered", "other": "bc.why_other"}
STATUS_KEYS = {BroadcastStatus.SCHEDULED: "bc.status_scheduled", BroadcastStatus.SENDING: "bc.status_sending",
               BroadcastStatus.DONE: "bc.status_done", BroadcastStatus.CANCELLED: "bc.status_cancelled"}


@dataclass
class Tally:
    """Recipients by the state of their messages (a person's last row decides, any pending row keeps it open)."""

    pending: int = 0
    sent: int = 0
    delivered: int = 0
    read: int = 0
    held: int = 0
    cancelled: int = 0
    failed: Counter[tuple[str, str]] = field(default_factory=Counter)  # (reason, code) -> recipients

    @property
    def failed_total(self) -> int:
        """Recipients whose message failed for good."""
        return sum(self.failed.values())


def failure_reason(error: str | None) -> tuple[str, str]:
    """(reason group, Twilio code or '') of a failed row's error."""
    text = error or ""
    found = TWILIO_CODE.search(text)
    code = found[1] if found else ""
    if code and int(code) in REASON_BY_CODE:
        return REASON_BY_CODE[int(code)], code
    lowered = text.lower()
    if "gave up" in lowered:
        return "gave_up", code
    if "forbidden" in lowered or "blocked" in lowered:
        return "blocked", code
    if "undelivered" in lowered:
        return "undelivered", code
    return "other", code


async def tally(session: AsyncSession, broadcast: Broadcast) -> Tally:
    """Count recipients by state from the broadcast's outbox rows."""
    query = (select(OutboxMessage.recipient_id, OutboxMessage.status, OutboxMessage.delivery_status,
                    OutboxMessage.error)
             .where(OutboxMessage.ref == ref_of(broadcast.id)).order_by(OutboxMessage.id))
    last: dict[int | None, tuple[str, str | None, str | None]] = {}
    pending: set[int | None] = set()
    for recipient, status, delivery, error in (await session.execute(query)).all():
        last[recipient] = (status, delivery, error)
        if status == OutboxStatus.PENDING:
            pending.add(recipient)
    result = Tally(pending=len(pending))
    for recipient, (status, delivery, error) in last.items():
        if recipient in pending:
            continue
        if status == OutboxStatus.HELD:
            result.held += 1
        elif status == OutboxStatus.FAILED and error == CANCELLED_REASON:
            result.cancelled += 1
        elif status == OutboxStatus.FAILED:
            result.failed[failure_reason(error)] += 1
        else:
            result.sent += 1
            result.delivered += delivery in ("delivered", "read")
            result.read += delivery == "read"
    return result


def report_text(broadcast: Broadcast, counts: Tally, sender: Person | None, config: Config, language: str) -> str:
    """The short report: sent (delivered, read), waiting for a reply, failed by reason, skipped, cancelled."""
    own = sender is not None and sender.role == Role.PENDAMPING
    lines = [t("bc.report_head", language, number=broadcast.id,
               scope=scope_label(Scope(broadcast.scope, broadcast.scope_value), language, own_group=own),
               status=t(STATUS_KEYS[BroadcastStatus(broadcast.status)], language),
               recipients=broadcast.recipients)]
    if broadcast.status == BroadcastStatus.SCHEDULED:
        lines.append(t("bc.report_scheduled", language, when=format_moment(broadcast.send_at, config.timezone, language)))
        return "\n".join(lines)
    lines.append(t("bc.report_sent", language, sent=counts.sent, delivered=counts.delivered, read=counts.read))
    if counts.pending:
        lines.append(t("bc.report_pending", language, count=counts.pending))
    if counts.held:
        lines.append(t("bc.report_held", language, count=counts.held))
    if counts.failed:
        lines.append(t("bc.report_failed", language, count=counts.failed_total))
        for (reason, code), count in sorted(counts.failed.items(), key=lambda item: (-item[1], item[0])):
            label = t(REASON_KEYS[reason], language)
            lines.append(t("bc.report_failed_line", language, reason=f"{label} ({code})" if code else label,
                           count=count))
    skipped = skipped_text(broadcast.skipped, language)
    if skipped:
        lines.append(t("bc.report_skipped", language, count=sum(broadcast.skipped.values()), reasons=skipped))
    if counts.cancelled:
        lines.append(t("bc.report_cancelled", language, count=counts.cancelled))
    return "\n".join(lines)


async def run_broadcasts(session: AsyncSession, now: datetime, config: Config) -> list[Outgoing]:
    """Job body: release broadcasts that are due; report each one whose messages have all settled, once."""
    await release_due(session, now, config)
    query = (select(Broadcast).where(Broadcast.status == BroadcastStatus.SENDING).order_by(Broadcast.id)
             .with_for_update(skip_locked=True))
    out = []
    for broadcast in list((await session.execute(query)).scalars()):
        if await _still_sending(session, broadcast):
            continue
        counts = await tally(session, broadcast)
        broadcast.status, broadcast.finished_at = BroadcastStatus.DONE, now
        sender = await sender_of(session, broadcast)
        if sender is not None and sender.is_active and sender.erased_at is None:
            language = sender.language or config.language
            out.append(Outgoing(text=report_text(broadcast, counts, sender, config, language), person_id=sender.id))
    return out


async def _still_sending(session: AsyncSession, broadcast: Broadcast) -> bool:
    """One pending row is enough to wait (a cheap look by the ref index, every minute)."""
    query = select(OutboxMessage.id).where(OutboxMessage.ref == ref_of(broadcast.id),
                                           OutboxMessage.status == OutboxStatus.PENDING).limit(1)
    return (await session.execute(query)).first() is not None
