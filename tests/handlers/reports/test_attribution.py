"""Figures go to the mentor of that time: Sari moves from Budi to Andi on 15 November; kinerja and the rekap of
each mentor count what happened before the move for Budi and after it for Andi (fixed clock)."""

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from handlers.kernel.outbox import message_of
from handlers.reports.figures import first_responses
from handlers.reports.performance import MentorMonth, mentor_months
from handlers.reports.rekap import Scope, build_rekap, day_period, month_period
from storage.models import NudgeLog, Person, Role, Submission, Ticket
from tests.support.driver import Driver
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")


def at(day: int, hour: int = 10, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)", media_dir=str(tmp_path / "media"))


@pytest.fixture
async def moved(sessions: async_sessionmaker[AsyncSession], driver: Driver, config: Config, mentor: Person,
                participant: Person, coordinator: Person) -> dict[str, Any]:
    """Sari with Budi until 15 Nov 10:00, then with Andi; activity on both sides of the move."""
    driver.config = config
    programme = Programme(sessions)
    andi = await driver.add_person(role=Role.PENDAMPING, name="Andi Wijaya", phone="+6281100000002",
                                   preferred_channel=Channel.WHATSAPP.value)
    await programme.report(participant, "2026-10", at(30, month=10))
    await programme.meeting(at(3), mentor=mentor, present={participant: "hadir"})
    early = await programme.ticket(participant, at(4, 9), answered_at=at(4, 11), rating=5)
    answered = await programme.ticket(participant, at(12, 9), answered_at=at(12, 10))  # still open: moves along
    waiting = await programme.ticket(participant, at(13, 9))  # unanswered at the move
    first = await programme.tugas(at(10, 23), mentor=mentor)  # for Budi's group
    await programme.add(Submission(assignment_id=first.id, participant_id=participant.id, submitted_at=at(9),
                                   status="diterima", reviewed_by_id=mentor.id, reviewed_at=at(9, 14)),
                        NudgeLog(participant_id=participant.id, period="2026-W45", step="nudge", sent_at=at(6),
                                 resolved_at=at(18), resolution="replied"))

    driver.clock.now = at(15)
    await driver.say(coordinator, "pindahpeserta 081100000001 081100000002")
    await driver.press(coordinator, message_of(await driver.last(coordinator)).buttons[0].payload)
    participant = await driver.refresh(participant)
    assert participant.mentor_id == andi.id

    async with sessions.begin() as session:
        await session.execute(update(Ticket).where(Ticket.id == waiting.id).values(first_response_at=at(16, 10)))
    late = await programme.ticket(participant, at(23, 9), answered_at=at(23, 10))
    await programme.meeting(at(20), mentor=andi, present={participant: "terlambat"})
    second = await programme.tugas(at(25, 23), mentor=andi)  # for Andi's
    await programme.add(Submission(assignment_id=second.id, participant_id=participant.id, submitted_at=at(24),
                                   status="diterima", reviewed_by_id=andi.id, reviewed_at=at(24, 14)))
    await programme.report(participant, "2026-11", at(28))
    return {"andi": andi, "tickets": [early.id, answered.id, waiting.id, late.id]}


def figures(month: MentorMonth) -> tuple[int, ...]:
    return (month.participants, month.questions, month.answered, month.ratings, month.recorded, month.present,
            month.reviewed, month.reports_sent, month.reports_due, month.at_risk, month.recovered)


async def test_kinerja_counts_each_figure_for_the_mentor_of_that_time(
        sessions: async_sessionmaker[AsyncSession], config: Config, moved: dict[str, Any]) -> None:
    async with sessions() as session:
        november = {m.name: figures(m) for m in await mentor_months(session, "2026-11", at(1, 9, 12), config)}
        october = {m.name: figures(m) for m in await mentor_months(session, "2026-10", at(1, 9, 12), config)}

    # participants, questions, answered, ratings, presensi, present, reviewed, reports sent/due, risk, recovered
    assert november == {"Budi Santoso": (0, 2, 2, 1, 1, 1, 1, 0, 0, 0, 0),
                        "Andi Wijaya": (1, 2, 2, 0, 1, 1, 1, 1, 1, 1, 1)}
    assert october == {"Budi Santoso": (1, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0),
                       "Andi Wijaya": (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)}


async def test_rekap_of_each_mentor_holds_the_rows_of_their_time(
        sessions: async_sessionmaker[AsyncSession], config: Config, mentor: Person, moved: dict[str, Any]) -> None:
    andi, (early, answered, waiting, late) = moved["andi"], moved["tickets"]
    period = month_period("2026-11", config)
    async with sessions() as session:
        books = {name: {key: rows for key, _header, rows in (await build_rekap(
            session, Scope("mentor", str(person.id), name), period, config, "id")).sheets}
                 for name, person in (("Budi", mentor), ("Andi", andi))}
        autumn = day_period(date(2026, 10, 1), date(2026, 11, 30), config)
        reports = {name: next(rows for key, _header, rows in (await build_rekap(
            session, Scope("mentor", str(person.id), name), autumn, config, "id")).sheets if key == "rkp.sheet_reports")
                   for name, person in (("Budi", mentor), ("Andi", andi))}
        whole = {key: rows for key, _header, rows in (await build_rekap(
            session, Scope("programme", "", "Program"), period, config, "id")).sheets}

    budi, andi_book = books["Budi"], books["Andi"]
    assert [(row[0].day, row[6]) for row in budi["rkp.sheet_attendance"]] == [(3, "Hadir")]
    assert [(row[0].day, row[6]) for row in andi_book["rkp.sheet_attendance"]] == [(20, "Terlambat")]
    assert [row[0] for row in budi["rkp.sheet_tickets"]] == [early, answered]
    assert [row[0] for row in andi_book["rkp.sheet_tickets"]] == [waiting, late]
    assert [row[1].day for row in budi["rkp.sheet_tugas"]] == [10]
    assert [row[1].day for row in andi_book["rkp.sheet_tugas"]] == [25]
    assert budi["rkp.sheet_reports"] == []
    assert [(row[1], row[3]) for row in andi_book["rkp.sheet_reports"]] == [("Sari Wulandari", "Terkirim")]
    assert [(row[0], row[3]) for row in reports["Budi"]] == [("Oktober 2026", "Terkirim")]
    assert [(row[0], row[3]) for row in reports["Andi"]] == [("November 2026", "Terkirim")]
    assert [row[7:12] for row in budi["rkp.sheet_register"]] == [[1, 1, 100.0, 1, 1]]
    assert [row[7:12] for row in andi_book["rkp.sheet_register"]] == [[1, 1, 100.0, 1, 1]]
    assert [(row[0], row[3]) for row in whole["rkp.sheet_tickets"]] == [
        (early, "Budi Santoso"), (answered, "Budi Santoso"), (waiting, "Andi Wijaya"), (late, "Andi Wijaya")]
    assert [row[1:3] for row in whole["rkp.sheet_topics"]] == [[4, 4]]
    assert [(row[1].day, row[4]) for row in whole["rkp.sheet_tugas"]] == [(10, "Diterima"), (25, "Diterima")]


async def test_weekly_digest_counts_an_answer_for_the_mentor_who_gave_it(
        sessions: async_sessionmaker[AsyncSession], config: Config, mentor: Person, moved: dict[str, Any]) -> None:
    # Week of 9–15 Nov: Budi answered #2 on the 12th; it moved to Andi with Sari on the 15th.
    async with sessions() as session:
        answers = await first_responses(session, at(9, 0), at(16, 0), config)
    assert {mentor_id: len(hours) for mentor_id, hours in answers.hours.items()} == {mentor.id: 1}
