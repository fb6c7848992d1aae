"""`rekap [2026-11]`: a coordinator picks the scope from options and gets the workbook; a mentor gets their group's."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.dates import month_label, month_of
from handlers.kernel.forms import command_args
from handlers.kernel.i18n import t
from handlers.kernel.messages import Attachment, Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.registry import ANY_ARGS, action, command
from handlers.kernel.roles import COORDINATORS, MANAGERS
from handlers.reports.digest import XLSX, save_media
from handlers.reports.rekap import (
    Rekap,
    Scope,
    build_rekap,
    file_name,
    month_period,
    parse_month,
    write_rekap,
)
from storage.models import Person, Role

PICK_LIMIT = 12  # options on one message


@command("rekap", args=ANY_ARGS, roles=MANAGERS, help_key="rkp.help", menu_key="rkp.menu", order=62)
async def rekap(ctx: Context) -> None:
    """`rekap [bulan] [angkatan X | pendamping NAMA]`: mentors get their group at once; coordinators pick a scope."""
    words = command_args(ctx).split(maxsplit=1)
    month = month_of(ctx.now, ctx.config.timezone)
    if words and parse_month(words[0]):
        month, words = words[0], words[1:]
    elif words and words[0][:1].isdigit():
        ctx.reply("rkp.usage")
        return
    if ctx.person.role != Role.KOORDINATOR:
        await send_rekap(ctx, month, Scope("mentor", str(ctx.person.id), t("rkp.mentor", ctx.lang,
                                                                           name=ctx.person.name)))
        return
    if not words:
        await offer_scopes(ctx, month)
        return
    scope = await scope_from_text(ctx.session, words[0], ctx.lang)
    if scope is None:
        ctx.reply("rkp.unknown_scope", name=words[0])
        return
    await send_rekap(ctx, month, scope)


async def offer_scopes(ctx: Context, month: str) -> None:
    """The programme, each cohort and each mentor as options."""
    cohorts = (await ctx.session.execute(
        select(Person.cohort).where(Person.role == Role.PESERTA, Person.cohort != "").distinct()
        .order_by(Person.cohort))).scalars().all()
    mentors = (await ctx.session.execute(
        select(Person.id, Person.name).where(Person.role == Role.PENDAMPING, Person.is_active.is_(True))
        .order_by(Person.name))).all()
    buttons = [Button(t("rkp.btn_programme", ctx.lang), f"rkp:{month}|programme|")]
    buttons += [Button(t("rkp.btn_cohort", ctx.lang, name=c), f"rkp:{month}|cohort|{c}") for c in cohorts]
    buttons += [Button(t("rkp.btn_mentor", ctx.lang, name=name), f"rkp:{month}|mentor|{mid}") for mid, name in mentors]
    ctx.reply("rkp.pick", buttons=tuple(buttons[:PICK_LIMIT]), period=month_label(month, ctx.lang), month=month)


@action("rkp", roles=COORDINATORS)
async def scope_button(ctx: Context, payload: str) -> None:
    """A scope chosen from the options."""
    month, _, rest = payload.partition("|")
    kind, _, value = rest.partition("|")
    if parse_month(month) is None or kind not in ("programme", "cohort", "mentor"):
        ctx.reply("rkp.usage")
        return
    scope = await scope_of(ctx.session, kind, value, ctx.lang)
    if scope is None:
        ctx.reply("rkp.unknown_scope", name=value)
        return
    await send_rekap(ctx, month, scope)


async def scope_of(session: AsyncSession, kind: str, value: str, language: str) -> Scope | None:
    """A Scope with its label, None when the mentor does not exist."""
    if kind == "cohort":
        return Scope("cohort", value, t("rkp.cohort", language, name=value))
    if kind == "mentor":
        mentor = await session.get(Person, mentor_id) if (mentor_id := record_id(value)) is not None else None
        if mentor is None or mentor.role != Role.PENDAMPING:
            return None
        return Scope("mentor", str(mentor.id), t("rkp.mentor", language, name=mentor.name))
    if kind == "agency":
        return Scope("agency", value, t("rkp.agency", language, name=value))
    return Scope("programme", "", t("rkp.programme", language))


async def scope_from_text(session: AsyncSession, text: str, language: str) -> Scope | None:
    """"angkatan 1", "pendamping budi", or a bare cohort / mentor name (case-insensitive)."""
    head, _, tail = text.strip().partition(" ")
    kind = {"angkatan": "cohort", "pendamping": "mentor"}.get(head.lower())
    name = tail.strip() if kind else text.strip()
    if kind != "mentor":
        cohort = (await session.execute(select(Person.cohort).where(
            Person.role == Role.PESERTA, func.lower(Person.cohort).in_([name.lower(), f"angkatan {name}".lower()]))
            .limit(1))).scalar()
        if cohort:
            return Scope("cohort", cohort, t("rkp.cohort", language, name=cohort))
    if kind != "cohort":
        mentors = (await session.execute(select(Person.id).where(
            Person.role == Role.PENDAMPING, func.lower(Person.name).contains(name.lower())))).scalars().all()
        if len(mentors) == 1:
            return await scope_of(session, "mentor", str(mentors[0]), language)
    return None


async def send_rekap(ctx: Context, month: str, scope: Scope) -> None:
    """Build the workbook and send it as a file with a one-line summary."""
    period = month_period(month, ctx.config)
    book = await build_rekap(ctx.session, scope, period, ctx.config, ctx.lang)
    attachment = await rekap_file(ctx.session, book, ctx.now, ctx.config, ctx.lang)
    ctx.send(Outgoing(text=sent_text(book, ctx.lang), to=ctx.inbound.address, person_id=ctx.person.id,
                      attachments=(attachment,), ref=f"rekap:{month}"))


async def rekap_file(session: AsyncSession, book: Rekap, now: datetime, config: Config, language: str) -> Attachment:
    """The workbook saved as a media link."""
    return await save_media(session, kind="document", suffix=".xlsx", mime=XLSX, name=file_name(book), now=now,
                            config=config, write=lambda path: write_rekap(book, path, language))


def sent_text(book: Rekap, language: str) -> str:
    """"📎 Rekap … Peserta: 3 · …"."""
    counts = {key: len(rows) for key, _, rows in book.sheets}
    return t("rkp.sent", language, title=book.title, participants=counts["rkp.sheet_register"],
             attendance=counts["rkp.sheet_attendance"], tugas=counts["rkp.sheet_tugas"],
             reports=book.reports_sent, tickets=counts["rkp.sheet_tickets"])
