"""the payments module's sign-in hardening: TOTP secrets encrypted at rest (existing ones
encrypted here with the new app secret totp_key), a one-time enrolment ticket, the count of wrong
codes, the last accepted code's time step, and the network of the last sign-in

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

import base64
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from cryptography.fernet import Fernet

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SECRETS = sa.table(
    "app_secrets",
    sa.column("name", sa.String),
    sa.column("value", sa.String),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
_USERS = sa.table(
    "staff_users",
    sa.column("id", sa.Integer),
    sa.column("totp_secret", sa.String),
    sa.column("totp_ciphertext", sa.String),
)


def _fernet(create: bool) -> Fernet:
    bind = op.get_bind()
    value = bind.execute(sa.select(_SECRETS.c.value).where(_SECRETS.c.name == "totp_key")).scalar()
    if value is None:
        if not create:
            raise RuntimeError("no app secret totp_key: the TOTP secrets cannot be decrypted")
        value = secrets.token_hex(32)
        bind.execute(
            _SECRETS.insert().values(name="totp_key", value=value, created_at=datetime.now(UTC))
        )
    return Fernet(base64.urlsafe_b64encode(bytes.fromhex(value)))


def upgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("totp_ciphertext", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("totp_ticket", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("totp_ticket_until", sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("totp_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_sign_in_network", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_USERS.c.id, _USERS.c.totp_secret).where(_USERS.c.totp_secret.is_not(None))
    ).all()
    if rows:
        fernet = _fernet(create=True)
        for user_id, secret in rows:
            token = fernet.encrypt(secret.encode()).decode()
            bind.execute(
                _USERS.update().where(_USERS.c.id == user_id).values(totp_ciphertext=token)
            )
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("totp_secret")


def downgrade() -> None:
    with op.batch_alter_table("staff_users") as batch:
        batch.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(_USERS.c.id, _USERS.c.totp_ciphertext).where(
            _USERS.c.totp_ciphertext.is_not(None)
        )
    ).all()
    if rows:
        fernet = _fernet(create=False)
        for user_id, token in rows:
            secret = fernet.decrypt(token.encode()).decode()
            bind.execute(_USERS.update().where(_USERS.c.id == user_id).values(totp_secret=secret))
    with op.batch_alter_table("staff_users") as batch:
        batch.drop_column("last_sign_in_network")
        batch.drop_column("totp_last_step")
        batch.drop_column("totp_failures")
        batch.drop_column("totp_ticket_until")
        batch.drop_column("totp_ticket")
        batch.drop_column("totp_ciphertext")
