"""The weekly participation score: its parts, its reasons in Indonesian, and a drop against the baseline."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.participation.scores import compute_scores, store_scores, week_bounds, week_of
from storage.models import ParticipationScore, Person
from tests.support.programme import Programme

JAKARTA = ZoneInfo("Asia/Jakarta")
FEB_1 = datetime(2026, 2, 1, 9, tzinfo=JAKARTA)


def at(day: int, hour: int = 10, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=JAKARTA)


@pytest.fixture
def programme(sessions: async_sessionmaker[AsyncSession]) -> Programme:
    return Programme(sessions)


async def scores_of(sessions: async_sessionmaker[AsyncSession], now: datetime, config: Config,
                    week: str = "2026-W10") -> dict:
    async with sessions() as session:
        return {s.participant_id: s for s in await compute_scores(session, week, now, config)}


def test_weeks_are_iso_weeks_in_programme_time() -> None:
    assert week_of(datetime(2026, 3, 1, 23, tzinfo=JAKARTA), JAKARTA) == "2026-W09"
    assert week_of(datetime(2026, 3, 2, 0, tzinfo=JAKARTA), JAKARTA) == "2026-W10"
    assert week_bounds("2026-W10", JAKARTA) == (at(2, 0), at(9, 0))


async def test_score_weighs_presensi_tugas_report_question_and_contact(
        sessions: async_sessionmaker[AsyncSession], programme: Programme, participant: Person,
        config: Config) -> None:
    await programme.set_person(participant, created_at=FEB_1, last_inbound_at=at(4))
    await programme.meeting(at(3), cohort="Angkatan 1", present={participant: "hadir"})
    await programme.tugas(at(6, 23), cohort="Angkatan 1", sent={participant: at(5)})
    await programme.report(participant, "2026-02", at(2))
    await programme.ticket(participant, at(3))

    score = (await scores_of(sessions, at(9, 7), config))[participant.id]

    # 0.35 presensi + 0.25 tugas + 0.15 laporan + 0.10 pertanyaan + 0.15 × (1 − 4/28) kontak
    assert (score.score, score.is_active, score.is_dropping, score.reasons) == (97.9, True, False, [])


async def test_reasons_name_alpa_run_missing_tugas_report_and_silence(
        sessions: async_sessionmaker[AsyncSession], programme: Programme, participant: Person,
        config: Config) -> None:
    await programme.set_person(participant, created_at=at(15, 9, month=1), last_inbound_at=at(22, 20, month=2))
    await programme.meeting(at(17, month=2), cohort="Angkatan 1", present={participant: "hadir"})
    await programme.meeting(at(24, month=2), cohort="Angkatan 1")
    await programme.meeting(at(3), cohort="Angkatan 1")
    for due in (at(20, 23, month=2), at(27, 23, month=2), at(6, 23)):
        await programme.tugas(due, cohort="Angkatan 1")

    score = (await scores_of(sessions, at(8, 20), config))[participant.id]

    assert score.reasons == ["alpa 2 sesi berturut-turut", "3 tugas belum dikirim",
                             "laporan bulanan Februari 2026 belum dikirim", "tidak ada pesan 14 hari"]
    assert (score.score, score.is_dropping, score.is_active) == (8.3, True, False)


async def test_izin_counts_half_and_terlambat_three_quarters(
        sessions: async_sessionmaker[AsyncSession], programme: Programme, participant: Person,
        config: Config) -> None:
    await programme.set_person(participant, last_inbound_at=at(4, 9))
    await programme.meeting(at(4, 13), cohort="Angkatan 1", present={participant: "izin"})
    await programme.meeting(at(5, 13), cohort="Angkatan 1", present={participant: "terlambat"})

    score = (await scores_of(sessions, at(6, 9), config))[participant.id]

    # (0.35 × (0.5 + 0.75) / 2 + 0.15 × (1 − 2/28)) / (0.35 + 0.15)
    assert (score.sessions_izin, score.sessions_terlambat, score.score) == (1, 1, 71.6)


async def test_fall_against_own_baseline_is_dropping(
        sessions: async_sessionmaker[AsyncSession], programme: Programme, participant: Person,
        config: Config) -> None:
    await programme.add(*[ParticipationScore(week=week, participant_id=participant.id, cohort="Angkatan 1",
                                             score=95.0, computed_at=at(1)) for week in ("2026-W08", "2026-W09")])
    await programme.set_person(participant, last_inbound_at=at(5, 9))
    await programme.meeting(at(4, 13), cohort="Angkatan 1", present={participant: "izin"})

    score = (await scores_of(sessions, at(5, 9), config))[participant.id]

    assert (score.score, score.is_dropping) == (65.0, True)
    assert score.reasons == ["skor turun dari 95 ke 65"]


async def test_scores_are_stored_once_per_week_however_often_computed(
        sessions: async_sessionmaker[AsyncSession], participant: Person, config: Config) -> None:
    for hour in (9, 10):
        async with sessions.begin() as session:
            scores = await compute_scores(session, "2026-W10", at(4, hour), config)
            await store_scores(session, "2026-W10", scores, at(4, hour))

    async with sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(ParticipationScore))).scalar_one()
    assert stored == 1
