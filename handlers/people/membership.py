"""Who is in the programme: deactivate and reactivate people, unlink a Telegram account, recycled numbers.

A deactivated person is an unknown number on both channels; their history stays for the reports.
A roster re-import lists who is missing from the file (deactivated only when asked), and a row whose
phone belongs to someone who left, under another name, is a new person on a recycled number: the
old record keeps its history and gives the number up, so the newcomer sees none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.context import Context
from handlers.kernel.i18n import t
from handlers.kernel.lifecycle import deactivate, reactivate
from handlers.kernel.messages import Button, Outgoing
from handlers.kernel.numbers import record_id
from handlers.kernel.phones import normalize_phone
from handlers.kernel.registry import action, command
from handlers.kernel.roles import COORDINATORS
from handlers.people.onboarding import unlink_telegram
from handlers.people.roster_file import RosterRow, parse_rows
from storage.models import AuditEntry, Person, Role

PHONE_ARG = r"\+?\d[\d\s().-]{6,24}"
ROLE_KEYS: dict[str, str] = {
    Role.PESERTA: "core.role_peserta", Role.PENDAMPING: "core.role_pendamping",
    Role.NARASUMBER: "core.role_narasumber", Role.KOORDINATOR: "core.role_koordinator"}


def released_phone(person: Person) -> str:
    """The placeholder a person's phone becomes when the number is given up (never a valid number)."""
    return f"x-{person.id}"


async def person_by_phone(session: AsyncSession, raw: str) -> Person | None:
    """Anyone on the roster, active or not, by a phone number in any spelling."""
    try:
        phone = normalize_phone(raw)
    except ValueError:
        return None
    return (await session.execute(select(Person).where(Person.phone == phone))).scalar_one_or_none()


async def deactivate_person(session: AsyncSession, person: Person, now: datetime, config: Config, *,
                            actor_id: int | None, source: str) -> list[Outgoing]:
    """Deactivate (no-op when already inactive); messages owed to others, e.g. who answers their tickets now."""
    if not person.is_active:
        return []
    return await deactivate(session, person, now, config, actor_id=actor_id, source=source)


def reactivate_person(session: AsyncSession, person: Person, now: datetime, *, actor_id: int | None,
                      source: str) -> bool:
    """Reactivate; False when the person is active already or their number was given up or erased."""
    if person.is_active or person.erased_at is not None or person.phone == released_phone(person):
        return False
    reactivate(session, person, now, actor_id=actor_id, source=source)
    return True


# ---------------------------------------------------------------------- roster re-import


async def absent_from_roster(session: AsyncSession, rows: Sequence[RosterRow]) -> list[Person]:
    """Active people whose phone is not in the file (deactivated only when the coordinator asks)."""
    entries, _ = parse_rows(rows)
    in_file = {entry.phone for entry in entries}
    query = select(Person).where(Person.is_active.is_(True)).order_by(Person.role, Person.name)
    return [person for person in (await session.execute(query)).scalars() if person.phone not in in_file]


@dataclass(frozen=True)
class RecycledNumber:
    """A file row with the number of someone who left, under another name: the row is a new person."""

    line: int
    phone: str
    new_name: str
    previous_id: int


async def release_recycled_numbers(session: AsyncSession, rows: Sequence[RosterRow],
                                   now: datetime) -> list[RecycledNumber]:
    """Before an import: free the numbers of people who left and whose number now comes with another name."""
    entries, _ = parse_rows(rows)
    by_phone = {entry.phone: entry for entry in entries}
    if not by_phone:
        return []
    query = select(Person).where(Person.is_active.is_(False), Person.phone.in_(sorted(by_phone)))
    released = []
    for person in (await session.execute(query)).scalars():
        entry = by_phone[person.phone]
        new_name = " ".join(str(entry.values.get("name", "")).split())
        if _same_name(new_name, person.name):
            continue
        released.append(RecycledNumber(entry.row.line, person.phone, new_name, person.id))
        await give_up_number(session, person, now, actor_id=None, source="roster")
    await session.flush()
    return released


async def give_up_number(session: AsyncSession, person: Person, now: datetime, *, actor_id: int | None,
                         source: str) -> None:
    """The person's number now belongs to someone else: the record keeps its history, not the number."""
    session.add(AuditEntry(at=now, actor_id=actor_id, action="phone_released", subject=f"person:{person.id}",
                           detail={"source": source, "phone": person.phone}))
    await unlink_telegram(session, person, now, actor_id=actor_id, source=source)
    person.phone = released_phone(person)
    person.updated_at = now


def _same_name(one: str, other: str) -> bool:
    return " ".join(one.lower().split()) == " ".join(other.lower().split())


# ---------------------------------------------------------------------- coordinator commands


async def _target(ctx: Context) -> Person | None:
    """The person named by the phone after the command word, or a usage reply."""
    argument = ctx.text.partition(" ")[2].strip()
    person = await person_by_phone(ctx.session, argument) if argument else None
    if person is None or person.erased_at is not None:
        ctx.reply("people.member_unknown" if argument else "people.member_usage", phone=argument)
        return None
    return person


def _who(ctx: Context, person: Person) -> dict[str, Any]:
    return {"name": person.name, "role": t(ROLE_KEYS[person.role], ctx.lang), "phone": person.phone}


@command("nonaktif", args=PHONE_ARG, roles=COORDINATORS, help_key="people.help_nonaktif", order=70)
async def ask_to_deactivate(ctx: Context) -> None:
    """`nonaktif 0812…`: shows who it is and asks to confirm (their open questions move on)."""
    person = await _target(ctx)
    if person is None:
        return
    if not person.is_active:
        ctx.reply("people.already_inactive", **_who(ctx, person))
        return
    if person.id == ctx.person.id:
        ctx.reply("people.not_yourself")
        return
    buttons = (Button(t("people.btn_deactivate", ctx.lang), f"mbr:off:{person.id}"),
               Button(t("people.btn_keep", ctx.lang), "mbr:keep:0"))
    ctx.reply("people.confirm_deactivate", buttons=buttons, **_who(ctx, person))


@action("mbr", roles=COORDINATORS)
async def membership_choice(ctx: Context, argument: str) -> None:
    """mbr:off:<id> deactivates after the confirmation; mbr:keep:0 leaves things as they are."""
    choice, _, person_id = argument.partition(":")
    if choice == "keep":
        ctx.reply("people.kept")
        return
    number = record_id(person_id) if choice == "off" else None
    person = await ctx.session.get(Person, number) if number is not None else None
    if person is None or person.erased_at is not None or person.id == ctx.person.id:
        ctx.reply("core.unknown_button")
        return
    if not person.is_active:
        ctx.reply("people.already_inactive", **_who(ctx, person))
        return
    ctx.out.extend(await deactivate_person(ctx.session, person, ctx.now, ctx.config, actor_id=ctx.person.id,
                                           source="chat"))
    ctx.reply("people.deactivated", **_who(ctx, person))


@command("aktif", args=PHONE_ARG, roles=COORDINATORS, help_key="people.help_aktif", order=71)
async def reactivate_by_command(ctx: Context) -> None:
    """`aktif 0812…`: the person is served again."""
    person = await _target(ctx)
    if person is None:
        return
    if person.is_active:
        ctx.reply("people.already_active", **_who(ctx, person))
        return
    reactivate_person(ctx.session, person, ctx.now, actor_id=ctx.person.id, source="chat")
    ctx.reply("people.reactivated", **_who(ctx, person))


@command("lepas", args=PHONE_ARG, roles=COORDINATORS, help_key="people.help_lepas", order=72)
async def unlink_by_command(ctx: Context) -> None:
    """`lepas 0812…`: forget the person's Telegram account (their phone changed hands); they share it again."""
    person = await _target(ctx)
    if person is None:
        return
    if await unlink_telegram(ctx.session, person, ctx.now, actor_id=ctx.person.id, source="chat") is None:
        ctx.reply("people.not_linked", **_who(ctx, person))
        return
    ctx.reply("people.unlinked", **_who(ctx, person))
