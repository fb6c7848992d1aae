"""The reports' pictures for a phone: one column of panels, big type, weeks as dates, no empty panel.

Each picture is drawn by a pure function from plain figures (lists of numbers and labels, JSON-ready)
to a matplotlib Figure, so tests can read its panels before anything is saved. A panel whose figures
are all missing or zero is left out, never drawn empty.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from handlers.kernel.i18n import t
from handlers.reports.numerals import count, number

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

WIDTH, PANEL_HEIGHT, HEADER_HEIGHT, DPI = 7.2, 3.3, 0.9, 110  # inches: 792 px wide, readable on a phone
TITLE_SIZE, LABEL_SIZE, TEXT_SIZE = 16, 12, 12
COLOURS = ("#1e88e5", "#43a047", "#fb8c00", "#8e24aa", "#e53935", "#00897b")
GREY, LIGHT = "#9e9e9e", "#e0e0e0"

Draw = Callable[["Axes"], None]
LABEL_LIMIT = 20  # characters of a bar's name on the left (an agency's full name is in the workbook)


@dataclass(frozen=True)
class Panel:
    """One panel: its title, how to draw it, and its height in panels (long lists of bars get more)."""

    title: str
    draw: Draw
    size: float = 1.0


def bars_size(rows: int) -> float:
    """Height for a panel of horizontal bars: one panel up to five bars, more beyond."""
    return max(1.0, rows / 5)


def short(label: str) -> str:
    """A bar's name cut to fit the left margin."""
    return label if len(label) <= LABEL_LIMIT else label[:LABEL_LIMIT - 1].rstrip() + "…"


def panel_figure(title: str, panels: list[Panel]) -> Figure:
    """A portrait Figure of the given panels, one per row, under a title."""
    # Imported here: matplotlib costs every process a second of start-up otherwise.
    from matplotlib.figure import Figure

    # A bare Figure renders with the Agg canvas: no pyplot, no display, no global state between threads.
    height = HEADER_HEIGHT + PANEL_HEIGHT * sum(panel.size for panel in panels)
    figure = Figure(figsize=(WIDTH, height), dpi=DPI)
    figure.suptitle(title, fontsize=TITLE_SIZE, fontweight="bold", y=1 - 0.25 / height)
    # A fixed layout: "constrained" doubles the render time.
    figure.subplots_adjust(left=0.27, right=0.95, top=1 - HEADER_HEIGHT / height,
                           bottom=0.55 / height, hspace=0.75 / (sum(panel.size for panel in panels) / len(panels)))
    grid = figure.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": [p.size for p in panels]})
    for axes, panel in zip(grid[:, 0], panels, strict=True):
        axes.set_title(panel.title, fontsize=TITLE_SIZE - 2, loc="left")
        axes.tick_params(labelsize=LABEL_SIZE)
        for side in ("top", "right"):
            axes.spines[side].set_visible(False)
        panel.draw(axes)
    return figure


def _whole_numbers() -> Any:
    from matplotlib.ticker import MaxNLocator

    return MaxNLocator(integer=True)


def save_png(figure: Figure, data: dict[str, Any], path: Path) -> None:
    """Write the picture, with the figures it plots in the PNG's metadata (for tests and curious readers)."""
    # Light compression: a third of the time of the default level, for a slightly larger file.
    figure.savefig(path, format="png", metadata={"Description": json.dumps(data)}, pil_kwargs={"compress_level": 1})


def has_values(*series: list[Any]) -> bool:
    """Any figure in the series is a number other than zero."""
    return any(value for values in series for value in values if value is not None)


def digest_panels(data: dict[str, Any], language: str) -> list[Panel]:
    """The weekly digest's panels that have something to show, in reading order."""
    panels: list[Panel] = []
    active = data.get("active", [])
    if any(has_values(values) for _, values in active):
        panels.append(Panel(t("out.chart_active", language), lambda axes: _active_trend(axes, data, language)))
    risk = data.get("risk", {})
    if has_values(risk.get("at_risk", []), risk.get("recovered", [])):
        panels.append(Panel(t("out.chart_risk", language), lambda axes: _risk_trend(axes, data, language)))
    answers = data.get("answers", [])
    if has_values(answers):
        panels.append(Panel(t("out.chart_answers", language, hours=data.get("deadline_hours", "")),
                            lambda axes: _answers(axes, answers, language)))
    rates = [row for row in data.get("rates", []) if row[1] is not None or row[2] is not None]
    if rates:
        panels.append(Panel(t("out.chart_rates", language), lambda axes: _rates(axes, rates, language),
                            bars_size(len(rates))))
    progress = [row for row in data.get("progress", []) if row[2]]
    if progress:
        panels.append(Panel(t("out.chart_progress", language), lambda axes: _progress(axes, progress, language),
                            bars_size(len(progress))))
    return panels


def digest_figure(data: dict[str, Any], language: str) -> Figure:
    """The weekly digest picture from chart figures (render.chart_figures)."""
    return panel_figure(t("out.chart_title", language, period=data["period"]), digest_panels(data, language))


def _active_trend(axes: Axes, data: dict[str, Any], language: str) -> None:
    weeks = data["weeks"]
    spots = list(range(len(weeks)))
    for n, (label, values) in enumerate(data["active"]):
        points = [(x, v) for x, v in zip(spots, values, strict=True) if v is not None]
        style = {"color": "#212121", "linewidth": 3} if n == 0 else {"color": COLOURS[(n - 1) % len(COLOURS)]}
        axes.plot([x for x, _ in points], [v for _, v in points], marker="o", label=label, **style)
    axes.set_xticks(spots, weeks, rotation=35, ha="right", fontsize=LABEL_SIZE - 2)
    axes.set_ylim(0, 105)
    axes.yaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
    axes.legend(fontsize=LABEL_SIZE - 2, ncols=2, loc="lower left", frameon=False)
    axes.grid(axis="y", color=LIGHT)


def _risk_trend(axes: Axes, data: dict[str, Any], language: str) -> None:
    weeks, risk = data["weeks"], data["risk"]
    spots = list(range(len(weeks)))
    axes.bar([x - 0.2 for x in spots], risk["at_risk"], 0.4, color="#e53935", label=t("out.chart_at_risk", language))
    axes.bar([x + 0.2 for x in spots], risk["recovered"], 0.4, color="#43a047",
             label=t("out.chart_recovered", language))
    axes.set_xticks(spots, weeks, rotation=35, ha="right", fontsize=LABEL_SIZE - 2)
    axes.yaxis.set_major_locator(_whole_numbers())
    axes.set_ylim(0, max([*risk["at_risk"], *risk["recovered"]]) * 1.35)  # room for the legend above the bars
    axes.legend(fontsize=LABEL_SIZE - 2, frameon=False, ncols=2, loc="upper right")


def _answers(axes: Axes, answers: list[int], language: str) -> None:
    names = [t("out.chart_on_time", language), t("out.chart_late", language), t("out.chart_waiting", language)]
    bars = axes.barh(names[::-1], answers[::-1], color=["#9e9e9e", "#e53935", "#43a047"])
    total = sum(answers)
    axes.bar_label(bars, labels=[f"{count(n, language)} ({number(100 * n / total, language)}%)" for n in answers[::-1]],
                   fontsize=TEXT_SIZE, padding=4)
    axes.set_xlim(0, max(answers) * 1.45)
    axes.set_xticks([])


def _rates(axes: Axes, rows: list[list[Any]], language: str) -> None:
    rows = rows[::-1]  # the first row on top
    spots = list(range(len(rows)))
    attendance = axes.barh([y + 0.2 for y in spots], [row[1] or 0 for row in rows], 0.4, color=COLOURS[0],
                           label=t("out.chart_attendance", language))
    tugas = axes.barh([y - 0.2 for y in spots], [row[2] or 0 for row in rows], 0.4, color=COLOURS[2],
                      label=t("out.chart_tugas", language))
    for bars, column in ((attendance, 1), (tugas, 2)):
        axes.bar_label(bars, labels=["–" if row[column] is None else f"{row[column]:.0f}%" for row in rows],
                       fontsize=TEXT_SIZE - 2, padding=3)
    axes.set_yticks(spots, [short(row[0]) for row in rows])
    axes.set_xlim(0, 155)  # the legend sits right of the longest bar (100%)
    axes.set_xticks([])
    axes.legend(fontsize=LABEL_SIZE - 2, frameon=False, loc="lower right")


def _progress(axes: Axes, rows: list[list[Any]], language: str) -> None:
    rows = rows[::-1]
    spots = list(range(len(rows)))
    shares = [max(0.0, min(100.0, 100 * row[1] / row[2])) for row in rows]
    axes.barh(spots, [100] * len(rows), color=LIGHT)
    axes.barh(spots, shares, color=[COLOURS[1] if s >= 100 else COLOURS[0] for s in shares])
    for y, row in enumerate(rows):  # beside the full bar, so the words never sit on a colour
        axes.text(103, y, t("out.chart_of", language, value=row[3], target=row[4]), va="center",
                  fontsize=TEXT_SIZE - 1)
    axes.set_yticks(spots, [short(row[0]) for row in rows])
    axes.set_xlim(0, 190)
    axes.set_xticks([])


def ranking_panels(data: dict[str, Any], language: str) -> list[Panel]:
    """The monthly mentor ranking's panels: share on time and attendance per mentor, the spread of all."""
    rows = data.get("mentors", [])
    panels: list[Panel] = []
    for column, key in ((1, "out.chart_rank_on_time"), (2, "out.chart_rank_attendance")):
        if has_values([row[column] for row in rows]):
            panels.append(Panel(t(key, language, hours=data.get("deadline_hours", "")),
                                _mentor_panel(rows, column, data.get("good", [0, 0, 0])[column]), bars_size(len(rows))))
    spread = [value for value in data.get("spread", []) if value is not None]
    if len(spread) > len(rows):
        panels.append(Panel(t("out.chart_rank_spread", language, n=count(len(spread), language)),
                            lambda axes: _spread(axes, spread)))
    return panels


def ranking_figure(data: dict[str, Any], language: str) -> Figure:
    """The coordinators' monthly picture of mentors (performance.ranking_figures)."""
    return panel_figure(t("out.chart_rank_title", language, month=data["month"]), ranking_panels(data, language))


def _mentor_panel(rows: list[list[Any]], column: int, good: float) -> Draw:
    return lambda axes: _mentor_bars(axes, rows, column, good)


def _mentor_bars(axes: Axes, rows: list[list[Any]], column: int, good: float) -> None:
    """Bars per mentor, green from the good level up, red below it."""
    rows = rows[::-1]
    values = [row[column] or 0 for row in rows]
    bars = axes.barh([short(row[0]) for row in rows], values, color=[COLOURS[1] if value >= good else COLOURS[4]
                                                              for value in values])
    axes.bar_label(bars, labels=["–" if row[column] is None else f"{row[column]:.0f}%" for row in rows],
                   fontsize=TEXT_SIZE - 2, padding=3)
    axes.set_xlim(0, 115)
    axes.set_xticks([])
    axes.tick_params(axis="y", labelsize=LABEL_SIZE - 1)


def _spread(axes: Axes, values: list[float]) -> None:
    axes.hist(values, bins=list(range(0, 101, 10)), color=COLOURS[0], edgecolor="white")
    axes.xaxis.set_major_formatter(lambda value, _: f"{value:.0f}%")
    axes.yaxis.set_major_locator(_whole_numbers())
