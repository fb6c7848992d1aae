"""One inbound message, start to finish: identify, guard, dispatch, collect replies."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers import features  # noqa: F401  (registers every command, action and flow)
from handlers.activities.attendance import check_in_by_bare_code
from handlers.consultation.answers import post_answer
from handlers.consultation.questions import ask_question
from handlers.consultation.ticketing import ticket_for_staff
from handlers.kernel.config import Config
from handlers.kernel.context import Context, Routes
from handlers.kernel.messages import Channel, Inbound, Outgoing
from handlers.kernel.outbox import enqueue_all, menu_choice
from handlers.kernel.reachability import release_held
from handlers.kernel.registry import ACTIONS, COMMANDS, FLOWS
from handlers.kernel.state import clear_state, get_state
from handlers.people.onboarding import ask_consent, find_sender, link_telegram, record_unknown
from storage.models import InboxItem, OutboxMessage, Role

log = logging.getLogger(__name__)

CANCEL_WORDS = frozenset({"batal", "cancel", "/batal", "/cancel"})
STAFF_HINT_KEYS: dict[str, str] = {
    Role.PENDAMPING: "core.staff_hint_pendamping", Role.NARASUMBER: "core.staff_hint_narasumber",
    Role.KOORDINATOR: "core.staff_hint_koordinator"}


async def process_inbound(session: AsyncSession, inbound: Inbound, now: datetime, config: Config) -> list[Outgoing]:
    """Handle one inbound message and return what the bot owes in reply."""
    person = await find_sender(session, inbound)
    if person is None and inbound.address.channel == Channel.TELEGRAM:
        person, replies = await link_telegram(session, inbound, config)
        if person is None:
            return replies
    elif person is None:
        return [await record_unknown(session, inbound, config)]
    ctx = Context(session=session, inbound=inbound, now=now, config=config, person=person, routes=ROUTES)
    await note_activity(ctx)
    await dispatch(ctx)
    return ctx.out


async def note_activity(ctx: Context) -> None:
    """Remember when and where the person last wrote (WhatsApp's 24-hour window starts here)."""
    person, channel = ctx.person, ctx.inbound.address.channel
    person.last_inbound_at = ctx.now
    person.preferred_channel = channel.value
    person.unreachable_reason = None
    if channel == Channel.WHATSAPP:
        person.last_whatsapp_inbound_at = ctx.now
        await release_held(ctx.session, person.id, ctx.now)
    if channel == Channel.TELEGRAM:
        person.telegram_chat_id = ctx.inbound.address.id


async def dispatch(ctx: Context) -> None:
    """Route by consent, cancel, button, reply-to, command, open flow, then role default."""
    if ctx.inbound.unsupported:
        ctx.reply("core.unsupported", kind=ctx.inbound.unsupported)
        return
    payload = ctx.inbound.payload or await menu_choice(ctx.session, ctx.inbound.address, ctx.text)
    if not ctx.person.consent_given:
        await guard_consent(ctx, payload)
        return
    if ctx.text.lower() in CANCEL_WORDS:
        cleared = await clear_state(ctx.session, ctx.person.id)
        ctx.reply("core.cancelled" if cleared else "core.nothing_to_cancel")
        return
    if payload is not None:
        await run_action(ctx, payload)
        return
    if await answer_by_reply(ctx):
        return
    word = command_word(ctx.text)
    if word is not None and word in COMMANDS:
        await run_command(ctx, word)
        return
    await continue_flow_or_default(ctx)


async def guard_consent(ctx: Context, payload: str | None) -> None:
    """Nothing proceeds before consent; accept the button or the words setuju / tidak."""
    words = {"setuju": "consent:yes", "ya": "consent:yes", "tidak": "consent:no"}
    choice = payload or words.get(ctx.text.lower())
    if choice in ("consent:yes", "consent:no"):
        await run_action(ctx, choice)
        return
    await ask_consent(ctx)


def command_word(text: str) -> str | None:
    """`/antrian`, `antrian` or `ANTRIAN 12` → `antrian`; Telegram's /cmd@botname too."""
    first = text.split(maxsplit=1)[0] if text.strip() else ""
    if not first:
        return None
    return first.lstrip("/").split("@", 1)[0].lower()


async def run_command(ctx: Context, word: str) -> None:
    """Run a command if the person's role allows it."""
    entry = COMMANDS.get(word)
    if entry is None:
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
    if ctx.person.role != Role.PESERTA:
        ctx.reply(STAFF_HINT_KEYS[ctx.person.role])
        return
    if await check_in_by_bare_code(ctx):
        return
    if ctx.text.isdigit() and len(ctx.text) <= 2 and not ctx.inbound.attachments:
        ctx.reply("core.unknown_button")  # an option number with no options shown is not a question
        return
    await ask_question(ctx)


ROUTES = Routes(free_text=continue_flow_or_default, command=run_command)


async def handle_inbox_item(session: AsyncSession, item: InboxItem, now: datetime, config: Config) -> None:
    """Process one stored inbound in the caller's transaction and queue every reply."""
    inbound = Inbound.from_json(item.payload)
    replies = await process_inbound(session, inbound, now, config)
    await enqueue_all(session, replies, now, config)
    item.processed_at = now
