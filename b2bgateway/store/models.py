"""SQLAlchemy 2 models. Every row carries ``merchant_id``; ids are the merchant's own (the ERP's).

Amounts are stored as integer minor units next to their currency (``balance_minor`` + ``currency``)
so sums in SQL are exact on SQLite and PostgreSQL alike; :mod:`b2bgateway.money` converts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

from b2bgateway.money import Money

__all__ = [
    "AuthFailure",
    "Base",
    "Customer",
    "IdempotencyRecord",
    "Invoice",
    "OutboxMessage",
    "Payment",
    "PaymentAllocation",
    "PaymentAttempt",
    "Refund",
    "WebhookEvent",
]

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Statuses in which a payment holds its invoices (see PaymentStatus.registers_invoices).
REGISTERING_STATUSES = (
    "requires_action",
    "processing",
    "succeeded",
    "partially_refunded",
    "disputed",
)
PAYMENT_STATUSES = (*REGISTERING_STATUSES, "failed", "canceled", "refunded")
PAYMENT_METHODS = ("card", "bank_transfer", "cash", "manual")
DISPUTE_STATUSES = ("open", "won", "lost")
REFUND_STATUSES = ("pending", "succeeded", "failed")
#: The predicate of the statement's partial index; queries must repeat it to use the index.
OPEN_FACTURA = "document_type = 'factura' AND balance_minor > 0"


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps are aware UTC in Python on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


#: A lost dispute gave the money back: the order is open again (its invoices' allocations are
#: released the same way, through their ``registered`` flag).
REGISTERED_ORDER = (
    "purpose = 'order' AND "
    + _in("status", REGISTERING_STATUSES)
    + " AND (dispute_status IS NULL OR dispute_status <> 'lost')"
)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Customer(Timestamps, Base):
    __tablename__ = "customers"

    merchant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    active: Mapped[bool] = mapped_column(Boolean)
    credit_limit_minor: Mapped[int | None] = mapped_column(BigInteger)  # None = not assigned
    currency: Mapped[str] = mapped_column(String(3))

    @property
    def credit_limit(self) -> Money | None:
        if self.credit_limit_minor is None:
            return None
        return Money.from_minor_units(self.credit_limit_minor, self.currency)


class Invoice(Timestamps, Base):
    """An accounts-receivable document synced from the ERP (factura, nota de crédito, cargo...)."""

    __tablename__ = "invoices"
    __table_args__ = (
        ForeignKeyConstraint(
            ["merchant_id", "customer_id"], ["customers.merchant_id", "customers.customer_id"]
        ),
        Index("ix_invoices_merchant_customer_due", "merchant_id", "customer_id", "due_on"),
        Index("ix_invoices_merchant_folio", "merchant_id", "folio"),  # /panel's folio search
        # Serves the statement's sums from the index alone (see b2bgateway.statement): only open
        # facturas are in it, and it holds every column the aggregate reads.
        Index(
            "ix_invoices_open_facturas",
            "merchant_id",
            "customer_id",
            "currency",
            "due_on",
            "balance_minor",
            "document_type",  # SQLite covers a query only if the predicate's columns are in it
            sqlite_where=text(OPEN_FACTURA),
            postgresql_where=text(OPEN_FACTURA),
        ),
    )

    merchant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    invoice_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128))
    folio: Mapped[str] = mapped_column(String(64))
    document_type: Mapped[str] = mapped_column(String(32))
    source: Mapped[str] = mapped_column(String(32))
    issued_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    total_minor: Mapped[int] = mapped_column(BigInteger)
    balance_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))

    @property
    def total(self) -> Money:
        return Money.from_minor_units(self.total_minor, self.currency)

    @property
    def balance(self) -> Money:
        return Money.from_minor_units(self.balance_minor, self.currency)


class Payment(Timestamps, Base):
    """One attempt to collect money, written and committed before the processor is called."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_in("status", PAYMENT_STATUSES), name="status"),
        CheckConstraint("purpose IN ('order', 'invoices')", name="purpose"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint(
            "refunded_minor >= 0 AND refunded_minor <= amount_minor", name="refunded_range"
        ),
        CheckConstraint(_in("payment_method", PAYMENT_METHODS), name="payment_method"),
        CheckConstraint(
            "dispute_status IS NULL OR " + _in("dispute_status", DISPUTE_STATUSES),
            name="dispute_status",
        ),
        ForeignKeyConstraint(
            ["merchant_id", "customer_id"], ["customers.merchant_id", "customers.customer_id"]
        ),
        # The feed an ERP sync reads: ordered by (updated_at, id) per merchant.
        Index("ix_payments_merchant_updated", "merchant_id", "updated_at", "id"),
        Index("ix_payments_merchant_customer", "merchant_id", "customer_id"),
        # /panel's list: ix_payments_merchant_created and _status_created, in panel_indexes.py
        Index("ix_payments_status_updated", "status", "updated_at"),
        # Reconciliation acts on open payments at their own expiry.
        Index("ix_payments_status_expires", "status", "expires_at"),
        # The metrics' grouped count reads this index alone (b2bgateway.metrics_queries).
        Index("ix_payments_status_method_processor", "status", "payment_method", "processor"),
        # A client's Idempotency-Key names one payment, even after a crash mid-request.
        Index(
            "uq_payments_idempotency_key",
            "merchant_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
        # One registered payment per order reference of a customer, as per invoice: an order is
        # never charged twice, whatever keys the portal sends. Per customer: one customer can
        # neither block nor detect another's order by its reference.
        Index(
            "uq_payments_registered_order",
            "merchant_id",
            "customer_id",
            "order_reference",
            unique=True,
            sqlite_where=text(REGISTERED_ORDER),
            postgresql_where=text(REGISTERED_ORDER),
        ),
        Index(
            "uq_payments_processor_reference",
            "merchant_id",
            "processor",
            "processor_reference",
            unique=True,
            sqlite_where=text("processor_reference IS NOT NULL"),
            postgresql_where=text("processor_reference IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(128))
    purpose: Mapped[str] = mapped_column(String(16))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(32))
    processor: Mapped[str] = mapped_column(String(64))
    processor_reference: Mapped[str | None] = mapped_column(String(255))
    order_reference: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    next_action: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    return_url: Mapped[str | None] = mapped_column(Text)
    # Reconciliation's lease and back-off: not before this time, and how often it asked.
    reconcile_after: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reconcile_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # v1.1: how the customer pays, until when the gateway waits, and what came of it.
    payment_method: Mapped[str] = mapped_column(String(16), default="card", server_default="card")
    installments: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when we stop waiting
    #: the processor's own expiry of the pending charge, as it reported it (it may be later than
    #: ours when the processor ignored the one we sent: a processor that cannot cancel still
    #: takes the money until then)
    processor_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_minor: Mapped[int | None] = mapped_column(BigInteger)  # funds received (SPEI)
    flags: Mapped[list[str] | None] = mapped_column(JSON)  # overpaid, late_success, ...
    method_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispute_status: Mapped[str | None] = mapped_column(String(8))
    dispute_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    dispute_reason: Mapped[str | None] = mapped_column(String(128))
    dispute_reference: Mapped[str | None] = mapped_column(String(255))
    dispute_opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    dispute_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_before_dispute: Mapped[str | None] = mapped_column(String(32))

    allocations: Mapped[list[PaymentAllocation]] = relationship(
        back_populates="payment", cascade="all, delete-orphan", lazy="selectin"
    )
    refunds: Mapped[list[Refund]] = relationship(back_populates="payment", lazy="select")
    attempts: Mapped[list[PaymentAttempt]] = relationship(
        lazy="select", order_by="PaymentAttempt.id", viewonly=True
    )

    @property
    def amount(self) -> Money:
        return Money.from_minor_units(self.amount_minor, self.currency)

    @property
    def refunded(self) -> Money:
        return Money.from_minor_units(self.refunded_minor, self.currency)

    @property
    def received(self) -> Money | None:
        if self.received_minor is None:
            return None
        return Money.from_minor_units(self.received_minor, self.currency)

    def add_flag(self, flag: str) -> bool:
        """Add a flag (``overpaid``, ``late_success``...) once; True if it is new."""
        current = list(self.flags or [])
        if flag in current:
            return False
        self.flags = [*current, flag]
        return True


class PaymentAttempt(Base):
    """One try at the processor for a payment: a hosted page lets the customer try several cards,
    and each is kept (reference, outcome, failure, method details). Every reference a payment
    gets is also how later notifications find it (a Checkout Session's PaymentIntent, a charge)."""

    __tablename__ = "payment_attempts"
    __table_args__ = (
        Index(
            "uq_payment_attempts_reference",
            "merchant_id",
            "processor",
            "reference",
            unique=True,
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    merchant_id: Mapped[str] = mapped_column(String(64))
    processor: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    final: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    method_details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class PaymentReference(Base):
    """Another name the processor gives a payment (a Checkout Session's payment intent, its
    charge): notifications, disputes and refunds that carry only that name still find it."""

    __tablename__ = "payment_references"
    __table_args__ = (
        Index("uq_payment_references", "merchant_id", "processor", "reference", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    merchant_id: Mapped[str] = mapped_column(String(64))
    processor: Mapped[str] = mapped_column(String(64))
    reference: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ProcessorCustomer(Timestamps, Base):
    """A customer's id at a processor (a Stripe Customer), made by its plugin once and kept."""

    __tablename__ = "processor_customers"

    merchant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processor: Mapped[str] = mapped_column(String(64), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    reference: Mapped[str] = mapped_column(String(255))


class PaymentAllocation(Base):
    """The part of a payment applied to one invoice.

    ``registered`` mirrors "the payment holds this invoice" and a partial unique index makes the
    database itself refuse a second registered payment for an invoice, whatever the Python does.
    """

    __tablename__ = "payment_allocations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["merchant_id", "invoice_id"], ["invoices.merchant_id", "invoices.invoice_id"]
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_payment_allocations_invoice", "merchant_id", "invoice_id"),  # folio search
        Index(
            "uq_payment_allocations_registered_invoice",
            "merchant_id",
            "invoice_id",
            unique=True,
            sqlite_where=text("registered"),
            postgresql_where=text("registered"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    payment_id: Mapped[str] = mapped_column(
        ForeignKey("payments.id", ondelete="CASCADE"), index=True
    )
    merchant_id: Mapped[str] = mapped_column(String(64))
    invoice_id: Mapped[str] = mapped_column(String(128))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    registered: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())

    payment: Mapped[Payment] = relationship(back_populates="allocations")

    @property
    def amount(self) -> Money:
        return Money.from_minor_units(self.amount_minor, self.currency)


class Refund(Timestamps, Base):
    __tablename__ = "refunds"
    __table_args__ = (
        CheckConstraint(_in("status", REFUND_STATUSES), name="status"),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        Index("ix_refunds_merchant_updated", "merchant_id", "updated_at"),
        Index(
            "uq_refunds_idempotency_key",
            "merchant_id",
            "idempotency_key",
            unique=True,
            sqlite_where=text("idempotency_key IS NOT NULL"),
            postgresql_where=text("idempotency_key IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    payment_id: Mapped[str] = mapped_column(ForeignKey("payments.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    processor_reference: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(Text)
    failure_code: Mapped[str | None] = mapped_column(String(64))
    failure_message: Mapped[str | None] = mapped_column(Text)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))

    payment: Mapped[Payment] = relationship(back_populates="refunds")

    @property
    def amount(self) -> Money:
        return Money.from_minor_units(self.amount_minor, self.currency)


class IdempotencyRecord(Base):
    """A client's ``Idempotency-Key``: the request's fingerprint and, once done, its response."""

    __tablename__ = "idempotency_records"
    __table_args__ = (
        CheckConstraint("state IN ('in_progress', 'completed')", name="state"),
        Index("ix_idempotency_records_created", "created_at"),
    )

    merchant_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    scope: Mapped[str] = mapped_column(String(255))  # "POST /v1/checkouts"
    fingerprint: Mapped[str] = mapped_column(String(64))  # sha256 of the canonical request
    state: Mapped[str] = mapped_column(String(16), default="in_progress")
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_body: Mapped[str | None] = mapped_column(Text)
    response_content_type: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebhookEvent(Base):
    """Every inbound notification and what became of it; unique per (merchant, processor, event)."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("merchant_id", "processor", "event_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    processor: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(255))
    event_type: Mapped[str | None] = mapped_column(String(128))
    payment_id: Mapped[str | None] = mapped_column(String(40), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome: Mapped[str] = mapped_column(String(32))  # applied, ignored, duplicate, mismatch, ...
    detail: Mapped[str | None] = mapped_column(Text)
    body: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(Base):
    """An outbound event written in the same transaction as the change it reports."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("state IN ('pending', 'delivered', 'dead')", name="state"),
        Index("ix_outbox_state_next_attempt", "state", "next_attempt_at"),
        Index("ix_outbox_ordering_key", "ordering_key", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    merchant_id: Mapped[str] = mapped_column(String(64))
    event_type: Mapped[str] = mapped_column(String(64))
    ordering_key: Mapped[str] = mapped_column(String(64))  # the payment: delivered in order
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class AuthFailure(Base):
    """Wrong API keys from one client address in the current window (``b2bgateway.throttle``)."""

    __tablename__ = "auth_failures"

    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started: Mapped[datetime] = mapped_column(UTCDateTime)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
