"""Conversation state per person: which flow they are in, what it has collected, and what waits parked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.registry import traits_of
from storage.models import ConversationState, ParkedFlow


async def get_state(session: AsyncSession, person_id: int) -> ConversationState | None:
    """The person's current flow, if any."""
    return await session.get(ConversationState, person_id)


async def set_state(session: AsyncSession, person_id: int, flow: str, data: dict[str, Any],
                    now: datetime) -> None:
    """Put the person into a flow; a different flow that holds their words is parked, not replaced."""
    state = await session.get(ConversationState, person_id)
    if state is None:
        session.add(ConversationState(person_id=person_id, flow=flow, data=data, updated_at=now))
        return
    if state.flow != flow and traits_of(state.flow).keeps:
        park(session, state, now)
    state.flow, state.data, state.updated_at = flow, data, now


async def clear_state(session: AsyncSession, person_id: int) -> bool:
    """Leave any flow; True when there was one."""
    state = await session.get(ConversationState, person_id)
    if state is None:
        return False
    await session.delete(state)
    await session.flush()  # a redispatch in the same message must not find the flow again
    return True


def park(session: AsyncSession, state: ConversationState, now: datetime) -> ParkedFlow:
    """Keep a flow's collected data aside so `lanjut` (or an offer) can bring it back."""
    parked = ParkedFlow(person_id=state.person_id, flow=state.flow, data=dict(state.data), parked_at=now)
    session.add(parked)
    return parked


async def parked_flows(session: AsyncSession, person_id: int) -> list[ParkedFlow]:
    """What the person left aside, newest first."""
    query = select(ParkedFlow).where(ParkedFlow.person_id == person_id).order_by(ParkedFlow.id.desc())
    return list((await session.execute(query)).scalars())


async def resume_parked(session: AsyncSession, parked: ParkedFlow, now: datetime) -> None:
    """Make a parked flow current again (whatever is current and holds words is parked in turn)."""
    await session.delete(parked)
    await session.flush()
    await set_state(session, parked.person_id, parked.flow, dict(parked.data), now)
