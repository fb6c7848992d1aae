"""Conversation state per person: which flow they are in and what it has collected."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import ConversationState


async def get_state(session: AsyncSession, person_id: int) -> ConversationState | None:
    """The person's current flow, if any."""
    return await session.get(ConversationState, person_id)


async def set_state(session: AsyncSession, person_id: int, flow: str, data: dict[str, Any],
                    now: datetime) -> None:
    """Put the person into a flow (replacing any earlier one)."""
    state = await session.get(ConversationState, person_id)
    if state is None:
        session.add(ConversationState(person_id=person_id, flow=flow, data=data, updated_at=now))
    else:
        state.flow, state.data, state.updated_at = flow, data, now


async def clear_state(session: AsyncSession, person_id: int) -> bool:
    """Leave any flow; True when there was one."""
    state = await session.get(ConversationState, person_id)
    if state is None:
        return False
    await session.delete(state)
    return True
