"""The payments module's audit log: every sign-in (and failed one), refund, cancel, void, manual
payment, replay and user change, with who, when and from which address. Append-only: this module
only inserts and reads (and the database refuses an ``UPDATE``, a ``DELETE`` and, on PostgreSQL, a
``TRUNCATE``: see migration 0009)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from b2bgateway.store.models import utcnow
from b2bgateway.store.staff_models import AuditEntry

__all__ = [
    "ACTIONS",
    "Actor",
    "AuditEntry",
    "entries",
    "failures_since",
    "iter_entries",
    "record",
]

ACTIONS = (
    "sign_in",
    "sign_in_failed",
    "sign_out",
    "refund",
    "cancel",
    "void",
    "manual_payment",
    "replay",
    "pay_link",
    "user_added",
    "user_disabled",
    "password_reset",
    "totp_enrolled",
    "totp_reset",
    "totp_ticket_issued",
    "totp_locked",
    "export",
)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a staff user (``user_id``) or the command line (``user_id`` None), from where."""

    merchant_id: str | None
    email: str
    address: str
    user_id: int | None = None


def record(
    session: Session,
    actor: Actor,
    action: str,
    subject: str | None = None,
    detail: dict[str, Any] | None = None,
    *,
    merchant_id: str | None = None,
) -> AuditEntry:
    """Append one entry (in the caller's transaction: it is kept only if the action is)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(
        merchant_id=merchant_id or actor.merchant_id,
        at=utcnow(),
        user_id=actor.user_id,
        user_email=actor.email[:320],
        action=action,
        subject=subject,
        address=actor.address[:64],
        detail=detail,
    )
    session.add(entry)
    session.flush()
    return entry


def entries(
    session: Session, merchant_id: str, *, before_id: int | None = None, limit: int = 50
) -> list[AuditEntry]:
    """A merchant's entries, newest first, ``limit`` of them before ``before_id`` (keyset)."""
    stmt = select(AuditEntry).where(AuditEntry.merchant_id == merchant_id)
    if before_id is not None:
        stmt = stmt.where(AuditEntry.id < before_id)
    return list(session.scalars(stmt.order_by(AuditEntry.id.desc()).limit(limit)))


def iter_entries(session: Session, merchant_id: str) -> Iterator[AuditEntry]:
    """Every entry of a merchant, newest first, read in batches (an export)."""
    stmt = (
        select(AuditEntry)
        .where(AuditEntry.merchant_id == merchant_id)
        .order_by(AuditEntry.id.desc())
        .execution_options(yield_per=1000)
    )
    yield from session.scalars(stmt)


def failures_since(
    session: Session, since: datetime, *, address: str | None = None, email: str | None = None
) -> int:
    """Failed sign-ins since ``since`` from one address or for one e-mail (throttling)."""
    stmt = select(func.count()).where(AuditEntry.action == "sign_in_failed", AuditEntry.at >= since)
    if address is not None:
        stmt = stmt.where(AuditEntry.address == address[:64])
    if email is not None:
        stmt = stmt.where(AuditEntry.user_email == email[:320])
    return int(session.scalar(stmt) or 0)
