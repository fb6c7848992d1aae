"""inbox: the sender of each item, so different people's messages are handled in parallel, each in order

Revision ID: 0012_inbox_senders
Revises: 0001_core
Create Date: 2026-11-30 03:15:00
"""
import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_inbox_senders"
down_revision: str | Sequence[str] | None = "0001_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sender", sa.String(length=100), nullable=True))
        batch_op.create_index("ix_inbox_sender", ["sender", "processed_at"], unique=False)
    # Items still waiting get their sender (one key per person and channel, as bot/inbox.py computes it).
    connection = op.get_bind()
    pending = connection.execute(sa.text("SELECT id, channel, payload FROM inbox WHERE processed_at IS NULL"))
    for item_id, channel, payload in list(pending):
        data = payload if isinstance(payload, dict) else json.loads(payload)
        sender = data.get("sender_id") or (data.get("address") or {}).get("id") or f"item-{item_id}"
        connection.execute(sa.text("UPDATE inbox SET sender = :sender WHERE id = :id"),
                           {"sender": f"{channel}:{sender}"[:100], "id": item_id})


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_index("ix_inbox_sender")
        batch_op.drop_column("sender")
