"""The report pictures from fixed figures: which panels, their titles, none empty; saved for a reviewer to open."""

from pathlib import Path
from typing import Any

import pytest
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from handlers.reports.charts import digest_figure, digest_panels, ranking_figure

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "charts"
WEEKS = ["12–18 Okt", "19–25 Okt", "26 Okt–1 Nov", "2–8 Nov", "9–15 Nov", "16–22 Nov", "23–29 Nov", "30 Nov–6 Des"]
BIG_WEEK: dict[str, Any] = {
    "period": "30 Nov–6 Des 2026",
    "weeks": WEEKS,
    "active": [["Semua peserta", [71.0, 73.5, 70.2, 68.0, 66.4, 69.9, 72.3, 74.8]],
               ["Angkatan 3", [60.0, 58.0, 55.5, 50.0, 49.0, 47.5, 52.0, 51.0]],
               ["Angkatan 7", [None, None, 80.0, 78.0, 75.0, 70.0, 66.0, 64.0]]],
    "risk": {"at_risk": [120, 98, 143, 160, 171, 150, 132, 118], "recovered": [40, 61, 55, 70, 88, 95, 90, 101]},
    "answers": [1840, 312, 57],
    "deadline_hours": "8",
    "rates": [["Semua peserta", 71.2, 64.0], ["Angkatan 1", 80.5, 70.0], ["Angkatan 2", 66.0, None],
              ["Angkatan 3", 52.0, 41.5]],
    "progress": [["Warga dilatih", 8200, 10000, "8.200", "10.000"], ["NIB", 640, 1000, "640", "1.000"],
                 ["P-IRT", 410, 400, "410", "400"], ["Omzet", 12.5, 20, "+12,5%", "+20%"]],
}
DEMO_WEEK: dict[str, Any] = {  # the demo programme: one cohort, nobody at risk, no target, one question
    "period": "30 Nov–6 Des 2026", "weeks": WEEKS,
    "active": [["Semua peserta", [None] * 7 + [50.0]], ["Angkatan 1", [None] * 7 + [50.0]]],
    "risk": {"at_risk": [0] * 8, "recovered": [0] * 8}, "answers": [1, 0, 0], "deadline_hours": "8",
    "rates": [["Angkatan 1", None, None]], "progress": [],
}


@pytest.fixture(scope="module", autouse=True)
def artifacts() -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    print(f"\ncharts for review: {ARTIFACTS}")


def save(figure: Figure, name: str) -> None:
    figure.savefig(ARTIFACTS / name, format="png")


def titles(figure: Figure) -> list[str]:
    return [axes.get_title(loc="left") for axes in figure.axes]


def is_drawn(axes: Axes) -> bool:
    """Something with a size other than zero: a bar, a line with points, a histogram bin."""
    bars = [p for p in axes.patches if p.get_width() > 0 and p.get_height() > 0]  # type: ignore[attr-defined]
    lines = [line for line in axes.lines if len(line.get_xdata()) > 0]  # type: ignore[arg-type]
    return bool(bars or lines)


def test_busy_week_has_five_panels_each_drawn() -> None:
    figure = digest_figure(BIG_WEEK, "id")
    save(figure, "digest-busy-week.png")

    assert figure.get_suptitle() == "Ringkasan mingguan · 30 Nov–6 Des 2026"
    assert titles(figure) == ["Peserta aktif, 8 minggu terakhir", "Peserta berisiko dan yang kembali aktif",
                              "Pertanyaan minggu ini (batas 8 jam kerja)", "Presensi dan tugas minggu ini",
                              "Menuju target"]
    assert all(is_drawn(axes) for axes in figure.axes)


def test_weeks_read_as_dates_not_week_numbers() -> None:
    figure = digest_figure(BIG_WEEK, "id")

    ticks = [label.get_text() for label in figure.axes[0].get_xticklabels()]
    assert ticks == WEEKS
    assert not any("W" in text for text in [*ticks, figure.get_suptitle()])


def test_demo_week_leaves_out_panels_without_data() -> None:
    figure = digest_figure(DEMO_WEEK, "id")
    save(figure, "digest-demo-week.png")

    assert titles(figure) == ["Peserta aktif, 8 minggu terakhir", "Pertanyaan minggu ini (batas 8 jam kerja)"]
    assert all(is_drawn(axes) for axes in figure.axes)


def test_picture_is_portrait_for_a_phone() -> None:
    width, height = digest_figure(BIG_WEEK, "id").get_size_inches() * 110

    assert (round(width), height > width) == (792, True)


def test_mentor_ranking_shows_on_time_attendance_and_the_spread() -> None:
    mentors = [["Rina", 96.0, 88.0], ["Budi", 81.0, 79.5], ["Agus", 55.0, 61.0], ["Dewi", None, 90.0]]
    data = {"month": "November 2026", "deadline_hours": "8", "good": [0, 80.0, 75.0], "mentors": mentors,
            "spread": [96.0, 81.0, 55.0, 70.0, 88.0, 42.0, 77.0]}
    figure = ranking_figure(data, "id")
    save(figure, "kinerja-ranking.png")

    assert titles(figure) == ["Dijawab ≤ 8 jam kerja", "Presensi kelompok", "Sebaran tepat waktu, 7 pendamping"]
    assert [label.get_text() for label in figure.axes[0].get_yticklabels()] == ["Dewi", "Agus", "Budi", "Rina"]
    assert all(is_drawn(axes) for axes in figure.axes)


def test_a_week_with_nothing_to_draw_has_no_panel_at_all() -> None:
    quiet = {"period": "30 Nov–6 Des 2026", "weeks": WEEKS, "active": [["Semua peserta", [None] * 8]],
             "risk": {"at_risk": [0] * 8, "recovered": [0] * 8}, "answers": [0, 0, 0], "rates": [], "progress": []}

    assert digest_panels(quiet, "id") == []


def test_a_large_programme_gets_taller_bar_panels_and_short_names() -> None:
    agencies = [[name, 16_667, 16_666, "16.667", "16.666"] for name in
                ("Dinas Kelautan dan Perikanan", "Diskop UKM dan Naker", "Disperindag", "Disporapar", "DKPP", "DP3AP2KB")]
    data = {**BIG_WEEK, "progress": [*BIG_WEEK["progress"], *agencies],
            "rates": [*BIG_WEEK["rates"], ["Angkatan 41", 40.0, None], ["Angkatan 57", 38.5, 20.0]]}
    figure = digest_figure(data, "id")
    save(figure, "digest-large-programme.png")

    heights = [axes.get_position().height for axes in figure.axes]
    names = [label.get_text() for label in figure.axes[4].get_yticklabels()]
    assert heights[4] > 1.9 * heights[0]
    assert heights[3] > 1.1 * heights[0]
    assert "Dinas Kelautan dan…" in names
    assert max(len(name) for name in names) <= 20
