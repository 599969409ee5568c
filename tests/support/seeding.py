"""Seeding a merchant's customer and open facturas, shared by the tests (the ERP's sync, short)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from b2bgateway.money import Money
from b2bgateway.store import Store
from b2bgateway.store.repository import (
    CustomerData,
    InvoiceData,
    upsert_customer,
    upsert_invoices,
)


def seed_customer(
    store: Store,
    merchant_id: str,
    invoices: Iterable[tuple[str, str]] = (),
    *,
    customer_id: str = "C-1",
    name: str = "Ferretería",
    credit_limit: str | None = None,
    currency: str = "MXN",
    email: str | None = None,
    due_in_days: int = 5,
) -> None:
    """``customer_id`` of ``merchant_id`` (credit limit ``credit_limit``, None: not assigned)
    with one open factura per ``(invoice_id, balance)``, its folio the id, due in
    ``due_in_days`` days."""
    today = date.today()
    limit = None if credit_limit is None else Money(credit_limit, currency)
    with store.write() as session:
        upsert_customer(
            session,
            merchant_id,
            customer_id,
            CustomerData(name, True, currency, limit, email=email),
        )
        upsert_invoices(
            session,
            merchant_id,
            [
                InvoiceData(
                    invoice_id=invoice_id,
                    customer_id=customer_id,
                    folio=invoice_id,
                    document_type="factura",
                    source="ventas",
                    issued_on=today - timedelta(days=30),
                    due_on=today + timedelta(days=due_in_days),
                    total=Money(balance, currency),
                    balance=Money(balance, currency),
                )
                for invoice_id, balance in invoices
            ],
        )
