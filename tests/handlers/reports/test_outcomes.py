"""Programme outcomes from the monthly reports against the targets of `klinik target`, in the weekly digest."""

import asyncio
import json
import shutil
import tomllib
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from PIL import Image
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.cli import main
from handlers.kernel.config import Config
from handlers.kernel.outbox import message_of
from handlers.reports.outcomes import read_outcome_targets, set_outcome_targets
from handlers.reports.targets import set_targets
from scheduler.jobs import JOBS
from scheduler.runner import run_job
from storage.db import make_engine, make_sessionmaker
from storage.models import MediaLink, MonthlyReport, OutcomeTarget, Person, Role
from storage.outcomes import refresh_participant_outcomes
from tests.support.driver import Driver

JAKARTA = ZoneInfo("Asia/Jakarta")
TARGETS = """
[programme]
name = "WUB Pamekasan"
target = 10000
trained_before = 8200
[programme.outcomes]
nib = 4
pirt = 2
jobs = 3
omzet = 20

[[agency]]
code = "DISPERINDAG"
name = "Disperindag"
target = 300
outcomes = { nib = 4 }

[[agency]]
code = "DKPP"
name = "DKPP"
target = 300

[[cohort]]
name = "Angkatan 1"
outcomes = { nib = 2 }
"""
OUTCOMES = """🏅 *Hasil program* (laporan bulanan, 3 peserta melapor)
NIB █████░░░░░ 2 dari 4
P-IRT █████░░░░░ 1 dari 2
Halal: 1
Tenaga kerja baru ███░░░░░░░ +1 dari 3
Omzet ██████████ +30% dari +20%
Per instansi (terjauh dari target dulu):
Disperindag · NIB █████░░░░░ 2 dari 4
Per angkatan (terjauh dari target dulu):
Angkatan 1 · NIB ██████████ 2 dari 2"""


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


def report(person: Person, month: str, sent: datetime | None, omzet: int, workers: int,
           permits: list[str]) -> MonthlyReport:
    return MonthlyReport(participant_id=person.id, month=month, omzet=omzet, workers=workers, permits=permits,
                         form_step="done" if sent else "permits", submitted_at=sent, created_at=at(1, month=1),
                         updated_at=at(1, month=1))


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, media_dir=str(tmp_path / "media"))


@pytest.fixture
async def reports(sessions: async_sessionmaker[AsyncSession], driver: Driver, mentor: Person,
                  participant: Person, coordinator: Person) -> None:
    """Sari got her NIB and a worker (omzet 1 juta → 1,3 juta); Joko reported once with NIB and P-IRT;
    Wati's halal counts, her unsent draft with a NIB does not, nor Rudi who left."""
    joko = await driver.add_person(role=Role.PESERTA, name="Joko Susilo", phone="+6281200000002", mentor_id=mentor.id,
                                   cohort="Angkatan 1", extra={"instansi": "disperindag"})
    wati = await driver.add_person(role=Role.PESERTA, name="Wati", phone="+6281200000003", mentor_id=mentor.id,
                                   cohort="Angkatan 2", extra={"instansi": "DKPP"})
    rudi = await driver.add_person(role=Role.PESERTA, name="Rudi", phone="+6281200000004", mentor_id=mentor.id,
                                   cohort="Angkatan 1", extra={"instansi": "Disperindag"}, is_active=False)
    async with sessions.begin() as session:
        sari = await session.get(Person, participant.id)
        assert sari is not None
        sari.cohort, sari.extra = "Angkatan 1", {"instansi": "Disperindag"}
        session.add_all([
            report(participant, "2026-01", at(2, month=2), 1_000_000, 1, []),
            report(participant, "2026-02", at(3), 1_300_000, 2, ["nib"]),
            report(joko, "2026-02", at(4), 2_000_000, 3, ["nib", "pirt"]),
            report(wati, "2026-01", at(3, month=2), 500_000, 0, ["halal"]),
            report(wati, "2026-02", None, 900_000, 1, ["halal", "nib"]),
            report(rudi, "2026-02", at(2), 700_000, 1, ["nib"]),
            report(joko, "2026-03", at(10), 9_000_000, 9, ["halal"]),  # after the digest's week
        ])
        await session.flush()
        for statement in refresh_participant_outcomes():  # kept as sending each report keeps them
            await session.execute(statement)
        data = tomllib.loads(TARGETS)
        await set_targets(session, data["programme"], data["agency"], at(1))
        await set_outcome_targets(session, read_outcome_targets(data), at(1))


async def test_digest_shows_outcomes_against_targets_as_bars(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, reports: None,
        coordinator: Person) -> None:
    await run_job(next(j for j in JOBS if j.id == "weekly_digest"), sessions, config, at(9, 7))

    text = (await driver.received(coordinator))[0]
    assert OUTCOMES in text.split("\n\n")


async def test_digest_workbook_lists_every_scope_and_measure(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, reports: None,
        coordinator: Person) -> None:
    await run_job(next(j for j in JOBS if j.id == "weekly_digest"), sessions, config, at(9, 7))

    row = (await driver.outbox(coordinator))[1]
    async with sessions() as session:
        link = await session.get(MediaLink, message_of(row).attachments[0].ref.removeprefix("media:"))
    assert link is not None
    rows = {(r[1], r[3]): r for r in load_workbook(link.ref)["Hasil program"].iter_rows(min_row=2, values_only=True)}
    assert rows[("WUB Pamekasan", "NIB")] == ("Program", "WUB Pamekasan", 3, "NIB", 2, 4, 50)
    assert rows[("WUB Pamekasan", "Omzet")] == ("Program", "WUB Pamekasan", 3, "Omzet", 30, 20, 150)
    assert rows[("DKPP", "Halal")] == ("Instansi", "DKPP", 1, "Halal", 1, None, None)
    assert rows[("Angkatan 2", "Omzet")] == ("Angkatan", "Angkatan 2", 1, "Omzet", None, None, None)


async def test_chart_draws_progress_toward_outcome_targets(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, reports: None,
        coordinator: Person) -> None:
    await run_job(next(j for j in JOBS if j.id == "weekly_digest"), sessions, config, at(9, 7))

    row = (await driver.outbox(coordinator))[0]
    async with sessions() as session:
        link = await session.get(MediaLink, message_of(row).attachments[0].ref.removeprefix("media:"))
    assert link is not None
    progress = json.loads(Image.open(link.ref).text["Description"])["progress"]
    assert progress[-4:] == [["NIB", 2, 4, "2", "4"], ["P-IRT", 1, 2, "1", "2"],
                             ["Tenaga kerja baru", 1, 3, "+1", "3"], ["Omzet", 30.0, 20, "+30%", "+20%"]]


def test_klinik_target_refuses_an_unknown_measure_and_changes_nothing(
        tmp_path: Path, sqlite_template: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    shutil.copy(sqlite_template, tmp_path / "cli.db")
    url = f"sqlite+aiosqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("KLINIK_DATABASE_URL", url)
    (tmp_path / "good.toml").write_text(TARGETS)
    (tmp_path / "bad.toml").write_text(TARGETS.replace("nib = 4\npirt", "sertifikat = 4\npirt"))

    assert main(["target", str(tmp_path / "good.toml")]) == 0
    assert main(["target", str(tmp_path / "bad.toml")]) == 2

    assert "File target tidak bisa dibaca: programme.outcomes.sertifikat" in capsys.readouterr().out
    assert sorted(stored_targets(url)) == [("agency", "DISPERINDAG", "nib", 4), ("cohort", "Angkatan 1", "nib", 2),
                                           ("programme", "WUB Pamekasan", "jobs", 3),
                                           ("programme", "WUB Pamekasan", "nib", 4),
                                           ("programme", "WUB Pamekasan", "omzet", 20),
                                           ("programme", "WUB Pamekasan", "pirt", 2)]


def stored_targets(url: str) -> list[tuple[str, str, str, int]]:
    async def read() -> list[tuple[str, str, str, int]]:
        engine = make_engine(url)
        try:
            async with make_sessionmaker(engine)() as session:
                query = select(OutcomeTarget.scope, OutcomeTarget.key, OutcomeTarget.measure, OutcomeTarget.target)
                return [tuple(row) for row in (await session.execute(query))]  # type: ignore[misc]
        finally:
            await engine.dispose()

    return asyncio.run(read())
