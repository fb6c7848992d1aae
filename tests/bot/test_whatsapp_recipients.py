"""WhatsApp sends in flight read their recipients together (bot.whatsapp.sender.Recipients)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.whatsapp.sender import Recipients
from storage.models import Person


def count_person_reads(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    statements: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    @event.listens_for(engine, "before_cursor_execute")
    def _seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM people" in statement:
            statements.append(statement)

    return statements


async def test_sends_started_together_read_their_recipients_in_one_query(
        sessions: async_sessionmaker[AsyncSession], participant: Person, mentor: Person,
        coordinator: Person) -> None:
    reads = count_person_reads(sessions)
    recipients = Recipients(sessions)
    asked = [participant.id, mentor.id, participant.id, coordinator.id, 999_999]
    found = await asyncio.gather(*(recipients.get(person_id) for person_id in asked))
    assert [person.name if person else None for person in found] == [
        "Sari Wulandari", "Budi Santoso", "Sari Wulandari", "Rina Dinas", None]
    assert len(reads) == 1
    # one asked for later is read again (fresh: the 24-hour window may have opened meanwhile)
    assert (await recipients.get(participant.id)) is not None
    assert len(reads) == 2


async def test_a_failed_read_reaches_each_send_waiting_for_it(
        sessions: async_sessionmaker[AsyncSession], participant: Person) -> None:
    recipients = Recipients(sessions)
    engine = sessions.kw["bind"].sync_engine

    @event.listens_for(engine, "before_cursor_execute")
    def _fail(*_args: Any) -> None:
        raise RuntimeError("database away")

    results = await asyncio.gather(recipients.get(participant.id), recipients.get(participant.id),
                                   return_exceptions=True)
    assert [str(result) for result in results] == ["database away", "database away"]
    event.remove(engine, "before_cursor_execute", _fail)
    person = await recipients.get(participant.id)
    assert person is not None
    assert person.name == "Sari Wulandari"
