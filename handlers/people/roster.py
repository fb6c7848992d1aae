"""Roster import: check every row, then create or update people by phone, all or nothing.

Rules a coordinator meets:
- People are matched by phone (E.164); people not in the file are left alone (import in parts).
- A blank cell clears that field, except `channel` and `language`, which the bot also learns
  from the person: there a blank keeps the current value. An absent column leaves the field alone.
- `mentor_phone` on a row that is not a peserta is rejected: it usually means shifted columns.
- Extra columns are merged into Person.extra under their normalised header name.
- A row whose phone is someone's but whose name and mentor both differ is most likely a typo in the
  phone: it is shown side by side (old → new) and refused unless renames are allowed.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.i18n import t
from handlers.people.roster_file import (
    COLUMN_OF,
    RosterFileError,
    RosterProblem,
    RosterRow,
    RowEntry,
    parse_rows,
    read_roster,
)
from storage.models import AuditEntry, Person, Role, UnknownContact

__all__ = ["ImportSummary", "RosterFileError", "RosterInvalid", "RosterProblem", "RosterRename", "RosterRow",
           "RowChange", "apply_roster", "list_unknown_contacts", "read_roster", "validate_roster"]

CHUNK = 500  # bounds IN (...) lists: SQLite and asyncpg cap the number of bound parameters
# Every column a new person gets, so all rows of one INSERT have the same keys.
NEW_PERSON: dict[str, Any] = {"cohort": "", "business_name": "", "sector": "", "district": "", "topics": "",
                              "language": "id", "preferred_channel": None, "is_active": True}
BATCH = 1000  # new people per INSERT, and rows between progress reports


@dataclass(frozen=True)
class RowChange:
    """An existing person the import updated, with the columns that changed."""

    line: int
    name: str
    columns: tuple[str, ...]
    old_name: str = ""  # the name before, when the row changed it


@dataclass(frozen=True)
class RosterRename:
    """A row that changes both the name and the mentor of the person with its phone, old and new side by side."""

    line: int
    phone: str
    old_name: str
    new_name: str
    old_mentor: str
    new_mentor: str

    def __str__(self) -> str:
        return t("roster.rename", phone=self.phone, old_name=self.old_name, new_name=self.new_name,
                 old_mentor=self.old_mentor, new_mentor=self.new_mentor)


@dataclass(frozen=True)
class ImportSummary:
    """What an import did (or, in a rolled-back dry run, would do)."""

    created: int
    updated: int
    unchanged: int
    changes: tuple[RowChange, ...] = ()
    renames: tuple[RosterRename, ...] = ()  # allowed renames, shown to the coordinator

    def __str__(self) -> str:
        return t("roster.summary", created=self.created, updated=self.updated, unchanged=self.unchanged)


class RosterInvalid(Exception):
    """apply_roster was given rows that do not validate."""

    def __init__(self, problems: Sequence[RosterProblem]) -> None:
        super().__init__("\n".join(str(problem) for problem in problems))
        self.problems = list(problems)


@dataclass
class _Plan:
    entries: list[RowEntry]
    known: dict[str, Person]
    problems: list[RosterProblem]
    renames: list[RosterRename]


async def validate_roster(session: AsyncSession, rows: Sequence[RosterRow], *,
                          allow_renames: bool = False) -> list[RosterProblem]:
    """Every problem in the rows, by line; an empty list means the import may run."""
    return (await _plan(session, rows, allow_renames=allow_renames)).problems


async def apply_roster(session: AsyncSession, rows: Sequence[RosterRow], now: datetime,
                       progress: Callable[[int], None] | None = None, *, source: str = "",
                       allow_renames: bool = False) -> ImportSummary:
    """Create or update everyone in the rows (caller commits); progress gets the rows done so far."""
    plan = await _plan(session, rows, allow_renames=allow_renames)
    if plan.problems:
        raise RosterInvalid(plan.problems)
    ids = {phone: person.id for phone, person in plan.known.items()}
    changes: list[RowChange] = []
    done, created = 0, sum(entry.phone not in plan.known for entry in plan.entries)
    # Mentors first, so a new pendamping has an id before their peserta point at it.
    for group in _mentors_first(plan.entries):
        fresh = [entry for entry in group if entry.phone not in plan.known]
        changes += _update_known(group, plan.known, ids, now)
        done += len(group) - len(fresh)
        _report(progress, done)
        for start in range(0, len(fresh), BATCH):
            ids |= await _insert(session, fresh[start:start + BATCH], ids, now)
            done += len(fresh[start:start + BATCH])
            _report(progress, done)
    summary = ImportSummary(created, len(changes), done - created - len(changes),
                            tuple(sorted(changes, key=lambda change: change.line)), tuple(plan.renames))
    session.add(AuditEntry(at=now, actor_id=None, action="roster_import", subject=source[:100],
                           detail={"rows": len(rows), "created": summary.created,
                                   "updated": summary.updated, "unchanged": summary.unchanged}))
    await session.flush()
    return summary


async def list_unknown_contacts(session: AsyncSession) -> list[UnknownContact]:
    """Numbers that wrote to the bot without being on the roster, newest first."""
    query = select(UnknownContact).order_by(UnknownContact.last_seen_at.desc())
    return list((await session.scalars(query)).all())


def _mentors_first(entries: list[RowEntry]) -> tuple[list[RowEntry], list[RowEntry]]:
    return ([entry for entry in entries if entry.role != Role.PESERTA],
            [entry for entry in entries if entry.role == Role.PESERTA])


def _update_known(entries: list[RowEntry], known: dict[str, Person], ids: dict[str, int],
                  now: datetime) -> list[RowChange]:
    """Update the people already in the database; the ones that changed, with their columns."""
    changes = []
    for entry in entries:
        person = known.get(entry.phone)
        if person is None:
            continue
        old_name = person.name
        columns = _update(person, entry.values | {"mentor_id": _mentor_id(entry, ids)}, entry.row.extra)
        if columns:
            person.updated_at = now
            changes.append(RowChange(entry.row.line, person.name, columns, old_name if old_name != person.name else ""))
    return changes


def _update(person: Person, desired: dict[str, Any], extra: dict[str, str]) -> tuple[str, ...]:
    """Set what differs; the file columns that changed (empty when nothing did)."""
    changed = [attr for attr, value in desired.items() if getattr(person, attr) != value]
    for attr in changed:
        setattr(person, attr, desired[attr])
    merged = (person.extra or {}) | extra
    columns = [COLUMN_OF.get(attr, attr) for attr in changed]
    if merged != person.extra:
        columns += sorted(key for key, value in extra.items() if (person.extra or {}).get(key) != value)
        person.extra = merged
    return tuple(columns)


async def _insert(session: AsyncSession, entries: list[RowEntry], ids: dict[str, int],
                  now: datetime) -> dict[str, int]:
    """Insert new people in one statement (no ORM object per row); their ids by phone."""
    if not entries:
        return {}
    values = [NEW_PERSON | entry.values | {
        "phone": entry.phone, "mentor_id": _mentor_id(entry, ids), "extra": dict(entry.row.extra),
        "created_at": now, "updated_at": now} for entry in entries]
    result = await session.execute(insert(Person).returning(Person.phone, Person.id), values)
    return dict(result.all())


def _mentor_id(entry: RowEntry, ids: dict[str, int]) -> int | None:
    return ids[entry.mentor_phone] if entry.mentor_phone else None


def _report(progress: Callable[[int], None] | None, done: int) -> None:
    if progress is not None:
        progress(done)


async def _plan(session: AsyncSession, rows: Sequence[RosterRow], *, allow_renames: bool) -> _Plan:
    entries, problems = parse_rows(rows)
    if not rows:
        problems.append(RosterProblem(None, t("roster.no_rows")))
    phones = [entry.phone for entry in entries] + [e.mentor_phone for e in entries if e.mentor_phone]
    known = await _load_people(session, phones)
    problems += _mentor_problems(entries, known)
    problems += await _still_mentoring(session, entries, known)
    renames = await _renames(session, entries, known)
    if not allow_renames:
        problems += [RosterProblem(rename.line, str(rename), is_rename=True) for rename in renames]
    problems.sort(key=lambda problem: problem.line or 0)
    return _Plan(entries, known, problems, renames)


def _same_name(one: str, other: str) -> bool:
    return " ".join(one.casefold().split()) == " ".join(other.casefold().split())


async def _renames(session: AsyncSession, entries: list[RowEntry], known: dict[str, Person]) -> list[RosterRename]:
    """Rows that would give someone already in the database another name and another mentor at once."""
    in_file = {entry.phone: entry for entry in entries}
    renames = []
    for entry in entries:
        person = known.get(entry.phone)
        if person is None or person.mentor_id is None or entry.mentor_phone is None:
            continue
        new_mentor = known.get(entry.mentor_phone)
        if _same_name(person.name, entry.values["name"]) or (new_mentor is not None and new_mentor.id == person.mentor_id):
            continue
        mentor_row = in_file.get(entry.mentor_phone)
        if new_mentor is None and mentor_row is None:
            continue  # an unknown mentor is a problem of its own
        old_mentor = await session.get(Person, person.mentor_id)
        new_mentor_name = new_mentor.name if new_mentor else mentor_row.values["name"] if mentor_row else "-"
        renames.append(RosterRename(entry.row.line, entry.phone, person.name, entry.values["name"],
                                    old_mentor.name if old_mentor else "-", new_mentor_name))
    return renames


async def _load_people(session: AsyncSession, phones: Iterable[str]) -> dict[str, Person]:
    """People already in the database by phone, a few hundred per query."""
    wanted = sorted(set(phones))
    found: dict[str, Person] = {}
    for start in range(0, len(wanted), CHUNK):
        query = select(Person).where(Person.phone.in_(wanted[start:start + CHUNK]))
        found.update((person.phone, person) for person in await session.scalars(query))
    return found


def _mentor_problems(entries: list[RowEntry], known: dict[str, Person]) -> list[RosterProblem]:
    """A peserta's mentor must be a pendamping in this file or, failing that, in the database."""
    in_file = {entry.phone: entry for entry in entries}
    problems = []
    for entry in entries:
        if entry.mentor_phone is None:
            continue
        mentor = in_file.get(entry.mentor_phone)
        role, name = (mentor.role, mentor.values["name"]) if mentor else _role_in_db(known, entry.mentor_phone)
        raw = entry.row.mentor_phone
        if mentor is None and role is None:
            problems.append(RosterProblem(entry.row.line, t("roster.mentor_unknown", phone=raw)))
        elif role is not None and role != Role.PENDAMPING:
            problems.append(RosterProblem(entry.row.line, t("roster.mentor_wrong_role", phone=raw,
                                                            name=name, role=role)))
    return problems


def _role_in_db(known: dict[str, Person], phone: str) -> tuple[Role | None, str]:
    person = known.get(phone)
    return (None, "") if person is None else (Role(person.role), person.name)


async def _still_mentoring(session: AsyncSession, entries: list[RowEntry],
                           known: dict[str, Person]) -> list[RosterProblem]:
    """A pendamping the file gives another role must not leave database peserta without a mentor."""
    demoted = {known[e.phone].id: e for e in entries if e.phone in known and e.role is not None
               and known[e.phone].role == Role.PENDAMPING and e.role != Role.PENDAMPING}
    in_file = {entry.phone for entry in entries}
    ids = sorted(demoted)
    counts: Counter[int] = Counter()
    for start in range(0, len(ids), CHUNK):
        query = select(Person.mentor_id, Person.phone).where(Person.mentor_id.in_(ids[start:start + CHUNK]))
        counts.update(mentor_id for mentor_id, phone in await session.execute(query)
                      if mentor_id is not None and phone not in in_file)
    return [RosterProblem(entry.row.line, t("roster.still_mentor", name=entry.values["name"], count=counts[id_]))
            for id_, entry in demoted.items() if counts[id_]]
