"""Kept (derived) rows checked against a recount: what a read finds kept equals what it finds after every
kept row is recomputed from its source (the recount rolled back)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T = TypeVar("T")


async def kept_equals_recount(sessions: async_sessionmaker[AsyncSession], read: Callable[[AsyncSession], Awaitable[T]],
                              recount: Iterable[Any]) -> T:
    """`read`'s kept rows, after checking they are what running `recount` (the statements recomputing everyone's
    from the source, e.g. storage.outcomes.refresh_participant_outcomes()) gives."""
    async with sessions() as session:
        kept = await read(session)
        for statement in recount:
            await session.execute(statement)
        assert await read(session) == kept
        await session.rollback()
    return kept
