"""Who is writing: match the sender to the roster, link Telegram by shared contact, consent."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.menu import show_main_menu
from handlers.kernel.messages import Button, Channel, Inbound, Outgoing
from handlers.kernel.phones import normalize_phone
from handlers.kernel.registry import action
from storage.models import AuditEntry, Person, UnknownContact


async def find_sender(session: AsyncSession, inbound: Inbound) -> Person | None:
    """The roster person behind an inbound message, if already known on that channel."""
    if inbound.address.channel == Channel.WHATSAPP:
        query = select(Person).where(Person.phone == inbound.address.id)
    else:
        query = select(Person).where(Person.telegram_user_id == inbound.sender_id)
    return (await session.execute(query)).scalar_one_or_none()


async def link_telegram(session: AsyncSession, inbound: Inbound, config: Config) -> tuple[Person | None, list[Outgoing]]:
    """Handle an unlinked Telegram sender: match a shared contact, or ask for it."""
    to = inbound.address
    if inbound.contact_phone is None:
        return None, [Outgoing(text=t("core.share_contact", config.language), to=to,
                               request_contact=True)]
    if inbound.contact_user_id and inbound.contact_user_id != inbound.sender_id:
        return None, [Outgoing(text=t("core.share_own_contact", config.language), to=to,
                               request_contact=True)]
    try:
        phone = normalize_phone(inbound.contact_phone)
    except ValueError:
        phone = None
    person = None
    if phone is not None:
        person = (await session.execute(select(Person).where(Person.phone == phone))).scalar_one_or_none()
    if person is None:
        return None, [await record_unknown(session, inbound, config, phone=phone)]
    person.telegram_user_id = inbound.sender_id
    person.telegram_chat_id = inbound.address.id
    person.preferred_channel = Channel.TELEGRAM.value
    return person, []


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
    """Ask once for consent to process personal data (UU PDP)."""
    ctx.reply("core.consent_question", buttons=consent_buttons(ctx.lang),
              name=ctx.person.name, programme=ctx.config.programme_name)


@action("consent")
async def record_consent(ctx: Context, answer: str) -> None:
    """Store the consent answer with time; without consent nothing else proceeds."""
    given = answer == "yes"
    if given and ctx.person.consent_given:
        await show_main_menu(ctx)
        return
    ctx.person.consent_given = given
    ctx.person.consent_at = ctx.now
    ctx.session.add(AuditEntry(at=ctx.now, actor_id=ctx.person.id, action="consent",
                               subject=f"person:{ctx.person.id}", detail={"given": given}))
    if given:
        ctx.reply("core.consent_thanks", name=ctx.person.name)
        await show_main_menu(ctx)
    else:
        ctx.reply("core.consent_declined", contact=ctx.config.coordinator_contact)

