"""The sandbox's v1.1 simulation at the hook level: SPEI transfers, cash vouchers, expiry,
hosted-page attempts, and card method details (MSI, debit).

Events the ledger records are signed here and parsed through ``b2bgateway_parse_webhook``, as
the gateway's webhook endpoint would; nothing is delivered over the network.
"""

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from pydantic import SecretStr

from b2bgateway.errors import ProcessorPaymentNotFound
from b2bgateway.interface import (
    INSTALLMENT_COUNTS,
    ChargeRequest,
    CustomerRef,
    EventKind,
    Outcome,
    RetrieveRequest,
    WebhookRequest,
)
from b2bgateway.money import Money
from b2bgateway.sandbox import hooks, instruments, records, signing
from b2bgateway.sandbox.ledger import LedgerRefusal, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings

SECRET = "whsec_test_secret"
GATEWAY_URL = "https://gw.example/"
WEBHOOK_URL = "https://gw.example/v1/webhooks/acme/sandbox"
AMOUNT = Money("1234.50", "MXN")


@pytest.fixture
def sandbox(tmp_path):
    return SandboxSettings(webhook_secret=SECRET, ledger_path=str(tmp_path / "ledger.db"))


@pytest.fixture(autouse=True)
def no_delivery(monkeypatch):
    """The hooks' background deliveries are recorded, never started."""
    started = []
    monkeypatch.setattr(hooks, "deliver_in_background", lambda s, m, **kw: started.append(kw))
    return started


@pytest.fixture
def clock(monkeypatch):
    """Move the sandbox's clock: ``clock(hours=73)`` is 73 hours from now."""
    real = records.now

    def move(**delta):
        later = real() + timedelta(**delta)
        monkeypatch.setattr(records, "now", lambda: later)
        return later

    return move


def charge(settings, token=None, method="card", **overrides):
    values = dict(
        payment_id="pay_1",
        merchant_id="acme",
        amount=AMOUNT,
        customer=CustomerRef("C-1"),
        description="Facturas F-1, F-2",
        idempotency_key="pay_1:charge",
        token=token,
        return_url="https://portal.example/return",
        gateway_url=GATEWAY_URL,
        webhook_url=WEBHOOK_URL,
        payment_method=method,
    )
    values.update(overrides)
    return hooks.b2bgateway_create_charge(ChargeRequest(**values), settings)


def retrieve(settings, reference=None, payment_id="pay_1"):
    request = RetrieveRequest(payment_id, "acme", processor_reference=reference)
    return hooks.b2bgateway_retrieve_payment(request, settings)


def parsed(settings, event):
    """The ledger's event as the gateway reads it: signed, then parsed by the hook."""
    header = signing.sign(SecretStr(SECRET), event.body)
    request = WebhookRequest(
        merchant_id="acme", body=event.body, headers={signing.HEADER.lower(): header}
    )
    return hooks.b2bgateway_parse_webhook(request, settings)


def events(settings, reference=None):
    return [parsed(settings, e) for e in open_ledger(settings).events("acme", charge_id=reference)]


def close_to(moment, expected, seconds=5):
    return abs((moment - expected).total_seconds()) < seconds


# -- capabilities and instruments ------------------------------------------------------------------


def test_capabilities_offer_every_method_and_msi():
    caps = hooks.b2bgateway_processor_info().capabilities
    assert caps.payment_methods == frozenset({"card", "bank_transfer", "cash"})
    assert caps.installments == frozenset({3, 6, 9, 12, 18, 24}) == INSTALLMENT_COUNTS


@pytest.mark.parametrize("clabe", ["032180000118359719", "002010077777777771"])
def test_clabe_check_digit_matches_published_clabes(clabe):
    assert instruments.clabe_check_digit(clabe[:17]) == clabe[17]
    assert instruments.is_valid_clabe(clabe)
    wrong = clabe[:17] + str((int(clabe[17]) + 1) % 10)
    assert not instruments.is_valid_clabe(wrong)


def test_generated_clabes_are_valid_stp_clabes():
    for _ in range(200):
        clabe = instruments.new_clabe()
        assert clabe.startswith("646180") and instruments.is_valid_clabe(clabe)


# -- SPEI --------------------------------------------------------------------------------------


def test_bank_transfer_shows_instructions_and_waits(sandbox):
    result = charge(sandbox, method="bank_transfer")
    assert result.outcome is Outcome.PENDING and result.processor_status == "requires_action"
    action = result.next_action
    assert action.type == "display_bank_transfer_instructions"
    instructions = action.bank_transfer
    assert instruments.is_valid_clabe(instructions.clabe)
    assert instructions.bank == "STP"
    assert instructions.beneficiary == "Sandbox B2B SA de CV"
    assert instructions.amount == AMOUNT
    assert re.fullmatch(r"[0-9]{7}", instructions.reference)
    assert close_to(instructions.expires_at, datetime.now(UTC) + timedelta(hours=72))
    assert result.expires_at == instructions.expires_at
    assert result.received == Money("0", "MXN")
    assert retrieve(sandbox) == result
    assert open_ledger(sandbox).events("acme") == []  # nothing happened yet


def test_beneficiary_and_expiry_come_from_the_settings(tmp_path):
    settings = SandboxSettings(
        webhook_secret=SECRET,
        ledger_path=str(tmp_path / "l.db"),
        beneficiary="Aceros del Norte SA de CV",
        bank_transfer_expiry_hours=24,
    )
    instructions = charge(settings, method="bank_transfer").next_action.bank_transfer
    assert instructions.beneficiary == "Aceros del Norte SA de CV"
    assert close_to(instructions.expires_at, datetime.now(UTC) + timedelta(hours=24))


@pytest.mark.parametrize(("asked", "expected"), [(timedelta(hours=5), 5), (timedelta(days=9), 72)])
def test_the_gateways_expiry_is_used_up_to_the_sandboxs_limit(sandbox, asked, expected):
    result = charge(sandbox, method="bank_transfer", expires_at=datetime.now(UTC) + asked)
    assert close_to(result.expires_at, datetime.now(UTC) + timedelta(hours=expected))


def test_exact_transfer_succeeds_with_its_tracking_key(sandbox):
    reference = charge(sandbox, method="bank_transfer").processor_reference
    paid = open_ledger(sandbox).pay("acme", reference)
    assert paid.status == "succeeded" and paid.received == AMOUNT

    [event] = events(sandbox)
    assert event.kind is EventKind.PAYMENT and event.event_type == "charge.succeeded"
    assert event.outcome is Outcome.SUCCEEDED and event.final
    assert event.processor_reference == reference and event.payment_id == "pay_1"
    assert event.amount == AMOUNT and event.received == AMOUNT
    details = event.method_details
    assert details.type == "bank_transfer"
    assert re.fullmatch(r"SANDBOX[0-9]{20}", details.tracking_key)
    assert details.payer_bank == "BBVA MEXICO"
    assert close_to(details.paid_at, datetime.now(UTC))
    assert details.brand is None and details.authorization_code is None

    result = retrieve(sandbox, reference)
    assert result.outcome is Outcome.SUCCEEDED and result.next_action is None
    assert result.method_details == details and result.received == AMOUNT


def test_short_transfers_add_up_until_the_amount_is_reached(sandbox):
    first = charge(sandbox, method="bank_transfer")
    ledger = open_ledger(sandbox)
    ledger.pay("acme", first.processor_reference, Money("1000.00", "MXN"))

    waiting = retrieve(sandbox)
    assert waiting.outcome is Outcome.PENDING
    assert waiting.received == Money("1000.00", "MXN")
    assert waiting.next_action == first.next_action

    ledger.pay("acme", "pay_1", Money("200.00", "MXN"))  # by the gateway's payment id
    ledger.pay(
        "acme",
        "pay_1",
        Money("34.50", "MXN"),
        tracking_key="BNET01002512040012345678",
        payer_bank="BANORTE",
    )
    partial1, partial2, done = events(sandbox)
    for partial, received in ((partial1, "1000.00"), (partial2, "1200.00")):
        assert partial.event_type == "charge.partially_funded"
        assert partial.kind is EventKind.PAYMENT and partial.outcome is Outcome.PENDING
        assert partial.received == Money(received, "MXN") and partial.failure is None
        assert partial.method_details is None
    assert done.event_type == "charge.succeeded" and done.received == AMOUNT
    assert done.method_details.tracking_key == "BNET01002512040012345678"
    assert done.method_details.payer_bank == "BANORTE"
    assert retrieve(sandbox).outcome is Outcome.SUCCEEDED


def test_over_payment_succeeds_and_reports_what_was_received(sandbox):
    charge(sandbox, method="bank_transfer")
    open_ledger(sandbox).pay("acme", "pay_1", Money("2000.00", "MXN"))
    [event] = events(sandbox)
    assert event.outcome is Outcome.SUCCEEDED
    assert event.amount == AMOUNT and event.received == Money("2000.00", "MXN")
    assert retrieve(sandbox).received == Money("2000.00", "MXN")


def test_concurrent_transfers_add_up_exactly_once(sandbox):
    charge(sandbox, method="bank_transfer", amount=Money("1000.00", "MXN"))
    ledger = open_ledger(sandbox)
    with ThreadPoolExecutor(max_workers=10) as pool:
        paid = list(pool.map(lambda _: ledger.pay("acme", "pay_1", Money("100", "MXN")), range(10)))
    assert sorted(c.received.amount for c in paid) == [Decimal(100 * n) for n in range(1, 11)]
    types = [e.type for e in ledger.events("acme")]
    assert types == ["charge.partially_funded"] * 9 + ["charge.succeeded"]


def test_what_is_still_owed_is_the_default_amount(sandbox):
    charge(sandbox, method="bank_transfer")
    ledger = open_ledger(sandbox)
    ledger.pay("acme", "pay_1", Money("0.50", "MXN"))
    assert ledger.pay("acme", "pay_1").received == AMOUNT


@pytest.mark.parametrize(
    ("amount", "code"),
    [(Money("10.00", "USD"), "currency_mismatch"), (Money("0", "MXN"), "invalid_amount")],
)
def test_bad_transfers_are_refused(sandbox, amount, code):
    charge(sandbox, method="bank_transfer")
    with pytest.raises(LedgerRefusal) as info:
        open_ledger(sandbox).pay("acme", "pay_1", amount)
    assert info.value.code == code
    assert open_ledger(sandbox).events("acme") == []


def test_paying_what_cannot_be_paid_is_refused(sandbox):
    ledger = open_ledger(sandbox)
    card = charge(sandbox, "tok_approved", payment_id="pay_card", idempotency_key="k1")
    with pytest.raises(LedgerRefusal) as info:
        ledger.pay("acme", card.processor_reference)
    assert info.value.code == "charge_not_payable"
    charge(sandbox, method="bank_transfer")
    ledger.pay("acme", "pay_1")
    with pytest.raises(LedgerRefusal) as info:
        ledger.pay("acme", "pay_1")
    assert info.value.code == "charge_not_pending"
    with pytest.raises(ProcessorPaymentNotFound):
        ledger.pay("acme", "pay_404")
    with pytest.raises(ProcessorPaymentNotFound):
        ledger.pay("globex", "pay_1")


def test_a_canceled_transfer_cannot_be_paid(sandbox):
    charge(sandbox, method="bank_transfer")
    canceled = hooks.b2bgateway_cancel_payment(RetrieveRequest("pay_1", "acme"), sandbox)
    assert canceled.outcome is Outcome.FAILED and canceled.failure.code == "canceled"
    with pytest.raises(LedgerRefusal) as info:
        open_ledger(sandbox).pay("acme", "pay_1")
    assert info.value.code == "charge_not_pending"


def test_a_transfer_or_voucher_is_paid_not_approved(sandbox):
    reference = charge(sandbox, method="bank_transfer").processor_reference
    with pytest.raises(LedgerRefusal) as info:
        open_ledger(sandbox).complete_charge("acme", reference, "approve")
    assert info.value.code == "charge_not_payable"


@pytest.mark.parametrize(
    "overrides",
    [{"token": "tok_approved"}, {"installments": 3}, {"payment_method": "manual"}],
)
def test_methods_without_a_card_refuse_card_fields(sandbox, overrides):
    values = {"method": overrides.pop("payment_method", "bank_transfer"), **overrides}
    result = charge(sandbox, **values)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code in {"invalid_payment_method", "installments_not_available"}


@pytest.mark.parametrize("method", ["bank_transfer", "cash"])
def test_transfers_and_vouchers_are_in_pesos(sandbox, method):
    result = charge(sandbox, method=method, amount=Money("10.00", "USD"))
    assert result.failure.code == "currency_not_supported"


def test_the_same_key_for_another_method_is_an_idempotency_mismatch(sandbox):
    charge(sandbox, method="bank_transfer")
    assert charge(sandbox, method="bank_transfer") == retrieve(sandbox)
    assert charge(sandbox, method="cash").failure.code == "idempotency_mismatch"


# -- cash --------------------------------------------------------------------------------------


def test_cash_voucher_waits_then_is_paid_in_full(sandbox, clock):
    result = charge(sandbox, method="cash")
    reference = result.processor_reference
    assert result.outcome is Outcome.PENDING
    assert result.next_action.type == "display_cash_voucher"
    voucher = result.next_action.cash_voucher
    assert re.fullmatch(r"[0-9]{14}", voucher.reference)
    assert voucher.amount == AMOUNT
    assert voucher.voucher_url == f"https://gw.example/sandbox/vouchers/{reference}"
    assert voucher.barcode_url == f"https://gw.example/sandbox/vouchers/{reference}/barcode"
    assert close_to(voucher.expires_at, datetime.now(UTC) + timedelta(hours=72))

    ledger = open_ledger(sandbox)
    with pytest.raises(LedgerRefusal) as info:
        ledger.pay("acme", reference, Money("1000.00", "MXN"))
    assert info.value.code == "amount_mismatch"
    with pytest.raises(LedgerRefusal):
        ledger.pay("acme", reference, Money("1300.00", "MXN"))

    clock(hours=70)  # three days later, still before the voucher expires
    assert ledger.pay("acme", reference).status == "succeeded"
    [event] = events(sandbox)
    assert event.event_type == "charge.succeeded" and event.outcome is Outcome.SUCCEEDED
    assert event.method_details.type == "cash"
    assert event.method_details.tracking_key is None
    assert event.method_details.paid_at is not None and event.received == AMOUNT
    assert retrieve(sandbox).method_details == event.method_details


# -- expiry ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "method", "hours"),
    [(None, "card", 1), ("tok_3ds", "card", 1), (None, "bank_transfer", 72), (None, "cash", 72)],
)
def test_unfinished_charges_expire(sandbox, clock, token, method, hours):
    result = charge(sandbox, token, method)
    assert close_to(result.expires_at, datetime.now(UTC) + timedelta(hours=hours))
    clock(hours=hours, seconds=-30)
    assert retrieve(sandbox).outcome is Outcome.PENDING
    clock(hours=hours, seconds=1)
    expired = retrieve(sandbox)
    assert expired.outcome is Outcome.FAILED and expired.final
    assert expired.failure.code == "expired" and expired.processor_status == "expired"
    assert expired.next_action is None and expired.expires_at == result.expires_at

    ledger = open_ledger(sandbox)
    with pytest.raises(LedgerRefusal) as info:
        if method == "card":
            ledger.complete_charge("acme", result.processor_reference, "approve")
        else:
            ledger.pay("acme", "pay_1")
    assert info.value.code == ("charge_not_pending" if method == "card" else "charge_expired")
    # Canceling an expired charge changes nothing and owes no webhook.
    assert hooks.b2bgateway_cancel_payment(RetrieveRequest("pay_1", "acme"), sandbox) == expired
    assert ledger.events("acme") == []


def test_expire_due_announces_each_expiry_once(sandbox, clock):
    charge(sandbox, method="cash")
    charge(sandbox, "tok_approved", payment_id="pay_2", idempotency_key="k2")
    ledger = open_ledger(sandbox)
    assert ledger.expire_due("acme") == []
    clock(hours=73)
    [expired] = ledger.expire_due("acme")
    assert expired.payment_id == "pay_1" and expired.status == "expired"
    assert ledger.expire_due("acme") == []
    [event] = events(sandbox)
    assert event.event_type == "charge.expired" and event.kind is EventKind.PAYMENT
    assert event.outcome is Outcome.FAILED and event.final and event.failure.code == "expired"
    result = retrieve(sandbox)
    assert result.outcome is Outcome.FAILED and result.failure.code == "expired"
    assert result.processor_status == "expired"


def test_the_gateways_shorter_expiry_applies_to_the_hosted_page(sandbox, clock):
    asked = datetime.now(UTC) + timedelta(minutes=15)
    assert charge(sandbox, expires_at=asked).expires_at == asked
    clock(minutes=16)
    assert retrieve(sandbox).failure.code == "expired"


def test_a_token_charge_has_no_expiry(sandbox):
    assert charge(sandbox, "tok_approved").expires_at is None


# -- hosted page and 3-D Secure attempts ---------------------------------------------------------


@pytest.mark.parametrize("token", [None, "tok_3ds"])
def test_a_declined_attempt_leaves_the_charge_open_for_another_card(sandbox, token):
    started = charge(sandbox, token)
    reference = started.processor_reference
    ledger = open_ledger(sandbox)

    declined = ledger.complete_charge("acme", reference, "decline")
    assert declined.status == "requires_action" and declined.failure_code is None
    waiting = retrieve(sandbox)
    assert waiting.outcome is Outcome.PENDING and waiting.failure is None
    assert waiting.next_action == started.next_action and waiting.next_action.type == "redirect"

    approved = ledger.complete_charge("acme", reference, "approve")
    assert approved.status == "succeeded"
    first, second = ledger.attempts("acme", reference)
    assert (first.outcome, first.failure_code) == ("failed", "card_declined")
    assert (second.outcome, second.failure_code) == ("succeeded", None)
    assert re.fullmatch(r"att_[0-9a-f]{24}", first.id) and first.id != second.id

    failed, succeeded = events(sandbox)
    assert failed.event_type == "charge.attempt_failed" and failed.kind is EventKind.PAYMENT
    assert failed.outcome is Outcome.FAILED and failed.final is False
    assert failed.attempt_reference == first.id and failed.failure.code == "card_declined"
    assert failed.processor_reference == reference and failed.payment_id == "pay_1"
    assert succeeded.event_type == "charge.succeeded" and succeeded.final
    assert succeeded.outcome is Outcome.SUCCEEDED
    assert succeeded.attempt_reference == second.id and succeeded.failure is None
    assert succeeded.method_details.last4 == "4242"

    result = retrieve(sandbox)
    assert result.outcome is Outcome.SUCCEEDED and result.attempt_reference == second.id
    assert result.method_details == succeeded.method_details


def test_declines_then_cancel_end_the_charge(sandbox):
    reference = charge(sandbox).processor_reference
    ledger = open_ledger(sandbox)
    ledger.complete_charge("acme", reference, "decline")
    ledger.complete_charge("acme", reference, "decline")
    ledger.complete_charge("acme", reference, "cancel")
    assert len(ledger.attempts("acme", reference)) == 2
    *attempts, canceled = events(sandbox)
    assert [e.event_type for e in attempts] == ["charge.attempt_failed"] * 2
    assert canceled.event_type == "charge.canceled" and canceled.final
    assert canceled.outcome is Outcome.FAILED and canceled.failure.code == "canceled"
    assert canceled.attempt_reference is None
    result = retrieve(sandbox)
    assert result.outcome is Outcome.FAILED and result.final
    assert result.failure.code == "canceled" and result.attempt_reference is None
    with pytest.raises(LedgerRefusal):
        ledger.complete_charge("acme", reference, "approve")


# -- card details --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "brand", "last4", "funding"),
    [
        ("tok_approved", "visa", "4242", "credit"),
        ("tok_debit", "visa", "5556", "debit"),
        ("tok_prepaid", "mastercard", "5100", "prepaid"),
    ],
)
def test_card_method_details(sandbox, token, brand, last4, funding):
    result = charge(sandbox, token)
    assert result.outcome is Outcome.SUCCEEDED
    details = result.method_details
    assert (details.type, details.brand, details.last4, details.funding) == (
        "card",
        brand,
        last4,
        funding,
    )
    assert re.fullmatch(r"[0-9]{6}", details.authorization_code)
    assert details.installments is None and close_to(details.paid_at, datetime.now(UTC))
    assert retrieve(sandbox) == result  # the same code every time
    assert result.received is None and result.attempt_reference is None


@pytest.mark.parametrize("count", sorted(INSTALLMENT_COUNTS))
def test_msi_are_recorded_on_the_charge(sandbox, count):
    details = charge(sandbox, "tok_approved", installments=count).method_details
    assert details.installments == count and details.funding == "credit"


def test_msi_on_the_hosted_page(sandbox):
    reference = charge(sandbox, installments=12).processor_reference
    assert open_ledger(sandbox).get_charge("acme", reference).installments == 12
    open_ledger(sandbox).complete_charge("acme", reference, "approve")
    [event] = events(sandbox)
    assert event.method_details.installments == 12


@pytest.mark.parametrize(("token", "count"), [("tok_approved", 5), ("tok_debit", 3)])
def test_msi_not_available_are_refused(sandbox, token, count):
    result = charge(sandbox, token, installments=count)
    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "installments_not_available" and result.failure.message
    with pytest.raises(ProcessorPaymentNotFound):
        retrieve(sandbox)
