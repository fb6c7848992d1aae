"""The one-trip SQLite cursor (storage/sqlite_driver.py) is installed and answers like the adapter it replaces."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


async def test_ending_a_transaction_that_wrote_nothing_takes_no_trip(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-trip.db'}")
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"))
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            assert driver is not None
            trips: list[object] = []
            real = driver._execute

            async def counted(function: Any, *args: Any, **kwargs: Any) -> Any:
                trips.append(function)
                return await real(function, *args, **kwargs)

            driver._execute = counted  # type: ignore[method-assign]
            await connection.execute(text("SELECT count(*) FROM notes"))
            await connection.commit()
            await connection.rollback()
            assert len(trips) == 1  # the SELECT; nothing was open to commit or roll back
            await connection.execute(text("INSERT INTO notes (body) VALUES ('halo')"))
            await connection.rollback()
            await connection.execute(text("INSERT INTO notes (body) VALUES ('makasih')"))
            await connection.commit()
            assert len(trips) == 5  # two statements, each ended with its own trip
        async with engine.connect() as connection:
            rows = (await connection.execute(text("SELECT body FROM notes"))).scalars().all()
        assert rows == ["makasih"]  # the rolled back insert is gone, the committed one kept
    finally:
        await engine.dispose()
