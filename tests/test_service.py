"""Checkout and refund orchestration in the core, against the sandbox processor."""

import logging
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from b2bgateway import refunds, service
from b2bgateway.errors import (
    AmountChanged,
    NotFound,
    NotPayable,
    RefundNotAllowed,
    UnsupportedRequest,
)
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import Outcome, PaymentStatus, RefundResult
from b2bgateway.money import Money
from b2bgateway.plugins import Plugins
from b2bgateway.store.models import Payment, Refund
from b2bgateway.store.repository import CustomerData, InvoiceData, upsert_customer, upsert_invoices

TODAY = date.today()


def mxn(value):
    return Money(value, "MXN")


@pytest.fixture
def data(store):
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData(
                name="Ferretería",
                active=True,
                currency="MXN",
                credit_limit=mxn("1000.00"),
                email="pagos@ferreteria.example",
            ),
        )
        upsert_invoices(
            session,
            "acme",
            [
                InvoiceData(
                    invoice_id=i,
                    customer_id="C-1",
                    folio=i,
                    document_type="factura",
                    source="ventas",
                    issued_on=TODAY - timedelta(days=30),
                    due_on=TODAY + timedelta(days=d),
                    total=mxn(b),
                    balance=mxn(b),
                )
                for i, d, b in (("F-1", -5, "100.10"), ("F-2", 5, "2399.90"), ("F-3", 9, "50.00"))
            ],
        )


def order(key="k-1", token="tok_approved", amount="1500.00", reference="PED-77"):
    return service.CheckoutRequest(
        customer_id="C-1",
        purpose="order",
        idempotency_key=key,
        order_reference=reference,
        order_amount=mxn(amount),
        token=token,
        return_url="https://portal.example/return",
    )


def invoices(ids=("F-1", "F-2"), key="k-2", token="tok_approved", expected=None):
    return service.CheckoutRequest(
        customer_id="C-1",
        purpose="invoices",
        idempotency_key=key,
        invoice_ids=list(ids),
        expected_amount=expected,
        token=token,
    )


@pytest.mark.parametrize(
    ("token", "status", "failure"),
    [
        ("tok_approved", "succeeded", None),
        ("tok_declined", "failed", "card_declined"),
        ("tok_insufficient_funds", "failed", "insufficient_funds"),
        ("tok_3ds", "requires_action", None),
        ("tok_timeout", "processing", None),
        (None, "requires_action", None),
        ("tok_bogus", "failed", "invalid_payment_method"),
    ],
)
def test_order_checkout_outcomes(gateway, acme, data, token, status, failure):
    payment = service.checkout(gateway, acme, order(token=token))
    assert payment.status == status
    assert payment.failure_code == failure
    assert payment.amount == mxn("1500.00")
    if status == "requires_action":
        assert payment.next_action["type"] == "redirect"
        assert payment.next_action["url"].startswith("http://127.0.0.1:8000/sandbox/acme/charges/")
    else:
        assert payment.next_action is None
    if status == "succeeded":
        assert payment.processor_reference.startswith("sbx_ch_")


def test_order_within_the_credit_limit_is_not_payable_and_nothing_is_written(
    gateway, acme, data, store
):
    with pytest.raises(NotPayable) as info:
        service.checkout(gateway, acme, order(amount="1000.00"))
    assert info.value.reasons == ["within_credit_limit"]
    assert info.value.extra["credit_limit"] == "1000.00"
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0


def test_invoices_checkout_computes_the_amount_and_allocates(gateway, acme, data):
    payment = service.checkout(gateway, acme, invoices(expected="2500.00"))
    assert payment.status == "succeeded"
    assert payment.amount == mxn("2500.00")
    assert sorted((a.invoice_id, a.amount) for a in payment.allocations) == [
        ("F-1", mxn("100.10")),
        ("F-2", mxn("2399.90")),
    ]


def test_expected_amount_that_differs_is_a_409_and_no_payment(gateway, acme, data, store):
    with pytest.raises(AmountChanged) as info:
        service.checkout(gateway, acme, invoices(expected="2499.99"))
    assert info.value.extra == {"amount": "2500.00", "currency": "MXN"}
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 0


def test_a_registered_invoice_cannot_be_paid_again(gateway, acme, data):
    service.checkout(gateway, acme, invoices(["F-1"], key="a", token="tok_timeout"))
    with pytest.raises(NotPayable) as info:
        service.checkout(gateway, acme, invoices(["F-1", "F-3"], key="b"))
    assert info.value.reasons == ["payment_registered"]
    assert info.value.extra["invoices"] == [
        {"invoice_id": "F-1", "reasons": ["payment_registered"]},
        {"invoice_id": "F-3", "reasons": []},
    ]


def test_a_failed_payment_frees_its_invoices(gateway, acme, data):
    failed = service.checkout(gateway, acme, invoices(["F-1"], key="a", token="tok_declined"))
    assert failed.status == "failed"
    assert service.checkout(gateway, acme, invoices(["F-1"], key="b")).status == "succeeded"


def test_an_order_reference_is_charged_once(gateway, acme, data):
    service.checkout(gateway, acme, order(key="a", token="tok_3ds"))
    with pytest.raises(NotPayable) as info:
        service.checkout(gateway, acme, order(key="b"))
    assert info.value.reasons == ["payment_registered"]


def test_the_same_key_returns_the_same_payment_without_charging_again(gateway, acme, data, store):
    first = service.checkout(gateway, acme, order(key="same"))
    again = service.checkout(gateway, acme, order(key="same"))
    assert again.id == first.id
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
    from b2bgateway.sandbox.ledger import open_ledger

    charge = open_ledger(acme.processor_settings).find_charge("acme", first.id)
    assert charge is not None
    assert charge.payment_id == first.id


def test_unknown_invoices_and_customers_are_404(gateway, acme, data):
    with pytest.raises(NotFound):
        service.checkout(gateway, acme, invoices(["F-1", "F-404"]))
    with pytest.raises(NotFound):
        service.checkout(
            gateway,
            acme,
            service.CheckoutRequest(
                customer_id="C-404",
                purpose="order",
                idempotency_key="x",
                order_reference="P",
                order_amount=mxn("5000.00"),
                token="tok_approved",
            ),
        )


def test_merchant_without_processor(gateway, data, store):
    with store.write() as session:
        upsert_customer(
            session,
            "globex",
            "C-1",
            CustomerData(name="Otro", active=True, currency="MXN", credit_limit=mxn("0.00")),
        )
    with pytest.raises(NotPayable) as info:
        service.checkout(gateway, gateway.merchants["globex"], order())
    assert info.value.reasons == ["processor_not_configured"]


class Recorder:
    def __init__(self):
        self.events = []

    @hookimpl
    def b2bgateway_payment_status_changed(self, event):
        self.events.append((event.previous, event.status))

    @hookimpl
    def b2bgateway_refund_status_changed(self, event):
        self.events.append(("refund", event.status))


@pytest.fixture
def recorder(gateway, pm):
    rec = Recorder()
    pm.register(rec, name="recorder")
    object.__setattr__(gateway, "plugins", Plugins(pm))
    return rec


def test_observers_hear_every_change(gateway, acme, data, recorder):
    service.checkout(gateway, acme, order())
    assert recorder.events == [
        (None, PaymentStatus.PROCESSING),
        (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED),
    ]


def paid(gateway, acme, ids=("F-1", "F-2")):
    return service.checkout(gateway, acme, invoices(ids))


def test_partial_then_full_refund(gateway, acme, data, store, recorder):
    payment = paid(gateway, acme)
    first = refunds.refund(gateway, acme, payment.id, mxn("500.00"), "devolución", "r-1")
    assert first.status == "succeeded"
    assert first.processor_reference.startswith("sbx_re_")
    with store.read() as session:
        assert session.get(Payment, payment.id).status == "partially_refunded"
    with pytest.raises(NotPayable):  # still registered after a partial refund
        service.checkout(gateway, acme, invoices(["F-1"], key="again"))
    rest = refunds.refund(gateway, acme, payment.id, None, None, "r-2")
    assert rest.amount == mxn("2000.00")
    with store.read() as session:
        refreshed = session.get(Payment, payment.id)
        assert refreshed.status == "refunded"
        assert refreshed.refunded == mxn("2500.00")
    # a full refund frees the invoices
    assert service.checkout(gateway, acme, invoices(["F-1"], key="again")).status == "succeeded"
    assert ("refund", "succeeded") in recorder.events


def test_one_processor_refund_is_never_two_of_ours(gateway, acme, data, store, caplog):
    """A plugin that looks a lost answer up and names a refund already another's (two of the
    same amount) leaves the second pending: the money went back once."""
    payment = paid(gateway, acme)
    first = refunds.refund(gateway, acme, payment.id, mxn("500.00"), None, "r-1")
    with store.write() as session:
        lost = Refund(
            id="re_lost",
            merchant_id=acme.id,
            payment_id=payment.id,
            amount_minor=50000,
            currency="MXN",
            status="pending",
        )
        session.add(lost)
    answer = RefundResult(Outcome.SUCCEEDED, processor_reference=first.processor_reference)
    with caplog.at_level(logging.ERROR):
        record = refunds.apply_refund_result(gateway, "re_lost", answer)
    assert (record.status, record.processor_reference) == ("pending", None)
    assert "ALERT refund re_lost" in caplog.text
    with store.read() as session:
        assert session.get(Payment, payment.id).refunded == mxn("500.00")


def test_refund_never_exceeds_what_is_left(gateway, acme, data):
    payment = paid(gateway, acme)
    with pytest.raises(RefundNotAllowed) as info:
        refunds.refund(gateway, acme, payment.id, mxn("2500.01"), None, "r-1")
    assert info.value.extra["refundable"] == "2500.00"
    refunds.refund(gateway, acme, payment.id, None, None, "r-2")
    with pytest.raises(RefundNotAllowed):
        refunds.refund(gateway, acme, payment.id, None, None, "r-3")
    with pytest.raises(RefundNotAllowed):
        refunds.refund(gateway, acme, payment.id, mxn("0.00"), None, "r-4")


def test_refund_is_idempotent_per_key(gateway, acme, data, store):
    payment = paid(gateway, acme)
    one = refunds.refund(gateway, acme, payment.id, mxn("10.00"), None, "same")
    two = refunds.refund(gateway, acme, payment.id, mxn("10.00"), None, "same")
    assert one.id == two.id
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Refund)) == 1
        assert session.get(Payment, payment.id).refunded == mxn("10.00")


def test_only_succeeded_payments_are_refundable(gateway, acme, data):
    pending = service.checkout(gateway, acme, order(token="tok_3ds"))
    with pytest.raises(RefundNotAllowed):
        refunds.refund(gateway, acme, pending.id, None, None, "r")


def test_another_merchants_payment_is_404(gateway, acme, data):
    payment = paid(gateway, acme)
    with pytest.raises(NotFound):
        refunds.refund(gateway, gateway.merchants["globex"], payment.id, None, None, "r")


def test_a_processor_without_partial_refunds(gateway, acme, data, monkeypatch):
    payment = paid(gateway, acme)
    caps = acme.processor.info.capabilities
    from dataclasses import replace

    info = replace(acme.processor.info, capabilities=replace(caps, partial_refund=False))
    monkeypatch.setattr(acme.processor, "info", info)
    with pytest.raises(UnsupportedRequest):
        refunds.refund(gateway, acme, payment.id, mxn("1.00"), None, "r")
    assert refunds.refund(gateway, acme, payment.id, None, None, "r2").status == "succeeded"


class BrokenObserver:
    @hookimpl
    def b2bgateway_payment_status_changed(self, event):
        raise ConnectionError("the ERP is down")


def test_a_failing_observer_does_not_undo_a_charge(gateway, acme, data, pm, store, caplog):
    pm.register(BrokenObserver(), name="broken")
    object.__setattr__(gateway, "plugins", Plugins(pm))
    payment = service.checkout(gateway, acme, order())
    assert payment.status == "succeeded"
    with store.read() as session:
        assert session.get(Payment, payment.id).status == "succeeded"
    assert "ALERT observer 'broken' failed" in caplog.text


class RequestSpy:
    seen = []

    @hookimpl(wrapper=True)
    def b2bgateway_create_charge(self, request, settings):
        self.seen.append(request)
        return (yield)


def test_the_device_session_id_and_browser_details_reach_the_processor_apart(
    gateway, acme, data, pm
):
    """Each in its own field: what the browser sent never mixes with our ids in metadata."""
    spy = RequestSpy()
    pm.register(spy, name="spy")
    object.__setattr__(gateway, "plugins", Plugins(pm))
    request = order()
    from dataclasses import replace

    details = {"payment_method_id": "visa", "payment_id": "forged"}
    service.checkout(
        gateway, acme, replace(request, device_session_id="dev-123", payment_details=details)
    )
    sent = spy.seen[-1]
    assert sent.device_session_id == "dev-123"
    assert sent.browser_details == details
    assert set(sent.metadata) == {"payment_id", "customer_id"}
    assert sent.metadata["payment_id"] == sent.payment_id  # never the browser's "forged"


def test_payment_method_details_are_validated(client, data):
    headers = {"Authorization": "Bearer sk_test_merchant_a", "Idempotency-Key": "d-1"}
    body = {
        "customer_id": "C-1",
        "purpose": "order",
        "order": {"reference": "PED-D", "amount": "1500.00", "currency": "MXN"},
        "payment_method": {"token": "tok_approved", "details": {"Bad Key": "x"}},
    }
    assert client.post("/v1/checkouts", json=body, headers=headers).status_code == 422
    body["payment_method"]["details"] = {"payment_method_id": "visa", "installments": "1"}
    response = client.post(
        "/v1/checkouts", json=body, headers={**headers, "Idempotency-Key": "d-2"}
    )
    assert response.status_code == 201
    assert response.json["status"] == "succeeded"


class RefusingProcessor:
    """A processor that refuses a request outright, before sending anything."""

    @hookimpl(tryfirst=True)
    def b2bgateway_create_charge(self, request, settings):
        from b2bgateway.errors import UnsupportedRequest

        raise UnsupportedRequest("this card brand is not accepted")


def test_a_charge_refused_before_sending_fails_instead_of_waiting(gateway, acme, data, pm):
    """Nothing was sent, so there is nothing to reconcile: the payment fails and frees its invoices."""
    # Swap the sandbox's charge hook for the refusing one, on this test's own plugin manager.
    sandbox = pm.get_plugin("sandbox")
    original = sandbox.b2bgateway_create_charge
    try:
        sandbox.b2bgateway_create_charge = RefusingProcessor().b2bgateway_create_charge
        pm.unregister(sandbox)
        pm.register(sandbox, name="sandbox")
        object.__setattr__(gateway, "plugins", Plugins(pm))
        refreshed = gateway.plugins.processor("sandbox")
        object.__setattr__(acme, "processor", refreshed)
        payment = service.checkout(gateway, acme, invoices(["F-1"], key="refused"))
    finally:
        sandbox.b2bgateway_create_charge = original
    assert payment.status == "failed"
    assert payment.failure_code == "unsupported_by_processor"
