"""idempotency: one payment per client key and per registered order, refund keys, replay type

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_SET = "idempotency_key IS NOT NULL"
REGISTERED_ORDER = (
    "purpose = 'order' AND status IN "
    "('requires_action', 'processing', 'succeeded', 'partially_refunded')"
)


def upgrade() -> None:
    with op.batch_alter_table("refunds") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(length=255), nullable=True))
    with op.batch_alter_table("idempotency_records") as batch:
        batch.add_column(sa.Column("response_content_type", sa.String(length=128), nullable=True))
    op.create_index(
        "uq_refunds_idempotency_key",
        "refunds",
        ["merchant_id", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text(KEY_SET),
        postgresql_where=sa.text(KEY_SET),
    )
    op.create_index(
        "uq_payments_idempotency_key",
        "payments",
        ["merchant_id", "idempotency_key"],
        unique=True,
        sqlite_where=sa.text(KEY_SET),
        postgresql_where=sa.text(KEY_SET),
    )
    op.create_index(
        "uq_payments_registered_order",
        "payments",
        ["merchant_id", "order_reference"],
        unique=True,
        sqlite_where=sa.text(REGISTERED_ORDER),
        postgresql_where=sa.text(REGISTERED_ORDER),
    )


def downgrade() -> None:
    op.drop_index("uq_payments_registered_order", table_name="payments")
    op.drop_index("uq_payments_idempotency_key", table_name="payments")
    op.drop_index("uq_refunds_idempotency_key", table_name="refunds")
    with op.batch_alter_table("idempotency_records") as batch:
        batch.drop_column("response_content_type")
    with op.batch_alter_table("refunds") as batch:
        batch.drop_column("idempotency_key")
