"""The payments module's queries and writes, without Flask: search (filters, keyset pages,
totals, batches for exports), the timeline, the home figures and cancelling a waiting payment."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from b2bgateway import audit, manual, service
from b2bgateway.audit import Actor
from b2bgateway.cancel import cancel_waiting
from b2bgateway.dashboard import figures
from b2bgateway.errors import InvalidCursor, RefundNotAllowed
from b2bgateway.money import Money
from b2bgateway.search import PaymentFilter, Total, export_rows, filtered_total, search_page
from b2bgateway.timeline import timeline
from tests.support.panel import card_payment
from tests.support.seeding import seed_customer

STAFF = Actor("acme", "ana@acme.mx", "10.0.0.1", 1)


def _checkout(gateway, acme, key, invoices, token="tok_approved"):
    return card_payment(gateway, acme, key, invoices, token)


@pytest.fixture
def three(gateway, acme, data, store):
    seed_customer(store, "acme", (("G-1", "10.00"),), customer_id="C-2", name="Óptica Núñez")
    paid = _checkout(gateway, acme, "k1", ["F-2"])
    declined = _checkout(gateway, acme, "k2", ["F-1"], token="tok_declined")
    cash = manual.record_manual_payment(
        gateway,
        acme,
        manual.ManualPaymentRequest(
            customer_id="C-2",
            purpose="invoices",
            idempotency_key="m1",
            method="cash",
            received_on=date.today(),
            invoice_ids=("G-1",),
            recorded_by=STAFF.email,
        ),
        STAFF,
    )
    seed_customer(store, "globex", (("X-1", "5.00"),))
    return paid, declined, cash


def _ids(session, f, **kwargs):
    return [row.id for row in search_page(session, "acme", f, **kwargs).rows]


def test_filters_each_narrow_the_list(gateway, three):
    paid, declined, cash = three
    with gateway.store.read() as session:
        assert _ids(session, PaymentFilter()) == [cash.id, declined.id, paid.id]
        assert _ids(session, PaymentFilter(statuses=("failed",))) == [declined.id]
        assert _ids(session, PaymentFilter(payment_method="manual")) == [cash.id]
        assert _ids(session, PaymentFilter(customer="núñez")) == [cash.id]
        assert _ids(session, PaymentFilter(customer="C-1")) == [declined.id, paid.id]
        assert _ids(session, PaymentFilter(customer="100%")) == []  # a pattern is text
        assert _ids(session, PaymentFilter(folio="F-2")) == [paid.id]
        assert _ids(session, PaymentFilter(processor="sandbox")) == [declined.id, paid.id]
        big = PaymentFilter(amount_min=Money("1000.00", "MXN"))
        assert _ids(session, big) == [paid.id]
        small = PaymentFilter(amount_max=Money("100.10", "MXN"))
        assert _ids(session, small) == [cash.id, declined.id]
        today = date.today()
        assert len(_ids(session, PaymentFilter(created_from=today - timedelta(days=1)))) == 3
        assert _ids(session, PaymentFilter(created_to=today - timedelta(days=2))) == []
        assert filtered_total(session, "acme", PaymentFilter(customer="C-1")) == Total(
            2, 250000, False
        )
        assert filtered_total(session, "globex", PaymentFilter()) == Total(0, 0, False)
        assert filtered_total(session, "acme", PaymentFilter(), cap=2) == Total(2, None, True)


def test_keyset_pages_cover_everything_once(gateway, three):
    with gateway.store.read() as session:
        first = search_page(session, "acme", PaymentFilter(), limit=2)
        assert first.next_cursor is not None
        second = search_page(session, "acme", PaymentFilter(), cursor=first.next_cursor, limit=2)
        assert second.next_cursor is None
        ids = [r.id for r in first.rows + second.rows]
        assert sorted(ids) == sorted(p.id for p in three)
        with pytest.raises(InvalidCursor):
            search_page(session, "acme", PaymentFilter(), cursor="bm8")
        exported = [
            (row.id, row.folios) for row in export_rows(session, "acme", PaymentFilter(), batch=1)
        ]
    assert [i for i, _ in exported] == ids
    assert exported[2][1] == ["F-2"]


def test_the_timeline_tells_what_happened(gateway, acme, three):
    _paid, declined, cash = three
    manual.void_payment(gateway, acme, cash.id, "Cheque devuelto", STAFF.email, STAFF)
    with gateway.store.read() as session:
        story = timeline(session, service.get_payment(session, "acme", cash.id))
        assert [(m.kind, m.what) for m in story] == [
            ("status", "succeeded"),  # its creation, by ana (b2bgateway.history)
            ("staff", "manual_payment"),
            ("status", "canceled"),
            ("staff", "void"),
        ]
        assert story[3].detail == "Cheque devuelto" and story[0].by == "staff"
        assert story[0].change is not None and story[0].change.from_status is None
        assert (story[2].change.actor, story[2].change.event) == ("ana@acme.mx", "voided")
        card = timeline(session, service.get_payment(session, "acme", declined.id))
        assert "attempt" in [m.kind for m in card]


def test_home_figures(gateway, acme, three):
    with gateway.store.read() as session:
        found = figures(session, "acme", acme.zone)
    assert found.today == {("card", "MXN"): 239990, ("manual", "MXN"): 1000}
    assert found.month == found.today
    assert found.failed_7d == 1
    assert (found.open_disputes, found.dead_letters, found.refused_webhooks_24h) == (0, 0, 0)


def test_cancel_a_payment_waiting_for_the_customer(gateway, acme, data):
    waiting = _checkout(gateway, acme, "k-3ds", ["F-1"], token="tok_3ds")
    assert waiting.status == "requires_action"
    done = cancel_waiting(gateway, acme, waiting.id, STAFF)
    assert done.status == "canceled"
    with pytest.raises(RefundNotAllowed) as caught:
        cancel_waiting(gateway, acme, waiting.id, STAFF)
    assert caught.value.code == "cancel_not_allowed"
    with gateway.store.read() as session:
        assert [e.action for e in audit.entries(session, "acme")] == ["cancel"]
    again = _checkout(gateway, acme, "k-again", ["F-1"])  # its invoice is free again
    assert again.status == "succeeded"
