"""The one-trip SQLite cursor (storage/sqlite_driver.py) is installed and answers like the adapter it replaces."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from storage.db import make_engine
from storage.sqlite_driver import OneTripConnection


async def test_sqlite_statements_take_one_trip_and_keep_rows_counts_and_ids(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-trip.db'}")
    try:
        async with engine.begin() as connection:
            adapter = type((await connection.get_raw_connection()).dbapi_connection)
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
            inserted = await connection.execute(text("INSERT INTO notes (body) VALUES ('halo'), ('makasih')"))
            updated = await connection.execute(text("UPDATE notes SET body = 'oke' WHERE id = 2"))
            rows = (await connection.execute(text("SELECT id, body FROM notes ORDER BY id"))).all()
        assert adapter is OneTripConnection
        assert (inserted.lastrowid, updated.rowcount) == (2, 1)
        assert [tuple(row) for row in rows] == [(1, "halo"), (2, "oke")]
    finally:
        await engine.dispose()
