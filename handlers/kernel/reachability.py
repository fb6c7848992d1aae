"""People the bot cannot reach: mark them, tell their mentor, try their other channel, release held messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Address, Channel, Outgoing
from handlers.kernel.outbox import enqueue, message_of
from storage.models import OutboxMessage, OutboxStatus, Person, Role


async def mark_unreachable(session: AsyncSession, row: OutboxMessage, reason: str, now: datetime,
                           config: Config) -> None:
    """After a final delivery failure: record why, tell the mentor once, resend on the other channel."""
    person = await session.get(Person, row.recipient_id) if row.recipient_id else None
    if person is None:
        return
    is_new = person.unreachable_reason is None
    person.unreachable_reason = f"{row.channel}: {reason}"[:300]
    other = other_address(person, Channel(row.channel))
    if other is not None:
        await enqueue(session, Outgoing(text=message_of(row).text, to=other, person_id=person.id, ref=row.ref),
                      now, config)
    if is_new and person.role == Role.PESERTA and person.mentor_id:
        mentor = await session.get(Person, person.mentor_id)
        if mentor is not None:
            text = t("reach.mentor_told", mentor.language or config.language, name=person.name,
                     channel=row.channel, reason=reason[:120])
            await enqueue(session, Outgoing(text=text, person_id=mentor.id), now, config)


def other_address(person: Person, failed: Channel) -> Address | None:
    """The person's other channel, if they have one."""
    if failed == Channel.TELEGRAM:
        return Address(Channel.WHATSAPP, person.phone)
    if person.telegram_chat_id:
        return Address(Channel.TELEGRAM, person.telegram_chat_id)
    return None


async def release_held(session: AsyncSession, person_id: int, now: datetime) -> None:
    """The person wrote on WhatsApp: the window is open again, deliver what was held."""
    await session.execute(update(OutboxMessage).where(
        OutboxMessage.recipient_id == person_id, OutboxMessage.channel == Channel.WHATSAPP.value,
        OutboxMessage.status == OutboxStatus.HELD).values(status=OutboxStatus.PENDING, next_attempt_at=now))
