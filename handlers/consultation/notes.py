"""Mentors' notes on their participants (not on one ticket): `catatan 0812… teks` in chat, and the console's form.

A mentor writes notes on their own participants only; coordinators read them (the console's participant page);
participants never see them. A ticket's private note stays `catatan 12 teks` (queue.py): an argument that is a
phone number (leading 0, 62 or +, nine digits or more) names a participant instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from handlers.kernel.context import Context
from handlers.kernel.phones import normalize_phone
from storage.models import ParticipantNote, Person, Role

NOTE_MAX_CHARS = 2000
NOTES_SHOWN = 50


def names_a_phone(argument: str) -> bool:
    """`0812…`, `62812…` or `+62812…` with nine digits or more: a phone number, not a ticket number."""
    digits = argument.removeprefix("+")
    return digits.isdigit() and len(digits) >= 9 and (argument.startswith(("+", "0", "62")))


def may_write_note(author: Person, participant: Person) -> bool:
    """Only the participant's own mentor (coordinators read, experts neither)."""
    return author.role == Role.PENDAMPING and participant.mentor_id == author.id and participant.role == Role.PESERTA


def may_read_notes(viewer: Person, participant: Person) -> bool:
    """The participant's own mentor and coordinators."""
    return viewer.role == Role.KOORDINATOR or may_write_note(viewer, participant)


def add_note(session: AsyncSession, author: Person, participant: Person, text: str,
             now: datetime) -> ParticipantNote | None:
    """Keep the note (trimmed, bounded); None when it is empty or the author may not write it."""
    text = text.strip()[:NOTE_MAX_CHARS]
    if not text or not may_write_note(author, participant):
        return None
    note = ParticipantNote(participant_id=participant.id, author_id=author.id, text=text, created_at=now)
    session.add(note)
    return note


async def notes_on(session: AsyncSession, participant: Person,
                   limit: int = NOTES_SHOWN) -> list[tuple[ParticipantNote, str]]:
    """The latest notes on a participant with their authors' names, newest first."""
    author = aliased(Person)
    query = (select(ParticipantNote, author.name).join(author, author.id == ParticipantNote.author_id)
             .where(ParticipantNote.participant_id == participant.id)
             .order_by(ParticipantNote.id.desc()).limit(limit))
    return [(note, name) for note, name in await session.execute(query)]


async def note_by_phone(ctx: Context, phone: str, text: str) -> None:
    """`catatan 0812… teks`: a mentor's note on one of their participants."""
    if ctx.person.role != Role.PENDAMPING:
        ctx.reply("notes.mentors_only")
        return
    try:
        normalized = normalize_phone(phone)
    except ValueError:
        normalized = ""
    participant = (await ctx.session.execute(
        select(Person).where(Person.phone == normalized, Person.erased_at.is_(None)))).scalar_one_or_none()
    if participant is None or not may_write_note(ctx.person, participant):
        ctx.reply("notes.not_yours", phone=phone[:24])
        return
    if add_note(ctx.session, ctx.person, participant, text, ctx.now) is None:
        ctx.reply("notes.usage")
        return
    ctx.reply("notes.saved", name=participant.name)
