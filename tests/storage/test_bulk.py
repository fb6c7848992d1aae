"""Bulk inserts read back exactly as rows written through the ORM."""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.bulk import bulk_insert
from storage.models import ParticipationScore, Person

AT = datetime(2026, 3, 4, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Jakarta"))


async def test_bulk_rows_read_back_like_orm_rows(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions.begin() as session:
        session.add(Person(id=7, role="peserta", name="Sari", phone="+6281200000001", created_at=AT, updated_at=AT))
    row = {"week": "2026-W10", "participant_id": 7, "mentor_id": None, "cohort": "Angkatan 1", "score": 42.5,
           "is_active": True, "report_sent": None, "reasons": ["alpa 2 sesi berturut-turut"], "computed_at": AT}

    async with sessions.begin() as session:
        await bulk_insert(session, ParticipationScore.__table__, [row])  # type: ignore[arg-type]

    async with sessions() as session:
        stored = (await session.execute(select(ParticipationScore))).scalar_one()
    assert (stored.computed_at, stored.reasons, stored.is_active, stored.report_sent, stored.sessions_alpa) == (
        AT, ["alpa 2 sesi berturut-turut"], True, None, 0)
