"""The numbered options last shown to a WhatsApp number (`menus`), written when the transaction commits.

A reply like "2" picks from the options of the latest message to that number; every message to a WhatsApp
number sets them (one without options clears them: the row goes). They are not written when the message is
queued but at the commit, all in one statement in key order and before the transaction's outbox rows still
to be written. So a transaction holds a shared row (a mentor's, written for each participant whose question
reaches them) only while it commits, concurrent transactions never take two rows in opposite orders (no
deadlock: PostgreSQL needs `deadlock_timeout`, 1 s, to notice one), and when two write to one number, the one
that writes the options second also gets the later outbox rows: the options are those of the message sent last.
Inside the transaction the options not yet written are read from here (`shown`).
"""

from __future__ import annotations

from datetime import datetime
from importlib import import_module
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, event
from sqlalchemy.orm import Session, SessionTransaction
from sqlalchemy.orm.util import identity_key

from handlers.kernel.messages import Address
from storage.models import Menu

PENDING, SAVED = "klinik.menus", "klinik.menus_at_savepoint"  # session.info
MENUS = cast(Table, Menu.__table__)
_UPSERTS: dict[str, Any] = {}  # per dialect, built once: a multi-row VALUES was compiled again at every commit
_CLEAR = delete(MENUS).where(MENUS.c.channel == bindparam("clear_channel"), MENUS.c.address == bindparam("clear_address"))


def remember(session: Any, address: Address, payloads: list[str], now: datetime) -> None:
    """These options are now the ones shown to `address` (written at the commit); `session` sync or async."""
    session.info.setdefault(PENDING, {})[(address.channel.value, address.id)] = (list(payloads), now)


def shown(session: Any, address: Address) -> list[str] | None:
    """The options this transaction showed to `address` (not written yet), or None when it showed none."""
    entry = (session.info.get(PENDING) or {}).get((address.channel.value, address.id))
    return None if entry is None else list(entry[0])


def write(session: Session) -> None:
    """Write the options this transaction showed: one upsert, in key order (a lock order every writer shares)."""
    pending: dict[tuple[str, str], tuple[list[str], datetime]] | None = session.info.pop(PENDING, None)
    if not pending:
        return
    rows = [{"channel": channel, "address": address, "payloads": payloads, "created_at": now}
            for (channel, address), (payloads, now) in sorted(pending.items())]
    cleared = [{"clear_channel": channel, "clear_address": address}
               for (channel, address), (payloads, _) in sorted(pending.items()) if not payloads]
    with session.no_autoflush:  # the outbox rows still to write go after the options (see above)
        session.execute(_upsert(session.get_bind().dialect.name), rows)  # one round trip, the rows in order
        if cleared:  # no row kept for a number without options (rows this upsert locked already)
            session.execute(_CLEAR, cleared)
    for key in pending:  # objects loaded before are stale now: the next read asks the database
        menu = session.identity_map.get(identity_key(Menu, key))
        if menu is not None:
            session.expunge(menu)


def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (channel, address) DO UPDATE, for executemany."""
    statement = _UPSERTS.get(dialect)
    if statement is None:
        # the dialect's module by name: PostgreSQL's (≈2 MB resident) never loads in a bot on SQLite
        module: Any = import_module("sqlalchemy.dialects.postgresql" if dialect == "postgresql"
                                    else "sqlalchemy.dialects.sqlite")
        insert = module.insert(MENUS)
        statement = _UPSERTS[dialect] = insert.on_conflict_do_update(
            index_elements=[MENUS.c.channel, MENUS.c.address],
            set_={"payloads": insert.excluded.payloads, "created_at": insert.excluded.created_at})
    return statement


# Before every other before_commit listener (the outbox rows collected for one INSERT are written after this).
@event.listens_for(Session, "before_commit", insert=True)
def _write_before_commit(session: Session) -> None:
    write(session)


@event.listens_for(Session, "after_transaction_create")
def _mark_savepoint(session: Session, transaction: SessionTransaction) -> None:
    if transaction.nested:
        session.info.setdefault(SAVED, {})[id(transaction)] = dict(session.info.get(PENDING) or {})


@event.listens_for(Session, "after_soft_rollback")
def _back_to_savepoint(session: Session, previous: SessionTransaction) -> None:
    saved = session.info.get(SAVED, {}).pop(id(previous), None)
    if previous.nested and saved is not None:
        session.info[PENDING] = saved  # options shown inside a savepoint that rolled back were never shown


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(PENDING, None)  # written at the commit; dropped with a rollback
        session.info.pop(SAVED, None)
