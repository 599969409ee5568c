"""A payment's status history: one row per status change, with what caused it (same metadata as
:mod:`b2bgateway.store.models`, one Alembic history). Written by :mod:`b2bgateway.history`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from b2bgateway.store.models import Base, UTCDateTime, utcnow

__all__ = ["PaymentStatusChange"]


class PaymentStatusChange(Base):
    """One status change of a payment (``from_status`` None: its creation) and its cause: the
    entry point that made it (``cause``: api, customer, webhook, reconcile, expiry, staff, cli,
    unknown), who or what (``actor``/``actor_id``: an API key's label, a staff user's e-mail and
    id, a customer's id), and the evidence (our webhook event row and the processor's event id,
    the processor's status, the failure code, a refund or a dispute). Append-only: the code only
    inserts, and the database refuses an ``UPDATE`` or a ``DELETE`` (migration 0011)."""

    __tablename__ = "payment_status_changes"
    __table_args__ = (Index("ix_payment_status_changes_payment", "payment_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(String(40))  # no foreign key: as the audit log
    merchant_id: Mapped[str] = mapped_column(String(64))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    cause: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(320))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    webhook_event_id: Mapped[int | None] = mapped_column(Integer)  # our webhook_events row
    processor_event_id: Mapped[str | None] = mapped_column(String(255))
    processor_status: Mapped[str | None] = mapped_column(String(128))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    refund_id: Mapped[str | None] = mapped_column(String(40))
    dispute_reference: Mapped[str | None] = mapped_column(String(255))
    event: Mapped[str | None] = mapped_column(String(32))  # late_success, dispute_opened, …
