"""End to end through the real core: a gateway with this plugin, a migrated database, the core's
checkout (``service.checkout``) and webhook pipeline (``webhooks.receive``), Stripe's answers
replayed from cassettes and its notifications signed as Stripe signs them.

- a decline on the Checkout page, then a success on it: one succeeded payment;
- a dispute of a Checkout payment, found by its charge id alone, lost: its invoice is open again;
  one of a payment the core knows by its session only, found by its PaymentIntent's metadata;
- an OXXO voucher pending for days, then paid at the store;
- a SPEI transfer that falls short, then is completed; the Stripe Customer made for it is
  remembered by the core and used for the customer's next transfer.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import raw_settings
from sqlalchemy import delete, select
from stripe_factories import event, signed

from b2bgateway import service, webhooks
from b2bgateway.gateway import Gateway
from b2bgateway.money import Money
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.representation import payment_json
from b2bgateway.settings import Settings
from b2bgateway.store import Store
from b2bgateway.store import repository as repo
from b2bgateway.store.db import upgrade
from b2bgateway.store.models import (
    Payment,
    PaymentAllocation,
    PaymentAttempt,
    PaymentReference,
    ProcessorCustomer,
)
from b2bgateway_stripe import hooks

RETURN_URL = "https://portal.example.com/regreso"
CHECKOUT_META = {"payment_id": "pay_e2e1", "customer_id": "C-1", "merchant_id": "acme"}


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """acme on Stripe (cards, OXXO, SPEI, 3 MSI) with customer C-1 owing F-1 and F-2."""
    numbers = itertools.count(1)  # payment ids the cassettes can name
    monkeypatch.setattr(repo, "new_id", lambda prefix: f"{prefix}_e2e{next(numbers)}")
    url = f"sqlite:///{tmp_path / 'gateway.db'}"
    settings = Settings(
        database_url=url,
        merchants={
            "acme": {
                "api_keys": ["sk_test_acme_e2e_0123456789"],
                "processor": "stripe",
                "invoice_payments": True,
                "payment_methods": ["card", "cash", "bank_transfer"],
                "installments": [3],
                "processors": {"stripe": raw_settings()},
            }
        },
    )
    store = Store(url)
    upgrade(store)
    _seed(store)
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(hooks, name="stripe")
    yield Gateway.build(settings, Plugins(pm), store)
    store.dispose()


def _seed(store: Store) -> None:
    today = date.today()
    with store.write() as session:
        repo.upsert_customer(
            session,
            "acme",
            "C-1",
            repo.CustomerData("Ferretería del Norte", True, "MXN", email="cxp@ferreteria.example"),
        )
        repo.upsert_invoices(
            session,
            "acme",
            [
                repo.InvoiceData(
                    invoice_id=invoice,
                    customer_id="C-1",
                    folio=invoice,
                    document_type="factura",
                    source="ventas",
                    issued_on=today - timedelta(days=30),
                    due_on=today + timedelta(days=5),
                    total=Money("1500.00", "MXN"),
                    balance=Money("1500.00", "MXN"),
                )
                for invoice in ("F-1", "F-2")
            ],
        )


def pay(gateway: Gateway, invoice: str, method: str = "card", **extra: Any) -> Payment:
    return service.checkout(
        gateway,
        gateway.merchants["acme"],
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key=f"key-{invoice}-{method}",
            invoice_ids=[invoice],
            return_url=RETURN_URL,
            payment_method=method,
            **extra,
        ),
    )


def deliver(gateway: Gateway, event_type: str, obj: dict[str, Any], event_id: str) -> str:
    """Stripe's notification, signed with the merchant's secret, through the core's pipeline."""
    notification = signed(event(event_type, obj, id=event_id), raw_settings()["webhook_secret"])
    received = webhooks.receive(
        gateway, "acme", "stripe", notification.body, notification.headers, {}
    )
    return received.outcome.value


def payment(gateway: Gateway, payment_id: str) -> dict[str, Any]:
    with gateway.store.read() as session:
        row = session.get(Payment, payment_id)
        assert row is not None
        return payment_json(row)


def registered(gateway: Gateway) -> dict[str, bool]:
    with gateway.store.read() as session:
        rows = session.scalars(select(PaymentAllocation))
        return {row.invoice_id: row.registered for row in rows}


# -- Checkout ---------------------------------------------------------------------------------
def checkout_intent(status: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": "pi_3QAcmeE2e01",
        "object": "payment_intent",
        "amount": 150000,
        "currency": "mxn",
        "metadata": {**CHECKOUT_META, "flow": "checkout"},
        "status": status,
        **extra,
    }


def completed_session() -> dict[str, Any]:
    return {
        "id": "cs_test_a1QAcmeE2e01",
        "object": "checkout.session",
        "amount_total": 150000,
        "client_reference_id": "pay_e2e1",
        "currency": "mxn",
        "metadata": CHECKOUT_META,
        "mode": "payment",
        "payment_intent": "pi_3QAcmeE2e01",
        "payment_status": "paid",
        "status": "complete",
    }


def pay_on_checkout_after_a_decline(gateway: Gateway) -> str:
    opened = pay(gateway, "F-1")
    assert opened.status == "requires_action"
    assert opened.next_action["url"].startswith("https://checkout.stripe.com/")
    decline = {"code": "card_declined", "decline_code": "generic_decline", "type": "card_error"}
    declined = checkout_intent("requires_payment_method", last_payment_error=decline)
    assert deliver(gateway, "payment_intent.payment_failed", declined, "evt_e2e_1") == (
        "attempt_failed"
    )
    assert payment(gateway, opened.id)["status"] == "requires_action"  # the page stays open
    assert registered(gateway) == {"F-1": True}  # and holds its invoice
    assert deliver(gateway, "checkout.session.completed", completed_session(), "evt_e2e_2") == (
        "applied"
    )
    return opened.id


def test_a_checkout_decline_then_a_success_is_one_succeeded_payment(gateway, cassette):
    payment_id = pay_on_checkout_after_a_decline(gateway)

    paid = payment(gateway, payment_id)
    assert paid["status"] == "succeeded"
    assert paid["method_details"]["brand"] == "visa"
    assert paid["method_details"]["forma_pago"] == "04"  # a credit card, for the CFDI
    with gateway.store.read() as session:
        assert session.scalars(select(Payment.id)).all() == [payment_id]
        attempts = session.scalars(select(PaymentAttempt)).all()
    # The page (the session) and the one PaymentIntent the customer retried on it.
    assert [(a.reference, a.outcome) for a in attempts] == [
        ("cs_test_a1QAcmeE2e01", "pending"),
        ("pi_3QAcmeE2e01", "succeeded"),
    ]
    # The same success told again by the PaymentIntent changes nothing.
    assert deliver(
        gateway, "payment_intent.succeeded", checkout_intent("succeeded"), "evt_e2e_3"
    ) == ("unchanged")


def test_a_lost_dispute_of_a_checkout_payment_found_by_its_charge_reopens_its_invoice(
    gateway, cassette
):
    payment_id = pay_on_checkout_after_a_decline(gateway)
    dispute = {
        "id": "dp_1QAcmeE2e01",
        "object": "dispute",
        "amount": 150000,
        "charge": "ch_3QAcmeE2e01",  # only the charge: no PaymentIntent, none of our metadata
        "currency": "mxn",
        "metadata": {},
        "payment_intent": None,
        "reason": "fraudulent",
        "status": "needs_response",
    }

    assert deliver(gateway, "charge.dispute.created", dispute, "evt_e2e_4") == "applied"
    assert payment(gateway, payment_id)["status"] == "disputed"
    assert registered(gateway) == {"F-1": True}  # held while the issuer decides
    lost = {**dispute, "status": "lost"}
    assert deliver(gateway, "charge.dispute.closed", lost, "evt_e2e_5") == "applied"

    after = payment(gateway, payment_id)
    assert (after["status"], after["dispute"]["status"]) == ("disputed", "lost")
    assert registered(gateway) == {"F-1": False}  # open again: the ERP reopens it


def test_a_lost_dispute_of_a_checkout_payment_made_before_aliases_reopens_its_invoice(
    gateway, cassette
):
    """A Checkout payment the core knows by its session only (made before it kept aliases): a
    dispute names the charge and the PaymentIntent, never our id; the plugin reads the
    PaymentIntent for its metadata[payment_id], so the loss is applied, not acknowledged
    unmatched."""
    payment_id = pay_on_checkout_after_a_decline(gateway)
    with gateway.store.write() as session:  # as the core kept it before aliases
        session.execute(delete(PaymentReference))
        session.execute(delete(PaymentAttempt).where(PaymentAttempt.reference.like("pi_%")))
    dispute = {
        "id": "dp_1QAcmeE2e02",
        "object": "dispute",
        "amount": 150000,
        "charge": "ch_3QAcmeE2e01",
        "currency": "mxn",
        "metadata": {},
        "payment_intent": "pi_3QAcmeE2e01",
        "reason": "fraudulent",
        "status": "lost",
    }

    assert deliver(gateway, "charge.dispute.closed", dispute, "evt_e2e_6") == "applied"

    after = payment(gateway, payment_id)
    assert (after["status"], after["dispute"]["status"]) == ("disputed", "lost")
    assert registered(gateway) == {"F-1": False}  # open again: the ERP reopens it


# -- OXXO -------------------------------------------------------------------------------------
def test_an_oxxo_voucher_pending_three_days_then_paid(gateway, cassette):
    pending = pay(gateway, "F-1", "cash")

    assert pending.status == "requires_action"
    voucher = pending.next_action
    assert voucher["type"] == "display_cash_voucher"
    assert voucher["reference"] == "12345678901234657890123456789012"
    # Sent as expires_after_days=3 (the merchant's 72 h for cash); Stripe's due date is kept.
    assert pending.processor_expires_at == datetime(2026, 1, 4, 5, 59, 59, tzinfo=UTC)
    assert pending.expires_at == pending.processor_expires_at  # the voucher's date binds
    paid_at_the_store = {
        "id": "pi_3QAcmeOxxoE2e",
        "object": "payment_intent",
        "amount": 150000,
        "currency": "mxn",
        "metadata": {"payment_id": "pay_e2e1", "customer_id": "C-1", "merchant_id": "acme"},
        "payment_method_types": ["oxxo"],
        "status": "succeeded",
    }
    assert deliver(gateway, "payment_intent.succeeded", paid_at_the_store, "evt_e2e_6") == (
        "applied"
    )

    paid = payment(gateway, pending.id)
    assert paid["status"] == "succeeded"
    assert paid["method_details"]["type"] == "cash"
    assert paid["method_details"]["forma_pago"] == "01"
    assert paid["method_details"]["paid_at"] == "2026-01-03T18:20:00Z"


# -- SPEI -------------------------------------------------------------------------------------
def spei_intent(status: str, payment_id: str, remaining: int | None = None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "id": "pi_3QAcmeSpeiE2e",
        "object": "payment_intent",
        "amount": 150000,
        "amount_received": 150000 if remaining is None else 150000 - remaining,
        "currency": "mxn",
        "customer": "cus_QAcmeE2e01",
        "metadata": {"payment_id": payment_id, "customer_id": "C-1", "merchant_id": "acme"},
        "payment_method_types": ["customer_balance"],
        "status": status,
    }
    if remaining is not None:
        obj["next_action"] = {
            "type": "display_bank_transfer_instructions",
            "display_bank_transfer_instructions": {
                "amount_remaining": remaining,
                "currency": "mxn",
                "financial_addresses": [
                    {
                        "spei": {
                            "account_holder_name": "Ferretera Mayorista SA de CV",
                            "bank_code": "646",
                            "bank_name": "STP",
                            "clabe": "646180111800001016",
                        },
                        "supported_networks": ["spei"],
                        "type": "spei",
                    }
                ],
                "reference": "4321987",
                "type": "mx_bank_transfer",
            },
        }
    return obj


def test_a_spei_transfer_partly_then_fully_funded(gateway, cassette):
    pending = pay(gateway, "F-1", "bank_transfer")

    assert pending.status == "requires_action"
    assert pending.next_action["clabe"] == "646180111800001016"
    assert pending.next_action["beneficiary"] == "Ferretera Mayorista SA de CV"
    partly = spei_intent("requires_action", pending.id, remaining=50000)
    assert deliver(gateway, "payment_intent.partially_funded", partly, "evt_e2e_7") == ("unchanged")
    waiting = payment(gateway, pending.id)
    assert (waiting["status"], waiting["received_amount"]) == ("requires_action", "1000.00")
    # The instructions now ask for what is still due, not the whole amount again.
    assert (waiting["next_action"]["clabe"], waiting["next_action"]["amount"]) == (
        "646180111800001016",
        "500.00",
    )
    fully = spei_intent("succeeded", pending.id)
    assert deliver(gateway, "payment_intent.succeeded", fully, "evt_e2e_8") == "applied"

    paid = payment(gateway, pending.id)
    assert (paid["status"], paid["received_amount"]) == ("succeeded", "1500.00")
    assert (paid["method_details"]["type"], paid["method_details"]["forma_pago"]) == (
        "bank_transfer",
        "03",
    )
    # The Stripe Customer made for the transfer is the core's to remember, and is used again.
    with gateway.store.read() as session:
        kept = session.scalars(select(ProcessorCustomer.reference)).all()
    assert kept == ["cus_QAcmeE2e01"]
    again = pay(gateway, "F-2", "bank_transfer")
    assert again.status == "requires_action"
    assert not cassette.sent.keys_for("POST", "/v1/customers") - {"acme:C-1:customer"}
    assert len([s for s in cassette.sent if s["_"] == "POST /v1/customers"]) == 1
