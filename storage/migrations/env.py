"""Alembic environment: runs migrations through the async engine of the configured URL."""

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from storage.db import make_engine
from storage.models import Base

target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # Several `klinik run` processes start together: one migrates, the others wait, then find it done.
            connection.execute(text("SELECT pg_advisory_xact_lock(7204151)"))
        context.run_migrations()


async def _main() -> None:
    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


asyncio.run(_main())
