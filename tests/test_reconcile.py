"""Reconciliation and outbound events."""

import dataclasses
import json
from datetime import timedelta

import pytest
from click.testing import CliRunner
from pydantic import SecretStr
from sqlalchemy import select, update

from b2bgateway import notifications, refunds, service
from b2bgateway.gateway import Gateway
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.reconcile import reconcile
from b2bgateway.sandbox import hooks as sandbox
from b2bgateway.settings import Settings
from b2bgateway.signing import verify
from b2bgateway.store.models import OutboxMessage, Payment, utcnow
from b2bgateway.store.repository import (
    CustomerData,
    InvoiceData,
    create_payment,
    upsert_customer,
    upsert_invoices,
)
from tests.conftest import API_KEY, WEBHOOK_SECRET
from tests.support.settings import NOTIFY_SECRET, acme_settings


@pytest.fixture
def settings(database_url, tmp_path):
    return acme_settings(database_url, tmp_path)


@pytest.fixture
def data(store):
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData(
                name="Cliente", active=True, currency="MXN", credit_limit=Money("0.00", "MXN")
            ),
        )
        upsert_invoices(
            session,
            "acme",
            [
                InvoiceData(
                    invoice_id="F-1",
                    customer_id="C-1",
                    folio="1",
                    document_type="factura",
                    source="ventas",
                    issued_on=utcnow().date(),
                    due_on=utcnow().date(),
                    total=Money("100.00", "MXN"),
                    balance=Money("100.00", "MXN"),
                )
            ],
        )


def pay_invoice(gateway, acme, key, token):
    return service.checkout(
        gateway,
        acme,
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key=key,
            invoice_ids=["F-1"],
            token=token,
        ),
    )


def status(store, payment_id):
    with store.read() as session:
        payment = session.get(Payment, payment_id)
        return payment.status, payment.failure_code


LATER = timedelta(minutes=10)


def test_a_timeout_that_charged_is_found_succeeded(gateway, acme, data, store):
    payment = pay_invoice(gateway, acme, "k", "tok_timeout")
    assert payment.status == "processing"
    assert payment.processor_reference is None
    counts = reconcile(gateway, now=utcnow() + LATER)
    assert counts.settled == 1
    assert status(store, payment.id) == ("succeeded", None)


def test_a_recent_payment_is_left_alone(gateway, acme, data, store):
    payment = pay_invoice(gateway, acme, "k", "tok_timeout")
    assert reconcile(gateway).examined == 0  # still within older_than: maybe in flight
    assert status(store, payment.id)[0] == "processing"


def test_a_charge_that_never_reached_the_processor_fails_and_frees_the_invoice(
    gateway, acme, data, store
):
    # A worker died after committing the payment and before calling the processor.
    with store.write() as session:
        crashed = create_payment(
            session,
            merchant_id="acme",
            customer_id="C-1",
            purpose="invoices",
            amount=Money("100.00", "MXN"),
            processor="sandbox",
            allocations=[("F-1", Money("100.00", "MXN"))],
            idempotency_key="crashed",
        )
    counts = reconcile(gateway, now=utcnow() + LATER)
    assert counts.not_reached == 1
    assert status(store, crashed.id) == ("failed", "processor_not_reached")
    assert pay_invoice(gateway, acme, "retry", "tok_approved").status == "succeeded"


def test_an_abandoned_3ds_payment_expires_and_frees_the_invoice(gateway, acme, data, store):
    payment = pay_invoice(gateway, acme, "k", "tok_3ds")
    counts = reconcile(gateway, now=utcnow() + LATER)
    assert counts.pending == 1  # still waiting for the customer
    assert status(store, payment.id)[0] == "requires_action"
    counts = reconcile(gateway, now=utcnow() + timedelta(hours=3))
    assert counts.expired == 1
    assert status(store, payment.id) == ("canceled", "expired")
    assert pay_invoice(gateway, acme, "retry", "tok_approved").status == "succeeded"


def test_claims_are_leased_and_backed_off(gateway, acme, data, store):
    pay_invoice(gateway, acme, "k", "tok_3ds")
    when = utcnow() + LATER
    assert reconcile(gateway, now=when).examined == 1
    assert reconcile(gateway, now=when).examined == 0  # backed off
    assert reconcile(gateway, now=when + timedelta(seconds=31)).examined == 1
    with store.read() as session:
        assert session.scalar(select(Payment.reconcile_attempts)) == 2


def test_the_reconcile_command(gateway, data, store, settings, tmp_path, monkeypatch):
    from b2bgateway_web.cli import main

    pay_invoice(gateway, gateway.merchants["acme"], "k", "tok_timeout")
    config = tmp_path / "gateway.toml"
    acme = settings.merchants["acme"]
    config.write_text(f"""
database_url = "{settings.database_url}"
[merchants.acme]
api_keys = ["{API_KEY}"]
processor = "sandbox"
[merchants.acme.processors.sandbox]
webhook_secret = "{WEBHOOK_SECRET}"
ledger_path = "{acme.processors["sandbox"]["ledger_path"]}"
""")
    monkeypatch.setenv("B2BGATEWAY_CONFIG", str(config))
    result = CliRunner().invoke(main, ["reconcile", "--older-than", "0"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1])["settled"] == 1


# -- outbound events -------------------------------------------------------------------------


class Receiver:
    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.received = []

    def __call__(self, url, body, headers):
        code = self.statuses.pop(0) if self.statuses else 200
        if 200 <= code < 300:
            self.received.append((url, body, dict(headers)))
        return code


def test_status_changes_are_written_in_the_same_transaction_and_delivered_signed(
    gateway, acme, data, store
):
    payment = pay_invoice(gateway, acme, "k", "tok_approved")
    receiver = Receiver()
    done = notifications.deliver_due(store, gateway.notification_endpoints(), send=receiver)
    assert done.delivered == 2
    types = [json.loads(body)["type"] for _, body, _ in receiver.received]
    assert types == ["payment.processing", "payment.succeeded"]
    url, body, headers = receiver.received[1]
    assert url == "https://erp.example/hook"
    verify(headers["B2BGateway-Signature"], body, SecretStr(NOTIFY_SECRET))
    event = json.loads(body)
    assert event["data"]["object"]["id"] == payment.id
    assert event["data"]["object"]["amount"] == "100.00"
    assert event["data"]["previous_status"] == "processing"


def test_a_receiver_that_is_down_gets_everything_later_in_order(gateway, acme, data, store):
    payment = pay_invoice(gateway, acme, "k", "tok_approved")
    refunds.refund(gateway, acme, payment.id, None, None, "r")
    endpoints = gateway.notification_endpoints()
    down = Receiver([0, 503, 500])
    now = utcnow()
    for minute in range(3):
        notifications.deliver_due(store, endpoints, send=down, now=now + timedelta(minutes=minute))
    assert down.received == []  # the first event failed, so later ones wait behind it
    up = Receiver()
    notifications.deliver_due(store, endpoints, send=up, now=now + timedelta(hours=1))
    types = [json.loads(body)["type"] for _, body, _ in up.received]
    assert types == [
        "payment.processing",
        "payment.succeeded",
        "refund.succeeded",
        "payment.refunded",
    ]


def test_a_message_stays_leased_while_it_is_delivered_however_long_the_pass(
    gateway, acme, data, store
):
    pay_invoice(gateway, acme, "k", "tok_approved")
    seen_by_another_worker: list[list[int]] = []

    def slow(url, body, headers):  # another worker looks while this one delivers
        seen_by_another_worker.append(notifications._claim(store, utcnow(), 10))
        return 200

    with store.write() as session:  # events from two hours ago, a pass that began one ago
        session.execute(update(OutboxMessage).values(next_attempt_at=utcnow() - timedelta(hours=2)))
    began_long_ago = utcnow() - timedelta(hours=1)  # (a pass can outlast a lease)
    done = notifications.deliver_due(
        store, gateway.notification_endpoints(), send=slow, now=began_long_ago
    )
    assert done.delivered == 2
    assert seen_by_another_worker == [[], []]


def test_dead_letters_and_replay(gateway, acme, data, store):
    pay_invoice(gateway, acme, "k", "tok_declined")
    endpoints = gateway.notification_endpoints()
    now = utcnow()
    never = Receiver([500] * 100)
    for hour in range(2 * notifications.MAX_ATTEMPTS + 2):
        notifications.deliver_due(store, endpoints, send=never, now=now + timedelta(hours=hour))
    with store.read() as session:
        assert sorted(session.scalars(select(OutboxMessage.state))) == ["dead", "dead"]
    assert notifications.replay(store) == 2
    ok = Receiver()
    notifications.deliver_due(store, endpoints, send=ok, now=now + timedelta(days=3))
    types = [json.loads(body)["type"] for _, body, _ in ok.received]
    assert types == ["payment.processing", "payment.failed"]
    with store.read() as session:
        assert set(session.scalars(select(OutboxMessage.state))) == {"delivered"}


def test_no_notification_url_no_outbox(
    store, data, plugins, migrated_store, database_url, tmp_path
):
    from b2bgateway.gateway import Gateway

    quiet = Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "sandbox",
                "invoice_payments": True,
                "processors": {
                    "sandbox": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "l2.db"),
                    }
                },
            }
        },
    )
    gw = Gateway.build(quiet, plugins, store)
    pay_invoice(gw, gw.merchants["acme"], "k", "tok_approved")
    with store.read() as session:
        assert session.scalars(select(OutboxMessage)).all() == []
    assert PaymentStatus.SUCCEEDED


def test_an_expired_payment_is_canceled_at_the_processor_first(gateway, acme, data, store):
    """The customer cannot complete an expired 3-D Secure payment later (no double payment)."""
    from b2bgateway.sandbox.ledger import LedgerRefusal, open_ledger

    payment = pay_invoice(gateway, acme, "k", "tok_3ds")
    reconcile(gateway, now=utcnow() + timedelta(hours=3))
    assert status(store, payment.id) == ("canceled", "expired")
    assert pay_invoice(gateway, acme, "again", "tok_approved").status == "succeeded"
    with pytest.raises(LedgerRefusal):
        open_ledger(acme.processor_settings).complete_charge(
            "acme", payment.processor_reference, "approve"
        )


def _faulty_gateway(store, database_url, tmp_path):
    """A gateway whose one merchant pays with the faulty processor (answers lost on demand)."""
    from tests.support.faulty_processor import gateway_with_faults

    faulty = Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "faulty",
                "invoice_payments": True,
                "processors": {
                    "faulty": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "f.db"),
                    }
                },
            }
        },
    )
    return gateway_with_faults(faulty, store)


def test_a_processor_that_cannot_cancel_keeps_the_payment_open(store, data, database_url, tmp_path):

    gw = _faulty_gateway(store, database_url, tmp_path)
    payment = pay_invoice(gw, gw.merchants["acme"], "k", "tok_3ds")
    counts = reconcile(gw, now=utcnow() + timedelta(hours=3))
    assert counts.expired == 0
    assert status(store, payment.id)[0] == "requires_action"


def test_a_refund_whose_answer_was_lost_is_settled(store, data, database_url, tmp_path):
    from b2bgateway.store.models import Refund
    from tests.support.faulty_processor import FaultyProcessor

    gw = _faulty_gateway(store, database_url, tmp_path)
    acme = gw.merchants["acme"]
    payment = pay_invoice(gw, acme, "k", "tok_approved")
    FaultyProcessor.lose_refund_answers = True
    try:
        lost = refunds.refund(gw, acme, payment.id, Money("40.00", "MXN"), None, "r1")
    finally:
        FaultyProcessor.lose_refund_answers = False
    assert lost.status == "pending"
    counts = reconcile(gw, now=utcnow() + LATER)
    assert counts.refunds_settled == 1
    with store.read() as session:
        assert session.get(Refund, lost.id).status == "succeeded"
        assert session.get(Payment, payment.id).status == "partially_refunded"
        assert session.get(Payment, payment.id).refunded == Money("40.00", "MXN")


def test_the_processor_is_told_when_a_refund_was_first_asked(
    store, data, database_url, tmp_path, monkeypatch
):
    """``RefundRequest.requested_at``: the refund's creation, on the first call and on the
    reconciliation's (a plugin can tell how old its idempotency key is)."""
    from b2bgateway.plugins import Processor
    from b2bgateway.store.models import Refund
    from tests.support.faulty_processor import FaultyProcessor

    seen = []
    for name in ("refund", "retrieve_refund"):
        original = getattr(Processor, name)

        def spy(self, request, settings, _original=original):
            seen.append(request)
            return _original(self, request, settings)

        monkeypatch.setattr(Processor, name, spy)
    gw = _faulty_gateway(store, database_url, tmp_path)
    acme = gw.merchants["acme"]
    payment = pay_invoice(gw, acme, "k", "tok_approved")
    monkeypatch.setattr(FaultyProcessor, "lose_refund_answers", True)
    lost = refunds.refund(gw, acme, payment.id, Money("40.00", "MXN"), None, "r1")
    monkeypatch.setattr(FaultyProcessor, "lose_refund_answers", False)
    reconcile(gw, now=utcnow() + LATER)
    with store.read() as session:
        created = session.get(Refund, lost.id).created_at
    assert [request.requested_at for request in seen] == [created, created]


class LaterVoucherSandbox:
    """The sandbox, printing its vouchers' expiry 20 hours after the one the core asked for
    (as OXXO does, counting whole days to the end of the day in Mexico City)."""

    LATER = timedelta(hours=20)

    def _later(self, result):
        if result is None or result.expires_at is None:
            return result
        return dataclasses.replace(result, expires_at=result.expires_at + self.LATER)

    @hookimpl
    def b2bgateway_processor_info(self):
        return sandbox.b2bgateway_processor_info()

    @hookimpl
    def b2bgateway_create_charge(self, request, settings):
        return self._later(sandbox.b2bgateway_create_charge(request, settings))

    @hookimpl
    def b2bgateway_retrieve_payment(self, request, settings):
        return self._later(sandbox.b2bgateway_retrieve_payment(request, settings))

    @hookimpl
    def b2bgateway_cancel_payment(self, request, settings):
        return self._later(sandbox.b2bgateway_cancel_payment(request, settings))


def test_a_cash_voucher_is_held_until_the_processor_s_printed_expiry(
    database_url, tmp_path, data, store
):
    """A voucher's printed expiry may be later than ours (OXXO counts whole days, to the end of
    the day in Mexico City): a customer who pays at the store before that date is never refused,
    so the gateway cancels only after it (plus the grace for the store's confirmation)."""
    cash = acme_settings(database_url, tmp_path, payment_methods=["card", "cash"])
    pm = get_plugin_manager(load_entrypoints=False)
    pm.unregister(name="sandbox")
    pm.register(LaterVoucherSandbox(), name="sandbox")
    gateway = Gateway.build(cash, Plugins(pm), store)
    acme = gateway.merchants["acme"]
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData(
                name="Cliente",
                active=True,
                currency="MXN",
                credit_limit=Money("0.00", "MXN"),
                email="cxp@example.mx",
            ),
        )
    voucher = service.checkout(
        gateway,
        acme,
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="invoices",
            idempotency_key="cash",
            invoice_ids=["F-1"],
            payment_method="cash",
        ),
    )
    assert voucher.status == "requires_action"
    with store.read() as session:
        row = session.get(Payment, voucher.id)
        printed = row.processor_expires_at
        assert row.expires_at == printed  # what the API shows: the voucher's own date
    ours = printed - LaterVoucherSandbox.LATER
    grace = acme.settings.expiry.grace

    assert reconcile(gateway, now=ours + timedelta(hours=1)).expired == 0
    assert status(store, voucher.id) == ("requires_action", None)
    assert reconcile(gateway, now=printed + grace - timedelta(minutes=1)).expired == 0
    assert status(store, voucher.id) == ("requires_action", None)
    assert reconcile(gateway, now=printed + grace + timedelta(minutes=1)).expired == 1
    assert status(store, voucher.id) == ("canceled", "expired")
