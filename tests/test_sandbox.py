"""The sandbox processor, through its hooks and through the plugin facade (no Flask, no network).

Every test gets its own ledger file. Background webhook delivery is replaced by a recorder and
the default HTTP sender by one that fails, so nothing ever leaves the process; tests that deliver
pass their own ``send``.
"""

import json
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr, ValidationError

from b2bgateway.errors import ProcessorPaymentNotFound, WebhookMalformed, WebhookSignatureInvalid
from b2bgateway.interface import (
    ChargeRequest,
    CustomerRef,
    EventKind,
    Outcome,
    RefundRequest,
    RetrieveRequest,
    WebhookRequest,
)
from b2bgateway.money import Money
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.sandbox import delivery, hooks, signing
from b2bgateway.sandbox.ledger import LedgerRefusal, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings

SECRET = "whsec_test_secret"
GATEWAY_URL = "https://gw.example/"
WEBHOOK_URL = "https://gw.example/v1/webhooks/acme/sandbox"
CHARGE_ID = re.compile(r"^sbx_ch_[0-9a-f]{24}$")
REAL_HTTP_POST = delivery.http_post  # kept before the autouse fixture swaps it out


@pytest.fixture
def sandbox(tmp_path):
    return SandboxSettings(webhook_secret=SECRET, ledger_path=str(tmp_path / "ledger.db"))


@pytest.fixture
def processor():
    """The sandbox as the core sees it: through the plugin manager and the typed facade."""
    return Plugins(get_plugin_manager(load_entrypoints=False)).processor("sandbox")


@pytest.fixture(autouse=True)
def background(monkeypatch):
    """Record background deliveries instead of starting threads; refuse real HTTP."""
    started = []
    monkeypatch.setattr(
        hooks, "deliver_in_background", lambda settings, merchant_id, **kw: started.append(kw)
    )

    def no_network(url, body, headers):
        raise AssertionError("tests never do network I/O")

    monkeypatch.setattr(delivery, "http_post", no_network)
    return started


class Outbox:
    """A fake webhook receiver: records every POST; fails the first ``failures`` of them."""

    def __init__(self, failures=0):
        self.failures = failures
        self.posts = []

    def __call__(self, url, body, headers):
        self.posts.append((url, body, dict(headers)))
        if self.failures:
            self.failures -= 1
            raise OSError("connection refused")


def charge_request(token="tok_approved", **overrides):
    values = dict(
        payment_id="pay_1",
        merchant_id="acme",
        amount=Money("1234.50", "MXN"),
        customer=CustomerRef("C-1"),
        description="Pedido PED-77",
        idempotency_key="pay_1:charge",
        token=token,
        return_url="https://portal.example/return",
        gateway_url=GATEWAY_URL,
        webhook_url=WEBHOOK_URL,
    )
    values.update(overrides)
    return ChargeRequest(**values)


def refund_request(reference, amount, key="r1", **overrides):
    values = dict(
        refund_id=f"ref_{key}",
        payment_id="pay_1",
        merchant_id="acme",
        processor_reference=reference,
        amount=Money(amount, "MXN"),
        idempotency_key=key,
    )
    values.update(overrides)
    return RefundRequest(**values)


def webhook(body, header, merchant_id="acme"):
    return WebhookRequest(
        merchant_id=merchant_id,
        body=body,
        headers={"b2bgateway-sandbox-signature": header, "content-type": "application/json"},
    )


def signed(body, secret=SECRET, timestamp=None):
    return webhook(body, signing.sign(SecretStr(secret), body, timestamp=timestamp))


# -- settings and info ---------------------------------------------------------------------------


def test_settings_defaults_and_secret_never_shown():
    settings = SandboxSettings(webhook_secret="whsec_demo")
    assert settings.ledger_path == "b2bgateway-sandbox.db"
    assert settings.latency_ms == 0
    assert settings.currencies == ["MXN", "USD"]
    assert "whsec_demo" not in repr(settings) and "whsec_demo" not in str(settings)


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"webhook_secret": "short"},
        {"webhook_secret": SECRET, "latency_ms": -1},
        {"webhook_secret": SECRET, "latency_ms": 60_001},
        {"webhook_secret": SECRET, "currencies": ["PESOS"]},
        {"webhook_secret": SECRET, "api_key": "x"},
    ],
)
def test_settings_refuse_bad_values_without_echoing_the_secret(raw):
    with pytest.raises(ValidationError) as info:
        SandboxSettings.model_validate(raw)
    assert SECRET not in str(info.value)


def test_processor_info(processor):
    info = processor.info
    assert info.display_name == "Sandbox (offline)"
    assert info.settings_model is SandboxSettings
    assert info.capabilities.currencies == frozenset({"MXN", "USD"})
    caps = info.capabilities
    assert caps.token_charge and caps.hosted_checkout and caps.partial_refund
    assert caps.three_d_secure and caps.requires_webhook_secret


# -- charges ---------------------------------------------------------------------------------


def test_approved_token_succeeds(processor, sandbox):
    result = processor.charge(charge_request("tok_approved"), sandbox)
    assert result.outcome is Outcome.SUCCEEDED
    assert CHARGE_ID.match(result.processor_reference)
    assert result.amount == Money(Decimal("1234.50"), "MXN")
    assert result.next_action is None and result.failure is None


@pytest.mark.parametrize(
    ("token", "code"),
    [("tok_declined", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")],
)
def test_declining_tokens_fail_and_the_ledger_keeps_the_charge(processor, sandbox, token, code):
    result = processor.charge(charge_request(token), sandbox)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == code
    assert result.failure.processor_code == "card_declined"
    assert result.failure.message
    again = processor.retrieve(
        RetrieveRequest("pay_1", "acme", processor_reference=result.processor_reference), sandbox
    )
    assert again.outcome is Outcome.FAILED and again.failure.code == code
    assert again.processor_status == "failed"


@pytest.mark.parametrize("token", ["tok_3ds", None])
def test_3ds_and_hosted_flow_redirect_to_the_sandbox_page(processor, sandbox, token):
    result = processor.charge(charge_request(token), sandbox)
    assert result.outcome is Outcome.PENDING
    assert result.processor_status == "requires_action"
    assert result.next_action.type == "redirect"
    reference = result.processor_reference
    assert result.next_action.url == f"https://gw.example/sandbox/acme/charges/{reference}"
    charge = open_ledger(sandbox).get_charge("acme", reference)
    assert charge.flow == ("three_d_secure" if token else "hosted")
    retrieved = processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox)
    assert retrieved.next_action == result.next_action


@pytest.mark.parametrize(
    ("request_", "code"),
    [
        (charge_request("tok_visa"), "invalid_payment_method"),
        (charge_request(amount=Money("10.00", "EUR")), "currency_not_supported"),
    ],
)
def test_refused_requests_fail_and_record_nothing(processor, sandbox, request_, code):
    result = processor.charge(request_, sandbox)
    assert result.outcome is Outcome.FAILED and result.failure.code == code
    assert result.processor_reference is None
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox)


def test_currencies_come_from_the_merchants_settings(processor, tmp_path):
    usd_only = SandboxSettings(
        webhook_secret=SECRET, ledger_path=str(tmp_path / "l.db"), currencies=["USD"]
    )
    result = processor.charge(charge_request(), usd_only)
    assert result.failure.code == "currency_not_supported"


def test_repeating_a_charge_returns_the_same_charge(processor, sandbox):
    first = processor.charge(charge_request(), sandbox)
    second = processor.charge(charge_request(), sandbox)
    assert second == first
    with sqlite3.connect(sandbox.ledger_path) as conn:
        assert conn.execute("SELECT count(*) FROM charges").fetchone() == (1,)
    conn.close()


@pytest.mark.parametrize(
    "changed",
    [{"amount": Money("1.00", "MXN")}, {"token": "tok_declined"}, {"payment_id": "pay_2"}],
)
def test_same_key_with_other_parameters_is_an_idempotency_mismatch(processor, sandbox, changed):
    processor.charge(charge_request(), sandbox)
    result = processor.charge(charge_request(**changed), sandbox)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "idempotency_mismatch"


def test_concurrent_repeats_charge_once(sandbox):
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(
            pool.map(lambda _: hooks.b2bgateway_create_charge(charge_request(), sandbox), range(16))
        )
    assert len({r.processor_reference for r in results}) == 1


def test_timeout_loses_the_answer_but_reconciliation_finds_the_charge(processor, sandbox):
    lost = processor.charge(charge_request("tok_timeout"), sandbox)
    assert lost.outcome is Outcome.UNKNOWN
    assert lost.processor_reference is None and lost.amount is None

    found = processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox)
    assert found.outcome is Outcome.SUCCEEDED
    assert CHARGE_ID.match(found.processor_reference)
    assert found.amount == Money("1234.50", "MXN")
    assert found.refunded == Money("0", "MXN")
    # A retry with the same key now gets the answer that was lost.
    assert processor.charge(charge_request("tok_timeout"), sandbox) == found


def test_retrieve_unknown_payment_raises(processor, sandbox):
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(RetrieveRequest("pay_404", "acme"), sandbox)
    with pytest.raises(ProcessorPaymentNotFound):
        hooks.b2bgateway_retrieve_payment(
            RetrieveRequest("pay_1", "acme", processor_reference="sbx_ch_" + "0" * 24), sandbox
        )


def test_another_merchants_charge_is_not_found(processor, sandbox):
    reference = processor.charge(charge_request(), sandbox).processor_reference
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(
            RetrieveRequest("pay_1", "globex", processor_reference=reference), sandbox
        )


def test_retrieve_by_payment_id_finds_the_latest_charge(processor, sandbox):
    processor.charge(charge_request("tok_declined", idempotency_key="a"), sandbox)
    retry = processor.charge(charge_request("tok_approved", idempotency_key="b"), sandbox)
    assert processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox) == retry


def test_latency_is_simulated(monkeypatch, tmp_path):
    slow = SandboxSettings(webhook_secret=SECRET, ledger_path=str(tmp_path / "l"), latency_ms=250)
    naps = []
    monkeypatch.setattr(hooks.time, "sleep", naps.append)
    hooks.b2bgateway_create_charge(charge_request(), slow)
    assert naps == [0.25]


# -- the page's ledger calls, events and delivery ------------------------------------------------


@pytest.mark.parametrize(
    ("token", "outcome", "status", "event_type", "code"),
    [
        ("tok_3ds", "approve", "succeeded", "charge.succeeded", None),
        # A decline is one failed attempt, not the end: tests/test_sandbox_methods.py
        (None, "approve", "succeeded", "charge.succeeded", None),
        (None, "cancel", "canceled", "charge.canceled", "canceled"),
    ],
)
def test_completing_a_charge_sends_a_webhook_the_gateway_accepts(
    processor, sandbox, token, outcome, status, event_type, code
):
    reference = processor.charge(charge_request(token), sandbox).processor_reference
    ledger = open_ledger(sandbox)
    charge = ledger.complete_charge("acme", reference, outcome)
    assert charge.status == status and charge.failure_code == code
    [event] = ledger.events("acme", charge_id=reference)
    assert event.type == event_type and event.delivered_at is None

    outbox = Outbox()
    assert delivery.deliver_pending(sandbox, "acme", send=outbox) == 1
    [(url, body, headers)] = outbox.posts
    assert url == WEBHOOK_URL and body == event.body
    assert headers["Content-Type"] == "application/json"
    parsed = processor.parse_webhook(webhook(body, headers[signing.HEADER]), sandbox)
    assert parsed.event_id == event.id and parsed.event_type == event_type
    assert parsed.kind is EventKind.PAYMENT
    assert parsed.payment_id == "pay_1" and parsed.processor_reference == reference
    assert parsed.amount == Money("1234.50", "MXN")
    assert parsed.outcome is (Outcome.SUCCEEDED if status == "succeeded" else Outcome.FAILED)
    assert (parsed.failure.code if parsed.failure else None) == code
    assert parsed.occurred_at is not None

    retrieved = processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox)
    assert retrieved.processor_status == status and retrieved.next_action is None
    [event] = ledger.events("acme")
    assert event.delivered_at is not None and event.attempts == 1
    assert delivery.deliver_pending(sandbox, "acme", send=outbox) == 0  # nothing owed any more


def test_only_a_pending_charge_can_be_completed(processor, sandbox):
    reference = processor.charge(charge_request("tok_3ds"), sandbox).processor_reference
    ledger = open_ledger(sandbox)
    ledger.complete_charge("acme", reference, "approve")
    with pytest.raises(LedgerRefusal) as info:
        ledger.complete_charge("acme", reference, "decline")
    assert info.value.code == "charge_not_pending"
    with pytest.raises(ProcessorPaymentNotFound):
        ledger.complete_charge("globex", reference, "approve")
    assert len(ledger.events("acme")) == 1


def test_delivery_retries_then_keeps_the_event_for_a_later_run(processor, sandbox):
    reference = processor.charge(charge_request("tok_3ds"), sandbox).processor_reference
    ledger = open_ledger(sandbox)
    ledger.complete_charge("acme", reference, "approve")

    down = Outbox(failures=3)
    assert delivery.deliver_pending(sandbox, "acme", send=down, backoff=0) == 0
    assert len(down.posts) == delivery.ATTEMPTS
    [event] = ledger.events("acme")
    assert event.delivered_at is None and event.attempts == 3
    assert "connection refused" in event.last_error

    flaky = Outbox(failures=1)
    assert delivery.deliver_pending(sandbox, "acme", send=flaky, backoff=0) == 1
    [event] = ledger.events("acme")
    assert event.delivered_at is not None and event.attempts == 5


def test_without_a_webhook_url_the_event_stays_recorded(processor, sandbox):
    request = charge_request("tok_3ds", webhook_url=None)
    reference = processor.charge(request, sandbox).processor_reference
    open_ledger(sandbox).complete_charge("acme", reference, "approve")
    outbox = Outbox()
    assert delivery.deliver_pending(sandbox, "acme", send=outbox) == 0
    assert outbox.posts == []
    [event] = open_ledger(sandbox).events("acme")
    assert event.delivered_at is None


def test_background_delivery(processor, sandbox):
    reference = processor.charge(charge_request("tok_3ds"), sandbox).processor_reference
    open_ledger(sandbox).complete_charge("acme", reference, "approve")
    outbox = Outbox()
    delivery.deliver_in_background(sandbox, "acme", charge_id=reference, send=outbox).join(5)
    assert len(outbox.posts) == 1
    assert open_ledger(sandbox).events("acme")[0].delivered_at is not None


def test_default_sender_refuses_non_http_urls():
    with pytest.raises(ValueError, match="http"):
        REAL_HTTP_POST("file:///etc/passwd", b"{}", {})


# -- refunds ---------------------------------------------------------------------------------


@pytest.fixture
def paid(processor, sandbox):
    return processor.charge(charge_request("tok_approved"), sandbox).processor_reference


def test_full_refund(processor, sandbox, paid, background):
    result = processor.refund(refund_request(paid, "1234.50", full=True), sandbox)
    assert result.outcome is Outcome.SUCCEEDED
    assert re.match(r"^sbx_re_[0-9a-f]{24}$", result.processor_reference)
    retrieved = processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox)
    assert retrieved.refunded == Money("1234.50", "MXN")
    assert retrieved.outcome is Outcome.SUCCEEDED  # a refunded charge still succeeded
    assert background == [{"charge_id": paid}]


def test_partial_refunds_then_over_refund(processor, sandbox, paid):
    assert processor.refund(refund_request(paid, "1000.00", "r1"), sandbox).outcome is (
        Outcome.SUCCEEDED
    )
    assert processor.refund(refund_request(paid, "200.00", "r2"), sandbox).outcome is (
        Outcome.SUCCEEDED
    )
    over = processor.refund(refund_request(paid, "34.51", "r3"), sandbox)
    assert over.outcome is Outcome.FAILED
    assert over.failure.code == "amount_exceeds_refundable"
    last = processor.refund(refund_request(paid, "34.50", "r4"), sandbox)
    assert last.outcome is Outcome.SUCCEEDED
    retrieved = processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox)
    assert retrieved.refunded == retrieved.amount


def test_repeated_refund_is_idempotent(processor, sandbox, paid):
    first = processor.refund(refund_request(paid, "100.00"), sandbox)
    second = processor.refund(refund_request(paid, "100.00"), sandbox)
    assert second == first
    retrieved = processor.retrieve(RetrieveRequest("pay_1", "acme"), sandbox)
    assert retrieved.refunded == Money("100.00", "MXN")
    other = processor.refund(refund_request(paid, "5.00"), sandbox)
    assert other.failure.code == "idempotency_mismatch"


def test_refund_of_a_failed_charge_is_refused(processor, sandbox):
    reference = processor.charge(charge_request("tok_declined"), sandbox).processor_reference
    result = processor.refund(refund_request(reference, "1.00"), sandbox)
    assert result.outcome is Outcome.FAILED and result.failure.code == "charge_not_refundable"


def test_refund_of_an_unknown_charge_raises(processor, sandbox):
    with pytest.raises(ProcessorPaymentNotFound):
        processor.refund(refund_request("sbx_ch_" + "0" * 24, "1.00"), sandbox)


def test_refund_webhook(processor, sandbox, paid):
    processor.refund(refund_request(paid, "234.50", "r9"), sandbox)
    outbox = Outbox()
    assert delivery.deliver_pending(sandbox, "acme", send=outbox) == 1
    [(_, body, headers)] = outbox.posts
    event = processor.parse_webhook(webhook(body, headers[signing.HEADER]), sandbox)
    assert event.kind is EventKind.REFUND and event.event_type == "refund.succeeded"
    assert event.outcome is Outcome.SUCCEEDED
    assert event.refund_id == "ref_r9" and event.refund_reference.startswith("sbx_re_")
    assert event.amount == Money("234.50", "MXN") and event.refunded == Money("234.50", "MXN")
    assert event.processor_reference == paid and event.payment_id == "pay_1"


# -- inbound webhook verification ------------------------------------------------------------


BODY = json.dumps(
    {
        "id": "sbx_evt_1",
        "type": "charge.succeeded",
        "created": "2025-01-01T00:00:00+00:00",
        "data": {
            "charge": "sbx_ch_1",
            "payment_id": "pay_1",
            "status": "succeeded",
            "amount": "10.00",
            "currency": "MXN",
            "refunded": "0.00",
        },
    }
).encode()


def test_a_signed_body_is_accepted(processor, sandbox):
    event = processor.parse_webhook(signed(BODY), sandbox)
    assert event.outcome is Outcome.SUCCEEDED and event.amount == Money("10.00", "MXN")


def _now():
    return int(time.time())


BAD_SIGNATURES = {
    "tampered": lambda: webhook(BODY + b" ", signing.sign(SecretStr(SECRET), BODY)),
    "wrong-secret": lambda: signed(BODY, secret="whsec_another_secret"),
    "old": lambda: signed(BODY, timestamp=_now() - 301),
    "future": lambda: signed(BODY, timestamp=_now() + 301),
    "empty": lambda: webhook(BODY, ""),
    "no-t": lambda: webhook(BODY, "v1=abc"),
    "bad-t": lambda: webhook(BODY, "t=notanumber,v1=abc"),
    "no-v1": lambda: webhook(BODY, f"t={_now()},v0=abc"),
    "non-ascii": lambda: webhook(BODY, f"t={_now()},v1=ñ"),
}


@pytest.mark.parametrize("make", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
def test_bad_signatures_are_refused_without_the_secret(processor, sandbox, make):
    with pytest.raises(WebhookSignatureInvalid) as info:
        processor.parse_webhook(make(), sandbox)
    assert info.value.code == "webhook_signature_invalid"
    assert SECRET not in str(info.value)


def test_missing_header_is_refused(sandbox):
    request = WebhookRequest(merchant_id="acme", body=BODY, headers={})
    with pytest.raises(WebhookSignatureInvalid):
        hooks.b2bgateway_parse_webhook(request, sandbox)


def test_any_matching_v1_is_enough(sandbox):
    stamp = int(time.time())
    good = signing.signature(SecretStr(SECRET), stamp, BODY)
    request = webhook(BODY, f"t={stamp},v1={'0' * 64},v1={good}")
    assert hooks.b2bgateway_parse_webhook(request, sandbox).event_id == "sbx_evt_1"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        json.dumps({"id": "e", "type": "charge.succeeded", "created": "2025-01-01T00:00:00Z"}),
        BODY.replace(b'"10.00"', b"10.001"),
        BODY.replace(b'"succeeded"', b'"weird"'),
        BODY.replace(b"charge.succeeded", b"refund.succeeded"),
    ],
)
def test_authentic_but_malformed_bodies_are_refused(sandbox, body):
    body = body if isinstance(body, bytes) else body.encode()
    with pytest.raises(WebhookMalformed) as info:
        hooks.b2bgateway_parse_webhook(signed(body), sandbox)
    assert info.value.code == "webhook_malformed"
    assert info.value.status == 400


def test_unknown_event_types_are_ignored(sandbox):
    body = json.dumps(
        {
            "id": "sbx_evt_2",
            "type": "charge.disputed",
            "created": "2025-01-01T00:00:00Z",
            "data": {},
        }
    ).encode()
    event = hooks.b2bgateway_parse_webhook(signed(body), sandbox)
    assert event.kind is EventKind.IGNORED and event.event_type == "charge.disputed"


@given(body=st.binary(max_size=2048), secret=st.text(min_size=8, max_size=64))
def test_sign_then_verify_round_trips(body, secret):
    key = SecretStr(secret)
    header = signing.sign(key, body)
    assert abs(signing.verify(header, body, key) - time.time()) < 5
    with pytest.raises(WebhookSignatureInvalid):
        signing.verify(header, body + b"x", key)


def test_form_token_is_bound_to_the_charge():
    key = SecretStr(SECRET)
    token = signing.form_token(key, "acme", "sbx_ch_1")
    assert signing.check_form_token(key, "acme", "sbx_ch_1", token)
    assert not signing.check_form_token(key, "acme", "sbx_ch_2", token)
    assert not signing.check_form_token(SecretStr("whsec_other!"), "acme", "sbx_ch_1", token)
    assert not signing.check_form_token(key, "acme", "sbx_ch_1", "ñ")


def test_ledger_is_safe_across_threads(sandbox):
    errors = []

    def charge(n):
        try:
            hooks.b2bgateway_create_charge(
                charge_request(idempotency_key=f"k{n}", payment_id=f"p{n}"), sandbox
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=charge, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite3.connect(sandbox.ledger_path) as conn:
        assert conn.execute("SELECT count(*) FROM charges").fetchone() == (20,)
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    conn.close()


def test_a_recent_signature_within_tolerance_is_accepted(sandbox):
    request = signed(BODY, timestamp=_now() - 290)
    assert hooks.b2bgateway_parse_webhook(request, sandbox).event_id == "sbx_evt_1"
