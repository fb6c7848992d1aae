"""Bulk inserts of many rows in the caller's transaction: COPY on PostgreSQL, executemany on SQLite.

SQLAlchemy's executemany spends most of its time preparing parameters (about 30 µs a row for a
wide table); the weekly scores are 100,000 rows. Here values are converted once, as the column
types would convert them, and handed to the driver.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, Table, insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from storage.base import UtcDateTime

SQLITE_DATETIME = "%Y-%m-%d %H:%M:%S.%f"  # the format SQLAlchemy's SQLite DATETIME stores


async def bulk_insert(target: AsyncSession | AsyncConnection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows (dicts with the same keys; omitted columns take their Python defaults)."""
    if not rows:
        return
    rows = with_defaults(table, rows)
    columns = list(rows[0])
    await insert_records(target, table, columns, [tuple(row[name] for name in columns) for row in rows])


async def insert_records(target: AsyncSession | AsyncConnection, table: Table, columns: list[str],
                         records: list[tuple[Any, ...]]) -> None:
    """Insert tuples of Python values in the order of `columns` (every non-null column given)."""
    if not records:
        return
    conn = target if isinstance(target, AsyncConnection) else await target.connection()
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        await conn.execute(insert(table), [dict(zip(columns, record, strict=True)) for record in records])
        return
    driver = (await conn.get_raw_connection()).driver_connection
    special = [(index, _memoized(_converter(table.columns[name].type, dialect)))
               for index, name in enumerate(columns) if _converter(table.columns[name].type, dialect) is not _same]
    if special:
        records = [_convert(record, special) for record in records]
    if dialect == "postgresql":
        await driver.copy_records_to_table(table.name, records=records, columns=columns)  # type: ignore[union-attr]
        return
    marks = ", ".join("?" for _ in columns)
    await driver.executemany(  # type: ignore[union-attr]
        f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({marks})", records)


def with_defaults(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Fill columns the rows leave out with the columns' Python defaults."""
    missing: dict[str, Any] = {}
    for column in table.columns:
        if column.name in rows[0] or column.default is None or column.primary_key:
            continue
        default: Any = column.default
        missing[column.name] = default.arg if default.is_scalar else default.arg(None)
    return [row | missing for row in rows] if missing else rows


def _convert(record: tuple[Any, ...], special: list[tuple[int, Any]]) -> tuple[Any, ...]:
    values = list(record)
    for index, convert in special:
        values[index] = convert(values[index])
    return tuple(values)


def _memoized(convert: Any) -> Any:
    """Rows repeat values (one timestamp, a handful of reason lists): convert each once."""
    seen: dict[Any, Any] = {}

    def cached(value: Any) -> Any:
        key = tuple(value) if isinstance(value, list) else value
        try:
            return seen[key]
        except KeyError:
            seen[key] = result = convert(value)
            return result
        except TypeError:  # unhashable (a dict, a nested list)
            return convert(value)
    return cached


def _converter(column_type: Any, dialect: str) -> Any:
    if isinstance(column_type, JSON):
        return _json
    if isinstance(column_type, UtcDateTime) and dialect == "sqlite":
        return _sqlite_datetime
    return _same


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value)


def _sqlite_datetime(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UtcDateTime column")
    return value.astimezone(UTC).strftime(SQLITE_DATETIME)


def _same(value: Any) -> Any:
    return value
