"""The sandbox's disputes, its "cannot cancel" mode, the helpers a command calls, and ledgers
made by an older version of the sandbox."""

import json
import sqlite3
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from b2bgateway.errors import ProcessorPaymentNotFound, WebhookMalformed
from b2bgateway.interface import (
    ChargeRequest,
    CustomerRef,
    DisputeStatus,
    EventKind,
    Outcome,
    RefundRequest,
    RetrieveRequest,
    WebhookRequest,
)
from b2bgateway.money import Money
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.sandbox import hooks, schema, signing, simulate
from b2bgateway.sandbox.ledger import LedgerRefusal, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings

SECRET = "whsec_test_secret"
WEBHOOK_URL = "https://gw.example/v1/webhooks/acme/sandbox"
AMOUNT = Money("1234.50", "MXN")


@pytest.fixture
def sandbox(tmp_path):
    return SandboxSettings(webhook_secret=SECRET, ledger_path=str(tmp_path / "ledger.db"))


@pytest.fixture(autouse=True)
def no_delivery(monkeypatch):
    monkeypatch.setattr(hooks, "deliver_in_background", lambda s, m, **kw: None)


def charge(settings, token="tok_approved", method="card", payment_id="pay_1"):
    request = ChargeRequest(
        payment_id=payment_id,
        merchant_id="acme",
        amount=AMOUNT,
        customer=CustomerRef("C-1"),
        description="Facturas",
        idempotency_key=f"{payment_id}:charge",
        token=token if method == "card" else None,
        gateway_url="https://gw.example",
        webhook_url=WEBHOOK_URL,
        payment_method=method,
    )
    return hooks.b2bgateway_create_charge(request, settings)


def signed(body):
    header = signing.sign(SecretStr(SECRET), body)
    return WebhookRequest(merchant_id="acme", body=body, headers={signing.HEADER.lower(): header})


def events(settings):
    return [
        hooks.b2bgateway_parse_webhook(signed(e.body), settings)
        for e in open_ledger(settings).events("acme")
    ]


class Outbox:
    def __init__(self):
        self.posts = []

    def __call__(self, url, body, headers):
        self.posts.append((url, body, dict(headers)))


# -- disputes ----------------------------------------------------------------------------------


def test_a_dispute_opens_then_is_won(sandbox):
    reference = charge(sandbox).processor_reference
    ledger = open_ledger(sandbox)
    opened = ledger.dispute("acme", reference, "open")
    assert opened.id.startswith("dp_") and opened.status == "open"
    assert opened.amount == AMOUNT and opened.reason == "fraudulent"
    won = ledger.dispute("acme", "pay_1", "won")  # by the gateway's payment id
    assert won.id == opened.id and won.status == "won" and won.closed_at is not None

    created, closed = events(sandbox)
    assert created.kind is EventKind.DISPUTE and created.event_type == "charge.dispute.created"
    assert created.dispute.status is DisputeStatus.OPEN
    assert created.dispute.amount == AMOUNT and created.dispute.reason == "fraudulent"
    assert created.dispute.reference == opened.id
    assert created.payment_id == "pay_1" and created.processor_reference == reference
    assert closed.kind is EventKind.DISPUTE and closed.event_type == "charge.dispute.closed"
    assert closed.dispute.status is DisputeStatus.WON and closed.dispute.reference == opened.id
    # The charge itself is unchanged: still paid in the sandbox's books.
    retrieved = hooks.b2bgateway_retrieve_payment(RetrieveRequest("pay_1", "acme"), sandbox)
    assert retrieved.outcome is Outcome.SUCCEEDED


def test_a_partial_dispute_is_lost(sandbox):
    charge(sandbox)
    ledger = open_ledger(sandbox)
    ledger.dispute(
        "acme", "pay_1", "open", reason="product_not_received", amount=Money("200", "MXN")
    )
    lost = ledger.dispute("acme", "pay_1", "lost")
    assert lost.amount == Money("200.00", "MXN") and lost.reason == "product_not_received"
    _, closed = events(sandbox)
    assert closed.dispute.status is DisputeStatus.LOST
    assert closed.dispute.amount == Money("200.00", "MXN")


def test_closing_without_an_open_dispute_opens_it_first(sandbox):
    charge(sandbox)
    lost = open_ledger(sandbox).dispute("acme", "pay_1", "lost")
    created, closed = events(sandbox)
    assert created.dispute.status is DisputeStatus.OPEN
    assert closed.dispute.status is DisputeStatus.LOST
    assert created.dispute.reference == closed.dispute.reference == lost.id


def test_disputes_that_cannot_be(sandbox):
    ledger = open_ledger(sandbox)
    charge(sandbox, token=None, payment_id="pay_pending")
    with pytest.raises(LedgerRefusal) as info:
        ledger.dispute("acme", "pay_pending", "open")
    assert info.value.code == "charge_not_disputable"
    charge(sandbox)
    ledger.dispute("acme", "pay_1", "open")
    with pytest.raises(LedgerRefusal) as info:
        ledger.dispute("acme", "pay_1", "open")
    assert info.value.code == "dispute_already_open"
    with pytest.raises(ProcessorPaymentNotFound):
        ledger.dispute("globex", "pay_1", "open")


@pytest.mark.parametrize("amount", [Money("1234.51", "MXN"), Money("1", "USD"), Money("0", "MXN")])
def test_dispute_amounts_are_checked(sandbox, amount):
    charge(sandbox)
    with pytest.raises(LedgerRefusal):
        open_ledger(sandbox).dispute("acme", "pay_1", "open", amount=amount)
    assert events(sandbox) == []


def test_a_dispute_event_without_its_dispute_is_malformed(sandbox):
    body = {
        "id": "sbx_evt_9",
        "type": "charge.dispute.created",
        "created": "2026-01-01T00:00:00Z",
        "data": {
            "charge": "sbx_ch_1",
            "payment_id": "pay_1",
            "status": "succeeded",
            "amount": "10.00",
            "currency": "MXN",
            "refunded": "0.00",
        },
    }
    with pytest.raises(WebhookMalformed):
        hooks.b2bgateway_parse_webhook(signed(json.dumps(body).encode()), sandbox)
    body["data"]["dispute"] = {"id": "dp_1", "status": "maybe", "reason": "x", "amount": "1"}
    with pytest.raises(WebhookMalformed):
        hooks.b2bgateway_parse_webhook(signed(json.dumps(body).encode()), sandbox)


# -- a processor that cannot cancel --------------------------------------------------------------


def test_cannot_cancel_answers_none_and_changes_nothing(tmp_path):
    settings = SandboxSettings(
        webhook_secret=SECRET, ledger_path=str(tmp_path / "l.db"), can_cancel=False
    )
    charge(settings, method="bank_transfer")
    processor = Plugins(get_plugin_manager(load_entrypoints=False)).processor("sandbox")
    assert processor.cancel(RetrieveRequest("pay_1", "acme"), settings) is None
    assert hooks.b2bgateway_cancel_payment(RetrieveRequest("pay_1", "acme"), settings) is None
    still = hooks.b2bgateway_retrieve_payment(RetrieveRequest("pay_1", "acme"), settings)
    assert still.outcome is Outcome.PENDING
    assert open_ledger(settings).events("acme") == []


def test_can_cancel_by_default(sandbox):
    assert SandboxSettings(webhook_secret=SECRET).can_cancel is True
    charge(sandbox, method="cash")
    canceled = hooks.b2bgateway_cancel_payment(RetrieveRequest("pay_1", "acme"), sandbox)
    assert canceled.outcome is Outcome.FAILED and canceled.failure.code == "canceled"
    [event] = events(sandbox)
    assert event.event_type == "charge.canceled" and event.final


def test_cancel_racing_a_payment_answers_succeeded(sandbox, monkeypatch):
    from b2bgateway.sandbox.ledger import Ledger

    charge(sandbox, method="bank_transfer")
    real = Ledger.complete_charge

    def paid_meanwhile(self, merchant_id, charge_id, outcome):
        self.pay(merchant_id, charge_id)  # the transfer lands between the read and the cancel
        return real(self, merchant_id, charge_id, outcome)

    monkeypatch.setattr(Ledger, "complete_charge", paid_meanwhile)
    result = hooks.b2bgateway_cancel_payment(RetrieveRequest("pay_1", "acme"), sandbox)
    assert result.outcome is Outcome.SUCCEEDED and result.received == AMOUNT


# -- helpers for the command and the page --------------------------------------------------------


def test_pay_and_notify_delivers_the_event(sandbox):
    charge(sandbox, method="bank_transfer")
    outbox = Outbox()
    paid, thread = simulate.pay_and_notify(sandbox, "acme", "pay_1", "1000", send=outbox)
    thread.join(5)
    assert paid.received == Money("1000.00", "MXN") and paid.status == "requires_action"
    [(url, body, headers)] = outbox.posts
    assert url == WEBHOOK_URL
    request = WebhookRequest("acme", body, {k.lower(): v for k, v in headers.items()})
    event = hooks.b2bgateway_parse_webhook(request, sandbox)
    assert event.event_type == "charge.partially_funded"

    paid, thread = simulate.pay_and_notify(sandbox, "acme", paid.id, send=outbox)
    thread.join(5)
    assert paid.status == "succeeded" and len(outbox.posts) == 2
    assert all(e.delivered_at is not None for e in open_ledger(sandbox).events("acme"))


def test_pay_and_notify_refuses_unknown_payments(sandbox):
    with pytest.raises(ProcessorPaymentNotFound):
        simulate.pay_and_notify(sandbox, "acme", "pay_404", "10")
    with pytest.raises(ProcessorPaymentNotFound):
        simulate.pay_and_notify(sandbox, "acme", "pay_404")


def test_dispute_and_notify_delivers_both_events(sandbox):
    charge(sandbox)
    outbox = Outbox()
    record, thread = simulate.dispute_and_notify(sandbox, "acme", "pay_1", "lost", send=outbox)
    thread.join(5)
    assert record.status == "lost" and len(outbox.posts) == 2


def test_expire_and_notify_delivers_charge_expired(sandbox, monkeypatch):
    from datetime import timedelta

    from b2bgateway.sandbox import records

    charge(sandbox, method="bank_transfer")
    later = records.now() + timedelta(hours=73)
    monkeypatch.setattr(records, "now", lambda: later)
    outbox = Outbox()
    expired, thread = simulate.expire_and_notify(sandbox, "acme", send=outbox)
    thread.join(5)
    assert [c.payment_id for c in expired] == ["pay_1"]
    [(_, body, _)] = outbox.posts
    assert json.loads(body)["type"] == "charge.expired"


# -- a ledger file from before payment methods ---------------------------------------------------

OLD_SCHEMA = """
CREATE TABLE charges (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    payment_id TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, token TEXT,
    flow TEXT NOT NULL, status TEXT NOT NULL, failure_code TEXT,
    refunded_minor INTEGER NOT NULL DEFAULT 0, return_url TEXT, webhook_url TEXT, action_url TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (merchant_id, idempotency_key));
CREATE INDEX charges_by_payment ON charges (merchant_id, payment_id, created_at);
CREATE TABLE refunds (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    charge_id TEXT NOT NULL REFERENCES charges (id), refund_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (merchant_id, idempotency_key));
CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, merchant_id TEXT NOT NULL,
    charge_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, webhook_url TEXT,
    created_at TEXT NOT NULL, delivered_at TEXT, lease_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
"""


def _old_ledger(path):
    stamp = datetime.now(UTC).isoformat(timespec="microseconds")
    conn = sqlite3.connect(path)
    conn.executescript(OLD_SCHEMA)
    for charge_id, payment_id, token, flow, status in [
        ("sbx_ch_old1", "pay_old1", "tok_approved", "token", "succeeded"),
        ("sbx_ch_old2", "pay_old2", "tok_3ds", "three_d_secure", "requires_action"),
    ]:
        conn.execute(
            "INSERT INTO charges (id, merchant_id, idempotency_key, payment_id, amount_minor,"
            " currency, token, flow, status, action_url, created_at, updated_at)"
            " VALUES (?, 'acme', ?, ?, 123450, 'MXN', ?, ?, ?, ?, ?, ?)",
            (
                charge_id,
                f"k-{charge_id}",
                payment_id,
                token,
                flow,
                status,
                f"https://gw.example/sandbox/acme/charges/{charge_id}",
                stamp,
                stamp,
            ),
        )
    conn.commit()
    conn.close()


def test_a_ledger_file_of_the_old_schema_is_upgraded_in_place(tmp_path):
    path = tmp_path / "b2bgateway-sandbox.db"
    _old_ledger(path)
    settings = SandboxSettings(webhook_secret=SECRET, ledger_path=str(path))

    old = hooks.b2bgateway_retrieve_payment(RetrieveRequest("pay_old1", "acme"), settings)
    assert old.outcome is Outcome.SUCCEEDED and old.amount == AMOUNT
    assert old.method_details is not None and old.method_details.type == "card"
    assert old.received is None and old.expires_at is None
    refund = RefundRequest("ref_1", "pay_old1", "acme", "sbx_ch_old1", Money("100", "MXN"), "r1")
    assert hooks.b2bgateway_refund(refund, settings).outcome is Outcome.SUCCEEDED

    # An old 3-D Secure charge waiting for a person has no expiry, and can still be finished.
    waiting = hooks.b2bgateway_retrieve_payment(RetrieveRequest("pay_old2", "acme"), settings)
    assert waiting.outcome is Outcome.PENDING and waiting.next_action.type == "redirect"
    open_ledger(settings).complete_charge("acme", "sbx_ch_old2", "decline")
    open_ledger(settings).complete_charge("acme", "sbx_ch_old2", "approve")

    assert charge(settings, method="bank_transfer").outcome is Outcome.PENDING
    open_ledger(settings).pay("acme", "pay_1")
    open_ledger(settings).dispute("acme", "pay_1", "open")
    with sqlite3.connect(path) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(charges)")}
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert {name for name, _ in schema.ADDED_COLUMNS} <= columns
    assert {"attempts", "transfers", "disputes"} <= tables


def test_upgrading_twice_is_harmless(tmp_path):
    path = str(tmp_path / "old.db")
    _old_ledger(path)
    schema.ensure_schema(path)
    schema._READY.discard(path)  # as another process would, starting afresh
    schema.ensure_schema(path)
    settings = SandboxSettings(webhook_secret=SECRET, ledger_path=path)
    assert open_ledger(settings).get_charge("acme", "sbx_ch_old1").method == "card"
