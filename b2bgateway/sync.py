"""What the ERP sync writes and reads: customers and invoices, one merchant's at a time.

Functions take the caller's session, so a view decides the transaction (``store.write()`` for an
upsert, ``store.read()`` for a lookup) and serializes inside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from b2bgateway.store.models import Customer, Invoice
from b2bgateway.store.repository import (
    CustomerData,
    InvoiceData,
    bulk_upsert_invoices,
    get_customer,
    get_invoice,
    upsert_customer,
    upsert_invoices,
)

__all__ = [
    "CustomerData",
    "InvoiceData",
    "get_customer",
    "get_invoice",
    "missing_customers",
    "put_customer",
    "put_invoice",
    "put_invoices",
]


def put_customer(
    session: Session, merchant_id: str, customer_id: str, data: CustomerData
) -> tuple[Customer, bool]:
    """Create or update a customer; returns it and whether it was created."""
    return upsert_customer(session, merchant_id, customer_id, data)


def missing_customers(
    session: Session, merchant_id: str, items: Iterable[tuple[int, str]]
) -> list[tuple[int, str]]:
    """The ``(index, customer_id)`` items whose customer is not this merchant's (or not at all)."""
    items = list(items)
    wanted = {customer_id for _, customer_id in items}
    found = set(
        session.scalars(
            select(Customer.customer_id).where(
                Customer.merchant_id == merchant_id, Customer.customer_id.in_(wanted)
            )
        )
    )
    return [(index, cid) for index, cid in items if cid not in found]


def put_invoice(session: Session, merchant_id: str, data: InvoiceData) -> tuple[Invoice, bool]:
    """Create or update one invoice (its customer must exist: :func:`missing_customers`)."""
    [(invoice, created)] = upsert_invoices(session, merchant_id, [data])
    return invoice, created


def put_invoices(
    session: Session, merchant_id: str, invoices: Sequence[InvoiceData]
) -> tuple[int, int]:
    """Create or update many invoices; returns how many were created and how many updated."""
    return bulk_upsert_invoices(session, merchant_id, invoices)
