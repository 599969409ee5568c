"""A payment's status history with the cause of each change (issue 20 item 3): every entry point
records its cause (an API key, the customer page, a webhook, reconciliation, an expiry, a staff
user, the command line); rows are written in the change's transaction, never updated or deleted;
the payments module's detail shows them in Spanish."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.exc import DBAPIError

from b2bgateway import history, lifecycle, manual, refunds, service
from b2bgateway.audit import Actor
from b2bgateway.cancel import cancel_waiting
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.reconcile import reconcile
from b2bgateway.sandbox.delivery import deliver_pending
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.settings import Settings
from b2bgateway.store.history_models import PaymentStatusChange
from b2bgateway.store.models import Payment, utcnow
from b2bgateway.store.models import WebhookEvent as EventRow
from b2bgateway.store.repository import create_payment
from tests.conftest import API_KEY, OTHER_API_KEY, WEBHOOK_SECRET
from tests.support.panel import add_users, csrf_token, fast_hashing, form_value, sign_in
from tests.support.web import SandboxOutbox, new_link
from tests.test_portal import page_of, pay_two_invoices, submit
from tests.test_webhooks import event_body, post

FIRST_KEY = "sk_test_acme_first_key_0001"
STAFF = Actor("acme", "ana@acme.mx", "10.0.0.7", 7)
CLI = Actor("acme", "cli:root", "local")


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    """acme with two API keys: the tests' key is its second."""
    return Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [FIRST_KEY, API_KEY],
                "processor": "sandbox",
                "order_payments": True,
                "invoice_payments": True,
                "processors": {
                    "sandbox": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "sandbox-ledger.db"),
                    }
                },
            },
            "globex": {"api_keys": [OTHER_API_KEY], "processor": ""},
        },
    )


def changes(store: Any, payment_id: str) -> list[PaymentStatusChange]:
    with store.read() as session:
        return history.changes(session, payment_id)


def moves(store: Any, payment_id: str) -> list[tuple[str | None, str, str]]:
    return [(c.from_status, c.to_status, c.cause) for c in changes(store, payment_id)]


def count(store: Any) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(PaymentStatusChange)) or 0)


def pay(gateway: Any, key: str, token: str = "tok_approved", invoice: str = "F-1") -> Payment:
    return service.checkout(
        gateway,
        gateway.merchants["acme"],
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key=key,
            invoice_ids=[invoice],
            token=token,
        ),
    )


def order_body(token: str = "tok_approved") -> dict[str, Any]:
    return {
        "customer_id": "C-1",
        "purpose": "order",
        "order": {"reference": "PED-1", "amount": "1500.00", "currency": "MXN"},  # over its limit
        "return_url": "https://portal.example/return",
        "payment_method": {"token": token},
    }


# -- causes --------------------------------------------------------------------------------------


def _cash_for_f2(gateway, acme):
    """Cash a staff user received for F-2, registered as a manual payment."""
    return manual.record_manual_payment(
        gateway,
        acme,
        manual.ManualPaymentRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key="m-1",
            method="cash",
            received_on=date.today(),
            invoice_ids=("F-2",),
        ),
        STAFF,
    )


def test_an_api_checkout_records_its_creation_and_the_answer_with_the_key(client, data, store):
    response = client.post(
        "/v1/checkouts",
        json=order_body(),
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "h-1"},
    )
    assert response.status_code == 201, response.json
    found = changes(store, response.json["id"])
    assert [(c.from_status, c.to_status) for c in found] == [
        (None, "processing"),
        ("processing", "succeeded"),
    ]
    assert {(c.cause, c.actor, c.actor_id) for c in found} == {("api", "api:acme", "2")}
    assert found[1].processor_status  # what the processor answered
    assert found[0].at <= found[1].at
    assert API_KEY not in str([vars(c) for c in found])  # the key is named, never shown


def test_a_webhook_records_its_event_row_and_the_processor_s_event_id(client, gateway, data, store):
    payment = pay(gateway, "h-1", token="tok_3ds")
    assert moves(store, payment.id) == [  # called in the core, outside any entry point
        (None, "processing", "unknown"),
        ("processing", "requires_action", "unknown"),
    ]
    body = event_body(payment, "charge.succeeded", "succeeded", event_id="evt_hist_1")
    assert post(client, body).json["outcome"] == "applied"
    last = changes(store, payment.id)[-1]
    with store.read() as session:
        row_id = session.scalar(select(EventRow.id).where(EventRow.event_id == "evt_hist_1"))
    assert (last.from_status, last.to_status, last.cause) == (
        "requires_action",
        "succeeded",
        "webhook",
    )
    assert (last.actor, last.webhook_event_id, last.processor_event_id) == (
        "sandbox",
        row_id,
        "evt_hist_1",
    )
    assert last.processor_status == "charge.succeeded"
    # A repeat of the event changes nothing and records nothing.
    assert post(client, body).json["outcome"] == "duplicate"
    assert len(changes(store, payment.id)) == 3


def test_reconciliation_and_expiry_are_told_apart(gateway, data, store):
    lost = pay(gateway, "h-1", token="tok_timeout")  # the processor's answer was lost
    reconcile(gateway, now=utcnow() + timedelta(minutes=10))
    assert moves(store, lost.id)[-1] == ("processing", "succeeded", "reconcile")
    assert changes(store, lost.id)[-1].actor == "sandbox"

    abandoned = pay(gateway, "h-2", token="tok_3ds", invoice="F-2")
    assert reconcile(gateway, now=utcnow() + timedelta(hours=3)).expired == 1
    last = changes(store, abandoned.id)[-1]
    assert (last.from_status, last.to_status, last.cause) == (
        "requires_action",
        "canceled",
        "expiry",
    )
    # The row carries the code the payment ends with (set after the processor's "canceled").
    assert last.failure_code == "expired"
    with store.read() as session:
        assert session.get(Payment, abandoned.id).failure_code == "expired"


def test_staff_cancel_refund_and_void_name_the_user(gateway, acme, data, store):
    waiting = pay(gateway, "h-1", token="tok_3ds")
    cancel_waiting(gateway, acme, waiting.id, STAFF)
    last = changes(store, waiting.id)[-1]
    assert (last.to_status, last.cause, last.actor, last.actor_id) == (
        "canceled",
        "staff",
        "ana@acme.mx",
        "7",
    )

    paid = pay(gateway, "h-2")
    refund = refunds.refund(gateway, acme, paid.id, None, "devolución", "r-1", STAFF)
    last = changes(store, paid.id)[-1]
    assert (last.from_status, last.to_status, last.cause, last.refund_id) == (
        "succeeded",
        "refunded",
        "staff",
        refund.id,
    )

    recorded = _cash_for_f2(gateway, acme)
    cli = Actor("acme", "cli:root", "local")
    manual.void_payment(gateway, acme, recorded.id, "cheque sin fondos", "root", cli)
    first, last = changes(store, recorded.id)
    assert (first.from_status, first.to_status, first.cause) == (None, "succeeded", "staff")
    assert (last.to_status, last.cause, last.actor) == ("canceled", "cli", "cli:root")
    assert (last.event, last.failure_code) == ("voided", "voided")


def test_a_dispute_is_recorded_with_its_reference(client, gateway, acme, data, store):
    payment = pay(gateway, "h-1")
    dispute = open_ledger(acme.processor_settings).dispute("acme", payment.id, "open")
    sent: list[tuple[str, bytes, dict[str, str]]] = []
    deliver_pending(
        acme.processor_settings, "acme", send=lambda u, b, h: sent.append((u, b, dict(h)))
    )
    for _url, body, headers in sent:
        client.post("/v1/webhooks/acme/sandbox", data=body, headers=headers)
    last = changes(store, payment.id)[-1]
    assert (last.from_status, last.to_status, last.cause) == ("succeeded", "disputed", "webhook")
    assert (last.event, last.dispute_reference) == ("dispute_opened", dispute.id)


def test_the_customer_page_records_the_customer(client, demo, sandbox_outbox: SandboxOutbox, store):
    link = new_link(client)
    _location, payment = pay_two_invoices(client, link)
    home = page_of(client.get(link))
    assert submit(client, home, "Cancelar el pago de $4,230.50").status_code == 303
    found = changes(store, payment.id)
    assert found[0].from_status is None and found[-1].to_status == "canceled"
    assert {(c.cause, c.actor) for c in found} == {("customer", "C-1")}


# -- the carrier ---------------------------------------------------------------------------------


def test_the_innermost_cause_wins_and_ends_with_its_block():
    assert history.current() == history.UNKNOWN
    api = history.Cause("api", "api:acme", "2")
    with history.caused_by(api):
        with history.acting(None):
            assert history.current() == api
        with history.acting(Actor("acme", "api:acme", "10.0.0.1")):
            assert history.current() == api  # the request's cause names the key
        with history.acting(STAFF) as staff:
            assert (staff.kind, staff.actor, staff.actor_id) == ("staff", "ana@acme.mx", "7")
            with history.caused_by(history.Cause("webhook", "sandbox")):
                assert history.current().kind == "webhook"
            assert history.current() == staff
        assert history.current() == api
    assert history.current() == history.UNKNOWN
    with history.acting(Actor("acme", "api:acme", "10.0.0.1")) as outside:
        assert (outside.kind, outside.actor_id) == ("api", None)
    with pytest.raises(ValueError, match="unknown cause"):
        history.Cause("magic")


def test_a_request_s_cause_ends_with_the_request(client, data):
    client.post(
        "/v1/checkouts",
        json=order_body(),
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "h-1"},
    )
    assert history.current() == history.UNKNOWN


# -- append-only, transactional, cheap -------------------------------------------------------------


def test_rows_are_never_updated_or_deleted(gateway, data, store):
    payment = pay(gateway, "h-1")
    before = changes(store, payment.id)
    for statement in (
        "UPDATE payment_status_changes SET cause = 'api'",
        "DELETE FROM payment_status_changes",
    ):
        with pytest.raises(DBAPIError, match="append-only"), store.write() as session:
            session.execute(text(statement))
    assert [(c.id, c.cause, c.to_status) for c in changes(store, payment.id)] == [
        (c.id, c.cause, c.to_status) for c in before
    ]


def test_a_change_rolled_back_leaves_no_row(gateway, data, store):
    payment = pay(gateway, "h-1", token="tok_3ds")
    before = count(store)
    with pytest.raises(RuntimeError), store.write() as session:
        locked = session.get(Payment, payment.id, with_for_update=True)
        assert lifecycle.transition(session, gateway.plugins, locked, PaymentStatus.CANCELED)
        inside = session.scalar(select(func.count()).select_from(PaymentStatusChange))
        assert inside == before + 1  # written in the change's transaction
        raise RuntimeError("the request failed after the change")
    assert count(store) == before
    assert moves(store, payment.id)[-1][1] == "requires_action"


def test_a_refused_checkout_writes_no_row(client, data, store):
    ok = client.post(
        "/v1/checkouts",
        json=order_body(),
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "h-1"},
    )
    assert ok.status_code == 201
    before = count(store)
    again = client.post(  # the same order again: refused, nothing written
        "/v1/checkouts",
        json=order_body(),
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": "h-2"},
    )
    assert again.status_code == 422 and again.json["reasons"] == ["payment_registered"]
    assert count(store) == before


def test_recording_a_change_is_one_insert(gateway, data, store):
    payment = pay(gateway, "h-1", token="tok_3ds")
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement)

    with store.write() as session:
        locked = session.get(Payment, payment.id, with_for_update=True)
        connection = session.connection()
        event.listen(connection, "before_cursor_execute", seen)
        try:
            history.record(session, locked, PaymentStatus.REQUIRES_ACTION)
        finally:
            event.remove(connection, "before_cursor_execute", seen)
    assert len(statements) == 1
    assert statements[0].startswith("INSERT INTO payment_status_changes")


# -- the payments module -------------------------------------------------------------------------


@pytest.fixture
def users(store, data, monkeypatch):
    fast_hashing(monkeypatch)
    add_users(store)


def test_the_payment_detail_shows_each_change_and_its_cause_in_spanish(
    client, gateway, users, store
):
    waiting = pay(gateway, "h-1", token="tok_3ds")
    body = event_body(waiting, "charge.pending", "pending", event_id="evt_hist_2")
    post(client, body)
    sign_in(client)
    page = client.get(f"/panel/pagos/{waiting.id}/cancelar")
    html = page.get_data(as_text=True)
    done = client.post(
        f"/panel/pagos/{waiting.id}/cancelar",
        data={"csrf_token": csrf_token(html), "key": form_value(html, "key")},
    )
    assert done.status_code == 302
    detail = client.get(f"/panel/pagos/{waiting.id}").get_data(as_text=True)
    assert "Cambio de estado" in detail
    assert "Creado: En proceso · Origen no registrado" in detail
    assert "En proceso → Espera al cliente" in detail
    assert "Espera al cliente → Cancelado · Por ana@acme.mx (panel)" in detail


def test_a_webhook_change_reads_with_its_event(client, gateway, users, store):
    waiting = pay(gateway, "h-1", token="tok_3ds")
    post(client, event_body(waiting, "charge.succeeded", "succeeded", event_id="evt_hist_3"))
    sign_in(client)
    detail = client.get(f"/panel/pagos/{waiting.id}").get_data(as_text=True)
    assert (
        "Espera al cliente → Pagado · Webhook de sandbox: charge.succeeded (evt_hist_3)" in detail
    )


def test_a_payment_from_before_the_history_keeps_its_timeline(client, users, store):
    with store.write() as session:  # as a payment made before migration 0011: no rows
        old = create_payment(
            session,
            merchant_id="acme",
            customer_id="C-1",
            purpose="invoices",
            amount=Money("100.10", "MXN"),
            processor="sandbox",
            allocations=[("F-1", Money("100.10", "MXN"))],
            idempotency_key="old",
        )
    assert changes(store, old.id) == []
    sign_in(client)
    detail = client.get(f"/panel/pagos/{old.id}")
    assert detail.status_code == 200
    html = detail.get_data(as_text=True)
    assert "Creado" in html and "Cambio de estado" not in html


# -- the API -------------------------------------------------------------------------------------


def test_the_api_lists_a_payment_s_history(client, gateway, data, store):
    waiting = pay(gateway, "h-1", token="tok_3ds")
    post(client, event_body(waiting, "charge.succeeded", "succeeded", event_id="evt_hist_4"))
    auth = {"Authorization": f"Bearer {API_KEY}"}
    response = client.get(f"/v1/payments/{waiting.id}/history", headers=auth)
    assert response.status_code == 200
    data = response.json["data"]
    assert [(c["from_status"], c["to_status"], c["cause"]) for c in data] == [
        (None, "processing", "unknown"),
        ("processing", "requires_action", "unknown"),
        ("requires_action", "succeeded", "webhook"),
    ]
    assert data[2]["processor_event_id"] == "evt_hist_4"
    assert data[2]["at"].endswith("Z") and "webhook_event_id" not in data[2]
    assert data[2]["actor"] == {
        "kind": "webhook",
        "api_key": None,
        "customer_id": None,
        "processor": "sandbox",
    }
    assert data[0]["actor"] == {
        "kind": "unknown",
        "api_key": None,
        "customer_id": None,
        "processor": None,
    }
    other = client.get(  # another merchant's payment does not exist for it
        f"/v1/payments/{waiting.id}/history", headers={"Authorization": f"Bearer {OTHER_API_KEY}"}
    )
    assert other.status_code == 404
    missing = client.get("/v1/payments/pay_nope/history", headers=auth)
    assert missing.status_code == 404


def test_the_api_names_no_person_only_the_kind(client, gateway, acme, data, store):
    """The merchant's API client (its portal's server, which may show the history to customers)
    learns that staff or the command line acted, not who: the panel keeps the e-mail."""
    auth = {"Authorization": f"Bearer {API_KEY}"}
    checkout = client.post(
        "/v1/checkouts", json=order_body("tok_3ds"), headers={**auth, "Idempotency-Key": "h-1"}
    )
    waiting_id = checkout.json["id"]
    cancel_waiting(gateway, acme, waiting_id, STAFF)
    recorded = _cash_for_f2(gateway, acme)
    manual.void_payment(gateway, acme, recorded.id, "cheque sin fondos", "root", CLI)
    nobody = {"api_key": None, "customer_id": None, "processor": None}

    waiting = client.get(f"/v1/payments/{waiting_id}/history", headers=auth)
    actors = [change["actor"] for change in waiting.json["data"]]
    assert actors[0] == {**nobody, "kind": "api", "api_key": 2}  # the merchant's own key number
    assert actors[-1] == {**nobody, "kind": "staff"}
    voided = client.get(f"/v1/payments/{recorded.id}/history", headers=auth)
    assert [change["actor"] for change in voided.json["data"]] == [
        {**nobody, "kind": "staff"},
        {**nobody, "kind": "cli"},
    ]
    for response in (waiting, voided):
        text = response.get_data(as_text=True)
        assert "ana@acme.mx" not in text and "cli:root" not in text and '"7"' not in text
        assert "actor_id" not in text
    # The rows keep who it was, for the payments module and support.
    assert (changes(store, waiting_id)[-1].actor, changes(store, recorded.id)[-1].actor) == (
        "ana@acme.mx",
        "cli:root",
    )
