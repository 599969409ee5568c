"""Demo customers and invoices that show every case the portal can meet (``b2bgateway demo``).

Dates are relative to the merchant's "today", so overdue stays overdue whenever the demo runs.

Customer C-1 shows most cases on the payment page (``b2bgateway demo`` prints its link): overdue
and upcoming facturas it can pay, a factura from another module (``cuentas_por_cobrar``), a
``cargo`` and a nota de crédito (shown, never payable), a paid factura (no balance: not listed).
C-2 has no credit (credit limit 0: every order is payable online), C-3 no credit limit assigned,
C-4 is inactive.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from b2bgateway.money import Money
from b2bgateway.settings import MerchantConfig
from b2bgateway.store import Store
from b2bgateway.store.repository import CustomerData, InvoiceData, upsert_customer, upsert_invoices

__all__ = ["DEMO_CUSTOMERS", "DEMO_ORDER", "DEMO_PORTAL_CUSTOMER", "load_demo"]

#: customer id -> (name, email, active, credit limit or None)
DEMO_CUSTOMERS: dict[str, tuple[str, str, bool, str | None]] = {
    "C-1": ("Ferretería La Esperanza", "compras@laesperanza.example", True, "10000.00"),
    "C-2": ("Abarrotes Don Chuy", "pagos@donchuy.example", True, "0.00"),  # no credit
    "C-3": ("Papelería El Lápiz", "admin@ellapiz.example", True, None),  # limit not assigned
    "C-4": ("Refaccionaria Norte", "cxp@rnorte.example", False, "5000.00"),  # inactive
}
#: The customer whose payment page link ``b2bgateway demo`` prints.
DEMO_PORTAL_CUSTOMER = "C-1"
#: (reference, amount): an order above C-1's credit limit, for the page's order view.
DEMO_ORDER = ("PED-77", "15000.00")

# (invoice id, customer, folio, document type, source, due in days, total, balance)
_INVOICES: tuple[tuple[str, str, str, str, str, int, str, str], ...] = (
    ("F-1001", "C-1", "A-1001", "factura", "ventas", -20, "3480.00", "3480.00"),
    ("F-1002", "C-1", "A-1002", "factura", "punto_de_venta", -3, "1250.50", "750.50"),
    ("F-1003", "C-1", "A-1003", "factura", "ventas", 0, "980.00", "980.00"),
    ("F-1004", "C-1", "A-1004", "factura", "ventas", 15, "5600.00", "5600.00"),
    ("F-1005", "C-1", "A-1005", "factura", "ventas", -40, "2100.00", "0.00"),  # paid
    # a factura of another module: in the balances, not payable online (unsupported_source)
    ("F-1006", "C-1", "CXC-1006", "factura", "cuentas_por_cobrar", -10, "620.00", "620.00"),
    ("NC-2001", "C-1", "NC-2001", "nota_credito", "ventas", 10, "300.00", "300.00"),
    ("CG-3001", "C-1", "CG-3001", "cargo", "cuentas_por_cobrar", -5, "150.00", "150.00"),
    ("F-1101", "C-2", "B-1101", "factura", "ventas", -1, "890.00", "890.00"),
    ("F-1102", "C-2", "B-1102", "factura", "ventas", 30, "1500.00", "1500.00"),
    ("F-1201", "C-3", "C-1201", "factura", "ventas", 7, "2300.00", "2300.00"),
    ("F-1301", "C-4", "D-1301", "factura", "ventas", -60, "4100.00", "4100.00"),
)


def _today(merchant: MerchantConfig) -> date:
    return datetime.now(merchant.zone).date()


def load_demo(store: Store, merchant: MerchantConfig) -> dict[str, int]:
    """Upsert the demo customers and invoices for ``merchant``; returns how many of each."""
    currency = merchant.settings.currency
    today = _today(merchant)
    with store.write() as session:
        for customer_id, (name, email, active, limit) in DEMO_CUSTOMERS.items():
            upsert_customer(
                session,
                merchant.id,
                customer_id,
                CustomerData(
                    name=name,
                    email=email,
                    active=active,
                    currency=currency,
                    credit_limit=None if limit is None else Money(limit, currency),
                ),
            )
        upsert_invoices(
            session,
            merchant.id,
            [
                InvoiceData(
                    invoice_id=invoice_id,
                    customer_id=customer_id,
                    folio=folio,
                    document_type=doc_type,
                    source=source,
                    issued_on=today + timedelta(days=due_in - 30),
                    due_on=today + timedelta(days=due_in),
                    total=Money(total, currency),
                    balance=Money(balance, currency),
                )
                for invoice_id, customer_id, folio, doc_type, source, due_in, total, balance in (
                    _INVOICES
                )
            ],
        )
    return {"customers": len(DEMO_CUSTOMERS), "invoices": len(_INVOICES)}
