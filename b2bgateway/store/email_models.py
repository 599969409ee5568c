"""Customers' e-mails waiting to be sent (same metadata as :mod:`b2bgateway.store.models`, one
Alembic history): a row per e-mail, written in the transaction that changed the payment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from b2bgateway.store.models import Base, UTCDateTime, utcnow

__all__ = ["EMAIL_STATES", "EmailMessage"]

#: pending (to send or retry), sent, dead (gave up: an operator may send it again), skipped
#: (no longer true when its turn came: instructions of a payment already paid or ended)
EMAIL_STATES = ("pending", "sent", "dead", "skipped")


class EmailMessage(Base):
    """One e-mail to a customer about one payment. ``dedupe_key`` (``receipt``,
    ``instructions``, ``pay_link:<key>``) is unique per merchant and payment, so a replayed
    webhook or a double submit queues it once."""

    __tablename__ = "email_outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'sent', 'dead', 'skipped')", name="state"),
        Index("uq_email_outbox_dedupe", "merchant_id", "payment_id", "dedupe_key", unique=True),
        Index("ix_email_outbox_state_next_attempt", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))  # receipt | instructions | pay_link
    dedupe_key: Mapped[str] = mapped_column(String(128))
    recipient: Mapped[str] = mapped_column(String(320))
    #: what the e-mail needs beyond the payment (a pay link); emptied once sent
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
