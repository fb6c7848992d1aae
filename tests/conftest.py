"""Shared fixtures: a migrated database per test (SQLite, and PostgreSQL with --postgres), a fixed clock."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.kernel.config import Config
from handlers.kernel.messages import Channel
from storage.db import make_engine, make_sessionmaker, upgrade_sync
from storage.models import Person, Role
from tests.support.driver import Clock, Driver

pytest_plugins = ["tests.support.peers"]

JAKARTA = ZoneInfo("Asia/Jakarta")
# A Wednesday morning in Jakarta: inside working hours, no holiday.
START = datetime(2026, 3, 4, 9, 0, tzinfo=JAKARTA)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--postgres", action="store_true", help="also run database tests on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_kind" in metafunc.fixturenames:
        kinds = ["sqlite", "postgres"] if metafunc.config.getoption("--postgres") else ["sqlite"]
        if metafunc.definition.get_closest_marker("sqlite_only"):
            kinds = ["sqlite"]
        metafunc.parametrize("db_kind", kinds)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each test (migrating per test is slow)."""
    path = tmp_path_factory.mktemp("template") / "klinik.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_template_name(postgres_cluster: object) -> str:
    """A PostgreSQL database migrated once; each test gets a CREATE DATABASE … TEMPLATE copy."""
    name = "klinik_template"
    postgres_cluster.create_database(name)  # type: ignore[attr-defined]
    upgrade_sync(postgres_cluster.url(name))  # type: ignore[attr-defined]
    return name


@pytest.fixture
def db_url(db_kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, fully migrated database for this test."""
    if db_kind == "postgres":
        return str(request.getfixturevalue("fresh_postgres_url"))
    path = tmp_path / "klinik.db"
    shutil.copy(request.getfixturevalue("sqlite_template"), path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    await engine.dispose()


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def config() -> Config:
    return Config(timezone=JAKARTA, coordinator_contact="Dinas KUKM (021-000)")


@pytest.fixture
def driver(sessions: async_sessionmaker[AsyncSession], config: Config, clock: Clock) -> Driver:
    return Driver(sessions, config, clock)


@pytest.fixture
async def mentor(driver: Driver) -> Person:
    """A mentor on Telegram."""
    return await driver.add_person(role=Role.PENDAMPING, name="Budi Santoso", phone="+6281100000001",
                                   telegram_user_id="5001", telegram_chat_id="5001",
                                   preferred_channel=Channel.TELEGRAM.value, topics="pemasaran;digital")


@pytest.fixture
async def participant(driver: Driver, mentor: Person) -> Person:
    """A participant on WhatsApp whose mentor is `mentor`."""
    return await driver.add_person(role=Role.PESERTA, name="Sari Wulandari", phone="+6281200000001",
                                   mentor_id=mentor.id, cohort="Angkatan 1", business_name="Keripik Sari",
                                   district="Beji", preferred_channel=Channel.WHATSAPP.value)


@pytest.fixture
async def coordinator(driver: Driver) -> Person:
    return await driver.add_person(role=Role.KOORDINATOR, name="Rina Dinas", phone="+6281300000001",
                                   preferred_channel=Channel.WHATSAPP.value)
