"""The merchant's payments module: its staff users and the audit log (same metadata as
:mod:`b2bgateway.store.models`, one Alembic history)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from b2bgateway.store.models import Base, Timestamps, UTCDateTime, utcnow

__all__ = ["ROLES", "AppSecret", "AuditEntry", "StaffUser"]

ROLES = ("admin", "cobranza", "consulta")


class StaffUser(Timestamps, Base):
    """A person of one merchant who signs in to the payments module. The e-mail is unique across
    the gateway (it is what a person types to sign in); the password is an Argon2id hash."""

    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'cobranza', 'consulta')", name="role"),
        Index("uq_staff_users_email", "email", unique=True),
        Index("ix_staff_users_merchant", "merchant_id", "email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    email: Mapped[str] = mapped_column(String(320))  # lower case
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    #: the TOTP secret, encrypted (b2bgateway.totp); None: no second factor
    totp_ciphertext: Mapped[str | None] = mapped_column(String(255))
    #: a one-time enrolment ticket (its SHA-256), valid until totp_ticket_until (b2bgateway.totp)
    totp_ticket: Mapped[str | None] = mapped_column(String(64))
    totp_ticket_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: wrong codes after a right password since the last right one: at MAX_CODE_FAILURES code
    #: entry is locked until an admin resets the factor or the password changes (b2bgateway.signin)
    totp_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: the time step of the last code accepted: that one and older ones are refused
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: part of the session's identity: a sign-out, a new password or a disable ends every session
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_sign_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    #: the network (address or IPv6 /64) of the last sign-in: the account-wide lockout ceiling
    #: does not shut the user out from there (b2bgateway.signin)
    last_sign_in_network: Mapped[str | None] = mapped_column(String(64))


class AuditEntry(Base):
    """One thing a person did (or tried) in the payments module: append-only (the code never
    updates or deletes a row, and the database refuses an ``UPDATE``)."""

    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_merchant_id", "merchant_id", "id"),
        # sign-in throttling: failures per address and per e-mail in a recent window
        Index("ix_audit_log_action_address", "action", "address", "at"),
        Index("ix_audit_log_action_email", "action", "user_email", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str | None] = mapped_column(String(64))  # None: an unknown e-mail
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(Integer)
    user_email: Mapped[str] = mapped_column(String(320))
    action: Mapped[str] = mapped_column(String(48))
    subject: Mapped[str | None] = mapped_column(String(255))  # a payment id, a user's e-mail
    address: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AppSecret(Base):
    """A random secret of this gateway, made once, the same for every process and instance
    (``b2bgateway.app_secrets``): the payments module's session signing key."""

    __tablename__ = "app_secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
