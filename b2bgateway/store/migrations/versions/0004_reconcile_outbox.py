"""reconciliation lease on payments; outbox ordering per payment

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("payments") as batch:
        batch.add_column(sa.Column("reconcile_after", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("reconcile_attempts", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("ordering_key", sa.String(length=64), server_default="", nullable=False)
        )
    op.create_index("ix_outbox_ordering_key", "outbox", ["ordering_key", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_outbox_ordering_key", table_name="outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("ordering_key")
    with op.batch_alter_table("payments") as batch:
        batch.drop_column("reconcile_attempts")
        batch.drop_column("reconcile_after")
