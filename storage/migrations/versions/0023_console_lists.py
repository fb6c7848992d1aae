"""console: indexes for the console's lists at 100,000 participants (list by name, prefix search, district,
score band and trend)

Revision ID: 0023_console_lists
Revises: 0013_console
Create Date: 2026-11-30 03:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_console_lists"
down_revision: str | Sequence[str] | None = "0013_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0004_participation", "0006_privacy")


def upgrade() -> None:
    op.create_index("ix_people_console_list", "people", ["role", "is_active", "erased_at", "name", "id"], unique=False)
    op.create_index("ix_people_district", "people", ["district"], unique=False)
    op.create_index("ix_participation_scores_week_score", "participation_scores", ["week", "score", "participant_id"],
                    unique=False)
    if op.get_bind().dialect.name == "postgresql":  # LIKE 'prefix%' under any collation
        op.execute("CREATE INDEX ix_people_search_name ON people (lower(name) text_pattern_ops)")
        op.execute("CREATE INDEX ix_people_search_business ON people (lower(business_name) text_pattern_ops)")
        op.execute("CREATE INDEX ix_people_search_phone ON people (phone text_pattern_ops)")
    else:  # a range on lower(...) (SQLite compares bytes); the phone's unique index serves its range
        op.create_index("ix_people_search_name", "people", [sa.text("lower(name)")], unique=False)
        op.create_index("ix_people_search_business", "people", [sa.text("lower(business_name)")], unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_people_search_phone", table_name="people")
    op.drop_index("ix_people_search_business", table_name="people")
    op.drop_index("ix_people_search_name", table_name="people")
    op.drop_index("ix_participation_scores_week_score", table_name="participation_scores")
    op.drop_index("ix_people_district", table_name="people")
    op.drop_index("ix_people_console_list", table_name="people")
