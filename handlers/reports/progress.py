"""Progress toward targets as phone-sized text: a bar of ten cells and "8.200 dari 10.000"."""

from __future__ import annotations

from handlers.kernel.i18n import t
from handlers.reports.numerals import count, number
from handlers.reports.outcomes import MEASURES, Outcome, Outcomes

CELLS = 10
TEXT_SCOPE_LINES = 6  # agency and cohort lines in a chat message (the workbook has them all)
MEASURE_KEYS = {"nib": "out.nib", "pirt": "out.pirt", "halal": "out.halal", "lainnya": "out.lainnya",
                "jobs": "out.jobs", "omzet": "out.omzet"}


def bar(value: float, target: float) -> str:
    """"███████░░░": the share of the target reached, in ten cells (full at or past the target)."""
    share = 0.0 if target <= 0 else max(0.0, min(1.0, value / target))
    filled = round(share * CELLS)
    return "█" * filled + "░" * (CELLS - filled)


def share(value: float, target: float) -> float:
    """Progress as a fraction, for ordering (the slowest first)."""
    return value / target if target > 0 else 1.0


def measure_value(outcome: Outcome, measure: str, language: str) -> str:
    """"120", "+35", "+12,5%" or "–"."""
    value = outcome.value(measure)
    if value is None:
        return "–"
    if measure == "omzet":
        return f"{'+' if value > 0 else ''}{number(value, language)}%"
    if measure == "jobs":
        return f"{'+' if value > 0 else ''}{count(int(value), language)}"
    return count(int(value), language)


def target_value(measure: str, target: int, language: str) -> str:
    """"10.000" or "+20%" for omzet growth."""
    return f"+{count(target, language)}%" if measure == "omzet" else count(target, language)


def measure_line(outcome: Outcome, measure: str, language: str, *, label: str = "") -> str:
    """"NIB ███████░░░ 8.200 dari 10.000", or "NIB: 120" without a target."""
    name = (label + " · " if label else "") + t(MEASURE_KEYS[measure], language)
    value = measure_value(outcome, measure, language)
    target = outcome.targets.get(measure)
    if target is None:
        return t("out.line_plain", language, name=name, value=value)
    return t("out.line_target", language, name=name, bar=bar(outcome.value(measure) or 0.0, target), value=value,
             target=target_value(measure, target, language))


def outcomes_text(outcomes: Outcomes, language: str) -> str:
    """The programme's outcomes with bars, then the slowest agency and cohort targets."""
    programme = outcomes.programme
    lines = [t("out.title", language, reporting=count(programme.reporting, language))]
    shown = [m for m in MEASURES if m in programme.targets or (programme.value(m) or 0)]
    lines += [measure_line(programme, m, language) for m in shown] or [t("out.none_yet", language)]
    for key, scopes in (("out.by_agency", outcomes.agencies), ("out.by_cohort", outcomes.cohorts)):
        rows = sorted(((share(o.value(m) or 0.0, target), o, m) for o in scopes for m, target in o.targets.items()),
                      key=lambda row: (row[0], row[1].label, MEASURES.index(row[2])))
        if not rows:
            continue
        lines.append(t(key, language))
        lines += [measure_line(o, m, language, label=o.label) for _, o, m in rows[:TEXT_SCOPE_LINES]]
        if len(rows) > TEXT_SCOPE_LINES:
            lines.append(t("part.more", language, n=len(rows) - TEXT_SCOPE_LINES))
    return "\n".join(lines)


OUTCOME_HEADER = ["out.col_scope", "out.col_name", "out.col_reporting", "out.col_measure", "out.col_value",
                  "out.col_target", "out.col_pct"]


def outcome_rows(outcomes: Outcomes, language: str) -> list[list[object]]:
    """Workbook rows: every scope and measure, with its target and progress where one is set."""
    rows: list[list[object]] = []
    scopes = [("out.scope_programme", outcomes.programme), *[("out.scope_agency", o) for o in outcomes.agencies],
              *[("out.scope_cohort", o) for o in outcomes.cohorts]]
    for key, outcome in scopes:
        for measure in MEASURES:
            value, target = outcome.value(measure), outcome.targets.get(measure)
            progress = round(100 * value / target, 1) if value is not None and target else None
            rows.append([t(key, language), outcome.label, outcome.reporting, t(MEASURE_KEYS[measure], language),
                         value, target, progress])
    return rows
