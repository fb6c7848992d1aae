"""Conversation state per person: which flow they are in, what it has collected, and what waits parked."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from handlers.kernel.registry import traits_of
from storage.models import ConversationState, ParkedFlow

# Within one transaction, people known to have no open flow / nothing parked: the router asks several
# times per message, and a row that does not exist is not in the identity map. Adding a row forgets
# the person; the transaction's end forgets everything.
NO_STATE, NO_PARKED = "klinik.no_state", "klinik.no_parked"


def remember_absent(session: AsyncSession, *, states: set[int], parked: set[int]) -> None:
    """Record people loaded in bulk without a flow / without parked flows (see NO_STATE)."""
    session.info.setdefault(NO_STATE, set()).update(states)
    session.info.setdefault(NO_PARKED, set()).update(parked)


@event.listens_for(Session, "transient_to_pending")
def _forget_absent(session: Session, instance: object) -> None:
    if isinstance(instance, ConversationState):
        session.info.get(NO_STATE, set()).discard(instance.person_id)
    elif isinstance(instance, ParkedFlow):
        session.info.get(NO_PARKED, set()).discard(instance.person_id)


@event.listens_for(Session, "after_transaction_end")
def _forget_all(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is not None:
        return  # a savepoint ended: the transaction goes on
    session.info.pop(NO_STATE, None)
    session.info.pop(NO_PARKED, None)


@event.listens_for(Session, "after_soft_rollback")
def _forget_after_savepoint(session: Session, previous: SessionTransaction) -> None:
    if previous.nested:  # a flow ended inside the savepoint is back
        session.info.pop(NO_STATE, None)
        session.info.pop(NO_PARKED, None)


async def get_state(session: AsyncSession, person_id: int) -> ConversationState | None:
    """The person's current flow, if any."""
    if person_id in session.info.get(NO_STATE, ()):
        return None
    # One set in this message is not in the identity map before a flush: asking the database would flush
    state = next((s for s in session.new if isinstance(s, ConversationState) and s.person_id == person_id), None)
    if state is not None:
        return state
    state = await session.get(ConversationState, person_id)
    if state is None:
        session.info.setdefault(NO_STATE, set()).add(person_id)
    return state


async def set_state(session: AsyncSession, person_id: int, flow: str, data: dict[str, Any],
                    now: datetime) -> None:
    """Put the person into a flow; a different flow that holds their words is parked, not replaced."""
    state = await get_state(session, person_id)
    if state is None:
        session.add(ConversationState(person_id=person_id, flow=flow, data=data, updated_at=now))
        return
    if state.flow != flow and traits_of(state.flow).keeps:
        park(session, state, now)
    state.flow, state.data, state.updated_at = flow, data, now


async def clear_state(session: AsyncSession, person_id: int) -> bool:
    """Leave any flow; True when there was one."""
    state = await get_state(session, person_id)
    if state is None:
        return False
    if state in session.new:
        session.expunge(state)  # set in this message and not written yet
    else:
        await session.delete(state)
        await session.flush()  # a redispatch in the same message must not find the flow again
    session.info.setdefault(NO_STATE, set()).add(person_id)
    return True


def park(session: AsyncSession, state: ConversationState, now: datetime) -> ParkedFlow:
    """Keep a flow's collected data aside so `lanjut` (or an offer) can bring it back."""
    parked = ParkedFlow(person_id=state.person_id, flow=state.flow, data=dict(state.data), parked_at=now)
    session.add(parked)
    return parked


async def parked_flows(session: AsyncSession, person_id: int) -> list[ParkedFlow]:
    """What the person left aside, newest first."""
    if person_id in session.info.get(NO_PARKED, ()):
        return []
    query = select(ParkedFlow).where(ParkedFlow.person_id == person_id).order_by(ParkedFlow.id.desc())
    return list((await session.execute(query)).scalars())


async def resume_parked(session: AsyncSession, parked: ParkedFlow, now: datetime) -> None:
    """Make a parked flow current again (whatever is current and holds words is parked in turn)."""
    await session.delete(parked)
    await session.flush()
    await set_state(session, parked.person_id, parked.flow, dict(parked.data), now)
