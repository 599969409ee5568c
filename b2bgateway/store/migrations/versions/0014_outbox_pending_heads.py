"""a payment's oldest pending outbound event is found from the pending rows alone

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("state = 'pending'")


def upgrade() -> None:
    # Why: b2bgateway/store/outbox_indexes.py (the claim's head lookup without statistics).
    op.create_index(
        "ix_outbox_pending_ordering_key",
        "outbox",
        ["ordering_key", "id"],
        unique=False,
        sqlite_where=PENDING,
        postgresql_where=PENDING,
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_pending_ordering_key", table_name="outbox")
