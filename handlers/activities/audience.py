"""Who a session or tugas is for, and which staff may manage it or see a participant."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.i18n import t
from storage.models import Person, Role


class Targeted(Protocol):
    """A Meeting or an Assignment: for a mentor's group when mentor_id is set, else a cohort."""

    cohort: str
    mentor_id: int | None


def is_in_audience(person: Person, target: Targeted) -> bool:
    """True when the participant belongs to the target's group or cohort."""
    if person.role != Role.PESERTA or not person.is_active:
        return False
    if target.mentor_id is not None:
        return person.mentor_id == target.mentor_id
    return bool(target.cohort) and person.cohort == target.cohort


def audience_clause(model: Any, person: Person) -> ColumnElement[bool]:
    """SQL condition: rows of `model` (Meeting or Assignment) whose audience includes the participant."""
    conditions = []
    if person.mentor_id is not None:
        conditions.append(model.mentor_id == person.mentor_id)
    if person.cohort:
        conditions.append(and_(model.mentor_id.is_(None), model.cohort == person.cohort))
    return or_(*conditions) if conditions else false()


async def participants_of(session: AsyncSession, target: Targeted) -> list[Person]:
    """Active participants the target is for, by name."""
    query = select(Person).where(Person.role == Role.PESERTA, Person.is_active.is_(True))
    if target.mentor_id is not None:
        query = query.where(Person.mentor_id == target.mentor_id)
    else:
        query = query.where(Person.cohort == target.cohort, Person.cohort != "")
    return list((await session.execute(query.order_by(Person.name))).scalars())


def oversees(staff: Person, participant: Person) -> bool:
    """Coordinators see everyone; a mentor only their own participants."""
    return staff.role == Role.KOORDINATOR or participant.mentor_id == staff.id


async def visible_participants(session: AsyncSession, staff: Person, target: Targeted) -> list[Person]:
    """The target's participants this staff member may see."""
    return [p for p in await participants_of(session, target) if oversees(staff, p)]


async def cohorts_of(session: AsyncSession, staff: Person) -> list[str]:
    """Cohorts a coordinator may address (all), or those a mentor's participants belong to."""
    query = select(Person.cohort).where(Person.role == Role.PESERTA, Person.cohort != "").distinct()
    if staff.role != Role.KOORDINATOR:
        query = query.where(Person.mentor_id == staff.id)
    return sorted((await session.execute(query)).scalars())


async def can_manage(session: AsyncSession, staff: Person, target: Targeted) -> bool:
    """Coordinators manage everything; a mentor their group and cohorts where they have participants."""
    if staff.role == Role.KOORDINATOR:
        return True
    if staff.role != Role.PENDAMPING:
        return False
    if target.mentor_id is not None:
        return target.mentor_id == staff.id
    return target.cohort in await cohorts_of(session, staff)


def managed_clause(model: Any, staff: Person, cohorts: list[str]) -> ColumnElement[bool]:
    """SQL twin of can_manage for listing; `cohorts` comes from cohorts_of."""
    if staff.role == Role.KOORDINATOR:
        return model.id.is_not(None)  # type: ignore[no-any-return]
    return or_(model.mentor_id == staff.id, and_(model.mentor_id.is_(None), model.cohort.in_(cohorts)))


async def audience_label(session: AsyncSession, target: Targeted, language: str) -> str:
    """"Angkatan 1" or "kelompok Budi Santoso"."""
    if target.mentor_id is None:
        return target.cohort
    mentor = await session.get(Person, target.mentor_id)
    return t("att.group_of", language, mentor=mentor.name if mentor else "?")


async def audience_choice(session: AsyncSession, person: Person, language: str) -> dict[str, Any] | None:
    """A form's opening data: a mentor's item is for their group; a coordinator picks a cohort.

    None when the coordinator has no cohort to pick. `cohort`/`mentor_id` are already set when
    there is a single choice; otherwise the form asks for the audience first.
    """
    if person.role == Role.PENDAMPING:
        options = [[t("att.my_group", language), "", person.id]]
    else:
        options = [[cohort, cohort, None] for cohort in await cohorts_of(session, person)]
    if not options:
        return None
    data: dict[str, Any] = {"options": options, "cohort": "", "mentor_id": None}
    if len(options) == 1:
        _, data["cohort"], data["mentor_id"] = options[0]
    return data
