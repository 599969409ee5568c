"""the payments list's indexes cover its filters (index-only counts and page ids)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = ["payment_method", "processor", "customer_id", "amount_minor", "currency"]
INDEXES = {
    "ix_payments_merchant_created": (["merchant_id", "created_at", "id"], ["status", *COVERED]),
    "ix_payments_merchant_status_created": (
        ["merchant_id", "status", "created_at", "id"],
        COVERED,
    ),
}


def upgrade() -> None:
    # Same names and keys, with the covered columns (INCLUDE is PostgreSQL's; on SQLite the
    # index is rebuilt as it was).
    for name, (keys, covered) in INDEXES.items():
        op.drop_index(name, table_name="payments")
        op.create_index(name, "payments", keys, unique=False, postgresql_include=covered)


def downgrade() -> None:
    for name, (keys, _covered) in INDEXES.items():
        op.drop_index(name, table_name="payments")
        op.create_index(name, "payments", keys, unique=False)
