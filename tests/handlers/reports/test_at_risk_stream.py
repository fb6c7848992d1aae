"""A stored week's at-risk list streams from the database in the digest's order (none of it held): the
workbook's rows, the coordinator's first names and each mentor's share are those of the list sorted in Python."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.job_runs import record_run
from handlers.reports import digest, figures
from handlers.reports.render import at_risk_row, write_workbook
from storage.models import NudgeLog, ParticipationScore, Person, Role
from tests.support.driver import Driver

JAKARTA = ZoneInfo("Asia/Jakarta")
WEEK = "2026-W10"
# (name, score, nudge ladder: (started, reached the coordinator) or None). Names that differ in case and
# accents only, and equal scores, so that every tie-break of the order shows.
SLIPPING = [("budi", 20.0, None), ("Ádi", 20.0, None), ("Budi", 20.0, None), ("adi", 20.0, None),
            ("Zaki", 5.5, None), ("Citra", 35.0, (datetime(2026, 3, 3, 9, tzinfo=JAKARTA), False)),
            ("Eka", 40.0, (datetime(2026, 3, 2, 9, tzinfo=JAKARTA), True)),
            ("Fajar", 10.0, (datetime(2026, 2, 24, 9, tzinfo=JAKARTA), True)), ("adi", 20.0, None)]


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, media_dir=str(tmp_path / "media"))


async def stored_week(sessions: async_sessionmaker[AsyncSession], driver: Driver, mentor: Person) -> Person:
    """The week closed with every participant of SLIPPING dropping; odd ones with `mentor`, even ones with Dewi."""
    dewi = await driver.add_person(role=Role.PENDAMPING, name="Dewi", phone="+6281100000002")
    rows: list[object] = []
    for n, (name, score, ladder) in enumerate(SLIPPING):
        person = await driver.add_person(role=Role.PESERTA, name=name, phone=f"+62812000001{n:02d}",
                                         mentor_id=(mentor if n % 2 else dewi).id, cohort=f"Angkatan {n % 3}")
        rows.append(ParticipationScore(week=WEEK, participant_id=person.id, mentor_id=person.mentor_id,
                                       cohort=person.cohort, score=score, is_dropping=True,
                                       reasons=[f"skor turun ke {score:.0f}", "tidak ada pesan 14 hari"],
                                       computed_at=datetime(2026, 3, 9, tzinfo=JAKARTA)))
        if ladder is not None:
            started, escalated = ladder
            rows += [NudgeLog(participant_id=person.id, period="2026-W09", step=step, sent_at=started)
                     for step in ("nudge", *(("coordinator",) if escalated else ()))]
    async with sessions.begin() as session:
        session.add_all(rows)
        record_run(session, digest.SCORES_JOB_ID, WEEK, datetime(2026, 3, 9, tzinfo=JAKARTA), {})
    return dewi


async def test_the_stored_list_streams_in_the_order_python_sorts_it(
        sessions: async_sessionmaker[AsyncSession], config: Config, driver: Driver, mentor: Person,
        tmp_path: Path) -> None:
    dewi = await stored_week(sessions, driver, mentor)
    now = datetime(2026, 3, 9, 7, tzinfo=JAKARTA)
    end = datetime(2026, 3, 9, tzinfo=JAKARTA)
    async with sessions() as session:
        names = await figures.mentor_names(session)
        streamed = [risk async for rows in figures.stream_stored_at_risk(session, WEEK, end, names)
                    for risk in rows]
        found = await digest.stored_digest(session, WEEK, now, config)
        assert found is not None
        summed, weekly = found
        summaries = await digest.mentor_summaries(session, WEEK, summed, weekly.at_risk)
    write_workbook(weekly, tmp_path / "book.xlsx", "id")
    weekly.at_risk.close()
    book = load_workbook(tmp_path / "book.xlsx")

    in_python = figures._at_risk_order(sorted(streamed, key=lambda risk: risk.participant_id))
    assert [risk.name for risk in streamed] == ["Fajar", "Eka", "Zaki", "Budi", "adi", "adi", "budi", "Ádi",
                                                "Citra"]
    assert streamed == in_python
    assert [list(row) for row in book["Berisiko"].iter_rows(min_row=2, values_only=True)] == [
        at_risk_row(risk) for risk in in_python]
    assert weekly.at_risk == figures.AtRiskList(held=in_python)
    assert [risk.name for risk in weekly.at_risk[:3]] == ["Fajar", "Eka", "Zaki"]
    assert [(s.slipping_count, [name for _, name, _ in s.slipping]) for s in (summaries[mentor.id], summaries[dewi.id])
            ] == [(4, ["Fajar", "adi", "Ádi", "Citra"]), (5, ["Eka", "Zaki", "Budi", "adi", "budi"])]
