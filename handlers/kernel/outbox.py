"""Writing what the bot owes someone into the outbox, in the caller's transaction."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

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


WITHOUT_MENU = "numbers_without_menu"  # session.info: WhatsApp numbers known to have no options stored


async def enqueue(session: AsyncSession, message: Outgoing, now: datetime, config: Config) -> list[OutboxMessage]:
    """Write one outgoing message as outbox rows (split to the channel's length limit)."""
    person = await session.get(Person, message.person_id) if message.person_id else None
    address = message.to or (address_of(person) if person else None)
    if address is None:
        raise ValueError("an outgoing message needs a person or an address")
    language = (person.language if person else None) or config.language
    text = message.text
    # Options and splitting happen here, not in the senders: the WhatsApp menu is stored in this transaction.
    if address.channel == Channel.WHATSAPP:
        # A digit answers the options of the latest message only; a message without options clears them.
        await _remember_menu(session, address, [b.payload for b in message.buttons], now)
        if message.buttons:
            text = render_options(message, language)
    limit = config.telegram_text_limit if address.channel == Channel.TELEGRAM else config.whatsapp_text_limit
    parts = split_text(text, limit)
    rows = []
    for index, text_part in enumerate(parts, 1):
        part = OutgoingPart(text=text_part, part=index, parts=len(parts))
        if index == len(parts):
            part = replace(part, buttons=message.buttons, attachments=message.attachments,
                           request_contact=message.request_contact, template=message.template,
                           template_vars=dict(message.template_vars))
        rows.append(OutboxMessage(
            channel=address.channel.value, address=address.id, recipient_id=message.person_id,
            payload=part.to_json(), ref=message.ref, status=OutboxStatus.PENDING,
            created_at=now, next_attempt_at=now,
        ))
    session.add_all(rows)
    return rows


async def enqueue_all(session: AsyncSession, messages: list[Outgoing], now: datetime, config: Config) -> None:
    """Write every message in order."""
    if len(messages) > 20:
        await _preload(session, messages)
    try:
        for message in messages:
            await enqueue(session, message, now, config)
    finally:
        session.info.pop(WITHOUT_MENU, None)


async def _preload(session: AsyncSession, messages: list[Outgoing]) -> None:
    # A job may owe thousands of messages: load recipients and their menus in a few queries, so
    # each enqueue finds them in the identity map instead of flushing and querying per message.
    ids = {m.person_id for m in messages if m.person_id is not None}
    people: list[Person] = []
    for chunk in _chunks(sorted(ids), 500):
        people += (await session.execute(select(Person).where(Person.id.in_(chunk)))).scalars().all()
    phones = [p.phone for p in people]
    found: set[str] = set()
    for chunk in _chunks(phones, 500):
        query = select(Menu).where(Menu.channel == Channel.WHATSAPP.value, Menu.address.in_(chunk))
        found.update(menu.address for menu in (await session.execute(query)).scalars())
    session.info[WITHOUT_MENU] = set(phones) - found


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


async def _remember_menu(session: AsyncSession, address: Address, payloads: list[str], now: datetime) -> None:
    # Written when the transaction commits, in key order with every other number's options (kernel/menus.py).
    menus.remember(session, address, payloads, now)


async def menu_choice(session: AsyncSession, address: Address, text: str) -> str | None:
    """The payload a WhatsApp reply like "2" picks from the last options shown, if any."""
    if not text.strip().isdigit():
        return None
    payloads = menus.shown(session, address)  # shown by this transaction, not written yet
    if payloads is None:
        menu = await session.get(Menu, (address.channel.value, address.id))
        payloads = list(menu.payloads) if menu is not None else []
    number = option_number(text, len(payloads)) if payloads else None
    return None if number is None else str(payloads[number - 1])
