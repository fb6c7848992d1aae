"""inbox: PostgreSQL tells listening processes when inbound messages are stored (NOTIFY klinik_inbox)

A worker in another process then handles them at once instead of at its next look (every 2 s). One
notification per INSERT statement (a group of webhooks is one), sent when the transaction commits.
SQLite has one process: nothing to do.

Revision ID: 0029_inbox_notify
Revises: 0012_inbox_senders
Create Date: 2026-11-30 06:00:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = "0029_inbox_notify"
down_revision: str | Sequence[str] | None = "0012_inbox_senders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE OR REPLACE FUNCTION klinik_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('klinik_inbox', '');
            RETURN NULL;
        END $$""")
    op.execute("CREATE TRIGGER inbox_notify AFTER INSERT ON inbox "
               "FOR EACH STATEMENT EXECUTE FUNCTION klinik_inbox_notify()")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS inbox_notify ON inbox")
    op.execute("DROP FUNCTION IF EXISTS klinik_inbox_notify()")
