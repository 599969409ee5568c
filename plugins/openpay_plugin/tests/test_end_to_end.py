"""Openpay through the real core: checkout, reconciliation and webhooks on a real database
(SQLite, migrated by Alembic), the plugin answering from cassettes of Openpay's documented
requests and answers (``cassettes/test_end_to_end``).

Time is fixed where Openpay sees it: the payment's expiry (sent as ``due_date``) starts at
``T0``, and reconciliation runs at the moments each test names.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import raw_settings
from openpay_factories import CHARGE_ID, PAYMENT_ID, TOKEN, basic, charge_notification
from sqlalchemy import select

from b2bgateway import (
    ConfigurationError,
    InstallmentsNotAvailable,
    Money,
    PaymentMethodNotAvailable,
    ProcessorUnavailable,
    RequiredByProcessor,
    reconcile,
    reservation,
    service,
    webhooks,
)
from b2bgateway.gateway import Gateway
from b2bgateway.payability import check_invoices
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.representation import payment_json
from b2bgateway.settings import Settings, resolve_merchants
from b2bgateway.store import Store, repository, upgrade
from b2bgateway.store.models import OutboxMessage, Payment
from b2bgateway.store.repository import CustomerData, InvoiceData, upsert_customer, upsert_invoices
from b2bgateway_openpay import hooks
from b2bgateway_openpay.client import dumps

T0 = datetime(2030, 1, 7, 18, 0, tzinfo=UTC)
DEVICE = "kR1MiQhz2otdIuUlQkbEyitIqVMiI16f"  # the device session id of Openpay's examples


def invoice(invoice_id: str, amount: Money) -> InvoiceData:
    """An open factura of C-1 for ``amount``."""
    return InvoiceData(
        invoice_id=invoice_id,
        customer_id="C-1",
        folio=invoice_id,
        document_type="factura",
        source="ventas",
        issued_on=date(2029, 12, 1),
        due_on=date(2031, 1, 1),
        total=amount,
        balance=amount,
    )


@pytest.fixture
def use_3ds() -> bool:
    """Whether the merchant sends every token charge through 3-D Secure (a test may say so)."""
    return False


@pytest.fixture
def gateway(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, use_3ds: bool) -> Iterator[Gateway]:
    """acme on Openpay (cards, SPEI, cash; MSI 3 and 6), with C-1 and its factura F-1."""
    store = Store(f"sqlite:///{tmp_path / 'gateway.db'}")
    upgrade(store)
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'gateway.db'}",
        merchants={
            "acme": {
                "api_keys": ["sk_test_acme_0123456789"],
                "processor": "openpay",
                "invoice_payments": True,
                "notification_url": "https://erp.example/b2bgateway",
                "notification_secret": "nsec_0123456789abcdef",
                "payment_methods": ["card", "bank_transfer", "cash"],
                "installments": [3, 6],
                "expiry": {"card": "PT1H", "bank_transfer": "P3D", "cash": "P3D", "grace": "PT30M"},
                "processors": {
                    "openpay": raw_settings(
                        use_3d_secure=use_3ds, spei_beneficiary="Distribuidora del Norte SA de CV"
                    )
                },
            }
        },
    )
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(hooks, name="openpay")
    gw = Gateway.build(settings, Plugins(pm), store)
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData("Ferreteria del Norte", True, "MXN", None, email="compras@ferreteria.mx"),
        )
        upsert_invoices(
            session,
            "acme",
            [invoice("F-1", Money("1500.50", "MXN"))],
        )
    # The payment id is the charge's order_id, and its expiry the due_date Openpay is sent.
    monkeypatch.setattr(repository, "new_id", lambda prefix: PAYMENT_ID)
    monkeypatch.setattr(reservation, "utcnow", lambda: T0)
    yield gw
    store.dispose()


def pay(gw: Gateway, **kwargs: Any) -> dict[str, Any]:
    request = service.CheckoutRequest(
        customer_id="C-1",
        purpose="invoices",
        idempotency_key="k1",
        **{"invoice_ids": ("F-1",), "return_url": "https://portal.example/pagos/retorno", **kwargs},
    )
    return payment_json(service.checkout(gw, gw.merchants["acme"], request))


def notify(gw: Gateway, event_type: str, status: str, **transaction: Any) -> str:
    """Openpay posts a notification (Basic credentials and all); the outcome recorded."""
    body = dumps(charge_notification(event_type, status, **transaction)).encode()
    headers = {"content-type": "application/json", "authorization": basic()}
    return webhooks.receive(gw, "acme", "openpay", body, headers, {}).outcome


def payment(gw: Gateway) -> dict[str, Any]:
    with gw.store.read() as session:
        found = session.get(Payment, PAYMENT_ID)
        assert found is not None
        return payment_json(found)


def invoice_reasons(gw: Gateway) -> tuple[str, ...]:
    with gw.store.read() as session:
        decision = check_invoices(gw.plugins, session, gw.merchants["acme"], "C-1", ["F-1"])
        return tuple(decision.invoices[0][1].reasons)


def outbound(gw: Gateway) -> list[str]:
    """The outbound events written for the merchant's ERP, in order."""
    with gw.store.read() as session:
        return list(session.scalars(select(OutboxMessage.event_type).order_by(OutboxMessage.id)))


def run_reconcile(gw: Gateway, at: datetime) -> reconcile.Reconciled:
    return reconcile.reconcile(gw, older_than=timedelta(0), now=at)


@pytest.mark.parametrize("use_3ds", [True])
def test_abandoned_3ds_is_released_after_expiry_and_late_success_recorded(gateway, cassette):
    started = pay(gateway, token=TOKEN, device_session_id=DEVICE)
    assert started["status"] == "requires_action"
    assert started["next_action"]["type"] == "redirect"
    assert invoice_reasons(gateway) == ("payment_registered",)
    # Past our expiry (1 h) but inside the grace: Openpay cannot cancel, the charge is still
    # charge_pending there, so the invoices stay held.
    run_reconcile(gateway, T0 + timedelta(minutes=70))
    assert payment(gateway)["status"] == "requires_action"
    # Past expiry + grace, still charge_pending: released.
    assert run_reconcile(gateway, T0 + timedelta(hours=2)).expired == 1
    released = payment(gateway)
    assert released["status"] == "canceled"
    assert released["failure"]["code"] == "expired"
    assert invoice_reasons(gateway) == ()
    # The customer finishes 3-D Secure after all: recorded and flagged, never lost.
    assert notify(gateway, "charge.succeeded", "completed", id="tr6cxbcefzatd10guvvw") == (
        "late_success"
    )
    late = payment(gateway)
    assert late["status"] == "succeeded"
    assert "late_success" in late["flags"]
    assert late["method_details"]["brand"] == "visa"


def test_store_charge_waits_three_days_then_is_paid(gateway, cassette):
    started = pay(gateway, payment_method="cash")
    assert started["status"] == "requires_action"
    voucher = started["next_action"]
    assert voucher["type"] == "display_cash_voucher"
    assert voucher["reference"] == "000020TRNIRKIYOBO5QFEX55EF0100009"
    assert voucher["barcode_url"].startswith("https://sandbox-api.openpay.mx/barcode/")
    assert voucher["amount"] == "1500.50"
    assert voucher["expires_at"] == "2030-01-10T18:00:00Z"
    assert started["expires_at"] == "2030-01-10T18:00:00Z"
    run_reconcile(gateway, T0 + timedelta(days=1))  # Openpay: still in_progress
    assert payment(gateway)["status"] == "requires_action"
    assert invoice_reasons(gateway) == ("payment_pending",)
    outcome = notify(gateway, "charge.succeeded", "completed", id="trnirkiyobo5qfex55ef")
    assert outcome == "applied"
    paid = payment(gateway)
    assert paid["status"] == "succeeded"
    assert paid["method_details"]["type"] == "cash"


def test_spei_transfer_received_pays_the_invoices(gateway, cassette):
    started = pay(gateway, payment_method="bank_transfer")
    instructions = started["next_action"]
    assert instructions["type"] == "display_bank_transfer_instructions"
    assert instructions["clabe"] == "012914002014112176"
    assert instructions["bank"] == "BBVA Bancomer"
    assert instructions["beneficiary"] == "Distribuidora del Norte SA de CV"
    assert instructions["reference"] == "11030021342311520255"
    assert instructions["data"] == {"agreement": "1411217"}
    assert instructions["amount"] == "1500.50"
    assert notify(gateway, "spei.received", "completed", id="trnzf2xjwpupjfryyj23") == "applied"
    paid = payment(gateway)
    assert paid["status"] == "succeeded"
    assert paid["method_details"]["type"] == "bank_transfer"
    assert notify(gateway, "charge.succeeded", "completed", id="trnzf2xjwpupjfryyj23") in (
        "unchanged",
        "duplicate",
    )


def test_chargeback_lost_opens_the_invoices_again(gateway, cassette):
    assert pay(gateway, token=TOKEN, device_session_id=DEVICE)["status"] == "succeeded"
    assert notify(gateway, "chargeback.created", "chargeback_pending") == "applied"
    disputed = payment(gateway)
    assert disputed["status"] == "disputed"
    assert disputed["dispute"]["status"] == "open"
    assert invoice_reasons(gateway) == ("payment_registered",)
    assert notify(gateway, "chargeback.accepted", "chargeback_accepted") == "applied"
    lost = payment(gateway)
    assert lost["dispute"]["status"] == "lost"
    assert invoice_reasons(gateway) == ()


def test_rescored_decline_after_success_does_not_stay_succeeded(gateway, cassette, caplog):
    """Whether Openpay takes the money back after a rescore is not documented: the payment is
    held as an open dispute (the ERP sees it, the invoices are not reopened) and raised."""
    paid = pay(gateway, token=TOKEN, device_session_id=DEVICE)
    assert paid["status"] == "succeeded"
    assert paid["method_details"]["authorization_code"] == "801585"
    with caplog.at_level(logging.ERROR):
        assert notify(gateway, "charge.rescored.to.decline", "completed") == "applied"
    after = payment(gateway)
    assert after["status"] == "disputed"
    assert after["dispute"]["status"] == "open"
    assert after["dispute"]["reason"] == "fraud_rescored"
    assert after["dispute"]["amount"] == "1500.50"
    assert invoice_reasons(gateway) == ("payment_registered",)  # held, not released
    assert outbound(gateway)[-1] == "payment.dispute_opened"
    alerts = [r.getMessage() for r in caplog.records if r.getMessage().startswith("ALERT")]
    assert any("rescored" in line and CHARGE_ID in line for line in alerts)


def test_chargeback_accepted_before_the_charge_shows_it_is_delivered_again(gateway, cassette):
    """Openpay's charge still says chargeback_pending when chargeback.accepted arrives: the
    gateway answers 503 (nothing recorded), and the next delivery, once the charge shows it,
    loses the dispute."""
    assert pay(gateway, token=TOKEN, device_session_id=DEVICE)["status"] == "succeeded"
    assert notify(gateway, "chargeback.created", "chargeback_pending") == "applied"
    with pytest.raises(ProcessorUnavailable):
        notify(gateway, "chargeback.accepted", "chargeback_accepted")
    assert payment(gateway)["dispute"]["status"] == "open"
    assert notify(gateway, "chargeback.accepted", "chargeback_accepted") == "applied"
    assert payment(gateway)["dispute"]["status"] == "lost"
    assert invoice_reasons(gateway) == ()


def test_second_chargeback_after_a_won_one_is_a_new_dispute(gateway, cassette):
    """Each chargeback notification names the chargeback's own transaction (found by our order
    id): a second chargeback of the charge, after the merchant won the first, is not taken for
    the closed one."""
    assert pay(gateway, token=TOKEN, device_session_id=DEVICE)["status"] == "succeeded"
    first, second = "trcbk4a9m2x7p0q1", "trcbk7d3w8s1k5n2"
    assert notify(gateway, "chargeback.created", "chargeback_pending", id=first) == "applied"
    assert notify(gateway, "chargeback.rejected", "completed", id=first) == "applied"
    won = payment(gateway)
    assert (won["status"], won["dispute"]["status"]) == ("succeeded", "won")
    assert notify(gateway, "chargeback.created", "chargeback_pending", id=second) == "applied"
    reopened = payment(gateway)
    assert (reopened["status"], reopened["dispute"]["status"]) == ("disputed", "open")
    assert invoice_reasons(gateway) == ("payment_registered",)
    assert notify(gateway, "chargeback.accepted", "chargeback_accepted", id=second) == "applied"
    assert payment(gateway)["dispute"]["status"] == "lost"
    assert invoice_reasons(gateway) == ()


def test_spei_charge_for_another_amount_is_never_applied(gateway, cassette):
    """Openpay's charge, re-fetched, is not for the payment's amount: the core's rule."""
    assert pay(gateway, payment_method="bank_transfer")["status"] == "requires_action"
    assert notify(gateway, "spei.received", "completed", id="trnzf2xjwpupjfryyj23") == "mismatch"
    held = payment(gateway)
    assert held["status"] == "requires_action"
    assert "amount_mismatch" in held["flags"]
    assert invoice_reasons(gateway) == ("payment_pending",)


def nothing_charged(gw: Gateway) -> bool:
    """No payment was written (and, the cassette being empty, nothing was sent to Openpay)."""
    with gw.store.read() as session:
        return session.scalars(select(Payment)).all() == []


def test_msi_on_openpay_card_page_is_refused_before_the_payment(gateway, cassette):
    """Openpay's card page takes no payment_plan: a 422, not a payment created and failed."""
    with pytest.raises(InstallmentsNotAvailable) as refused:
        pay(gateway, installments=3)  # no token: the card page
    assert refused.value.status == 422
    assert "token" in refused.value.detail
    assert nothing_charged(gateway)


@pytest.mark.parametrize("use_3ds", [True])
def test_3ds_without_a_return_url_is_refused_before_the_payment(gateway, cassette):
    """With use_3d_secure, Openpay needs redirect_url on every token charge."""
    with pytest.raises(RequiredByProcessor) as refused:
        pay(gateway, token=TOKEN, device_session_id=DEVICE, return_url=None)
    assert refused.value.extra == {"missing": ["return_url"]}
    assert nothing_charged(gateway)


@pytest.mark.parametrize("method", ["cash", "bank_transfer"])
def test_usd_at_stores_or_by_spei_is_refused_before_the_payment(gateway, cassette, method):
    """Openpay's store and SPEI charges are in MXN only; a card may take USD."""
    with gateway.store.write() as session:
        upsert_invoices(session, "acme", [invoice("F-USD", Money("80.00", "USD"))])
    with pytest.raises(PaymentMethodNotAvailable) as refused:
        pay(gateway, payment_method=method, invoice_ids=("F-USD",))
    assert refused.value.extra == {"payment_methods": ["card"], "currencies": ["MXN"]}
    assert nothing_charged(gateway)


def test_spei_offered_without_a_beneficiary_stops_start_up():
    """Openpay's answer does not say who receives a SPEI transfer: offering SPEI without
    spei_beneficiary is refused when the gateway starts, not on the first checkout."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(hooks, name="openpay")
    settings = Settings(
        merchants={
            "acme": {
                "processor": "openpay",
                "payment_methods": ["card", "bank_transfer"],
                "processors": {"openpay": raw_settings()},
            }
        }
    )
    with pytest.raises(ConfigurationError) as refused:
        resolve_merchants(settings, Plugins(pm))
    assert refused.value.problems == [
        ("merchants.acme.processors.openpay", "set spei_beneficiary to offer bank_transfer")
    ]
