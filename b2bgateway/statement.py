"""Account statements: total, overdue and upcoming balances of a customer's open facturas.

Over the customer's documents of type ``factura`` with a balance greater than zero:
total = their sum; overdue = those due before "today"; upcoming = those due today or later, so
total = overdue + upcoming always. "Today" is the merchant's local date (its time zone), not the
server's or UTC's. The sums run in SQL over a partial covering index (migration 0002), never by
loading every invoice into Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, select, text
from sqlalchemy.orm import Session

from b2bgateway.money import Money
from b2bgateway.store.models import OPEN_FACTURA, Invoice

__all__ = [
    "Balances",
    "OpenInvoice",
    "balances",
    "local_today",
    "open_invoices",
    "open_invoices_filter",
]


def local_today(zone: ZoneInfo, now: datetime | None = None) -> date:
    """The merchant's date now (``now`` must be aware; defaults to the current instant)."""
    if now is None:
        return datetime.now(zone).date()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return now.astimezone(zone).date()


@dataclass(frozen=True, slots=True)
class Balances:
    """One currency's balances as of a date."""

    currency: str
    total: Money
    overdue: Money
    upcoming: Money
    count: int

    @classmethod
    def zero(cls, currency: str) -> Balances:
        nothing = Money.zero(currency)
        return cls(currency, nothing, nothing, nothing, 0)


def open_invoices_filter(merchant_id: str, customer_id: str) -> Sequence[object]:
    """The WHERE clause of "open facturas": it matches the partial index's predicate exactly."""
    # Literal text, not bound parameters: SQLite only uses a partial index when the query's terms
    # match its predicate as written.
    return (
        Invoice.merchant_id == merchant_id,
        Invoice.customer_id == customer_id,
        text(OPEN_FACTURA),
    )


def balances(
    session: Session, merchant_id: str, customer_id: str, as_of: date
) -> dict[str, Balances]:
    """Balances per currency (usually one: the customer's), summed in one indexed query."""
    overdue = func.sum(case((Invoice.due_on < as_of, Invoice.balance_minor), else_=0))
    rows = session.execute(
        select(
            Invoice.currency,
            func.sum(Invoice.balance_minor),
            overdue,
            func.count(),
        )
        .where(and_(*open_invoices_filter(merchant_id, customer_id)))  # type: ignore[arg-type]
        .group_by(Invoice.currency)
    ).all()
    result = {}
    for currency, total_minor, overdue_minor, count in rows:
        total = Money.from_minor_units(int(total_minor), currency)
        late = Money.from_minor_units(int(overdue_minor), currency)
        result[currency] = Balances(currency, total, late, total - late, int(count))
    return result


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """What a statement line needs of an open factura (read as plain columns, not ORM objects)."""

    invoice_id: str
    folio: str
    document_type: str
    source: str
    due_on: date
    balance_minor: int  # as stored: a statement's ten thousand lines need no Money objects
    currency: str
    issued_on: date | None = None

    @property
    def balance(self) -> Money:
        return Money.from_minor_units(self.balance_minor, self.currency)


def open_invoices(session: Session, merchant_id: str, customer_id: str) -> list[OpenInvoice]:
    """The customer's open facturas, oldest due date first (stable order: then by id)."""
    # Plain rows through the session's connection (no ORM result processing): a statement can
    # have tens of thousands of lines.
    query = (
        select(
            Invoice.invoice_id,
            Invoice.folio,
            Invoice.document_type,
            Invoice.source,
            Invoice.due_on,
            Invoice.balance_minor,
            Invoice.currency,
            Invoice.issued_on,
        )
        .where(and_(*open_invoices_filter(merchant_id, customer_id)))  # type: ignore[arg-type]
        .order_by(Invoice.due_on, Invoice.invoice_id)
    )
    return [OpenInvoice(*row) for row in session.connection().execute(query).all()]
