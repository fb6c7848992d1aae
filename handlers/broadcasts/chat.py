"""`siaran` in chat: compose (text and a photo or document), preview with the number of recipients, confirm
(ya/tidak, or a time to schedule it), and `siaran daftar`, `siaran laporan N`, `siaran batal N`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from handlers.broadcasts.audience import (
    Audience,
    Scope,
    find_audience,
    parse_scope,
    scope_label,
    skipped_text,
)
from handlers.broadcasts.report import STATUS_KEYS, report_text, tally
from handlers.broadcasts.rules import BroadcastsRules
from handlers.broadcasts.sending import (
    announcement,
    cancel,
    create,
    outcome,
    quiet_end,
    read_moment,
)
from handlers.kernel.context import Context
from handlers.kernel.dates import format_moment, format_stamp
from handlers.kernel.forms import is_yes as is_typed_yes
from handlers.kernel.i18n import t
from handlers.kernel.intents import is_no, is_yes, words
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import ANY_ARGS, action, command, flow
from handlers.kernel.roles import MANAGERS
from handlers.kernel.state import clear_state, get_state, set_state
from storage.models import Broadcast, BroadcastStatus, Person, Role

FLOW = "siaran"
LIST_SIZE = 10
SEND_WORDS = frozenset({"kirim", "kirimkan", "sekarang", "aja", "saja", "deh", "kak", "langsung"})


def _own(ctx: Context) -> bool:
    return ctx.person.role == Role.PENDAMPING


@command("siaran", args=ANY_ARGS, roles=MANAGERS, help_key="bc.help", order=74)
async def broadcast_command(ctx: Context) -> None:
    """`siaran [lingkup]` composes; `siaran daftar`, `siaran laporan N`, `siaran batal N` follow them up."""
    if _own(ctx) and not ctx.config.rules(BroadcastsRules).mentors_may_send:
        ctx.reply("bc.mentors_off")
        return
    _word, _, rest = ctx.text.partition(" ")
    sub, _, number = rest.strip().partition(" ")
    if sub.lower() in ("daftar", "list"):
        await _list(ctx)
    elif sub.lower() in ("laporan", "report", "batal", "cancel") and number.strip():
        await _follow_up(ctx, sub.lower(), number.strip())
    elif not rest.strip() and _own(ctx):
        await _start(ctx, Scope("all"))
    elif (scope := parse_scope(rest)) is not None:
        await _start(ctx, scope)
    else:
        ctx.reply("bc.usage_mentor" if _own(ctx) else "bc.usage")


async def _start(ctx: Context, scope: Scope) -> None:
    label = scope_label(scope, ctx.lang, own_group=_own(ctx))
    audience = await find_audience(ctx.session, scope, ctx.person, ctx.config)
    if not audience.recipients:  # say so before the sender writes the announcement, not after
        _say_nobody(ctx, scope, audience)
        return
    await set_state(ctx.session, ctx.person.id, FLOW, {"step": "text", "scope": scope.kind, "value": scope.value},
                    ctx.now)
    ctx.reply("bc.ask_text", scope=label)


@flow(FLOW, keeps=True, takes_any_text=True, label_key="bc.parked_label", resume=lambda ctx: _resume(ctx))
async def broadcast_flow(ctx: Context) -> None:
    """The announcement itself, then the confirmation (ya / tidak / a time)."""
    state = await get_state(ctx.session, ctx.person.id)
    data: dict[str, Any] = dict(state.data) if state is not None else {}
    if data.get("step") == "confirm":
        await _confirm_typed(ctx, data)
        return
    text = ctx.inbound.text.strip()
    limit = ctx.config.rules(BroadcastsRules).max_text_chars
    if not text and not ctx.inbound.attachments:
        ctx.reply("bc.need_text")
        return
    if len(text) > limit:
        ctx.reply("bc.too_long", count=len(text), limit=limit)
        return
    data |= {"step": "confirm", "text": text, "attachments": [a.to_json() for a in ctx.inbound.attachments],
             "send_at": None}
    await _preview(ctx, data)


async def _resume(ctx: Context) -> None:
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != FLOW:
        ctx.reply("core.unknown_button")
    elif state.data.get("step") == "confirm":
        await _preview(ctx, dict(state.data))
    else:
        scope = Scope(str(state.data.get("scope")), str(state.data.get("value") or ""))
        ctx.reply("bc.ask_text", scope=scope_label(scope, ctx.lang, own_group=_own(ctx)))


def _say_nobody(ctx: Context, scope: Scope, audience: Audience) -> None:
    skipped = skipped_text(audience.skipped, ctx.lang)
    ctx.reply("bc.nobody", scope=scope_label(scope, ctx.lang, own_group=_own(ctx)),
              skipped=t("bc.nobody_skipped", ctx.lang, reasons=skipped) if skipped else "")


async def _preview(ctx: Context, data: dict[str, Any]) -> None:
    scope = Scope(str(data["scope"]), str(data.get("value") or ""))
    audience = await find_audience(ctx.session, scope, ctx.person, ctx.config)
    if not audience.recipients:  # the group changed while the announcement was written
        await clear_state(ctx.session, ctx.person.id)
        _say_nobody(ctx, scope, audience)
        return
    await set_state(ctx.session, ctx.person.id, FLOW, data, ctx.now)
    skipped = skipped_text(audience.skipped, ctx.lang)
    media = len(data.get("attachments") or [])
    release = quiet_end(ctx.now, ctx.config)  # said in the preview, not only after "ya"
    when = (t("bc.preview_when", ctx.lang, when=format_moment(datetime.fromisoformat(data["send_at"]),
                                                               ctx.config.timezone, ctx.lang))
            if data.get("send_at") else t("bc.preview_now", ctx.lang) if release <= ctx.now
            else t("bc.preview_quiet", ctx.lang, when=format_moment(release, ctx.config.timezone, ctx.lang)))
    buttons = (Button(t("bc.btn_send", ctx.lang), "bc:ya"), Button(t("bc.btn_cancel", ctx.lang), "bc:tidak"))
    ctx.reply("bc.preview", buttons=buttons, scope=scope_label(scope, ctx.lang, own_group=_own(ctx)),
              text=announcement(str(data.get("text") or ""), ctx.person, ctx.config, ctx.lang), media=t("bc.preview_media", ctx.lang, count=media) if media else "",
              count=len(audience.recipients),
              skipped=t("bc.preview_skipped", ctx.lang, reasons=skipped) if skipped else "", when=when)


async def _confirm_typed(ctx: Context, data: dict[str, Any]) -> None:
    text = ctx.text
    rest = " ".join(word for word in words(text) if word not in SEND_WORDS)
    if is_yes(text) or is_typed_yes(text) or (rest == "" and words(text)) or (rest and is_yes(rest)):
        await _send(ctx, data)
        return
    if is_no(text):
        await clear_state(ctx.session, ctx.person.id)
        ctx.reply("bc.cancelled_draft")
        return
    moment = read_moment(text, ctx.now, ctx.config.timezone)
    if moment is None:
        ctx.reply("bc.confirm_hint")
        return
    if moment <= ctx.now:
        ctx.reply("bc.time_past", when=format_moment(moment, ctx.config.timezone, ctx.lang))
        return
    await _preview(ctx, data | {"send_at": moment.isoformat()})


@action("bc", roles=MANAGERS)
async def broadcast_choice(ctx: Context, argument: str) -> None:
    """bc:ya sends (or schedules) the draft being confirmed; bc:tidak drops it."""
    state = await get_state(ctx.session, ctx.person.id)
    if state is None or state.flow != FLOW or state.data.get("step") != "confirm":
        ctx.reply("core.unknown_button")
        return
    if argument == "ya":
        await _send(ctx, dict(state.data))
    else:
        await clear_state(ctx.session, ctx.person.id)
        ctx.reply("bc.cancelled_draft")


async def _send(ctx: Context, data: dict[str, Any]) -> None:
    await clear_state(ctx.session, ctx.person.id)
    wanted = datetime.fromisoformat(data["send_at"]) if data.get("send_at") else None
    attachments = [Attachment.from_json(item) for item in data.get("attachments") or []]

    def confirm(broadcast: Broadcast, audience: Audience | None) -> Outgoing:
        text = t(outcome(broadcast, audience, wanted, ctx.now), ctx.lang, number=broadcast.id,
                 when=format_moment(broadcast.send_at, ctx.config.timezone, ctx.lang),
                 count=len(audience.recipients) if audience else 0)
        return Outgoing(text=text, to=ctx.inbound.address, person_id=ctx.person.id)

    await create(ctx.session, Scope(str(data["scope"]), str(data.get("value") or "")), str(data.get("text") or ""),
                 attachments, sender=ctx.person, wanted=wanted, now=ctx.now, config=ctx.config, source="chat",
                 confirm=confirm)


async def _find(ctx: Context, number: str) -> Broadcast | None:
    found = record_id(number.lstrip("#"))
    # Locked: a cancel and the job releasing the same broadcast must not both win (PostgreSQL; SQLite has one writer).
    broadcast = await ctx.session.get(Broadcast, found, with_for_update=True) if found is not None else None
    if broadcast is None or (_own(ctx) and broadcast.sender_id != ctx.person.id):
        return None
    return broadcast


async def _follow_up(ctx: Context, sub: str, number: str) -> None:
    broadcast = await _find(ctx, number)
    if broadcast is None:
        ctx.reply("bc.not_found", number=number)
        return
    if sub in ("laporan", "report"):
        sender = await ctx.session.get(Person, broadcast.sender_id) if broadcast.sender_id else None
        ctx.reply("bc.report", text=report_text(broadcast, await tally(ctx.session, broadcast), sender, ctx.config,
                                                ctx.lang))
        return
    stopped = await cancel(ctx.session, broadcast, ctx.now)
    if stopped is None:
        ctx.reply("bc.cannot_cancel", number=broadcast.id)
    else:
        ctx.reply("bc.cancelled", number=broadcast.id, count=stopped)


async def _list(ctx: Context) -> None:
    query = select(Broadcast).order_by(Broadcast.id.desc()).limit(LIST_SIZE)
    if _own(ctx):
        query = query.where(Broadcast.sender_id == ctx.person.id)
    found = list((await ctx.session.execute(query)).scalars())
    if not found:
        ctx.reply("bc.list_empty")
        return
    lines = [t("bc.list_line", ctx.lang, number=b.id, status=t(STATUS_KEYS[BroadcastStatus(b.status)], ctx.lang),
               scope=scope_label(Scope(b.scope, b.scope_value), ctx.lang, own_group=_own(ctx)),
               when=format_stamp(b.send_at, ctx.config.timezone, ctx.lang), count=b.recipients) for b in found]
    ctx.reply("bc.list", lines="\n".join(lines))
