"""Who a broadcast reaches: the scope a sender names, the participants in it, and who is skipped and why."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, literal, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.kernel.config import Config
from handlers.kernel.consent import has_consent
from handlers.kernel.i18n import t
from handlers.participation.queries import agency_of
from handlers.reports.rules import ReportsRules
from storage.models import ParticipationScore, Person, Role

ALL, COHORT, AGENCY, DISTRICT, AT_RISK = "all", "cohort", "agency", "district", "at_risk"
SCOPE_WORDS = {
    "semua": ALL, "seluruh": ALL, "program": ALL, "all": ALL, "kelompok": ALL, "grup": ALL,
    "angkatan": COHORT, "cohort": COHORT,
    "instansi": AGENCY, "opd": AGENCY, "agency": AGENCY,
    "kecamatan": DISTRICT, "kabupaten": DISTRICT, "kota": DISTRICT, "wilayah": DISTRICT, "daerah": DISTRICT,
    "district": DISTRICT,
    "berisiko": AT_RISK, "risiko": AT_RISK, "rawan": AT_RISK,
}
NAMED = frozenset({COHORT, AGENCY, DISTRICT})  # scopes that need a name after the word
AREA_FIELDS = ("kecamatan", "kabupaten", "kota")  # roster columns kept in Person.extra that name an area
SKIP_REASONS = ("no_consent", "inactive", "unreachable")
SCOPE_KEYS = {ALL: "bc.scope_all", COHORT: "bc.scope_cohort", AGENCY: "bc.scope_agency",
              DISTRICT: "bc.scope_district", AT_RISK: "bc.scope_at_risk"}
SKIP_KEYS = {"no_consent": "bc.skip_no_consent", "inactive": "bc.skip_inactive", "unreachable": "bc.skip_unreachable"}


@dataclass(frozen=True)
class Scope:
    """Whose participants: everyone, a cohort, an agency, an area or the at-risk list (value names the group)."""

    kind: str
    value: str = ""


@dataclass
class Audience:
    """The participants a broadcast goes to, and how many in scope are skipped for each reason."""

    recipients: list[Person] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def parse_scope(text: str) -> Scope | None:
    """"semua", "angkatan 2", "instansi Dinas Koperasi", "kecamatan Beji", "berisiko" → a Scope; None if unclear."""
    first, _, rest = text.strip().partition(" ")
    kind = SCOPE_WORDS.get(first.lower())
    name = " ".join(rest.split())[:200]
    if kind is None or (kind in NAMED and not name):
        return None
    return Scope(kind, name if kind in NAMED else "")


def scope_label(scope: Scope, language: str, *, own_group: bool) -> str:
    """"semua peserta", "angkatan 2", "peserta berisiko"; a mentor's scopes say "di kelompok Anda"."""
    label = t(SCOPE_KEYS.get(scope.kind, "bc.scope_all"), language, name=scope.value)
    return t("bc.scope_own", language, scope=label) if own_group else label


def _condition(scope: Scope, config: Config) -> ColumnElement[bool]:
    name = scope.value.strip().lower()
    if scope.kind == COHORT:
        return func.lower(func.trim(Person.cohort)).in_([name, f"angkatan {name}"])
    if scope.kind == AGENCY:
        return agency_of(config.rules(ReportsRules).agency_fields) == name
    if scope.kind == DISTRICT:
        fields = [func.lower(func.trim(func.coalesce(Person.extra[key].as_string(), literal(""))))
                  for key in AREA_FIELDS]
        return or_(func.lower(func.trim(Person.district)) == name, *[value == name for value in fields])
    if scope.kind == AT_RISK:
        latest = select(func.max(ParticipationScore.week)).scalar_subquery()
        dropping = select(ParticipationScore.participant_id).where(
            ParticipationScore.week == latest, ParticipationScore.is_dropping.is_(True))
        return Person.id.in_(dropping)
    return true()


def skip_reason(person: Person) -> str | None:
    """Why a participant in scope gets nothing: left or erased, no current consent, or unreachable."""
    if not person.is_active or person.erased_at is not None:
        return "inactive"
    if not has_consent(person):
        return "no_consent"
    if person.unreachable_reason:
        return "unreachable"
    return None


async def find_audience(session: AsyncSession, scope: Scope, sender: Person | None, config: Config) -> Audience:
    """The participants in scope (a mentor's own only), split into recipients and skipped by reason."""
    query = select(Person).where(Person.role == Role.PESERTA, _condition(scope, config)).order_by(Person.id)
    if sender is not None and sender.role == Role.PENDAMPING:
        query = query.where(Person.mentor_id == sender.id)
    audience, skipped = Audience(), Counter[str]()
    for person in (await session.execute(query)).scalars():
        reason = skip_reason(person)
        if reason is None:
            audience.recipients.append(person)
        else:
            skipped[reason] += 1
    audience.skipped = {reason: skipped[reason] for reason in SKIP_REASONS if skipped[reason]}
    return audience


def skipped_text(skipped: dict[str, int], language: str) -> str:
    """"3 belum setuju, 1 nonaktif" (empty when nobody is skipped)."""
    return ", ".join(t(SKIP_KEYS[reason], language, count=count) for reason, count in skipped.items()
                     if reason in SKIP_KEYS and count)
