"""outbox: an index for forgetting sent rows

The relay deletes rows sent more than a day ago after every run (so after
every write that kicks it); without an index on sent_at that delete read the
whole table each time.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 19:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_sent", "outbox", ["sent_at"], postgresql_where="sent_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_outbox_sent", table_name="outbox", postgresql_where="sent_at IS NOT NULL")
