"""Programme targets: residents to train overall and per agency (OPD), and progress against them.

As in WUB Pamekasan: a target of 10,000 residents, about 8,200 trained before this year, the rest
shared among the agencies running the programme. Trained in the bot = a participant with at
least `trained_min_sessions` sessions hadir or terlambat (0: everyone on the roster).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.participation.queries import participants_by_agency
from handlers.reports.figures import percent
from handlers.reports.rules import ReportsRules
from storage.models import Agency, ProgrammeTarget

UNASSIGNED = ""


@dataclass(frozen=True)
class AgencyProgress:
    """One agency's figures; `code` is "" for participants with no or an unknown agency."""

    code: str
    name: str
    target: int
    trained_before: int
    enrolled: int
    trained: int

    @property
    def total(self) -> int:
        """Trained before plus trained in the bot."""
        return self.trained_before + self.trained

    @property
    def pct(self) -> float | None:
        """Progress against the agency's target."""
        return percent(self.total, self.target)


@dataclass(frozen=True)
class TargetProgress:
    """The programme's target and where it stands, with a row per agency."""

    name: str
    target: int
    trained_before: int
    agencies: list[AgencyProgress]

    @property
    def trained(self) -> int:
        """Trained in the bot, all agencies."""
        return sum(a.trained for a in self.agencies)

    @property
    def total(self) -> int:
        """Trained before (programme figure, or the agencies' sum if larger) plus trained in the bot."""
        return max(self.trained_before, sum(a.trained_before for a in self.agencies)) + self.trained

    @property
    def pct(self) -> float | None:
        """Progress against the programme target."""
        return percent(self.total, self.target)


async def set_targets(session: AsyncSession, programme: dict[str, Any], agencies: list[dict[str, Any]],
                      now: datetime) -> ProgrammeTarget:
    """Create or update the programme target and its agencies (matched by name and code)."""
    query = select(ProgrammeTarget).where(ProgrammeTarget.name == programme["name"])
    target = (await session.execute(query)).scalar_one_or_none()
    if target is None:
        target = ProgrammeTarget(name=programme["name"], updated_at=now)
        session.add(target)
    target.target_participants = int(programme.get("target", 0))
    target.trained_before = int(programme.get("trained_before", 0))
    target.note, target.updated_at = str(programme.get("note", "")), now
    await session.flush()
    for entry in agencies:
        found = (await session.execute(select(Agency).where(Agency.code == entry["code"]))).scalar_one_or_none()
        agency = found or Agency(code=entry["code"], updated_at=now)
        agency.programme_id, agency.name = target.id, str(entry.get("name", entry["code"]))
        agency.target_participants = int(entry.get("target", 0))
        agency.trained_before, agency.updated_at = int(entry.get("trained_before", 0)), now
        session.add(agency)
    return target


async def target_progress(session: AsyncSession, end: datetime, config: Config) -> TargetProgress | None:
    """Progress of the (first) programme target at end, or None when no target is set."""
    target = (await session.execute(select(ProgrammeTarget).order_by(ProgrammeTarget.id).limit(1))).scalar_one_or_none()
    if target is None:
        return None
    agencies = list((await session.execute(
        select(Agency).where(Agency.programme_id == target.id).order_by(Agency.name))).scalars())
    rules = config.rules(ReportsRules)
    counts = await participants_by_agency(session, rules.agency_fields, rules.trained_min_sessions, end)
    lookup = {key.lower(): agency for agency in agencies for key in (agency.code, agency.name)}
    sums: dict[str, list[int]] = {agency.code: [0, 0] for agency in agencies}
    for key, (enrolled, trained) in counts.items():
        agency = lookup.get(key)
        bucket = sums.setdefault(agency.code if agency else UNASSIGNED, [0, 0])
        bucket[0] += enrolled
        bucket[1] += trained
    rows = [AgencyProgress(a.code, a.name, a.target_participants, a.trained_before, *sums[a.code]) for a in agencies]
    if UNASSIGNED in sums:
        rows.append(AgencyProgress(UNASSIGNED, "", 0, 0, *sums[UNASSIGNED]))
    return TargetProgress(target.name, target.target_participants, target.trained_before, rows)
