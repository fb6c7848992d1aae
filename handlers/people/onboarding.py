"""Who is writing: match the sender to the roster, link Telegram by shared contact, consent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.consent import AGREED, DECLINED, consent_outdated, has_consent
from handlers.kernel.consent import record_consent as record_consent_decision
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.menu import show_main_menu
from handlers.kernel.messages import Button, Channel, Inbound, Outgoing
from handlers.kernel.phones import normalize_phone
from handlers.kernel.registry import action
from storage.models import AuditEntry, Person, UnknownContact


async def find_sender(session: AsyncSession, inbound: Inbound) -> Person | None:
    """The active roster person behind an inbound message, if already known on that channel.

    Someone who left the programme is an unknown number: their number may already be someone else's.
    """
    if inbound.address.channel == Channel.WHATSAPP:
        query = select(Person).where(Person.phone == inbound.address.id)
    else:
        query = select(Person).where(Person.telegram_user_id == inbound.sender_id)
    return (await session.execute(query.where(Person.is_active.is_(True)))).scalar_one_or_none()


async def link_telegram(session: AsyncSession, inbound: Inbound, config: Config) -> tuple[Person | None, list[Outgoing]]:
    """Handle an unlinked Telegram sender: match their own shared contact, or ask for it.

    Only a contact card Telegram vouches for as the sender's own (its user_id is the sender's) links
    an account: a card typed by hand or forwarded has another user_id or none, and changes nothing.
    """
    to = inbound.address
    if inbound.contact_phone is None:
        return None, [Outgoing(text=t("core.share_contact", config.language), to=to,
                               request_contact=True)]
    if not inbound.sender_id or inbound.contact_user_id != inbound.sender_id:
        key = "core.share_own_contact" if inbound.contact_user_id else "people.contact_not_verified"
        return None, [Outgoing(text=t(key, config.language), to=to, request_contact=True)]
    try:
        phone = normalize_phone(inbound.contact_phone)
    except ValueError:
        phone = None
    person = None
    if phone is not None:
        query = select(Person).where(Person.phone == phone, Person.is_active.is_(True))
        person = (await session.execute(query)).scalar_one_or_none()
    if person is None:
        return None, [await record_unknown(session, inbound, config, phone=phone)]
    await link_account(session, person, inbound.sender_id, inbound.address.id, inbound.received_at)
    return person, []


async def link_account(session: AsyncSession, person: Person, account: str, chat: str, now: datetime) -> None:
    """Link a Telegram account to a person, audited; an account held by someone else (who left) is moved."""
    holders = await session.execute(select(Person).where(Person.telegram_user_id == account, Person.id != person.id))
    for holder in holders.scalars():
        await unlink_telegram(session, holder, now, actor_id=None, source="relinked_elsewhere")
    await session.flush()
    previous = person.telegram_user_id
    person.telegram_user_id = account
    person.telegram_chat_id = chat
    person.preferred_channel = Channel.TELEGRAM.value
    action = "telegram_link" if previous is None else "telegram_relink"
    detail = {"channel": Channel.TELEGRAM.value, "account": account}
    if previous is not None:
        detail["previous_account"] = previous
    session.add(AuditEntry(at=now, actor_id=person.id, action=action, subject=f"person:{person.id}", detail=detail))


async def unlink_telegram(session: AsyncSession, person: Person, now: datetime, *, actor_id: int | None,
                          source: str) -> str | None:
    """Forget the person's Telegram account (audited); the account it was, or None if there was none."""
    account = person.telegram_user_id
    if account is None and person.telegram_chat_id is None:
        return None
    person.telegram_user_id = None
    person.telegram_chat_id = None
    if person.preferred_channel == Channel.TELEGRAM.value:
        person.preferred_channel = Channel.WHATSAPP.value
    person.updated_at = now
    session.add(AuditEntry(at=now, actor_id=actor_id, action="telegram_unlink", subject=f"person:{person.id}",
                           detail={"channel": Channel.TELEGRAM.value, "account": account, "source": source}))
    return account


async def record_unknown(session: AsyncSession, inbound: Inbound, config: Config, *,
                         phone: str | None = None) -> Outgoing:
    """Keep the unknown sender for the coordinator and tell them whom to contact."""
    channel, address = inbound.address.channel.value, inbound.address.id
    query = select(UnknownContact).where(UnknownContact.channel == channel, UnknownContact.address == address)
    contact = (await session.execute(query)).scalar_one_or_none()
    if contact is None:
        contact = UnknownContact(channel=channel, address=address, first_seen_at=inbound.received_at,
                                 last_seen_at=inbound.received_at, message_count=0)
        session.add(contact)
    contact.phone = phone or contact.phone or (address if channel == Channel.WHATSAPP else None)
    contact.display_name = inbound.sender_name[:200]
    contact.last_text = inbound.text[:500]
    contact.message_count += 1
    contact.last_seen_at = inbound.received_at
    return Outgoing(text=t("core.unknown_number", config.language, contact=config.coordinator_contact),
                    to=inbound.address)


def consent_buttons(language: str) -> tuple[Button, ...]:
    """Agree / decline."""
    return (Button(t("core.consent_yes", language), "consent:yes"),
            Button(t("core.consent_no", language), "consent:no"))


async def ask_consent(ctx: Context) -> None:
    """Ask for consent to process personal data (UU PDP); again when the text agreed to has changed."""
    if consent_outdated(ctx.person):
        ctx.reply("people.consent_changed")
    ctx.reply("core.consent_question", buttons=consent_buttons(ctx.lang),
              name=ctx.person.name, programme=ctx.config.programme_name)


@action("consent")
async def record_consent(ctx: Context, answer: str) -> None:
    """Store the answer with the text version, channel and time; without consent nothing else proceeds."""
    given = answer == "yes"
    if given and has_consent(ctx.person):
        await show_main_menu(ctx)
        return
    record_consent_decision(ctx.session, ctx.person, given=given, action=AGREED if given else DECLINED,
                            channel=ctx.inbound.address.channel.value, now=ctx.now)
    if given:
        ctx.reply("core.consent_thanks", name=ctx.person.name)
        await show_main_menu(ctx)
    else:
        ctx.reply("core.consent_declined", contact=ctx.config.coordinator_contact)

