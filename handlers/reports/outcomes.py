"""Programme outcomes from the monthly reports, against the targets set with `klinik target`.

Per participant (active, on the roster): holds a NIB, P-IRT, halal certificate or another permit when
their latest report sent by the end of the period lists it (the form carries last month's permits); omzet growth
and new jobs compare the first report sent (the baseline) with the latest, over participants with both
and a later month than the baseline. One GROUP BY query per period, summed per cohort and agency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, delete, func, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.participation.queries import agency_of
from handlers.reports.rules import ReportsRules
from storage.models import Agency, OutcomeTarget, ParticipantOutcome, Person, ProgrammeTarget, Role
from storage.outcomes import OUTCOME_COLUMNS, PERMIT_CODES, outcome_facts

PERMITS = PERMIT_CODES  # the codes the report form stores
MEASURES = (*PERMITS, "jobs", "omzet")  # omzet: growth in percent; jobs: new jobs since the baseline
SCOPES = ("programme", "agency", "cohort")


@dataclass
class Outcome:
    """One scope's outcomes (the programme, an agency or a cohort) and its targets by measure."""

    key: str
    label: str
    reporting: int = 0
    permits: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PERMITS, 0))
    omzet_baseline: int = 0
    omzet_latest: int = 0
    omzet_compared: int = 0
    jobs_baseline: int = 0
    jobs_latest: int = 0
    jobs_compared: int = 0
    targets: dict[str, int] = field(default_factory=dict)

    @property
    def omzet_growth_pct(self) -> float | None:
        """Omzet now against the baseline, of participants with both, in percent."""
        if not self.omzet_baseline:
            return None
        return round(100 * (self.omzet_latest - self.omzet_baseline) / self.omzet_baseline, 1)

    @property
    def new_jobs(self) -> int | None:
        """Workers now minus workers at the baseline (None: nobody reported workers twice)."""
        return self.jobs_latest - self.jobs_baseline if self.jobs_compared else None

    def value(self, measure: str) -> float | None:
        """The figure a measure's target is compared with."""
        if measure in PERMITS:
            return self.permits[measure]
        return self.omzet_growth_pct if measure == "omzet" else self.new_jobs

    def merge(self, other: Outcome) -> None:
        """Add another group's counts."""
        self.reporting += other.reporting
        for code in PERMITS:
            self.permits[code] += other.permits[code]
        for name in ("omzet_baseline", "omzet_latest", "omzet_compared", "jobs_baseline", "jobs_latest",
                     "jobs_compared"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def has_data(self) -> bool:
        """Anyone reported, or a target is set."""
        return bool(self.reporting or self.targets)


@dataclass(frozen=True)
class Outcomes:
    """The programme's outcomes, then per agency and per cohort (only those with reports or targets)."""

    programme: Outcome
    agencies: list[Outcome]
    cohorts: list[Outcome]


async def programme_outcomes(session: AsyncSession, end: datetime, config: Config) -> Outcomes | None:
    """Outcomes from the reports sent before end; None when nobody reported and no outcome target is set."""
    rows = await _outcome_rows(session, end, config.rules(ReportsRules).agency_fields)
    targets = await _targets(session)
    programme_name = (await session.execute(
        select(ProgrammeTarget.name).order_by(ProgrammeTarget.id).limit(1))).scalar_one_or_none() or ""
    agencies: dict[str, str] = {code: name for code, name in (await session.execute(select(Agency.code, Agency.name)))}  # noqa: C416
    lookup = {key.lower(): code for code, name in agencies.items() for key in (code, name)}
    programme = Outcome("", programme_name, targets=targets.get(("programme", programme_name), {}))
    by_agency = {code: Outcome(code, name, targets=targets.get(("agency", code), {}))
                 for code, name in sorted(agencies.items(), key=lambda item: item[1])}
    by_cohort: dict[str, Outcome] = {}
    for cohort, agency_key, outcome in rows:
        programme.merge(outcome)
        code = lookup.get(agency_key)
        if code is not None:
            by_agency[code].merge(outcome)
        if cohort:
            by_cohort.setdefault(cohort, Outcome(cohort, cohort)).merge(outcome)
    for (scope, key), measures in targets.items():
        if scope == "cohort":
            by_cohort.setdefault(key, Outcome(key, key)).targets = measures
    if not programme.has_data and not any(o.targets for o in [*by_agency.values(), *by_cohort.values()]):
        return None
    return Outcomes(programme, [o for o in by_agency.values() if o.has_data],
                    [by_cohort[key] for key in sorted(by_cohort) if by_cohort[key].has_data])


async def _outcome_rows(session: AsyncSession, end: datetime,
                        fields: tuple[str, ...]) -> list[tuple[str, str, Outcome]]:
    """(cohort, agency key, outcome) per cohort and agency, summed in the database.

    Each participant's facts are the kept row (`participant_outcomes`, written with each report) when it
    holds at end (nothing of theirs sent since); the few who sent since are recomputed from their reports
    sent before end."""
    kept = ParticipantOutcome
    since = select(kept.participant_id).where(kept.last_sent_at >= end)
    facts = union_all(select(*[kept.__table__.c[name] for name in OUTCOME_COLUMNS]).where(kept.last_sent_at < end),
                      outcome_facts(since, end)).subquery()
    later = facts.c.first_month < facts.c.last_month
    omzet = and_(later, facts.c.first_omzet.is_not(None), facts.c.last_omzet.is_not(None))
    jobs = and_(later, facts.c.first_workers.is_not(None), facts.c.last_workers.is_not(None))
    agency = agency_of(fields).label("agency")
    query = (select(Person.cohort, agency, func.count(), *[func.sum(facts.c[code]) for code in PERMITS],
                    func.sum(case((omzet, facts.c.first_omzet), else_=0)),
                    func.sum(case((omzet, facts.c.last_omzet), else_=0)), func.sum(case((omzet, 1), else_=0)),
                    func.sum(case((jobs, facts.c.first_workers), else_=0)),
                    func.sum(case((jobs, facts.c.last_workers), else_=0)), func.sum(case((jobs, 1), else_=0)))
             .select_from(facts).join(Person, Person.id == facts.c.participant_id)
             .where(Person.role == Role.PESERTA, Person.is_active.is_(True))
             .group_by(Person.cohort, agency))
    found = []
    for cohort, agency_key, n, *sums in (await session.execute(query)):
        values = [int(v or 0) for v in sums]
        outcome = Outcome(cohort or "", cohort or "", reporting=int(n),
                          permits=dict(zip(PERMITS, values[:4], strict=True)))
        (outcome.omzet_baseline, outcome.omzet_latest, outcome.omzet_compared, outcome.jobs_baseline,
         outcome.jobs_latest, outcome.jobs_compared) = values[4:]
        found.append((cohort or "", str(agency_key or ""), outcome))
    return found


async def _targets(session: AsyncSession) -> dict[tuple[str, str], dict[str, int]]:
    targets: dict[tuple[str, str], dict[str, int]] = {}
    for scope, key, measure, value in (await session.execute(
            select(OutcomeTarget.scope, OutcomeTarget.key, OutcomeTarget.measure, OutcomeTarget.target))):
        targets.setdefault((scope, key), {})[measure] = value
    return targets


def read_outcome_targets(data: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    """(scope, key, measure, target) from a targets file's `outcomes` tables; ValueError names what is wrong."""
    found = []
    entries = [("programme", data.get("programme", {}), "name"),
               *[("agency", entry, "code") for entry in data.get("agency", [])],
               *[("cohort", entry, "name") for entry in data.get("cohort", [])]]
    for scope, entry, key_field in entries:
        outcomes = entry.get("outcomes", {})
        if outcomes and key_field not in entry:
            raise ValueError(f"{scope}.{key_field}")
        for measure, value in outcomes.items():
            if measure not in MEASURES:
                raise ValueError(f"{scope}.outcomes.{measure} (pilihan: {', '.join(MEASURES)})")
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{scope}.outcomes.{measure} = {value!r}")
            found.append((scope, str(entry[key_field]), measure, value))
    return found


async def set_outcome_targets(session: AsyncSession, targets: list[tuple[str, str, str, int]],
                              now: datetime) -> None:
    """Replace every outcome target with the file's (the file is the whole truth)."""
    await session.execute(delete(OutcomeTarget))
    session.add_all(OutcomeTarget(scope=scope, key=key, measure=measure, target=value, updated_at=now)
                    for scope, key, measure, value in targets)
