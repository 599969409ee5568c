"""payment lifecycle v1.1: methods, expiry per payment, funding, flags, method details,
disputes, and the attempts of each payment; an order reference is unique per customer

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = (
    "status IN ('requires_action', 'processing', 'succeeded', 'partially_refunded', "
    "'failed', 'canceled', 'refunded')"
)
NEW_STATUSES = (
    "status IN ('requires_action', 'processing', 'succeeded', 'partially_refunded', "
    "'disputed', 'failed', 'canceled', 'refunded')"
)
OLD_ORDER = (
    "purpose = 'order' AND status IN ('requires_action', 'processing', 'succeeded', "
    "'partially_refunded')"
)
NEW_ORDER = (
    "purpose = 'order' AND status IN ('requires_action', 'processing', 'succeeded', "
    "'partially_refunded', 'disputed') AND (dispute_status IS NULL OR dispute_status <> 'lost')"
)


def _order_index(predicate: str, columns: list[str]) -> None:
    op.create_index(
        "uq_payments_registered_order",
        "payments",
        columns,
        unique=True,
        sqlite_where=sa.text(predicate),
        postgresql_where=sa.text(predicate),
    )


def upgrade() -> None:
    op.drop_index("uq_payments_registered_order", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.add_column(
            sa.Column("payment_method", sa.String(16), server_default="card", nullable=False)
        )
        batch.add_column(sa.Column("installments", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("processor_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("received_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("flags", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("method_details", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dispute_status", sa.String(8), nullable=True))
        batch.add_column(sa.Column("dispute_amount_minor", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("dispute_reason", sa.String(128), nullable=True))
        batch.add_column(sa.Column("dispute_reference", sa.String(255), nullable=True))
        batch.add_column(sa.Column("dispute_opened_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("dispute_closed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("status_before_dispute", sa.String(32), nullable=True))
        batch.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payments_status"), NEW_STATUSES)
        batch.create_check_constraint(
            op.f("ck_payments_payment_method"),
            "payment_method IN ('card', 'bank_transfer', 'cash', 'manual')",
        )
        batch.create_check_constraint(
            op.f("ck_payments_dispute_status"),
            "dispute_status IS NULL OR dispute_status IN ('open', 'won', 'lost')",
        )
    op.create_index("ix_payments_status_expires", "payments", ["status", "expires_at"])
    _order_index(NEW_ORDER, ["merchant_id", "customer_id", "order_reference"])
    op.create_table(
        "payment_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("processor", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("final", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("failure_message", sa.Text(), nullable=True),
        sa.Column("method_details", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_attempts_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_attempts")),
    )
    op.create_index(
        "ix_payment_attempts_payment_id", "payment_attempts", ["payment_id"], unique=False
    )
    op.create_index(
        "uq_payment_attempts_reference",
        "payment_attempts",
        ["merchant_id", "processor", "reference"],
        unique=True,
    )


def downgrade() -> None:
    # The old statuses have no "disputed": a dispute open or won goes back to the paid state it
    # left; a lost one gave the money back, as a refund does (its invoices are already free).
    op.execute(
        "UPDATE payments SET status = CASE WHEN dispute_status = 'lost' THEN 'refunded' "
        "ELSE COALESCE(status_before_dispute, 'succeeded') END WHERE status = 'disputed'"
    )
    op.drop_index("uq_payment_attempts_reference", table_name="payment_attempts")
    op.drop_index("ix_payment_attempts_payment_id", table_name="payment_attempts")
    op.drop_table("payment_attempts")
    op.drop_index("uq_payments_registered_order", table_name="payments")
    op.drop_index("ix_payments_status_expires", table_name="payments")
    with op.batch_alter_table("payments") as batch:
        batch.drop_constraint(op.f("ck_payments_dispute_status"), type_="check")
        batch.drop_constraint(op.f("ck_payments_payment_method"), type_="check")
        batch.drop_constraint(op.f("ck_payments_status"), type_="check")
        batch.create_check_constraint(op.f("ck_payments_status"), OLD_STATUSES)
        for column in (
            "status_before_dispute",
            "dispute_closed_at",
            "dispute_opened_at",
            "dispute_reference",
            "dispute_reason",
            "dispute_amount_minor",
            "dispute_status",
            "paid_at",
            "method_details",
            "flags",
            "received_minor",
            "processor_expires_at",
            "expires_at",
            "installments",
            "payment_method",
        ):
            batch.drop_column(column)
    _order_index(OLD_ORDER, ["merchant_id", "order_reference"])
