"""Writing what the bot owes someone into the outbox, in the caller's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, event, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import ORMExecuteState, Session, SessionTransaction

from handlers.kernel import menus
from handlers.kernel.config import Config
from handlers.kernel.i18n import t
from handlers.kernel.messages import Address, Channel, Outgoing, OutgoingPart
from handlers.kernel.numbers import option_number
from storage.models import Menu, OutboxMessage, OutboxStatus, Person


def address_of(person: Person) -> Address:
    """The chat where a person is reached: the channel they last used, else what they have."""
    on_telegram = person.telegram_chat_id is not None
    if person.preferred_channel == Channel.TELEGRAM and on_telegram:
        return Address(Channel.TELEGRAM, str(person.telegram_chat_id))
    if person.preferred_channel != Channel.WHATSAPP and on_telegram:
        return Address(Channel.TELEGRAM, str(person.telegram_chat_id))
    return Address(Channel.WHATSAPP, person.phone)


def split_text(text: str, limit: int) -> list[str]:
    """Split at paragraph, line or word boundaries so no part exceeds limit; never drop text."""
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[:limit]
        cut = max(window.rfind("\n\n"), window.rfind("\n"), window.rfind(" "))
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    parts.append(rest)
    return [part for part in parts if part] or [""]


def render_options(message: Outgoing, language: str) -> str:
    """WhatsApp has no inline buttons: list them as numbered replies under the text."""
    lines = [f"{number}. {button.label}" for number, button in enumerate(message.buttons, 1)]
    count = len(message.buttons)
    hint = t("core.options_hint", language, last=count) if count > 1 else t("core.options_hint_one", language)
    return message.text + "\n\n" + "\n".join(lines) + "\n" + hint


def message_of(row: OutboxMessage) -> OutgoingPart:
    """The message an outbox row holds (rows of any age)."""
    return OutgoingPart.from_json(row.payload)


def store_message(row: OutboxMessage, message: OutgoingPart) -> None:
    """Replace the message an outbox row holds."""
    row.payload = message.to_json()


# session.info: WhatsApp numbers known to have no options stored, for the rest of the transaction (filled by
# the inbox's bulk load; options this transaction shows are read from kernel/menus.py first)
NO_MENU = "klinik.no_menu"


# session.info: the outbox rows of an inbox batch not written yet (see owe_in_bulk)
OWED, OWED_AT_SAVEPOINT = "klinik.owed", "klinik.owed_at_savepoint"
OUTBOX = cast(Table, OutboxMessage.__table__)


def owe_in_bulk(session: AsyncSession) -> None:
    """Until this transaction ends, enqueue collects its rows and writes them in one INSERT: before any
    statement on the outbox table (so every reader sees them, in order), and at the latest before the commit.
    Code that writes outbox rows bypassing the session (storage.bulk) calls write_owed first."""
    session.info.setdefault(OWED, [])


async def write_owed(session: AsyncSession) -> None:
    """Write the rows enqueue collected (owe_in_bulk), if any, now."""
    if session.info.get(OWED):
        await session.run_sync(_write_owed)


def _write_owed(session: Session) -> None:
    rows = session.info.get(OWED)
    if rows:
        session.info[OWED] = []
        session.execute(insert(OUTBOX), rows)


@event.listens_for(Session, "do_orm_execute")
def _owed_before_outbox(state: ORMExecuteState) -> None:
    if not state.session.info.get(OWED):
        return
    mapper = state.bind_mapper  # the statement's first entity; None for Core table statements and text
    table = mapper.local_table if mapper is not None else getattr(state.statement, "table", None)
    if table is None or table is OUTBOX:
        _write_owed(state.session)


@event.listens_for(Session, "before_commit")
def _owed_before_commit(session: Session) -> None:
    _write_owed(session)


@event.listens_for(Session, "after_transaction_create")
def _owed_at_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested and OWED in session.info:
        session.info.setdefault(OWED_AT_SAVEPOINT, {})[id(transaction)] = list(session.info[OWED])


@event.listens_for(Session, "after_soft_rollback")
def _owed_back_to_savepoint(session: Session, previous: SessionTransaction) -> None:
    owed = session.info.get(OWED_AT_SAVEPOINT, {}).pop(id(previous), None)
    if previous.nested and owed is not None:
        # what was owed then is owed again (written inside the savepoint, it was rolled back with it);
        # replies owed inside the savepoint are not
        session.info[OWED] = owed


async def enqueue(session: AsyncSession, message: Outgoing, now: datetime, config: Config) -> None:
    """Write one outgoing message as outbox rows (split to the channel's length limit)."""
    person = await session.get(Person, message.person_id) if message.person_id else None
    address = message.to or (address_of(person) if person else None)
    if address is None:
        raise ValueError("an outgoing message needs a person or an address")
    language = (person.language if person else None) or config.language
    text = message.text
    # Options and splitting happen here, not in the senders: the WhatsApp menu is stored in this transaction.
    if address.channel == Channel.WHATSAPP and not message.keeps_options:
        # A digit answers the options of the latest message only; a message without options clears them.
        menus.remember(session, address, [b.payload for b in message.buttons], now)  # written at the commit
        if message.buttons:
            text = render_options(message, language)
    limit = config.telegram_text_limit if address.channel == Channel.TELEGRAM else config.whatsapp_text_limit
    parts = split_text(text, limit)
    owed: list[dict[str, Any]] | None = session.info.get(OWED)
    for index, text_part in enumerate(parts, 1):
        part = OutgoingPart(text=text_part, part=index, parts=len(parts))
        if index == len(parts):
            part = replace(part, buttons=message.buttons, attachments=message.attachments,
                           request_contact=message.request_contact, template=message.template,
                           template_vars=dict(message.template_vars))
        row = {"channel": address.channel.value, "address": address.id, "recipient_id": message.person_id,
               "payload": part.to_json(), "ref": message.ref, "status": OutboxStatus.PENDING.value,
               "attempts": 0, "parts_sent": 0, "created_at": now, "next_attempt_at": now}
        if owed is not None:
            owed.append(row)
        else:
            session.add(OutboxMessage(**row))


async def enqueue_all(session: AsyncSession, messages: list[Outgoing], now: datetime, config: Config) -> None:
    """Write every message in order."""
    recipients = await _preload(session, messages) if len(messages) > 20 else []
    for message in messages:
        await enqueue(session, message, now, config)
    del recipients  # held until here: the session's identity map keeps objects only while they are referenced


async def _preload(session: AsyncSession, messages: list[Outgoing]) -> list[Person]:
    # A job may owe thousands of messages: load the recipients in a few queries, so each enqueue finds
    # them in the identity map instead of flushing and querying per message.
    ids = sorted({m.person_id for m in messages if m.person_id is not None})
    people: list[Person] = []
    for chunk in _chunks(ids, 500):
        people += (await session.execute(select(Person).where(Person.id.in_(chunk)))).scalars().all()
    return people


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@event.listens_for(Session, "after_transaction_end")
def _forget_menus(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(NO_MENU, None)
        session.info.pop(OWED, None)  # written before the commit; dropped with a rollback
        session.info.pop(OWED_AT_SAVEPOINT, None)


async def menu_choice(session: AsyncSession, address: Address, text: str) -> str | None:
    """The payload a WhatsApp reply like "2" picks from the last options shown, if any."""
    if not text.strip().isdigit():
        return None
    payloads = await options_shown(session, address)
    number = option_number(text, len(payloads)) if payloads else None
    return None if number is None else str(payloads[number - 1])


async def options_shown(session: AsyncSession, address: Address) -> list[str]:
    """The payloads of the last numbered options shown to this WhatsApp address (none on Telegram)."""
    payloads = menus.shown(session, address)  # shown by this transaction, not written yet
    if payloads is not None:
        return payloads
    if address.channel != Channel.WHATSAPP or address.id in session.info.get(NO_MENU, ()):
        return []
    menu = await session.get(Menu, (address.channel.value, address.id))
    return list(menu.payloads) if menu is not None else []
