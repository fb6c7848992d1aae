"""When someone stops being served: leaving the programme (deactivation) or withdrawing consent.

The person's history stays; what the bot was about to do for or with them stops: their open form
and parked drafts are dropped, messages still owed to them are not sent (their number may already
belong to someone else), and every feature that holds work of theirs hands it on through a hook
registered here (`@on_leaving`), so no feature imports another.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.messages import Channel, Outgoing
from storage.models import (
    AuditEntry,
    ConversationState,
    Menu,
    OutboxMessage,
    OutboxStatus,
    ParkedFlow,
    Person,
    Role,
)

DEACTIVATED, WITHDRAWN, ERASED = "deactivated", "withdrawn", "erased"

# (session, person, why: DEACTIVATED | WITHDRAWN | ERASED, now, config, actor id) -> messages to others
LeavingHook = Callable[[AsyncSession, Person, str, datetime, Config, int | None], Awaitable[list[Outgoing]]]
LEAVING_HOOKS: list[LeavingHook] = []


def on_leaving(hook: LeavingHook) -> LeavingHook:
    """Register what a feature does with a person's open work when they stop being served."""
    if hook not in LEAVING_HOOKS:
        LEAVING_HOOKS.append(hook)
    return hook


async def stop_serving(session: AsyncSession, person: Person, why: str, now: datetime, config: Config,
                       actor_id: int | None) -> list[Outgoing]:
    """Drop open forms and owed messages, let every feature hand on the person's work; messages for others."""
    await forget_conversation(session, person)
    await cancel_owed_messages(session, person, why)
    out: list[Outgoing] = []
    for hook in LEAVING_HOOKS:
        out += await hook(session, person, why, now, config, actor_id)
    return [message for message in out if message.person_id != person.id]


async def deactivate(session: AsyncSession, person: Person, now: datetime, config: Config, *,
                     actor_id: int | None, source: str) -> list[Outgoing]:
    """The person leaves the programme: treated as an unknown number from now on; their history stays."""
    person.is_active = False
    person.deactivated_at = now
    person.updated_at = now
    session.add(AuditEntry(at=now, actor_id=actor_id, action="deactivate", subject=f"person:{person.id}",
                           detail={"source": source}))
    return await stop_serving(session, person, DEACTIVATED, now, config, actor_id)


def reactivate(session: AsyncSession, person: Person, now: datetime, *, actor_id: int | None, source: str) -> None:
    """The person is back in the programme (consent is asked again only if it no longer holds)."""
    person.is_active = True
    person.deactivated_at = None
    person.updated_at = now
    session.add(AuditEntry(at=now, actor_id=actor_id, action="reactivate", subject=f"person:{person.id}",
                           detail={"source": source}))


async def forget_conversation(session: AsyncSession, person: Person) -> None:
    """Drop the open form, parked drafts and the WhatsApp options last shown to the person."""
    await session.execute(delete(ConversationState).where(ConversationState.person_id == person.id))
    await session.execute(delete(ParkedFlow).where(ParkedFlow.person_id == person.id))
    addresses = [(Channel.WHATSAPP.value, person.phone)]
    if person.telegram_chat_id:
        addresses.append((Channel.TELEGRAM.value, person.telegram_chat_id))
    for channel, address in addresses:
        await session.execute(delete(Menu).where(Menu.channel == channel, Menu.address == address))


async def cancel_owed_messages(session: AsyncSession, person: Person, why: str) -> None:
    """Messages queued or held for the person are not sent any more (recorded as failed, with why)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.recipient_id == person.id,
               OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.HELD)))
        .values(status=OutboxStatus.FAILED, error=f"not sent: recipient {why}")
        .execution_options(synchronize_session=False))


async def active_people(session: AsyncSession, role: Role, *, besides: int | None = None) -> list[Person]:
    """Active people of a role, by id (leaving one out)."""
    query = select(Person).where(Person.role == role, Person.is_active.is_(True)).order_by(Person.id)
    if besides is not None:
        query = query.where(Person.id != besides)
    return list((await session.execute(query)).scalars())
