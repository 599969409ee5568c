"""What the customer payment page reads of one customer's account, beyond the statement.

Each function is scoped to a merchant and a customer, so a page can never show another's rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.store.models import Invoice, Payment, PaymentAllocation

__all__ = [
    "Holder",
    "Invoice",
    "Payment",
    "customer_payment",
    "customer_payments",
    "holders",
    "invoice_folios",
    "open_other_documents",
    "order_payment",
]

#: At most this many non-factura documents are listed on the page.
OTHER_DOCUMENTS_LIMIT = 200


def open_other_documents(
    session: Session, merchant_id: str, customer_id: str, limit: int = OTHER_DOCUMENTS_LIMIT
) -> list[Invoice]:
    """The customer's documents with a balance that are not facturas (cargos, notas de
    crédito, ...), by due date: the statement's balances leave them out."""
    return list(
        session.scalars(
            select(Invoice)
            .where(
                Invoice.merchant_id == merchant_id,
                Invoice.customer_id == customer_id,
                Invoice.document_type != "factura",
                Invoice.balance_minor > 0,
            )
            .order_by(Invoice.due_on, Invoice.invoice_id)
            .limit(limit)
        )
    )


def order_payment(
    session: Session, merchant_id: str, customer_id: str, reference: str
) -> Payment | None:
    """This customer's payment that already holds the order ``reference`` (pending or paid and
    not fully refunded), if any."""
    payments = session.scalars(
        select(Payment).where(
            Payment.merchant_id == merchant_id,
            Payment.customer_id == customer_id,
            Payment.purpose == "order",
            Payment.order_reference == reference,
        )
    )
    for payment in payments:
        if PaymentStatus(payment.status).registers_invoices and payment.dispute_status != "lost":
            return payment
    return None


def customer_payment(
    session: Session, merchant_id: str, customer_id: str, payment_id: str
) -> Payment | None:
    """The payment ``payment_id`` if it is this customer's, else None."""
    payment = session.get(Payment, payment_id)
    if payment is None or payment.merchant_id != merchant_id or payment.customer_id != customer_id:
        return None
    return payment


def invoice_folios(
    session: Session, merchant_id: str, invoice_ids: Sequence[str]
) -> dict[str, str]:
    """invoice id -> folio, for those of ``invoice_ids`` that exist."""
    if not invoice_ids:
        return {}
    rows = session.execute(
        select(Invoice.invoice_id, Invoice.folio).where(
            Invoice.merchant_id == merchant_id, Invoice.invoice_id.in_(invoice_ids)
        )
    ).all()
    return {invoice_id: folio for invoice_id, folio in rows}


@dataclass(frozen=True, slots=True)
class Holder:
    """The payment that holds an invoice, and the part of it allocated to that invoice."""

    invoice_id: str
    payment_id: str
    status: str
    payment_method: str
    allocated: Money

    @property
    def open(self) -> bool:
        """It still waits: for the customer (a hosted page, a transfer, a voucher) or for the
        processor's answer."""
        return self.status in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)


def holders(session: Session, merchant_id: str, customer_id: str) -> dict[str, Holder]:
    """invoice id -> the payment of this customer that holds it (registered allocations; at most
    one per invoice, the database's unique index sees to it), in one query."""
    rows = session.execute(
        select(
            PaymentAllocation.invoice_id,
            Payment.id,
            Payment.status,
            Payment.payment_method,
            PaymentAllocation.amount_minor,
            PaymentAllocation.currency,
        )
        .join(Payment, Payment.id == PaymentAllocation.payment_id)
        .where(
            Payment.merchant_id == merchant_id,
            Payment.customer_id == customer_id,
            PaymentAllocation.registered.is_(True),
        )
    )
    return {
        invoice_id: Holder(
            invoice_id, payment_id, status, method, Money.from_minor_units(minor, currency)
        )
        for invoice_id, payment_id, status, method, minor, currency in rows
    }


#: "Mis pagos" lists at most this many payments, newest first.
HISTORY_LIMIT = 200


def customer_payments(
    session: Session, merchant_id: str, customer_id: str, limit: int = HISTORY_LIMIT
) -> list[Payment]:
    """The customer's payments, newest first (their allocations loaded with them)."""
    return list(
        session.scalars(
            select(Payment)
            .where(Payment.merchant_id == merchant_id, Payment.customer_id == customer_id)
            .order_by(Payment.created_at.desc(), Payment.id.desc())
            .limit(limit)
        )
    )
