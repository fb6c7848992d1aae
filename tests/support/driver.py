"""Transcript-style test driver: people write to the bot, tests read what each received."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Address, Attachment, Channel, Inbound
from handlers.kernel.outbox import message_of
from handlers.router import handle_inbox_item, load_senders
from storage.models import InboxItem, OutboxMessage, Person

_ids = itertools.count(1)
OWN_CONTACT = "<own contact>"  # Driver.say: the shared contact card is the sender's own


class Clock:
    """A fixed clock the test moves by hand."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


class Driver:
    """Drives the real router over a real database, one committed transaction per message."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> None:
        self.sessions, self.config, self.clock = sessions, config, clock
        self._seen: set[int] = set()

    async def add_person(self, **fields: Any) -> Person:
        """Put someone on the roster (consented unless told otherwise)."""
        now = self.clock.now
        defaults: dict[str, Any] = {"consent_given": True, "consent_at": now, "created_at": now,
                                    "updated_at": now, "extra": {}}
        async with self.sessions.begin() as session:
            person = Person(**(defaults | fields))
            session.add(person)
        return person

    async def say(self, person: Person | str, text: str = "", *, channel: Channel = Channel.WHATSAPP,
                  payload: str | None = None, attachments: Iterable[Attachment] = (),
                  reply_to: str | None = None, contact_phone: str | None = None,
                  contact_user_id: str | None = OWN_CONTACT, unsupported: str | None = None,
                  sender_id: str | None = None, is_private: bool = True) -> None:
        """Deliver one inbound message from a person (or a raw WhatsApp number / Telegram id).

        A shared contact is the sender's own (Telegram's user_id is theirs) unless contact_user_id says otherwise.
        """
        sender = sender_id or self._sender_id(person, channel)
        if contact_user_id == OWN_CONTACT:
            contact_user_id = sender if contact_phone is not None else None
        inbound = Inbound(
            address=self._address(person, channel), external_id=f"ext-{next(_ids)}",
            received_at=self.clock.now, sender_id=sender,
            sender_name=person.name if isinstance(person, Person) else "", text=text,
            payload=payload, attachments=tuple(attachments), contact_phone=contact_phone,
            contact_user_id=contact_user_id, reply_to_external_id=reply_to, unsupported=unsupported,
            is_private=is_private)
        await self.deliver(inbound)

    async def deliver(self, inbound: Inbound) -> None:
        """Store and process an inbound exactly as the bot does."""
        async with self.sessions.begin() as session:
            item = InboxItem(channel=inbound.address.channel.value, external_id=inbound.external_id,
                             payload=inbound.to_json(), received_at=self.clock.now)
            session.add(item)
            await session.flush()
            await load_senders(session, [item])  # as the inbox processor does: the people and their state in bulk
            await handle_inbox_item(session, item, self.clock.now, self.config)

    async def run_job(self, job_id: str) -> int:
        """Run one scheduled job now, as the scheduler does (e.g. `summary_requests` after a `ringkasan`)."""
        from scheduler.jobs import JOBS
        from scheduler.runner import run_job

        return await run_job(next(job for job in JOBS if job.id == job_id), self.sessions, self.config, self.clock.now)

    async def press(self, person: Person, payload: str, *, channel: Channel = Channel.WHATSAPP) -> None:
        """Press a button."""
        await self.say(person, "", channel=channel, payload=payload)

    async def outbox(self, person: Person | None = None) -> list[OutboxMessage]:
        """Every outbox row (for one person), oldest first."""
        async with self.sessions() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if person is not None:
                query = query.where(OutboxMessage.recipient_id == person.id)
            return list((await session.execute(query)).scalars())

    async def received(self, person: Person) -> list[str]:
        """Texts the person was sent since the last call for them."""
        rows = [row for row in await self.outbox(person) if row.id not in self._seen]
        self._seen.update(row.id for row in rows)
        return [message_of(row).text for row in rows]

    async def last(self, person: Person) -> OutboxMessage:
        """The newest row owed to a person."""
        return (await self.outbox(person))[-1]

    async def refresh(self, person: Person) -> Person:
        """The person as stored now."""
        async with self.sessions() as session:
            fresh = await session.get(Person, person.id)
            assert fresh is not None
            return fresh

    @staticmethod
    def _address(person: Person | str, channel: Channel) -> Address:
        if isinstance(person, str):
            return Address(channel, person)
        if channel == Channel.TELEGRAM:
            return Address(channel, person.telegram_chat_id or f"9{person.id:06d}")
        return Address(channel, person.phone)

    @staticmethod
    def _sender_id(person: Person | str, channel: Channel) -> str:
        if isinstance(person, str):
            return person
        if channel == Channel.TELEGRAM:
            return person.telegram_user_id or f"9{person.id:06d}"
        return person.phone
