"""SQLite transactions that read before they write, and the schema upgrade `klinik run` runs in a child."""

from __future__ import annotations

import asyncio
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, OperationalError

import storage.db as db_module
from storage.db import make_engine, make_sessionmaker, take_sqlite_writer, upgrade_apart
from storage.models import LoopPulse

NOW = datetime(2026, 11, 30, tzinfo=UTC)


def copy_of(template: Path, folder: Path) -> Path:
    return Path(shutil.copy(template, folder / "k.db"))


async def read_then_write(path: Path, *, writer_first: bool) -> list[str]:
    """Connection A reads inside a savepoint, B commits a row meanwhile, then A writes; the holders stored."""
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    sessions = make_sessionmaker(engine)
    try:
        async with sessions() as a, sessions() as b:
            if writer_first:
                await take_sqlite_writer(a)
            async with a.begin_nested():
                await a.execute(select(LoopPulse))  # the form's reads
                other = asyncio.create_task(_commit_pulse(b, "b"))
                await asyncio.sleep(0.2)  # B's commit lands now, or waits for A when A is the writer
                a.add(LoopPulse(holder="a", loop="web", started_at=NOW, beat_at=NOW))
                await a.flush()
            await a.commit()
            await other
        async with sessions() as check:
            return sorted((await check.execute(select(LoopPulse.holder))).scalars())
    finally:
        await engine.dispose()


async def _commit_pulse(session, holder: str) -> None:  # type: ignore[no-untyped-def]
    session.add(LoopPulse(holder=holder, loop="web", started_at=NOW, beat_at=NOW))
    await session.commit()


async def test_without_the_writer_a_commit_between_the_reads_and_the_write_fails_it(
        sqlite_template: Path, tmp_path: Path) -> None:
    path = copy_of(sqlite_template, tmp_path)
    with pytest.raises(OperationalError, match="locked"):
        await read_then_write(path, writer_first=False)


async def test_taking_the_writer_first_makes_the_other_commit_wait_and_both_land(
        sqlite_template: Path, tmp_path: Path) -> None:
    path = copy_of(sqlite_template, tmp_path)
    assert await read_then_write(path, writer_first=True) == ["a", "b"]


async def test_the_writer_statement_changes_nothing(sqlite_template: Path, tmp_path: Path) -> None:
    path = copy_of(sqlite_template, tmp_path)
    sessions = make_sessionmaker(engine := make_engine(f"sqlite+aiosqlite:///{path}"))
    try:
        async with sessions() as session:
            await _commit_pulse(session, "")
            await take_sqlite_writer(session)
            await session.commit()
            assert list((await session.execute(select(LoopPulse.holder))).scalars()) == [""]
    finally:
        await engine.dispose()


async def test_the_upgrade_in_a_child_creates_the_schema_and_a_failed_one_raises(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "k.db"
    await upgrade_apart(f"sqlite+aiosqlite:///{path}")
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    try:
        async with make_sessionmaker(engine)() as session:
            assert list((await session.execute(select(LoopPulse.holder))).scalars()) == []  # the table is there
    finally:
        await engine.dispose()
    blocker = tmp_path / "a-file"
    blocker.touch()
    with pytest.raises(RuntimeError, match="upgrade failed"):
        await upgrade_apart(f"sqlite+aiosqlite:///{blocker}/k.db")  # its folder cannot be made



async def drop_backend(url: str, pid: int) -> None:
    other = make_engine(url, pool_size=1)
    try:
        async with other.connect() as connection:
            assert (await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})).scalar_one()
    finally:
        await other.dispose()
    await asyncio.sleep(0.1)


async def test_a_pooled_postgresql_connection_idle_and_dropped_by_the_server_is_replaced_at_checkout(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool checks a connection idle for TRUSTED_SECONDS before handing it out, in one round trip of its
    own (storage.db._check_if_idle): one the server ended meanwhile is replaced, nothing is raised."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's pool check; SQLite connections are files")
    monkeypatch.setattr(db_module, "TRUSTED_SECONDS", 0.05)
    engine = make_engine(db_url, pool_size=1)
    backend = text("SELECT pg_backend_pid()")
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(backend)).scalar_one()
        await asyncio.sleep(0.1)
        async with engine.connect() as connection:  # idle, checked, still there: the same backend
            assert (await connection.execute(backend)).scalar_one() == first
        await drop_backend(db_url, first)
        async with engine.connect() as connection:
            assert (await connection.execute(backend)).scalar_one() != first
    finally:
        await engine.dispose()


async def test_a_connection_that_answered_within_the_second_is_not_checked_and_a_drop_costs_one_statement(
        db_url: str) -> None:
    """Under load nearly every checkout follows a use within the second: no check, no round trip. One the
    server dropped within that second (a restart) fails its first statement, and the next checkout is a
    new connection (the pool was invalidated)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL's pool check; SQLite connections are files")
    engine = make_engine(db_url, pool_size=1)
    backend = text("SELECT pg_backend_pid()")
    try:
        async with engine.connect() as connection:
            first = (await connection.execute(backend)).scalar_one()
        await drop_backend(db_url, first)
        with pytest.raises(DBAPIError) as failed:
            async with engine.connect() as connection:
                await connection.execute(backend)
        assert failed.value.connection_invalidated
        async with engine.connect() as connection:
            assert (await connection.execute(backend)).scalar_one() != first
    finally:
        await engine.dispose()
