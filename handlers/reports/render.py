"""The digest as people see it: a short chat text, a chart (PNG) and a workbook (XLSX, one sheet per table)."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.kernel.config import Config
from handlers.kernel.dates import format_stamp, format_week
from handlers.kernel.i18n import t
from handlers.kernel.spreadsheet import xlsx_row

if TYPE_CHECKING:
    from handlers.reports.figures import GroupFigures
    from handlers.reports.shapes import Digest, MentorSummary

TEXT_COHORTS, TEXT_AT_RISK, CHART_COHORTS = 5, 3, 12


def pct(value: float | None, language: str) -> str:
    """"72%", "72,5%" or "–"."""
    return "–" if value is None else f"{number(value, language)}%"


def number(value: float, language: str) -> str:
    """A figure with at most one decimal, comma-decimal in Indonesian."""
    text = f"{value:.1f}".removesuffix(".0")
    return text.replace(".", ",") if language == "id" else text


def count(value: int, language: str) -> str:
    """"8.200" in Indonesian, "8,200" in English."""
    text = f"{value:,}"
    return text.replace(",", ".") if language == "id" else text


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
    if digest.targets is not None:
        target = digest.targets
        parts.append(t("part.digest_target", language, name=target.name, total=count(target.total, language),
                       target=count(target.target, language), pct=pct(target.pct, language)))
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


def chart_figures(digest: Digest) -> dict[str, Any]:
    """The numbers the chart plots (also stored in the PNG's metadata)."""
    cohorts = sorted(digest.cohorts, key=lambda g: -g.participants)[:CHART_COHORTS]
    return {
        "week": digest.week,
        "cohorts": [[g.label, g.active_pct, g.previous_active_pct] for g in cohorts],
        "ticket_ages": [n for _, _, n in digest.ticket_ages],
        "targets": [[a.name or "-", a.total, a.target] for a in digest.targets.agencies] if digest.targets else [],
    }


def write_chart(digest: Digest, path: Path, language: str) -> None:
    """Three panels for a phone screen: active % by cohort, open tickets by age, target per agency."""
    # Imported here: matplotlib costs every process a second of start-up otherwise.
    from matplotlib.figure import Figure

    data = chart_figures(digest)
    # A bare Figure renders with the Agg canvas: no pyplot, no display, no global state between threads.
    figure = Figure(figsize=(6.4, 10), dpi=100)  # a fixed layout: "constrained" doubles the render time
    figure.subplots_adjust(left=0.3, right=0.97, top=0.96, bottom=0.05, hspace=0.55)
    top, middle, bottom = figure.subplots(3, 1)
    labels = [row[0] for row in data["cohorts"]]
    spots = range(len(labels))
    top.bar([x - 0.2 for x in spots], [row[2] or 0 for row in data["cohorts"]], 0.4,
            label=t("part.chart_last_week", language), color="#b0bec5")
    bars = top.bar([x + 0.2 for x in spots], [row[1] or 0 for row in data["cohorts"]], 0.4,
                   label=t("part.chart_this_week", language), color="#1e88e5")
    top.bar_label(bars, fmt="%.0f%%", fontsize=7)
    top.set_xticks(list(spots), labels, rotation=30, ha="right", fontsize=7)
    top.set_ylim(0, 110)
    top.set_title(t("part.chart_active", language, week=format_week(digest.week, language)), fontsize=10)
    top.legend(fontsize=7)
    ages = [age_label(low, high, language) for low, high, _ in digest.ticket_ages]
    middle.bar_label(middle.bar(ages, data["ticket_ages"], color="#fb8c00"), fontsize=8)
    middle.yaxis.get_major_locator().set_params(integer=True)
    middle.set_ylim(bottom=0, top=max([*data["ticket_ages"], 1]) * 1.2)  # no negative axis when all are zero
    middle.set_title(t("part.chart_tickets", language), fontsize=10)
    _target_panel(bottom, data["targets"], language)
    figure.savefig(path, format="png", metadata={"Description": json.dumps(data)})


def _target_panel(axes: Any, rows: list[list[Any]], language: str) -> None:
    axes.set_title(t("part.chart_target", language), fontsize=10)
    if not rows:
        axes.text(0.5, 0.5, t("part.no_target", language), ha="center", va="center")
        axes.set_axis_off()
        return
    names = [row[0] for row in rows]
    axes.barh(names, [row[2] for row in rows], color="#e0e0e0", label=t("part.chart_goal", language))
    bars = axes.barh(names, [row[1] for row in rows], color="#43a047", label=t("part.chart_trained", language))
    axes.bar_label(bars, labels=[f"{row[1]:,} / {row[2]:,}".replace(",", ".") for row in rows], fontsize=7)
    axes.tick_params(axis="y", labelsize=7)
    axes.legend(fontsize=7)


def write_workbook(digest: Digest, path: Path, language: str) -> None:
    """One sheet per table; write-only mode keeps memory flat for large programmes."""
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    for key, header, rows in sheets(digest, language):
        sheet = book.create_sheet(t(key, language))
        sheet.append(xlsx_row(sheet, [t(name, language) for name in header]))
        for row in rows:
            sheet.append(xlsx_row(sheet, row))  # roster text like "=1+1" stays text
    book.save(path)


def sheets(digest: Digest, language: str) -> list[tuple[str, list[str], list[list[Any]]]]:
    """(sheet name's key, column names' keys, rows) for every table of the digest."""
    group = ["part.col_participants", "part.col_active", "part.col_active_pct", "part.col_active_change",
             "part.col_attendance_pct", "part.col_tugas_pct", "part.col_reports_sent", "part.col_reports_due",
             "part.col_average_score"]

    def figures_of(g: GroupFigures) -> list[Any]:
        return [g.participants, g.active, g.active_pct, g.active_change, g.attendance_pct, g.tugas_pct,
                g.reports_sent, g.reports_due, g.average_score]

    total = digest.total
    result: list[tuple[str, list[str], list[list[Any]]]] = [
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
         [[r.name, r.cohort, r.mentor, r.score, "; ".join(r.reasons), r.since.date().isoformat() if r.since else ""]
          for r in digest.at_risk]),
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
    return result
