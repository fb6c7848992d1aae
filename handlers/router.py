"""One inbound message, start to finish: identify, guard, dispatch, collect replies."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, exists, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.attributes import set_committed_value

from handlers import features  # noqa: F401  (registers every command, action and flow)
from handlers.activities.attendance import check_in_by_bare_code
from handlers.activities.leave import offer_leave
from handlers.consultation.answers import offer_staff_draft, post_answer
from handlers.consultation.questions import ask_question
from handlers.consultation.ticketing import load_open_tickets, ticket_for_staff
from handlers.kernel.cohorts import is_alumnus, local_day
from handlers.kernel.config import Config
from handlers.kernel.consent import consent_outdated, has_consent
from handlers.kernel.context import Context, Routes
from handlers.kernel.intents import (
    is_acknowledgement,
    is_leave_request,
    is_no,
    is_yes,
    only_fillers,
    words,
)
from handlers.kernel.menu import meant_command, offer_meant_command
from handlers.kernel.messages import Channel, Inbound, Outgoing
from handlers.kernel.outbox import NO_MENU, enqueue_all, menu_choice, options_shown, owe_in_bulk
from handlers.kernel.parking import keep_as_draft, offer_once, offer_parked
from handlers.kernel.reachability import release_held
from handlers.kernel.registry import ACTIONS, COMMANDS, FLOWS, traits_of
from handlers.kernel.roles import is_participant
from handlers.kernel.rules import SharedRules
from handlers.kernel.state import clear_state, get_state, park, remember_absent
from handlers.people.onboarding import (
    ask_consent,
    consent_buttons,
    find_sender,
    link_telegram,
    record_unknown,
)
from handlers.privacy.groups import answer_group_once, group_message_trace
from handlers.privacy.rights import handle_privacy_request
from storage.models import (
    ConversationState,
    InboxItem,
    Menu,
    OutboxMessage,
    OutboxStatus,
    ParkedFlow,
    Person,
    Role,
)

log = logging.getLogger(__name__)

SENDERS, NONE_HELD = "klinik.senders", "klinik.none_held"  # filled by load_senders
# An inbox batch holds what it loads or writes until it ends: the identity map holds objects weakly, so a
# person's flow, menu or mentor loaded for one message would otherwise be read again by the next. Capped:
# a message that reads a whole programme (a report) must not keep it all in memory.
KEEP, KEEP_AT_MOST = "klinik.keep", 2000
ACTIVITY, PROCESSED = "klinik.activity", "klinik.processed"  # see _write_batch_marks
CANCEL_WORDS = frozenset({"batal", "cancel", "/batal", "/cancel", "stop", "keluar"})
CANCEL_PHRASES = frozenset({"gak jadi", "ga jadi", "gk jadi", "nggak jadi", "ngga jadi", "tidak jadi", "tdk jadi",
                            "batal aja", "batal deh", "batal kak", "ga jadi deh", "gak jadi deh", "ga jadi kak",
                            "gak jadi kak", "batalkan", "cancel aja"})
STAFF_HINT_KEYS: dict[str, str] = {
    Role.PENDAMPING: "core.staff_hint_pendamping", Role.NARASUMBER: "core.staff_hint_narasumber",
    Role.KOORDINATOR: "core.staff_hint_koordinator"}


async def process_inbound(session: AsyncSession, inbound: Inbound, now: datetime, config: Config) -> list[Outgoing]:
    """Handle one inbound message and return what the bot owes in reply."""
    if not inbound.is_private:
        return await answer_group_once(session, inbound, config)  # serves no one, records nothing
    person = known_sender(session, inbound) or await find_sender(session, inbound)
    if person is None and inbound.address.channel == Channel.TELEGRAM:
        person, replies = await link_telegram(session, inbound, config)
        if person is None:
            return replies
    elif person is None:
        return [await record_unknown(session, inbound, config)]
    ctx = Context(session=session, inbound=inbound, now=now, config=config, person=person, routes=ROUTES)
    await note_activity(ctx)
    await dispatch(ctx)
    if has_consent(ctx.person):
        await offer_parked(ctx)
    return ctx.out


async def note_activity(ctx: Context) -> None:
    """Remember when and where the person last wrote (WhatsApp's 24-hour window starts here)."""
    person, channel = ctx.person, ctx.inbound.address.channel
    activity: dict[int, dict[str, Any]] | None = ctx.session.info.get(ACTIVITY)
    if activity is not None and inspect(person).persistent:  # an inbox batch: written at its commit
        set_committed_value(person, "last_inbound_at", ctx.now)
        if channel == Channel.WHATSAPP:
            set_committed_value(person, "last_whatsapp_inbound_at", ctx.now)
        activity[person.id] = {"person": person.id, "seen": ctx.now, "seen_whatsapp": person.last_whatsapp_inbound_at}
    else:
        person.last_inbound_at = ctx.now
        if channel == Channel.WHATSAPP:
            person.last_whatsapp_inbound_at = ctx.now
    if person.preferred_channel != channel.value:  # unchanged attributes are not set: nothing to flush
        person.preferred_channel = channel.value
    if person.unreachable_reason is not None:
        person.unreachable_reason = None
    if channel == Channel.WHATSAPP and person.id not in ctx.session.info.get(NONE_HELD, ()):
        await release_held(ctx.session, person.id, ctx.now)
    if channel == Channel.TELEGRAM and person.telegram_chat_id != ctx.inbound.address.id:
        person.telegram_chat_id = ctx.inbound.address.id


async def dispatch(ctx: Context) -> None:
    """Route by consent, cancel, button, reply-to, command, open flow, then role default."""
    if ctx.inbound.unsupported:
        ctx.reply("core.unsupported", kind=ctx.inbound.unsupported)
        return
    payload = ctx.inbound.payload or await menu_choice(ctx.session, ctx.inbound.address, ctx.text)
    if payload is not None and payload.startswith("pdp:"):
        await run_action(ctx, payload)  # withdrawal and erasure choices, with or without consent
        return
    if await handle_privacy_request(ctx, payload):
        return
    if not has_consent(ctx.person):
        await guard_consent(ctx, payload)
        return
    if is_cancel(ctx.text):
        cleared = await clear_state(ctx.session, ctx.person.id)
        ctx.reply("core.cancelled" if cleared else "core.nothing_to_cancel")
        return
    if payload is not None:
        await run_action(ctx, payload)
        return
    if await answer_by_reply(ctx):
        return
    state = await open_state(ctx)
    word = command_word(ctx.text, in_flow=state is not None,
                        takes_any_text=state is not None and traits_of(state.flow).takes_any_text)
    if word is not None and is_participants_question(ctx, word):
        word = None
    if word is not None:
        await run_command(ctx, word)
        return
    await continue_flow_or_default(ctx)


def is_cancel(text: str) -> bool:
    """"batal", "/batal", "gak jadi", "ga jadi deh": leave the open form."""
    lowered = " ".join(words(text))
    return text.strip().lower() in CANCEL_WORDS or lowered in CANCEL_PHRASES


async def open_state(ctx: Context) -> ConversationState | None:
    """The person's open flow; one idle past the configured time is parked (or dropped) first."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is None:
        return None
    traits = traits_of(state.flow)
    idle = ctx.now - state.updated_at > timedelta(minutes=ctx.config.form_idle_minutes)
    if not (idle and traits.expires):
        return state
    if traits.keeps:
        await offer_once(ctx, park(ctx.session, state, ctx.now))
    await clear_state(ctx.session, ctx.person.id)
    return None


async def guard_consent(ctx: Context, payload: str | None) -> None:
    """Nothing proceeds before consent; a question sent before it is kept and offered back after."""
    choice = payload
    typed = None if ctx.text.startswith("/") else ctx.text  # "/lanjut" is a command, not "lanjut, setuju"
    if typed is not None and choice is None and is_yes(typed):
        choice = "consent:yes"
    elif typed is not None and choice is None and is_no(typed):
        choice = "consent:no"
    if choice in ("consent:yes", "consent:no"):
        await run_action(ctx, choice)
        return
    if is_participant(ctx.person) and (ctx.inbound.attachments or is_worth_keeping(ctx.text)):
        keep_as_draft(ctx)  # offered back after consent; asked again briefly (the full text was shown before)
        if not consent_outdated(ctx.person):  # a changed consent text is shown in full
            ctx.reply("core.consent_kept", buttons=consent_buttons(ctx.lang))
            return
    await ask_consent(ctx)


def is_worth_keeping(text: str) -> bool:
    """Text that may be a question: not a greeting or thanks, an option number or a command word."""
    stripped = text.strip()
    if len(stripped) < 3 or stripped.isdigit() or is_acknowledgement(stripped):
        return False
    return command_word(stripped) is None


def command_word(text: str, *, in_flow: bool = False, takes_any_text: bool = False) -> str | None:
    """The command a message unambiguously asks for, or None when it is free text.

    A slash command always counts (and is refused if the role may not use it). A bare word counts
    only when the message is exactly that word, or the word followed by arguments in the command's
    own shape ("buka 12", not "buka cabang baru"); the router then refuses it if the role may not
    use it. A flow that takes any text (a mentor's answer) is interrupted by slash commands only.
    """
    stripped = text.strip()
    if not stripped:
        return None
    first, _, rest = stripped.partition(" ")
    is_slash = first.startswith("/")
    word = first.lstrip("/").split("@", 1)[0].lower()
    if is_slash:
        return word
    entry = COMMANDS.get(word)
    if takes_any_text or entry is None or (in_flow and not entry.in_flows):
        return None
    return word if entry.accepts(rest.strip()) or only_fillers(rest) else None  # "antrian dong"


def is_participants_question(ctx: Context, word: str) -> bool:
    """"ringkasan penjualan…", "cuti bersama…", "izin": a staff word a participant means otherwise."""
    entry = COMMANDS.get(word)
    if not is_participant(ctx.person) or entry is None or Role(ctx.person.role) in entry.roles:
        return False
    if ctx.text.startswith("/"):
        return False
    return len(ctx.text.split()) > 1 or is_leave_request(ctx.text)


async def run_command(ctx: Context, word: str) -> None:
    """Run a command if the person's role allows it."""
    entry = COMMANDS.get(word)
    if entry is None:
        if meant := meant_command(word, ctx.person.role):  # "/presnsi"
            await offer_meant_command(ctx, meant)
            return
        ctx.reply("core.unknown_command")
        return
    if Role(ctx.person.role) not in entry.roles:
        ctx.reply("core.not_allowed")
        return
    await entry.handler(ctx)


async def run_action(ctx: Context, payload: str) -> None:
    """Run a button action if the role allows it; stale or forged payloads get a hint."""
    prefix, _, argument = payload.partition(":")
    entry = ACTIONS.get(prefix)
    if entry is None:
        ctx.reply("core.unknown_button")
        return
    if Role(ctx.person.role) not in entry.roles:
        ctx.reply("core.not_allowed")
        return
    await entry.handler(ctx, argument)


async def answer_by_reply(ctx: Context) -> bool:
    """On Telegram a mentor answers by replying to the bot's notification."""
    external = ctx.inbound.reply_to_external_id
    if external is None or ctx.person.role == Role.PESERTA:
        return False
    query = select(OutboxMessage.ref).where(
        OutboxMessage.channel == ctx.inbound.address.channel.value,
        OutboxMessage.address == ctx.inbound.address.id,
        OutboxMessage.external_id == external)
    ref = (await ctx.session.execute(query)).scalars().first()
    if ref is None or not ref.startswith("ticket:"):
        return False
    ticket = await ticket_for_staff(ctx, ref.split(":", 1)[1])
    if ticket is not None:
        await post_answer(ctx, ticket)
    return True


async def continue_flow_or_default(ctx: Context) -> None:
    """Free text goes to the open flow; otherwise a participant asks, staff get a hint."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is not None and state.flow in FLOWS:
        await FLOWS[state.flow](ctx)
        return
    if not ctx.inbound.attachments and (meant := meant_command(ctx.text, ctx.person.role)):  # "presnsi"
        await offer_meant_command(ctx, meant)
        return
    if ctx.person.role != Role.PESERTA:
        if not await offer_staff_draft(ctx):
            ctx.reply(STAFF_HINT_KEYS[ctx.person.role])
        return
    if await check_in_by_bare_code(ctx):
        return
    if ctx.text.isdigit() and len(ctx.text) <= 2 and not ctx.inbound.attachments:
        await answer_stray_number(ctx)  # an option number is not a question
        return
    if is_leave_request(ctx.text) and not ctx.inbound.attachments:
        await offer_leave(ctx)
        return
    if not ctx.config.rules(SharedRules).alumni_may_ask and await is_alumnus(
            ctx.session, ctx.person, local_day(ctx.now, ctx.config.timezone)):
        ctx.reply("core.programme_ended", name=ctx.person.name, programme=ctx.config.programme_name,
                  contact=ctx.config.coordinator_contact)
        return
    await ask_question(ctx)


async def answer_stray_number(ctx: Context) -> None:
    """"5" when the options shown go to 3: say which numbers there are; with none shown, that it expired."""
    count = len(await options_shown(ctx.session, ctx.inbound.address))
    if count == 1:
        ctx.reply("core.option_not_shown_one", number=ctx.text, keeps_options=True)
    elif count:
        ctx.reply("core.option_not_shown", number=ctx.text, count=count, keeps_options=True)
    else:
        ctx.reply("core.unknown_button")


ROUTES = Routes(free_text=continue_flow_or_default, command=run_command)


# Built once (a statement's construction and cache key cost more than SQLite's work on it)
SENDERS_QUERY = (
    select(Person, ConversationState, exists().where(ParkedFlow.person_id == Person.id),
           exists().where(OutboxMessage.recipient_id == Person.id, OutboxMessage.status == OutboxStatus.HELD,
                          OutboxMessage.channel == Channel.WHATSAPP.value))
    .outerjoin(ConversationState, ConversationState.person_id == Person.id)
    .where(Person.is_active.is_(True), or_(Person.phone.in_(bindparam("phones", expanding=True)),
                                           Person.telegram_user_id.in_(bindparam("telegram_ids", expanding=True)))))
MENUS_QUERY = select(Menu).where(Menu.channel == Channel.WHATSAPP.value,
                                 Menu.address.in_(bindparam("phones", expanding=True)))


async def load_senders(session: AsyncSession, items: Sequence[InboxItem]) -> None:
    """One query for the people behind these inbox items, with whether each has a flow open, something
    parked or WhatsApp messages held; the router then asks the database none of it again."""
    inbounds = [Inbound.from_json(item.payload) for item in items]
    phones = {i.address.id for i in inbounds if i.is_private and i.address.channel == Channel.WHATSAPP}
    telegram_ids = {i.sender_id for i in inbounds if i.is_private and i.address.channel == Channel.TELEGRAM}
    telegram_ids.discard("")
    kept: list[object] = []
    session.info[KEEP] = kept
    session.info.setdefault(ACTIVITY, {})
    session.info.setdefault(PROCESSED, [])
    owe_in_bulk(session)  # the batch's replies: one INSERT
    if not phones and not telegram_ids:
        return
    found: dict[tuple[str, str], list[Person]] = {}
    no_state: set[int] = set()
    no_parked: set[int] = set()
    rows = await session.execute(SENDERS_QUERY, {"phones": sorted(phones), "telegram_ids": sorted(telegram_ids)})
    for person, state, parked, held in rows.all():
        kept += (person, state) if state is not None else (person,)
        for channel, address in ((Channel.WHATSAPP, person.phone), (Channel.TELEGRAM, person.telegram_user_id)):
            if address:
                found.setdefault((channel.value, address), []).append(person)
        if state is None:
            no_state.add(person.id)
        if not parked:
            no_parked.add(person.id)
        if not held:
            session.info.setdefault(NONE_HELD, set()).add(person.id)
    session.info[SENDERS] = {key: people[0] for key, people in found.items() if len(people) == 1}
    remember_absent(session, states=no_state, parked=no_parked)
    await load_open_tickets(session, [p.id for p in kept if isinstance(p, Person) and p.role == Role.PESERTA])
    # The options shown are read only to map a reply like "2" (and written at the commit: kernel/menus.py)
    choosing = {i.address.id for i in inbounds if i.is_private and i.address.channel == Channel.WHATSAPP
                and i.payload is None and i.text.strip().isdigit()}
    if choosing:
        found_menus = list((await session.execute(MENUS_QUERY, {"phones": sorted(choosing)})).scalars())  # kept
        kept += found_menus
        session.info.setdefault(NO_MENU, set()).update(choosing - {menu.address for menu in found_menus})


def known_sender(session: AsyncSession, inbound: Inbound) -> Person | None:
    """The person load_senders found for this inbound, if they are still who it names."""
    if not inbound.is_private:
        return None
    channel = inbound.address.channel
    key = inbound.address.id if channel == Channel.WHATSAPP else inbound.sender_id
    person: Person | None = session.info.get(SENDERS, {}).get((channel.value, key))
    if person is None or not person.is_active:
        return None
    return person if (person.phone if channel == Channel.WHATSAPP else person.telegram_user_id) == key else None


@event.listens_for(Session, "after_transaction_end")
def _forget_senders(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint ended: the transaction goes on
    session.info.pop(SENDERS, None)
    session.info.pop(NONE_HELD, None)
    session.info.pop(KEEP, None)
    session.info.pop(ACTIVITY, None)  # written before the commit; dropped with a rollback
    session.info.pop(PROCESSED, None)


@event.listens_for(Session, "loaded_as_persistent")
@event.listens_for(Session, "pending_to_persistent")
def _keep(session: Session, instance: object) -> None:
    kept = session.info.get(KEEP)
    if kept is not None and len(kept) < KEEP_AT_MOST:
        kept.append(instance)


async def handle_inbox_item(session: AsyncSession, item: InboxItem, now: datetime, config: Config) -> None:
    """Process one stored inbound in the caller's transaction and queue every reply."""
    inbound = Inbound.from_json(item.payload)
    replies = await process_inbound(session, inbound, now, config)
    await enqueue_all(session, replies, now, config)
    processed: list[dict[str, Any]] | None = session.info.get(PROCESSED)
    if processed is not None and inbound.is_private and inspect(item).persistent:  # written at the commit
        set_committed_value(item, "processed_at", now)
        processed.append({"item": item.id, "at": now})
        return
    item.processed_at = now
    if not inbound.is_private:
        item.payload = group_message_trace(inbound)


# An inbox batch writes the people's last activity and the items' processed_at once, before its commit (two
# statements for the batch instead of two per message; nothing in the batch reads them from the database).
PEOPLE, INBOX = cast(Table, Person.__table__), cast(Table, InboxItem.__table__)
MARK_ACTIVITY = (update(PEOPLE).where(PEOPLE.c.id == bindparam("person"))
                 .values(last_inbound_at=bindparam("seen"), last_whatsapp_inbound_at=bindparam("seen_whatsapp")))
MARK_PROCESSED = update(INBOX).where(INBOX.c.id == bindparam("item")).values(processed_at=bindparam("at"))


@event.listens_for(Session, "before_commit")
def _write_batch_marks(session: Session) -> None:
    activity: dict[int, dict[str, Any]] | None = session.info.pop(ACTIVITY, None)
    processed: list[dict[str, Any]] | None = session.info.pop(PROCESSED, None)
    if activity:
        session.execute(MARK_ACTIVITY, list(activity.values()))
    if processed:
        session.execute(MARK_PROCESSED, processed)
