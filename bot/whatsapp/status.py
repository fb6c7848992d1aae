"""Twilio's status callbacks: record delivery, resend outside-window refusals, give up on unreachable numbers."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.whatsapp.codes import is_outside_window, is_unreachable
from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of, store_message
from handlers.kernel.reachability import mark_unreachable
from storage.models import OutboxMessage, OutboxStatus

FAILED = ("failed", "undelivered")


async def record_status(session: AsyncSession, sid: str, status: str, code: str, now: datetime,
                        config: Config) -> None:
    """Update the outbox row a callback is about; act on undeliverable and outside-window errors."""
    query = select(OutboxMessage).where(OutboxMessage.channel == Channel.WHATSAPP.value,
                                        OutboxMessage.external_id == sid)
    row = (await session.execute(query)).scalars().first()
    if row is None:
        return
    row.delivery_status = status
    if status not in FAILED:
        return
    row.error = f"twilio {code}: {status}"
    if is_outside_window(code):
        # Send again now: the sender sees the refusal and sends a template instead.
        row.status, row.next_attempt_at = OutboxStatus.PENDING, now
        store_message(row, replace(message_of(row), window_closed_at=now))
    elif is_unreachable(code) or status == "undelivered":
        row.status = OutboxStatus.FAILED
        await mark_unreachable(session, row, f"{status} ({code or 'tanpa kode'})", now, config)
