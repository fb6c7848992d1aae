"""SQLite chooses indexes from the statistics ANALYZE writes: every upgrade refreshes them."""

import sqlite3
from pathlib import Path

from storage.db import upgrade_sync


def test_upgrade_leaves_index_statistics_for_the_query_planner(tmp_path: Path) -> None:
    path = tmp_path / "klinik.db"
    upgrade_sync(f"sqlite+aiosqlite:///{path}")
    with sqlite3.connect(path) as connection:
        connection.execute("DROP TABLE sqlite_stat1")
    upgrade_sync(f"sqlite+aiosqlite:///{path}")  # a restart: nothing to migrate, statistics written again

    with sqlite3.connect(path) as connection:
        analysed = {row[0] for row in connection.execute("SELECT tbl FROM sqlite_stat1")}
    assert "alembic_version" in analysed  # every non-empty table is sampled
