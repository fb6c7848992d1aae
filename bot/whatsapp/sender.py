"""Sending outbox rows through Twilio: free text inside the 24-hour window, templates or a held notice outside it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twilio.base.exceptions import TwilioRestException

from bot.delivery import Held, PartSent, Sent, no_progress
from bot.media import MediaStore
from bot.whatsapp.errors import NETWORK_ERRORS, OutsideWindow, network_outcome, outcome_of
from bot.whatsapp.http import TwilioClient
from bot.whatsapp.status import FAILED
from handlers.kernel.messages import Channel, OutgoingPart
from handlers.kernel.outbox import message_of
from storage.db import read_only_once
from storage.models import OutboxMessage, OutboxStatus, Person

WINDOW = timedelta(hours=24)
WINDOW_MARGIN = timedelta(minutes=5)
HELD_TEMPLATE = "held"
# Twilio's date_created has whole seconds (RFC 2822): a message created just after a claim may show a
# second before it; one more second for the clocks (ours ahead of Twilio's by more repeats, never loses).
CLOCK_MARGIN = timedelta(seconds=2)
LOOK_LIMIT = 100  # messages to one number from the claim's day on, newest first: one page, one call


class Recipients:
    """The people behind the sends in flight, read when each send starts, together: the ids asked for while
    one read runs are read next in one query (one session, one pooled connection), not one session each.
    With many chats in flight the per-send session was most of a WhatsApp send's own work."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.sessions = sessions
        self._wanted: dict[int, list[asyncio.Future[Person | None]]] = {}
        self._reading: asyncio.Task[None] | None = None

    async def get(self, person_id: int) -> Person | None:
        loop = asyncio.get_running_loop()
        if self._reading is not None and self._reading.get_loop() is not loop:
            self._reading, self._wanted = None, {}  # a loop that ended (tests run one per test)
        waiter: asyncio.Future[Person | None] = loop.create_future()
        self._wanted.setdefault(person_id, []).append(waiter)
        if self._reading is None or self._reading.done():
            self._reading = asyncio.create_task(self._read())
        return await waiter

    async def _read(self) -> None:
        while self._wanted:
            wanted, self._wanted = self._wanted, {}
            found: dict[int, Person] = {}
            failure: Exception | None = None
            try:
                async with self.sessions() as session:
                    await read_only_once(session)
                    query = select(Person).where(Person.id.in_(sorted(wanted)))
                    found = {person.id: person for person in (await session.execute(query)).scalars()}
            except Exception as error:  # each send meets the error as it did with a read of its own
                failure = error
            except BaseException:  # cancelled (the process stops): so are the sends waiting for it
                for waiter in (waiter for waiters in wanted.values() for waiter in waiters):
                    waiter.cancel()
                raise
            for person_id, waiters in wanted.items():
                for waiter in waiters:
                    if waiter.done():
                        continue  # its send was cancelled
                    if failure is not None:
                        waiter.set_exception(failure)
                    else:
                        waiter.set_result(found.get(person_id))


class WhatsAppSender:
    """Sends rows through Twilio; outside the 24-hour window it sends an approved template instead."""

    def __init__(self, client: TwilioClient, sessions: async_sessionmaker[AsyncSession], *, sender: str,
                 status_callback: str | None, templates: Mapping[str, str], media: MediaStore) -> None:
        self.client, self.sessions, self.sender = client, sessions, sender
        self.status_callback, self.templates, self.media = status_callback, templates, media
        self.recipients = Recipients(sessions)

    async def send(self, row: OutboxMessage, progress: PartSent = no_progress) -> str | None:
        """Free text inside the window; a template (own or the 'held' notice) outside it (one call: one part)."""
        now = datetime.now(UTC)
        message = message_of(row)
        person = await self._person(row.recipient_id)
        if person is not None and needs_template(person, message, now):
            return await self._send_outside_window(row.address, message, person)
        media_urls = [await self.media.public_url(a, now) for a in message.attachments]
        try:
            return await self._create(row.address, body=message.text, media_url=media_urls or None)
        except OutsideWindow:
            if person is None:
                raise
            return await self._send_outside_window(row.address, message, person)

    async def already_sent(self, row: OutboxMessage, since: datetime) -> Sent | Held | None:
        """After a crash: did this row's send go out? One look at Twilio's messages to the number.

        Twilio has no idempotency key, but lists what was created: To and From this sender, DateSent from
        the claim's day (Twilio filters by whole days). A message counts when it was created at or after
        the claim, is not failed, and its SID is on no outbox row (a body the bot rendered twice to one
        person, sent earlier, is on its own row). Its body equal to the row's text (a WhatsApp row is one
        create: text and media together, so parts_sent is 0) means it went: Sent with that SID, so the
        status callbacks find the row. When the row would now go as a template (outside the window), the
        body is Twilio's rendering of it, so any such message counts: Sent for the row's own template, Held
        for the 'held' notice. Anything else (or none): None, and the worker sends it. Errors propagate:
        the worker sends then too."""
        after = since - CLOCK_MARGIN
        midnight = datetime.combine(after.astimezone(UTC).date(), time(), UTC)  # a day or a moment: the same filter
        page = await self.client.list_messages(  # one page: one call, whatever paging says
            to=f"whatsapp:{row.address}", from_=f"whatsapp:{self.sender}", date_sent_after=midnight,
            page_size=LOOK_LIMIT)
        listed = page.messages
        candidates = sorted((m for m in listed if m.sid and m.date_created is not None and m.date_created >= after
                             and str(m.status or "") not in FAILED and str(m.direction or "").startswith("outbound")),
                            key=lambda m: m.date_created or after)
        if not candidates:
            return None
        known = await self._known_sids(row.address, [str(m.sid) for m in candidates])
        candidates = [m for m in candidates if m.sid not in known]
        message = message_of(row)
        for candidate in candidates:
            if (candidate.body or "").strip() == message.text.strip():
                return Sent(str(candidate.sid), delivery_status=str(candidate.status or "") or None)
        if not candidates:
            return None
        person = await self._person(row.recipient_id)
        if person is None or not needs_template(person, message, datetime.now(UTC)):
            return None
        sid = str(candidates[0].sid)
        if message.template and message.template in self.templates:
            return Sent(sid, delivery_status=str(candidates[0].status or "") or None)
        return Held("outside the 24-hour window: template notice sent", external_id=sid)

    async def _known_sids(self, address: str, sids: list[str]) -> set[str]:
        async with self.sessions() as session:
            query = select(OutboxMessage.external_id).where(OutboxMessage.channel == Channel.WHATSAPP.value,
                                                            OutboxMessage.address == address,
                                                            OutboxMessage.external_id.in_(sids))
            return {str(sid) for sid in (await session.execute(query)).scalars()}

    async def _person(self, person_id: int | None) -> Person | None:
        if person_id is None:
            return None  # a reply to an unknown number answers their own message
        return await self.recipients.get(person_id)

    async def _send_outside_window(self, address: str, message: OutgoingPart, person: Person) -> str:
        own = message.template
        if own and own in self.templates:
            return await self._create(address, content_sid=self.templates[own],
                                      content_variables=json.dumps(dict(message.template_vars)))
        template = self.templates.get(HELD_TEMPLATE)
        if template is None:  # held either way: no look at earlier notices
            raise Held("no 'held' template configured; delivered when the person writes again")
        if await self._notice_pending(person.id):
            raise Held("a template notice already went out; waiting for the person to reply")
        first_name = person.name.split()[0] if person.name else ""
        sid = await self._create(address, content_sid=template, content_variables=json.dumps({"1": first_name}))
        raise Held("outside the 24-hour window: template notice sent", external_id=sid)

    async def _notice_pending(self, person_id: int) -> bool:
        """A held message whose notice went out: the person was told once, nothing more until they reply."""
        async with self.sessions() as session:
            await read_only_once(session)
            query = select(OutboxMessage.id).where(
                OutboxMessage.recipient_id == person_id, OutboxMessage.channel == Channel.WHATSAPP.value,
                OutboxMessage.status == OutboxStatus.HELD, OutboxMessage.external_id.is_not(None)).limit(1)
            return (await session.execute(query)).first() is not None

    async def _create(self, address: str, **fields: object) -> str:
        extra = {key: value for key, value in fields.items() if value is not None}
        if self.status_callback:
            extra["status_callback"] = self.status_callback
        try:
            message = await self.client.create_message(
                from_=f"whatsapp:{self.sender}", to=f"whatsapp:{address}", **extra)
        except TwilioRestException as error:
            raise outcome_of(error) from error
        except NETWORK_ERRORS as error:
            raise network_outcome(error) from error
        return str(message.sid)


def window_is_open(person: Person, now: datetime) -> bool:
    """WhatsApp allows free text only within 24 hours of the person's last message."""
    last = person.last_whatsapp_inbound_at
    return last is not None and now - last < WINDOW - WINDOW_MARGIN


def needs_template(person: Person, message: OutgoingPart, now: datetime) -> bool:
    """Outside the window, or Twilio refused free text (63016) and the person has not written since."""
    if not window_is_open(person, now):
        return True
    closed_at = message.window_closed_at
    last = person.last_whatsapp_inbound_at
    return closed_at is not None and last is not None and last <= closed_at
