"""the payments module: staff users, the append-only audit log, its session key, payments newest
first

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NO_UPDATE_SQLITE = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
"""
_NO_DELETE_SQLITE = """
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END
"""
_NO_UPDATE_PG_FUNCTION = """
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$
"""
_NO_UPDATE_PG = """
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()
"""
_NO_TRUNCATE_PG = """
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()
"""


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("totp_secret", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("session_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_sign_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('admin', 'cobranza', 'consulta')", name=op.f("ck_staff_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
    )
    op.create_index("uq_staff_users_email", "staff_users", ["email"], unique=True)
    op.create_index("ix_staff_users_merchant", "staff_users", ["merchant_id", "email"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("merchant_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("user_email", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=48), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_merchant_id", "audit_log", ["merchant_id", "id"])
    op.create_index("ix_audit_log_action_address", "audit_log", ["action", "address", "at"])
    op.create_index("ix_audit_log_action_email", "audit_log", ["action", "user_email", "at"])
    op.create_table(
        "app_secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_app_secrets")),
    )
    op.create_index(
        "ix_payments_merchant_created", "payments", ["merchant_id", "created_at", "id"]
    )
    op.create_index("ix_invoices_merchant_folio", "invoices", ["merchant_id", "folio"])
    op.create_index(
        "ix_payment_allocations_invoice", "payment_allocations", ["merchant_id", "invoice_id"]
    )
    op.create_index(
        "ix_payments_merchant_status_created",
        "payments",
        ["merchant_id", "status", "created_at", "id"],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_NO_UPDATE_PG_FUNCTION)
        op.execute(_NO_UPDATE_PG)
        op.execute(_NO_TRUNCATE_PG)
    else:
        op.execute(_NO_UPDATE_SQLITE)
        op.execute(_NO_DELETE_SQLITE)


def downgrade() -> None:
    op.drop_index("ix_payments_merchant_created", table_name="payments")
    op.drop_index("ix_invoices_merchant_folio", table_name="invoices")
    op.drop_index("ix_payment_allocations_invoice", table_name="payment_allocations")
    op.drop_index("ix_payments_merchant_status_created", table_name="payments")
    op.drop_table("audit_log")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("staff_users")
    op.drop_table("app_secrets")
