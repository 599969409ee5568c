"""statement index: open facturas per customer, covering the balance sums

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN_FACTURA = "document_type = 'factura' AND balance_minor > 0"


def upgrade() -> None:
    op.create_index(
        "ix_invoices_open_facturas",
        "invoices",
        ["merchant_id", "customer_id", "currency", "due_on", "balance_minor", "document_type"],
        unique=False,
        sqlite_where=sa.text(OPEN_FACTURA),
        postgresql_where=sa.text(OPEN_FACTURA),
    )


def downgrade() -> None:
    op.drop_index("ix_invoices_open_facturas", table_name="invoices")
