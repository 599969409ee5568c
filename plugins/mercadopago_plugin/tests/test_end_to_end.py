"""Mercado Pago through the real core: checkout, webhooks, reconciliation, refunds and disputes
on a migrated database, every Mercado Pago call replayed from ``cassettes/test_end_to_end/``.

The core's clock for expiries (``b2bgateway.reservation.utcnow``) and the plugin's (``hooks._now``)
are fixed at :data:`CLOCK`, and ids are numbered, so the requests the core makes are the
recorded ones; notifications are signed with the real time, as the core checks them on receipt.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from helpers import TOKEN, WEBHOOK_SECRET, settings_table
from sqlalchemy import text
from vcr.cassette import Cassette

from b2bgateway import Money, reconcile, refunds, reservation, service, webhooks
from b2bgateway.gateway import Gateway
from b2bgateway.payability import check_invoices
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.settings import MerchantConfig, Settings
from b2bgateway.store import Store, repository, upgrade
from b2bgateway.store.models import Base, Payment, PaymentAttempt, Refund, utcnow
from b2bgateway.store.repository import CustomerData, InvoiceData, upsert_customer, upsert_invoices
from b2bgateway_mercadopago import hooks, signature

CLOCK = datetime(2030, 1, 1, tzinfo=UTC)
PAY = "pay_0000000000000000000e2e01"  # the first payment id of every test


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """A fresh SQLite file, or the core suite's ``B2BGATEWAY_TEST_DATABASE_URL`` (PostgreSQL)."""
    return os.environ.get("B2BGATEWAY_TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    migrated = Store(database_url)
    upgrade(migrated)
    yield migrated
    if database_url.startswith("postgresql"):  # a shared database is left empty for the next test
        with migrated.write() as session:
            # the append-only tables (audit log, status history) refuse a DELETE: set aside
            session.execute(text("SET LOCAL session_replication_role = replica"))
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(table.delete())
    migrated.dispose()


@pytest.fixture
def mp_overrides() -> dict[str, Any]:
    """The merchant's Mercado Pago settings beyond the tests' (a test parametrizes it)."""
    return {}


@pytest.fixture
def gateway(
    store: Store, database_url: str, monkeypatch: pytest.MonkeyPatch, mp_overrides: dict[str, Any]
) -> Gateway:
    numbers = count(1)
    monkeypatch.setattr(
        repository, "new_id", lambda prefix: f"{prefix}_{'0' * 19}e2e{next(numbers):02d}"
    )
    monkeypatch.setattr(
        refunds, "new_id", lambda prefix: f"{prefix}_{'0' * 19}e2e{next(numbers):02d}"
    )
    monkeypatch.setattr(reservation, "utcnow", lambda: CLOCK)
    monkeypatch.setattr(hooks, "_now", lambda: CLOCK)
    settings = Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": ["sk_test_e2e_mercadopago"],
                "processor": "mercadopago",
                "invoice_payments": True,
                "payment_methods": ["card", "cash", "bank_transfer"],
                "installments": [3, 6],
                "expiry": {"card": "PT1H", "cash": "P3D"},
                "processors": {"mercadopago": settings_table(**mp_overrides)},
            }
        },
    )
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(hooks, name="mercadopago")
    gw = Gateway.build(settings, Plugins(pm), store)
    today = date.today()
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData("Ferretería del Norte", True, "MXN", None, email="cxp@ferreteria.example"),
        )
        upsert_invoices(
            session,
            "acme",
            [
                InvoiceData(
                    invoice_id="F-1",
                    customer_id="C-1",
                    folio="F-1",
                    document_type="factura",
                    source="ventas",
                    issued_on=today - timedelta(days=30),
                    due_on=today + timedelta(days=5),
                    total=Money("1000.00", "MXN"),
                    balance=Money("1000.00", "MXN"),
                )
            ],
        )
    return gw


@pytest.fixture
def acme(gateway: Gateway) -> MerchantConfig:
    return gateway.merchants["acme"]


def pay(gw: Gateway, acme: MerchantConfig, **kwargs: Any) -> Payment:
    request = service.CheckoutRequest(
        customer_id="C-1", purpose="invoices", idempotency_key="k1", invoice_ids=("F-1",), **kwargs
    )
    return service.checkout(gw, acme, request)


def deliver(gw: Gateway, data_id: str, topic: str = "payment") -> str:
    """A notification as Mercado Pago sends it, signed now."""
    ts = str(int(datetime.now(UTC).timestamp()))
    request_id = f"req-{topic}-{data_id}-{ts}"
    body = json.dumps(
        {"id": 1, "type": topic, "action": f"{topic}.updated", "data": {"id": data_id}}
    )
    headers = {
        "x-signature": signature.sign(WEBHOOK_SECRET, data_id, request_id, ts),
        "x-request-id": request_id,
    }
    received = webhooks.receive(
        gw, "acme", "mercadopago", body.encode(), headers, {"data.id": data_id, "type": topic}
    )
    return str(received.outcome)


def payment_row(gw: Gateway, payment_id: str = PAY) -> Payment:
    with gw.store.read() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        session.expunge(payment)
        return payment


def attempts(gw: Gateway, payment_id: str = PAY) -> list[tuple[str, str, bool]]:
    with gw.store.read() as session:
        rows = session.query(PaymentAttempt).filter_by(payment_id=payment_id)
        return sorted((r.reference, r.outcome, r.final) for r in rows)


def reasons(gw: Gateway, acme: MerchantConfig) -> tuple[str, ...]:
    with gw.store.read() as session:
        return check_invoices(gw.plugins, session, acme, "C-1", ["F-1"]).invoices[0][1].reasons


def test_checkout_pro_rejected_then_approved_is_one_succeeded_payment(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    payment = pay(gateway, acme)
    assert payment.id == PAY
    assert payment.status == "requires_action"

    assert deliver(gateway, "1319876801") == "attempt_failed"  # another card may follow
    assert payment_row(gateway).status == "requires_action"
    assert reasons(gateway, acme) == ("payment_registered",)  # still held: no second payment

    assert deliver(gateway, "1319876802") == "applied"
    paid = payment_row(gateway)
    assert paid.status == "succeeded"
    assert paid.processor_reference == "1319876802"
    assert paid.failure_code is None
    assert attempts(gateway) == [
        ("1319876801", "failed", False),
        ("1319876802", "succeeded", True),
    ]
    with gateway.store.read() as session:
        assert session.query(Payment).count() == 1


def test_oxxo_pending_two_days_then_approved(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    payment = pay(gateway, acme, payment_method="cash")
    assert payment.status == "requires_action"
    assert payment.next_action is not None
    assert payment.next_action["type"] == "display_cash_voucher"
    assert payment.expires_at == CLOCK + timedelta(days=3)

    counts = reconcile.reconcile(gateway, now=CLOCK + timedelta(days=2))
    assert (counts.examined, counts.pending, counts.expired) == (1, 1, 0)
    assert payment_row(gateway).status == "requires_action"  # still waiting for the cash

    assert deliver(gateway, "1319876811") == "applied"
    paid = payment_row(gateway)
    assert paid.status == "succeeded"
    assert paid.method_details is not None
    assert paid.method_details["type"] == "cash"


def test_a_spei_transfer_through_mercado_pagos_instructions_page(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    """Mercado Pago documents no CLABE, only its instructions page: the payment carries that
    page (no CLABE), waits for the transfer (reconciled, still pending), then is paid."""
    payment = pay(gateway, acme, payment_method="bank_transfer")
    assert payment.status == "requires_action"
    action = payment.next_action
    assert action is not None
    assert action["type"] == "display_bank_transfer_instructions"
    assert action["hosted_instructions_url"].startswith(
        "https://www.mercadopago.com.mx/payments/1319876821/ticket?"
    )
    assert "clabe" not in action
    assert "bank" not in action
    assert action["reference"] == "6410293433784980810"
    assert (action["amount"], action["currency"]) == ("1000.00", "MXN")
    assert reasons(gateway, acme) == ("payment_pending",)

    counts = reconcile.reconcile(gateway, now=CLOCK + timedelta(days=2))
    assert (counts.examined, counts.pending, counts.expired) == (1, 1, 0)
    assert payment_row(gateway).status == "requires_action"  # still waiting for the transfer

    assert deliver(gateway, "1319876821") == "applied"
    paid = payment_row(gateway)
    assert paid.status == "succeeded"
    assert paid.next_action is None
    assert paid.method_details is not None
    assert paid.method_details["type"] == "bank_transfer"
    assert paid.method_details["forma_pago"] == "03"


@pytest.mark.parametrize("mp_overrides", [{"three_d_secure_mode": "optional"}], ids=["3ds"])
def test_a_3ds_challenge_answered_is_one_succeeded_payment(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    """The issuer challenges the card: the payment waits for the customer with the form to post
    (``post_form``: the challenge URL and ``creq``); answered, Mercado Pago approves it and its
    notification makes the payment succeeded."""
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "master"})
    assert payment.status == "requires_action"
    action = payment.next_action
    assert action is not None
    assert action["type"] == "post_form"
    assert action["url"] == "https://acs-public.tp.mastercard.com/api/v1/browser_challenges"
    assert set(action["data"]) == {"creq"}
    assert reasons(gateway, acme) == ("payment_registered",)

    assert deliver(gateway, "1319876831") == "applied"
    paid = payment_row(gateway)
    assert paid.status == "succeeded"
    assert paid.processor_reference == "1319876831"
    assert paid.next_action is None


def test_a_refund_whose_answer_was_lost_is_settled_by_reconcile(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    assert payment.status == "succeeded"

    refund = refunds.refund(gateway, acme, PAY, Money("400.00", "MXN"), None, "rk1")
    assert refund.status == "pending"  # Mercado Pago answered 500: it may have refunded

    # Reconciliation finds it among the payment's refunds: it is not sent a second time.
    counts = reconcile.reconcile(gateway, now=utcnow() + timedelta(minutes=10))
    assert counts.refunds_settled == 1
    with gateway.store.read() as session:
        settled = session.get(Refund, refund.id)
        assert settled is not None
        assert settled.status == "succeeded"
        assert settled.processor_reference == "1009876571"
    assert payment_row(gateway).status == "partially_refunded"


def test_a_lost_chargeback_reopens_the_invoices(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    assert payment.status == "succeeded"
    assert reasons(gateway, acme) == ("payment_registered",)

    assert deliver(gateway, "5012345690", "topic_chargebacks_wh") == "applied"
    disputed = payment_row(gateway)
    assert (disputed.status, disputed.dispute_status) == ("disputed", "open")
    assert reasons(gateway, acme) == ("payment_registered",)  # held while the issuer decides

    assert deliver(gateway, "5012345690", "topic_chargebacks_wh") == "applied"
    lost = payment_row(gateway)
    assert lost.dispute_status == "lost"
    assert lost.dispute_reference == "5012345690"
    assert reasons(gateway, acme) == ()  # open again: the ERP can collect them


def test_a_won_chargeback_returns_the_payment_to_succeeded(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    """The chargeback opened (``new``) disputes the payment; decided for the seller (``won``),
    the payment is paid again and its invoices stay paid."""
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    assert payment.status == "succeeded"

    assert deliver(gateway, "5012345690", "topic_chargebacks_wh") == "applied"
    assert payment_row(gateway).status == "disputed"

    assert deliver(gateway, "5012345690", "topic_chargebacks_wh") == "applied"
    won = payment_row(gateway)
    assert (won.status, won.dispute_status) == ("succeeded", "won")
    assert won.dispute_reference == "5012345690"
    assert reasons(gateway, acme) == ("payment_registered",)


def test_a_chargeback_without_status_after_the_payment_said_won_stays_won(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    """The payment's notification already says the chargeback was decided for the seller
    (``charged_back`` / ``reimbursed``); the chargeback's own notification comes later and the
    chargeback has no ``status`` (the SDK's type makes it optional): its payment, re-fetched,
    says won, the same dispute. The payment is not disputed again."""
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    assert payment.status == "succeeded"

    assert deliver(gateway, "1319876831") == "applied"
    won = payment_row(gateway)
    assert (won.status, won.dispute_status) == ("succeeded", "won")

    assert deliver(gateway, "5012345691", "topic_chargebacks_wh") == "unchanged"
    still = payment_row(gateway)
    assert (still.status, still.dispute_status) == ("succeeded", "won")
    assert reasons(gateway, acme) == ("payment_registered",)


def test_a_claim_on_a_payment_opens_a_dispute_that_ends_lost(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    """Claims notifications alone (``topic_claims_integration_wh``): the claim names the
    payment, whose re-fetched status is the dispute's state (``in_mediation``: open; then
    ``refunded``: lost, the invoices open again)."""
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    assert payment.status == "succeeded"

    assert deliver(gateway, "5033102601", "topic_claims_integration_wh") == "applied"
    disputed = payment_row(gateway)
    assert (disputed.status, disputed.dispute_status) == ("disputed", "open")
    assert reasons(gateway, acme) == ("payment_registered",)

    assert deliver(gateway, "5033102601", "topic_claims_integration_wh") == "applied"
    lost = payment_row(gateway)
    assert (lost.status, lost.dispute_status) == ("disputed", "lost")
    assert lost.dispute_reference == "mediation:1319876841"
    assert reasons(gateway, acme) == ()


def test_a_mediation_lost_closes_the_dispute_and_reopens_the_invoices(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    """The buyer's claim (``in_mediation``) holds the invoices; buyer protection gives the money
    back (``refunded``): the mediation ends lost and the invoices are open again."""
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    assert payment.status == "succeeded"

    assert deliver(gateway, "1319876841") == "applied"
    disputed = payment_row(gateway)
    assert (disputed.status, disputed.dispute_status) == ("disputed", "open")
    assert disputed.dispute_reference == "mediation:1319876841"
    assert reasons(gateway, acme) == ("payment_registered",)

    assert deliver(gateway, "1319876841") == "applied"
    lost = payment_row(gateway)
    assert (lost.status, lost.dispute_status) == ("disputed", "lost")
    assert lost.dispute_reference == "mediation:1319876841"
    assert lost.refunded_minor == 100000  # the refund buyer protection made, recorded too
    assert reasons(gateway, acme) == ()  # the buyer has the money back: the ERP collects again


def test_a_mediation_won_returns_the_payment_to_succeeded(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette
) -> None:
    """The claim is decided for the seller: the payment is ``approved`` again (the same status
    it had, a new event), and the dispute closes won."""
    payment = pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    assert payment.status == "succeeded"

    assert deliver(gateway, "1319876851") == "applied"
    assert payment_row(gateway).status == "disputed"

    assert deliver(gateway, "1319876851") == "applied"
    won = payment_row(gateway)
    assert (won.status, won.dispute_status) == ("succeeded", "won")
    assert reasons(gateway, acme) == ("payment_registered",)


def test_a_refund_mercado_pago_does_not_list_stays_pending_after_the_window(
    gateway: Gateway, acme: MerchantConfig, cassette: Cassette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its answer was lost, Mercado Pago lists no such refund, and it was asked two hours ago:
    sending it again could refund twice (the key may be forgotten). It stays pending, holding
    that amount, for a person to check."""
    pay(gateway, acme, token=TOKEN, payment_details={"payment_method_id": "visa"})
    refund = refunds.refund(gateway, acme, PAY, Money("400.00", "MXN"), None, "rk1")
    assert refund.status == "pending"
    monkeypatch.setattr(hooks, "_now", lambda: refund.created_at + timedelta(hours=2))

    counts = reconcile.reconcile(gateway, now=utcnow() + timedelta(minutes=10))
    assert counts.refunds_settled == 0
    with gateway.store.read() as session:
        still = session.get(Refund, refund.id)
        assert still is not None
        assert (still.status, still.processor_reference) == ("pending", None)
    assert payment_row(gateway).status == "succeeded"
