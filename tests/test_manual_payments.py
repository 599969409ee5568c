"""Manual payments and void (b2bgateway.manual; POST /v1/manual-payments, /v1/payments/{id}/void):
a payment like any other, registering its invoices so they are not payable online."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from b2bgateway import audit, manual, service
from b2bgateway.errors import InvalidRequest, NotFound, NotPayable, RefundNotAllowed
from b2bgateway.money import Money
from b2bgateway.store.models import OutboxMessage
from tests.support.seeding import seed_customer
from tests.support.settings import acme_settings
from tests.support.web import AUTH

RECEIVED = date(2026, 11, 30)


@pytest.fixture
def settings(database_url, tmp_path):
    """acme with outbound notifications on (so its events can be counted), and globex."""
    return acme_settings(
        database_url,
        tmp_path,
        others={"globex": {"api_keys": ["sk_test_merchant_b"], "processor": ""}},
    )


def _request(key="k-1", **kwargs):
    values = {
        "customer_id": "C-1",
        "purpose": "invoices",
        "idempotency_key": key,
        "method": "transfer",
        "received_on": RECEIVED,
        "reference": "SPEI-778",
        "invoice_ids": ("F-1", "F-2"),
    }
    values.update(kwargs)
    return manual.ManualPaymentRequest(**values)


def _payable(client, *invoice_ids):
    response = client.post(
        "/v1/payability/invoices",
        json={"customer_id": "C-1", "invoice_ids": list(invoice_ids)},
        headers=AUTH,
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


def _events(store):
    with store.read() as session:
        return list(session.scalars(select(OutboxMessage.event_type).order_by(OutboxMessage.id)))


# -- the core ----------------------------------------------------------------------------------


def test_a_manual_payment_registers_its_invoices_and_void_opens_them(gateway, acme, data, client):
    payment = manual.record_manual_payment(gateway, acme, _request())
    assert (payment.processor, payment.payment_method, payment.status) == (
        "manual",
        "manual",
        "succeeded",
    )
    assert payment.amount == Money("2500.00", "MXN")
    assert sorted((a.invoice_id, a.amount) for a in payment.allocations) == [
        ("F-1", Money("100.10", "MXN")),
        ("F-2", Money("2399.90", "MXN")),
    ]
    details = payment.method_details
    assert details is not None
    assert (details["type"], details["forma_pago"], details["reference"]) == (
        "transfer",
        "03",
        "SPEI-778",
    )
    assert details["received_on"] == "2026-11-30"
    answer = _payable(client, "F-1", "F-2")
    assert answer["payable"] is False
    assert answer["reasons"] == ["payment_registered"]

    voided = manual.void_payment(gateway, acme, payment.id, "cheque sin fondos", "ana@acme.mx")
    assert (voided.status, voided.failure_code, voided.failure_message) == (
        "canceled",
        "voided",
        "cheque sin fondos",
    )
    assert _payable(client, "F-1", "F-2")["payable"] is True
    # voiding again answers the same, and changes nothing
    again = manual.void_payment(gateway, acme, payment.id, "otra vez", None)
    assert again.failure_message == "cheque sin fondos"
    assert _events(gateway.store) == ["payment.succeeded", "payment.canceled"]


def test_the_same_key_returns_the_first_payment(gateway, acme, data):
    first = manual.record_manual_payment(gateway, acme, _request())
    again = manual.record_manual_payment(gateway, acme, _request())
    assert again.id == first.id


def test_an_invoice_already_held_is_refused_with_the_checkouts_reason(gateway, acme, data):
    manual.record_manual_payment(gateway, acme, _request(invoice_ids=("F-1",)))
    with pytest.raises(NotPayable) as caught:
        manual.record_manual_payment(gateway, acme, _request("k-2"))
    assert caught.value.reasons == ["payment_registered"]
    assert caught.value.extra["invoices"] == [
        {"invoice_id": "F-1", "reasons": ["payment_registered"]},
        {"invoice_id": "F-2", "reasons": []},
    ]


def test_online_only_conditions_do_not_stop_money_already_received(gateway, data, store):
    """globex has no processor and no invoice payments: a manual payment is recorded anyway."""
    seed_customer(store, "globex", (("G-1", "50.00"),))
    globex = gateway.merchants["globex"]
    payment = manual.record_manual_payment(
        gateway, globex, _request(invoice_ids=("G-1",), method="cash")
    )
    assert payment.status == "succeeded"
    assert payment.method_details is not None
    assert payment.method_details["forma_pago"] == "01"


def test_an_amount_is_allocated_in_order_up_to_each_balance(gateway, acme, data):
    payment = manual.record_manual_payment(gateway, acme, _request(amount=Money("1000.00", "MXN")))
    assert sorted((a.invoice_id, str(a.amount.amount)) for a in payment.allocations) == [
        ("F-1", "100.10"),
        ("F-2", "899.90"),
    ]


@pytest.mark.parametrize(
    ("amount", "invoice_ids"),
    [
        (Money("2500.01", "MXN"), ("F-1", "F-2")),  # more than the balances
        (Money("100.10", "MXN"), ("F-1", "F-2")),  # nothing left for F-2
        (Money("10.00", "USD"), ("F-1",)),  # another currency
    ],
)
def test_amounts_the_invoices_cannot_take_are_refused(gateway, acme, data, amount, invoice_ids):
    with pytest.raises(InvalidRequest):
        manual.record_manual_payment(
            gateway, acme, _request(amount=amount, invoice_ids=invoice_ids)
        )
    with gateway.store.read() as session:
        assert session.scalar(select(OutboxMessage.id)) is None


def test_another_customers_invoice_or_merchant_is_not_found(gateway, acme, data, store):
    seed_customer(store, "acme", (("X-1", "5.00"),), customer_id="C-2")
    with pytest.raises(NotFound):
        manual.record_manual_payment(gateway, acme, _request(invoice_ids=("X-1",)))
    with pytest.raises(NotFound):
        manual.record_manual_payment(gateway, gateway.merchants["globex"], _request())


def test_an_order_is_registered_once_per_customer(gateway, acme, data):
    order = _request(purpose="order", invoice_ids=(), order_reference="PED-9")
    first = manual.record_manual_payment(gateway, acme, _with(order, amount=Money("700.00", "MXN")))
    assert first.order_reference == "PED-9"
    with pytest.raises(NotPayable) as caught:
        manual.record_manual_payment(
            gateway, acme, _with(order, idempotency_key="k-2", amount=Money("1.00", "MXN"))
        )
    assert caught.value.reasons == ["payment_registered"]
    manual.void_payment(gateway, acme, first.id, "error de captura", None)
    again = manual.record_manual_payment(
        gateway, acme, _with(order, idempotency_key="k-3", amount=Money("1.00", "MXN"))
    )
    assert again.status == "succeeded"


def _with(req, **changes):
    from dataclasses import replace

    return replace(req, **changes)


def test_only_a_succeeded_manual_payment_can_be_voided_and_none_refunded(
    gateway, acme, data, client
):
    online = service.checkout(
        gateway,
        acme,
        service.CheckoutRequest(
            customer_id="C-1", purpose="invoices", idempotency_key="on-1", invoice_ids=["F-2"]
        ),
    )
    with pytest.raises(RefundNotAllowed) as caught:
        manual.void_payment(gateway, acme, online.id, "no", None)
    assert caught.value.code == "void_not_allowed"
    paid = manual.record_manual_payment(gateway, acme, _request(invoice_ids=("F-1",)))
    response = client.post(
        f"/v1/payments/{paid.id}/refunds", json={}, headers={**AUTH, "Idempotency-Key": "r-1"}
    )
    assert response.status_code == 409
    assert response.json["code"] == "refund_not_allowed"


# -- over HTTP ---------------------------------------------------------------------------------


def _post(client, body, key="m-1", auth=None):
    return client.post(
        "/v1/manual-payments", json=body, headers={**(auth or AUTH), "Idempotency-Key": key}
    )


BODY = {
    "customer_id": "C-1",
    "purpose": "invoices",
    "invoice_ids": ["F-1", "F-2"],
    "method": "check",
    "reference": "CHQ-0012",
    "received_on": "2026-11-30",
    "note": "Depósito en sucursal",
}


def test_the_api_records_voids_and_lists_a_manual_payment(client, data, store):
    response = _post(client, BODY)
    assert response.status_code == 201, response.get_data(as_text=True)
    payment = response.json
    assert (payment["processor"], payment["status"], payment["amount"]) == (
        "manual",
        "succeeded",
        "2500.00",
    )
    assert payment["payment_method"] == {"type": "manual"}
    assert payment["method_details"]["forma_pago"] == "02"
    assert payment["method_details"]["note"] == "Depósito en sucursal"
    replay = _post(client, BODY)
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json["id"] == payment["id"]
    assert _payable(client, "F-1")["reasons"] == ["payment_registered"]

    feed = client.get("/v1/payments", headers=AUTH).json["data"]
    assert [p["id"] for p in feed] == [payment["id"]]

    void = client.post(
        f"/v1/payments/{payment['id']}/void", json={"reason": "Cheque devuelto"}, headers=AUTH
    )
    assert void.status_code == 200, void.get_data(as_text=True)
    assert void.json["status"] == "canceled"
    assert void.json["failure"] == {"code": "voided", "message": "Cheque devuelto"}
    assert _payable(client, "F-1")["payable"] is True
    with store.read() as session:  # the API client is the audit's actor, with its address
        logged = [(e.action, e.user_email, e.address) for e in audit.entries(session, "acme")]
    assert logged == [
        ("void", "api:acme", "127.0.0.1"),
        ("manual_payment", "api:acme", "127.0.0.1"),
    ]


@pytest.mark.parametrize(
    "change",
    [
        {"method": "bitcoin"},
        {"amount": 10},
        {"amount": "10.00"},  # without currency
        {"amount": "0.00", "currency": "MXN"},
        {"order": {"reference": "P", "amount": "1.00", "currency": "MXN"}},
        {"received_on": "30/11/2026"},
        {"received_on": "0202-11-30"},
        {"received_on": "2999-11-30"},
        {"processor": "manual"},
    ],
)
def test_the_api_refuses_bad_bodies_with_a_422(client, data, change):
    response = _post(client, {**BODY, **change})
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.json["code"] == "validation_error"


def test_the_api_needs_a_key_and_keeps_merchants_apart(client, data):
    response = client.post("/v1/manual-payments", json=BODY, headers=AUTH)
    assert response.status_code == 400
    assert response.json["code"] == "idempotency_key_required"
    other = {"Authorization": "Bearer sk_test_merchant_b"}
    assert _post(client, BODY, auth=other).status_code == 404
    paid = _post(client, BODY).json
    void = client.post(f"/v1/payments/{paid['id']}/void", json={"reason": "x"}, headers=other)
    assert void.status_code == 404


def test_the_openapi_document_describes_both(client):
    paths = client.get("/openapi.json").json["paths"]
    assert "post" in paths["/v1/manual-payments"]
    assert "post" in paths["/v1/payments/{payment_id}/void"]
