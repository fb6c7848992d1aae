"""Engine, session factory and schema upgrades for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event, exc, make_url, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from storage import sqlite_driver
from storage.runtime import LoopPulse

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
PROJECT = Path(__file__).resolve().parent.parent
UPGRADE_URL_VARIABLE = "KLINIK_UPGRADE_DATABASE_URL"  # upgrade_apart's child reads the URL from here


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """Create an async engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            sqlite_driver.install(dbapi_conn)  # one thread hop per statement
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        return engine
    # Each process keeps up to pool_size connections open, and as many again briefly under load.
    if make_url(url).get_driver_name() != "asyncpg":
        return create_async_engine(url, pool_pre_ping=True, pool_size=pool_size, max_overflow=pool_size)
    engine = create_async_engine(url, pool_size=pool_size, max_overflow=pool_size)
    event.listen(engine.sync_engine, "connect", _note_use)
    event.listen(engine.sync_engine, "checkin", _note_use)
    event.listen(engine.sync_engine, "checkout", _check_if_idle)
    return engine


USED_AT = "klinik.used_at"  # connection record info: when the connection last answered (monotonic seconds)
TRUSTED_SECONDS = 1.0  # a connection back in the pool for less than this is handed out without a check


def _note_use(_dbapi_connection: Any, record: Any) -> None:
    if record is not None:
        record.info[USED_AT] = time.monotonic()


def _check_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
    """PostgreSQL: the pool checks a connection it hands out when it has been idle (pre-ping), in one round
    trip of `SELECT 1` in the simple protocol.

    SQLAlchemy's own pre-ping takes three (BEGIN, an empty query prepared, ROLLBACK: made for pgbouncer's
    transaction mode, where a prepared statement outside a transaction may reach another server connection;
    a simple query prepares nothing), at every checkout: in bench_inbound that was more than one check per
    message handled and answered, each a round trip on loopback that costs both processes a wake-up. A
    connection that answered less than TRUSTED_SECONDS ago is handed out as it is: under load that is nearly
    every checkout. One the server dropped within that second (a restart) fails its first statement instead;
    the error invalidates the pool, as a failure in a statement already in flight at that moment does, and
    the callers' retries (webhooks answered 500 are sent again, loops back off) take over. A failed check
    replaces the connection and every older one (pool invalidation), as SQLAlchemy's pre-ping does."""
    used_at = record.info.get(USED_AT) if record is not None else None
    if used_at is not None and time.monotonic() - used_at < TRUSTED_SECONDS:
        return
    try:
        dbapi_connection.run_async(lambda connection: connection.execute("SELECT 1"))
    except Exception as error:
        raise exc.InvalidatePoolError(f"connection check failed: {error}") from error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """One session per task; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def database_location(url: str) -> str:
    """Where the data is, for people: the SQLite file's absolute path, or the server URL without its password."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return str(Path(parsed.database).resolve()) if parsed.database and parsed.database != ":memory:" else ":memory:"
    return parsed.render_as_string(hide_password=True)


def is_postgres(session: AsyncSession) -> bool:
    """True when the session talks to PostgreSQL (row locks, advisory locks available)."""
    return session.get_bind().dialect.name == "postgresql"


async def read_only_once(session: AsyncSession) -> None:
    """A session that runs one read and nothing else: on PostgreSQL in autocommit, without the BEGIN and
    ROLLBACK round trips around it (call before its statement)."""
    if is_postgres(session):
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def alembic_config(url: str) -> Config:
    """Alembic configuration pointing at our migrations and the given database."""
    # Imported here, when used: a running bot upgrades in a child (upgrade_apart), so Alembic stays out of it.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    return config


def upgrade_sync(url: str) -> None:
    """Bring the schema to the newest revision (all branches)."""
    from alembic import command

    if url.startswith("sqlite"):
        _ensure_sqlite_dir(url)
    command.upgrade(alembic_config(url), "heads")
    if url.startswith("sqlite"):
        _refresh_sqlite_statistics(url)


def _refresh_sqlite_statistics(url: str) -> None:
    """SQLite picks indexes from `sqlite_stat1`, which only ANALYZE writes (PostgreSQL's autovacuum does this by
    itself): without it the console's list and report indexes may be skipped at 100k participants. With
    analysis_limit each index is sampled, so this takes well under a second at start even on a large file."""
    path = url.split("///", 1)[-1]
    if not path or path == ":memory:":
        return
    connection = sqlite3.connect(path, timeout=30)
    try:
        connection.execute("PRAGMA analysis_limit=400")
        connection.execute("ANALYZE")
        connection.commit()
    finally:
        connection.close()


async def upgrade(url: str) -> None:
    """Bring the schema up to date without blocking the event loop."""
    await asyncio.to_thread(upgrade_sync, url)


async def upgrade_apart(url: str) -> None:
    """Upgrade in a child process: Alembic and the migration scripts (≈ 10 MB) never stay in a long-running
    bot's memory. The child's output goes to this process's stderr; a failed upgrade raises here."""
    code = f"import os; from storage.db import upgrade_sync; upgrade_sync(os.environ[{UPGRADE_URL_VARIABLE!r}])"
    child = await asyncio.create_subprocess_exec(  # the URL (it may hold a password) by environment, not argv
        sys.executable, "-c", code, env={**os.environ, UPGRADE_URL_VARIABLE: url}, cwd=str(PROJECT))
    if await child.wait() != 0:
        raise RuntimeError(f"database upgrade failed (exit code {child.returncode}); see the lines above")


def _ensure_sqlite_dir(url: str) -> None:
    path = url.split("///", 1)[-1]
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)


async def take_sqlite_writer(session: AsyncSession) -> None:
    """SQLite: make the transaction a writer before it reads (as BEGIN IMMEDIATE would).

    A transaction that reads first takes a snapshot; if another connection commits before it writes, its
    first write fails at once with "database is locked" (the busy timeout does not apply to a stale
    snapshot). A write as its first statement waits for the lock instead. The statement changes nothing.
    On PostgreSQL it does nothing."""
    if session.get_bind().dialect.name != "sqlite":
        return
    await session.execute(_CHANGE_NOTHING)


# built once (a statement's construction costs more than SQLite's work on it)
_CHANGE_NOTHING = (update(LoopPulse).where(LoopPulse.holder == "").values(holder=LoopPulse.holder)
                   .execution_options(synchronize_session=False))
