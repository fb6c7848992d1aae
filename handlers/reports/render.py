"""The digest as people see it: a short chat text, a chart (PNG) and a workbook (XLSX, one sheet per table)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.kernel.config import Config
from handlers.kernel.dates import format_day_month, format_stamp, format_week
from handlers.kernel.i18n import t
from handlers.reports.numerals import count, number, pct
from handlers.reports.outcomes import MEASURES
from handlers.reports.progress import (
    MEASURE_KEYS,
    OUTCOME_HEADER,
    bar,
    measure_value,
    outcome_rows,
    outcomes_text,
    target_value,
)
from handlers.reports.xlsx import RowsXml, write_xlsx

if TYPE_CHECKING:
    from handlers.reports.figures import AtRisk, GroupFigures
    from handlers.reports.shapes import Digest, MentorSummary

TEXT_COHORTS, TEXT_AT_RISK, CHART_COHORTS, CHART_AGENCIES = 5, 3, 6, 8


def change(value: float | None, language: str) -> str:
    """"+5 poin", "−3 poin", or "–" with nothing to compare."""
    if value is None:
        return t("part.change_none", language)
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return t("part.change", language, value=f"{sign}{number(abs(value), language)}")


def period_label(digest: Digest, config: Config, language: str) -> str:
    """"2–8 Mar 2026" or, for a running week, "2–8 Mar 2026 (s.d. 4 Mar, 09.00 WIB)"."""
    week = format_week(digest.week, language)
    if digest.is_partial:
        return t("part.period_partial", language, week=week,
                 until=format_stamp(digest.end, config.timezone, language))
    return week


def ages_text(digest: Digest, language: str) -> str:
    """"<1 hari: 3 · 1–3 hari: 2 · …"."""
    return " · ".join(f"{age_label(low, high, language)}: {count(n, language)}" for low, high, n in digest.ticket_ages)


def age_label(low: int, high: int | None, language: str) -> str:
    """"< 1 hari", "1–3 hari", "> 7 hari"."""
    if low == 0:
        return t("part.age_under", language, days=high)
    if high is None:
        return t("part.age_over", language, days=low)
    return t("part.age_between", language, low=low, high=high)


def group_line(group: GroupFigures, language: str) -> str:
    """"• Angkatan 1: aktif 80% (+5 poin), presensi 75%, tugas 60%"."""
    return t("part.digest_group_line", language, label=group.label, active=pct(group.active_pct, language),
             change=change(group.active_change, language), attendance=pct(group.attendance_pct, language),
             tugas=pct(group.tugas_pct, language))


def coordinator_text(digest: Digest, config: Config, language: str) -> str:
    """The short chat message: totals, weakest cohorts, at-risk, tickets, answers, target."""
    total = digest.total
    parts = [t("part.digest_title", language, programme=config.programme_name,
               period=period_label(digest, config, language)),
             t("part.digest_participation", language, participants=count(total.participants, language),
               active=pct(total.active_pct, language), change=change(total.active_change, language),
               attendance=pct(total.attendance_pct, language), tugas=pct(total.tugas_pct, language),
               reports_sent=count(total.reports_sent, language), reports_due=count(total.reports_due, language))]
    weakest = sorted(digest.cohorts, key=lambda g: g.active_pct if g.active_pct is not None else 101)
    parts.append(t("part.digest_cohorts", language) + "\n"
                 + "\n".join(group_line(g, language) for g in weakest[:TEXT_COHORTS]))
    parts.append(at_risk_text(digest, language))
    parts.append(t("part.digest_tickets", language, open=count(sum(n for _, _, n in digest.ticket_ages), language),
                   ages=ages_text(digest, language)))
    parts.append(t("part.digest_service", language,
                   median="–" if digest.response_median is None else number(digest.response_median, language),
                   rating="–" if digest.rating_average is None else number(digest.rating_average, language)))
    on_time, late, _waiting = digest.answers
    if on_time + late:
        parts[-1] += "\n" + t("out.on_time", language, hours=number(digest.deadline_hours, language),
                               on_time=count(on_time, language), counted=count(on_time + late, language),
                               pct=pct(100 * on_time / (on_time + late), language))
    if digest.targets is not None:
        target = digest.targets
        parts.append(t("part.digest_target", language, name=target.name, total=count(target.total, language),
                       target=count(target.target, language), pct=pct(target.pct, language))
                     + "\n" + bar(target.total, target.target))
    if digest.outcomes is not None:
        parts.append(outcomes_text(digest.outcomes, language))
    parts.append(t("part.digest_footer", language))
    return "\n\n".join(parts)


def at_risk_text(digest: Digest, language: str) -> str:
    """Count and the longest-standing few, with reasons."""
    if not digest.at_risk:
        return t("part.digest_no_at_risk", language)
    lines = [t("part.digest_at_risk_line", language, name=r.name, cohort=r.cohort or "-",
               reasons="; ".join(r.reasons) or "-") for r in digest.at_risk[:TEXT_AT_RISK]]
    more = len(digest.at_risk) - TEXT_AT_RISK
    if more > 0:
        lines.append(t("part.more", language, n=more))
    return t("part.digest_at_risk", language, count=count(len(digest.at_risk), language)) + "\n" + "\n".join(lines)


def mentor_text(summary: MentorSummary, now: datetime, config: Config, language: str) -> str:
    """A mentor's week: status, who is slipping and why, what waits for them."""
    parts = [t("part.summary_title", language, week=format_week(summary.week, language)),
             t("part.summary_status", language, participants=summary.participants, active=summary.active,
               pct=pct(summary.active * 100 / summary.participants if summary.participants else None, language))]
    if summary.slipping_count:
        lines = [t("part.summary_slipping_line", language, name=name, reasons="; ".join(reasons) or "-")
                 for _, name, reasons in summary.slipping]
        if summary.slipping_count > len(summary.slipping):
            lines.append(t("part.more", language, n=summary.slipping_count - len(summary.slipping)))
        parts.append(t("part.summary_slipping", language, count=summary.slipping_count) + "\n" + "\n".join(lines))
    else:
        parts.append(t("part.summary_none_slipping", language))
    oldest = ("" if summary.oldest_ticket is None
              else t("part.summary_oldest", language, days=max(0, (now - summary.oldest_ticket).days)))
    waiting = t("part.summary_waiting", language, tickets=summary.open_tickets, oldest=oldest,
                reviews=summary.reviews, leaves=summary.leave_requests)
    if summary.leave_requests:
        waiting += "\n" + t("part.summary_leave_hint", language)
    parts.append(waiting)
    return "\n\n".join(parts)


def chart_figures(digest: Digest, language: str) -> dict[str, Any]:
    """The numbers the chart plots (also stored in the PNG's metadata): plain lists, JSON-ready."""
    # Every cohort of a small programme; of a large one, the lowest attendance (the ones to look at).
    cohorts = (digest.cohorts if len(digest.cohorts) <= CHART_COHORTS else sorted(
        digest.cohorts, key=lambda g: (g.attendance_pct if g.attendance_pct is not None else 101, g.label))[:CHART_COHORTS])
    at_risk, recovered = digest.risk_trend
    return {
        "period": format_week(digest.week, language),
        "weeks": [week_tick(week, language) for week in digest.weeks],
        "active": [[label, values] for label, values in digest.active_trend],
        "risk": {"at_risk": at_risk, "recovered": recovered},
        "answers": list(digest.answers),
        "deadline_hours": number(digest.deadline_hours, language),
        "rates": [[t("out.chart_everyone", language), digest.total.attendance_pct, digest.total.tugas_pct]]
                 + [[g.label, g.attendance_pct, g.tugas_pct] for g in cohorts] if len(cohorts) > 1
                 else [[g.label, g.attendance_pct, g.tugas_pct] for g in cohorts],
        "progress": progress_rows(digest, language),
    }


def week_tick(week: str, language: str) -> str:
    """A week on a chart's axis, without the year (the title has it): "2–8 Mar", "30 Nov–6 Des"."""
    year, number_ = (int(part) for part in week.split("-W"))
    monday = date.fromisocalendar(year, number_, 1)
    sunday = monday + timedelta(days=6)
    if monday.month == sunday.month:
        return f"{monday.day}–{format_day_month(sunday, language)}"
    return f"{format_day_month(monday, language)}–{format_day_month(sunday, language)}"


def progress_rows(digest: Digest, language: str) -> list[list[Any]]:
    """[label, value, target, value text, target text] for each target with a figure to compare."""
    rows: list[list[Any]] = []
    if digest.targets is not None and digest.targets.target:
        target = digest.targets
        rows.append([t("out.chart_trained", language), target.total, target.target, count(target.total, language),
                     count(target.target, language)])
        if len(target.agencies) <= CHART_AGENCIES:
            rows += [[a.name, a.total, a.target, count(a.total, language), count(a.target, language)]
                     for a in target.agencies if a.target]
    if digest.outcomes is not None:
        programme = digest.outcomes.programme
        for measure, goal in sorted(programme.targets.items(), key=lambda item: MEASURES.index(item[0])):
            rows.append([t(MEASURE_KEYS[measure], language), programme.value(measure) or 0, goal,
                         measure_value(programme, measure, language), target_value(measure, goal, language)])
    return rows


def has_chart(digest: Digest, language: str) -> bool:
    """Whether the digest picture would have a panel at all."""
    from handlers.reports.charts import digest_panels

    return bool(digest_panels(chart_figures(digest, language), language))


def write_chart(digest: Digest, path: Path, language: str) -> None:
    """The digest picture (charts.digest_figure) as a PNG with its figures in the metadata."""
    from handlers.reports.charts import digest_figure, save_png

    data = chart_figures(digest, language)
    save_png(digest_figure(data, language), data, path)


def write_workbook(digest: Digest, path: Path, language: str) -> None:
    """One sheet per table, streamed (handlers/reports/xlsx.py): a large programme's at-risk list is long."""
    write_xlsx(path, [(t(key, language), chain([[t(name, language) for name in header]], rows))
                      for key, header, rows in sheets(digest, language)])


def at_risk_row(r: AtRisk) -> list[Any]:
    """A row of the workbook's at-risk sheet."""
    return [r.name, r.cohort, r.mentor, r.score, "; ".join(r.reasons), r.since.date().isoformat() if r.since else ""]


def sheets(digest: Digest, language: str) -> list[tuple[str, list[str], Iterable[list[Any] | RowsXml]]]:
    """(sheet name's key, column names' keys, rows) for every table of the digest; the at-risk rows (tens of
    thousands in a large programme) are made as the sheet is written (a held list) or were written ahead as
    the list streamed (a stored week's), not held as a list."""
    listed = digest.at_risk
    risky: Iterable[list[Any] | RowsXml] = ([listed.written] if listed.written is not None
                                           else map(at_risk_row, listed.held or ()))
    group = ["part.col_participants", "part.col_active", "part.col_active_pct", "part.col_active_change",
             "part.col_attendance_pct", "part.col_tugas_pct", "part.col_reports_sent", "part.col_reports_due",
             "part.col_average_score"]

    def figures_of(g: GroupFigures) -> list[Any]:
        return [g.participants, g.active, g.active_pct, g.active_change, g.attendance_pct, g.tugas_pct,
                g.reports_sent, g.reports_due, g.average_score]

    total = digest.total
    result: list[tuple[str, list[str], Iterable[list[Any] | RowsXml]]] = [
        ("part.sheet_summary", ["part.col_week", *group, "part.col_open_tickets", "part.col_response_median",
                                "part.col_rating_average", "part.col_at_risk"],
         [[format_week(digest.week, language), *figures_of(total), sum(n for _, _, n in digest.ticket_ages), digest.response_median,
           digest.rating_average, len(digest.at_risk)]]),
        ("part.sheet_cohorts", ["part.col_cohort", *group], [[g.label, *figures_of(g)] for g in digest.cohorts]),
        ("part.sheet_mentors", ["part.col_mentor", *group, "part.col_open_tickets", "part.col_responses",
                                "part.col_response_median", "part.col_rating_average", "part.col_ratings"],
         [[m.label, *figures_of(m), m.open_tickets, len(m.response_hours), m.response_median, m.rating_average,
           m.ratings] for m in digest.mentors]),
        ("part.sheet_at_risk", ["part.col_name", "part.col_cohort", "part.col_mentor", "part.col_score",
                                "part.col_reasons", "part.col_since"],
         risky),
        ("part.sheet_tickets", ["part.col_age", "part.col_count"],
         [[age_label(low, high, language), n] for low, high, n in digest.ticket_ages]),
    ]
    if digest.targets is not None:
        target = digest.targets
        rows = [[a.name or t("part.no_agency", language), a.target, a.trained_before, a.enrolled, a.trained,
                 a.total, a.pct] for a in target.agencies]
        rows.append([target.name, target.target, target.total - target.trained, None, target.trained,
                     target.total, target.pct])
        result.append(("part.sheet_targets", ["part.col_agency", "part.col_target", "part.col_trained_before",
                                              "part.col_enrolled", "part.col_trained", "part.col_total",
                                              "part.col_pct"], rows))
    if digest.outcomes is not None:
        result.append(("out.sheet", OUTCOME_HEADER, outcome_rows(digest.outcomes, language)))
    return result
