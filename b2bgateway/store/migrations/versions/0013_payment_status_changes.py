"""a payment's status history: every status change with its cause, append-only

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NO_UPDATE_SQLITE = """
CREATE TRIGGER payment_status_changes_append_only BEFORE UPDATE ON payment_status_changes
BEGIN SELECT RAISE(ABORT, 'payment_status_changes is append-only'); END
"""
_NO_DELETE_SQLITE = """
CREATE TRIGGER payment_status_changes_no_delete BEFORE DELETE ON payment_status_changes
BEGIN SELECT RAISE(ABORT, 'payment_status_changes is append-only'); END
"""
_NO_UPDATE_PG_FUNCTION = """
CREATE FUNCTION payment_status_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'payment_status_changes is append-only'; END $$
"""
_NO_UPDATE_PG = """
CREATE TRIGGER payment_status_changes_append_only BEFORE UPDATE OR DELETE
ON payment_status_changes
FOR EACH ROW EXECUTE FUNCTION payment_status_changes_append_only()
"""
_NO_TRUNCATE_PG = """
CREATE TRIGGER payment_status_changes_no_truncate BEFORE TRUNCATE ON payment_status_changes
FOR EACH STATEMENT EXECUTE FUNCTION payment_status_changes_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "payment_status_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.String(length=40), nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("from_status", sa.String(length=32), nullable=True),
        sa.Column("to_status", sa.String(length=32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cause", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=True),
        sa.Column("actor_id", sa.String(length=64), nullable=True),
        sa.Column("webhook_event_id", sa.Integer(), nullable=True),
        sa.Column("processor_event_id", sa.String(length=255), nullable=True),
        sa.Column("processor_status", sa.String(length=128), nullable=True),
        sa.Column("failure_code", sa.String(length=64), nullable=True),
        sa.Column("refund_id", sa.String(length=40), nullable=True),
        sa.Column("dispute_reference", sa.String(length=255), nullable=True),
        sa.Column("event", sa.String(length=32), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payment_status_changes")),
    )
    op.create_index(
        "ix_payment_status_changes_payment", "payment_status_changes", ["payment_id", "id"]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NO_UPDATE_PG_FUNCTION)
        op.execute(_NO_UPDATE_PG)
        op.execute(_NO_TRUNCATE_PG)
    else:
        op.execute(_NO_UPDATE_SQLITE)
        op.execute(_NO_DELETE_SQLITE)


def downgrade() -> None:
    op.drop_table("payment_status_changes")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION payment_status_changes_append_only()")
