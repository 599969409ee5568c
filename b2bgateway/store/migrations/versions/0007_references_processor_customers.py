"""every processor reference a payment gets (aliases), and each customer's id at a processor

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "payment_references",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("processor", sa.String(length=64), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["payment_id"],
            ["payments.id"],
            name=op.f("fk_payment_references_payment_id_payments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_references")),
    )
    op.create_index(
        "ix_payment_references_payment_id", "payment_references", ["payment_id"], unique=False
    )
    op.create_index(
        "uq_payment_references",
        "payment_references",
        ["merchant_id", "processor", "reference"],
        unique=True,
    )
    op.create_table(
        "processor_customers",
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("processor", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=128), nullable=False),
        sa.Column("reference", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "merchant_id", "processor", "customer_id", name=op.f("pk_processor_customers")
        ),
    )


def downgrade() -> None:
    op.drop_table("processor_customers")
    op.drop_index("uq_payment_references", table_name="payment_references")
    op.drop_index("ix_payment_references_payment_id", table_name="payment_references")
    op.drop_table("payment_references")
