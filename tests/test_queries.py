"""The core functions the web layer calls instead of writing SQL: tested without Flask.

``feed`` (the payments feed and its cursor), ``sync`` (ERP upserts), ``accounts`` (the customer
page's reads), ``outbox`` (the command's listing) and ``database`` (schema state).
"""

from datetime import date

import pytest

from b2bgateway import accounts, database, feed, outbox, sync
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.store.repository import create_payment

MXN = "MXN"


def _invoice(invoice_id, customer_id="C-1", document_type="factura", balance="500.00"):
    return sync.InvoiceData(
        invoice_id=invoice_id,
        customer_id=customer_id,
        folio=f"A-{invoice_id}",
        document_type=document_type,
        source="ventas",
        issued_on=date(2026, 1, 1),
        due_on=date(2026, 2, 1),
        total=Money("500.00", MXN),
        balance=Money(balance, MXN),
    )


def _seed(store, merchant="acme"):
    with store.write() as session:
        _, created = sync.put_customer(
            session,
            merchant,
            "C-1",
            sync.CustomerData(name="Cliente", active=True, currency=MXN, credit_limit=None),
        )
        assert created
        sync.put_invoices(
            session,
            merchant,
            [
                _invoice("F-1"),
                _invoice("F-2"),
                _invoice("CG-1", document_type="cargo"),
                _invoice("NC-1", document_type="nota_credito", balance="0.00"),
            ],
        )


def _pay(store, merchant="acme", *, order=None, invoice="F-1", status=PaymentStatus.PROCESSING):
    with store.write() as session:
        payment = create_payment(
            session,
            merchant_id=merchant,
            customer_id="C-1",
            purpose="order" if order else "invoices",
            amount=Money("500.00", MXN),
            processor="sandbox",
            allocations=[] if order else [(invoice, Money("500.00", MXN))],
            order_reference=order,
            status=status,
        )
        return payment.id


def test_sync_reports_missing_customers_by_index(store):
    _seed(store)
    _seed(store, "globex")
    with store.read() as session:
        items = [(0, "C-1"), (1, "C-9"), (2, "C-1")]
        assert sync.missing_customers(session, "acme", items) == [(1, "C-9")]
        assert sync.missing_customers(session, "initech", [(-1, "C-1")]) == [(-1, "C-1")]


def test_sync_put_invoice_creates_then_updates(store):
    _seed(store)
    with store.write() as session:
        invoice, created = sync.put_invoice(session, "acme", _invoice("F-3"))
        assert created and invoice.invoice_id == "F-3"
    with store.write() as session:
        _, created = sync.put_invoice(session, "acme", _invoice("F-3", balance="10.00"))
        assert not created
    with store.read() as session:
        assert sync.get_invoice(session, "acme", "F-3").balance == Money("10.00", MXN)


def test_feed_pages_in_order_and_the_cursor_round_trips(store):
    _seed(store)
    ids = [_pay(store, invoice=i) for i in ("F-1", "F-2")] + [_pay(store, order="PED-1")]
    seen = []
    cursor = None
    with store.read() as session:
        while True:
            page = feed.payments_page(session, "acme", feed.FeedQuery(limit=2, cursor=cursor))
            seen += [p.id for p in page.payments]
            if page.next_cursor is None:
                break
            assert feed.decode_cursor(page.next_cursor)[1] == page.payments[-1].id
            cursor = page.next_cursor
    assert sorted(seen) == sorted(ids) and len(seen) == 3


def test_feed_filters_and_stays_within_the_merchant(store):
    _seed(store)
    _seed(store, "globex")
    _pay(store, order="PED-1")
    _pay(store, invoice="F-1")
    _pay(store, "globex", order="PED-1")
    with store.read() as session:
        orders = feed.payments_page(session, "acme", feed.FeedQuery(limit=10, purpose="order"))
        assert [p.order_reference for p in orders.payments] == ["PED-1"]
        assert {p.merchant_id for p in orders.payments} == {"acme"}
        none = feed.payments_page(session, "acme", feed.FeedQuery(limit=10, status="refunded"))
        assert none.payments == [] and none.next_cursor is None


@pytest.mark.parametrize("cursor", ["", "x", "bnVsbA", "WyIyMDI2LTAxLTAxVDAwOjAwOjAwIiwgImEiXQ"])
def test_feed_refuses_a_cursor_it_did_not_make(cursor):
    with pytest.raises(feed.InvalidCursor):
        feed.decode_cursor(cursor)


def test_accounts_reads_are_scoped_to_the_customer(store):
    _seed(store)
    _seed(store, "globex")
    order_id = _pay(store, order="PED-7")
    invoice_payment = _pay(store, invoice="F-2")
    with store.read() as session:
        others = accounts.open_other_documents(session, "acme", "C-1")
        assert [i.invoice_id for i in others] == ["CG-1"]  # no factura, no zero balance
        assert accounts.order_payment(session, "acme", "C-1", "PED-7").id == order_id
        assert accounts.order_payment(session, "acme", "C-1", "PED-8") is None
        assert accounts.order_payment(session, "globex", "C-1", "PED-7") is None
        assert accounts.customer_payment(session, "acme", "C-1", order_id).id == order_id
        assert accounts.customer_payment(session, "acme", "C-2", order_id) is None
        assert accounts.customer_payment(session, "globex", "C-1", order_id) is None
        assert accounts.invoice_folios(session, "acme", ["F-2", "F-9"]) == {"F-2": "A-F-2"}
        assert accounts.invoice_folios(session, "acme", []) == {}
    assert invoice_payment


def test_a_failed_order_payment_does_not_hold_the_order(store):
    _seed(store)
    _pay(store, order="PED-7", status=PaymentStatus.FAILED)
    with store.read() as session:
        assert accounts.order_payment(session, "acme", "C-1", "PED-7") is None


def test_outbox_lists_nothing_when_empty(store):
    assert outbox.list_messages(store, "dead", 10) == []


def test_database_schema_state_is_current_after_the_migrations(store):
    state = database.schema_state(store)
    assert state.current and state.revision == state.head
