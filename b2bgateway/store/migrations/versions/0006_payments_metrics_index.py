"""metrics index: payments by status, method and processor, counted from the index alone

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_payments_status_method_processor",
        "payments",
        ["status", "payment_method", "processor"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_payments_status_method_processor", table_name="payments")
