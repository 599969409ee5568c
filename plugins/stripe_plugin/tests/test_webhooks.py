"""Webhooks: signed here with the SDK's own helper, verified over the raw body, normalized.

A success notification reads its PaymentIntent again with the charge expanded (how it was paid),
and a dispute or a Dashboard refund reads it for our payment id:
those tests replay that request from a cassette; the others make no request at all.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
from conftest import WEBHOOK_SECRET
from stripe._cash_balance import CashBalance
from stripe_factories import PAYMENT, event, signed
from stripe_types import check_answer

from b2bgateway import (
    Dispute,
    DisputeStatus,
    EventKind,
    MethodDetails,
    Money,
    Outcome,
    ProcessorUnavailable,
    WebhookMalformed,
    WebhookRequest,
    WebhookSignatureInvalid,
)
from b2bgateway_stripe import events

META = {"customer_id": "C-1", "merchant_id": "acme", "payment_id": PAYMENT}


def intent(status: str, **extra):
    return {
        "id": "pi_3QAcme0001",
        "object": "payment_intent",
        "amount": 150000,
        "currency": "mxn",
        "metadata": META,
        "status": status,
        "latest_charge": "ch_3QAcme0001",
        **extra,
    }


def session(status: str, payment_status: str, **extra):
    return {
        "id": "cs_test_a1QAcme0001",
        "object": "checkout.session",
        "amount_total": 150000,
        "client_reference_id": PAYMENT,
        "currency": "mxn",
        "metadata": META,
        "mode": "payment",
        "payment_intent": "pi_3QAcmeCs0001",
        "payment_status": payment_status,
        "status": status,
        **extra,
    }


def refund(status: str, **extra):
    return {
        "id": "re_3QAcme0001",
        "object": "refund",
        "amount": 50000,
        "charge": "ch_3QAcme0001",
        "currency": "mxn",
        "metadata": {"merchant_id": "acme", "payment_id": PAYMENT, "refund_id": "re_01"},
        "payment_intent": "pi_3QAcme0001",
        "status": status,
        **extra,
    }


def parse(processor, settings, body, **kwargs):
    return processor.parse_webhook(signed(body, WEBHOOK_SECRET, **kwargs), settings)


# -- payments ------------------------------------------------------------------------------------
def test_payment_intent_succeeded(processor, settings, cassette):
    """The event's PaymentIntent is read again with its charge: how it was paid, for the CFDI."""
    got = parse(processor, settings, event("payment_intent.succeeded", intent("succeeded")))

    assert got.event_id == "evt_1QAcme0001"
    assert got.kind is EventKind.PAYMENT
    assert got.event_type == "payment_intent.succeeded"
    assert got.payment_id == PAYMENT
    assert got.processor_reference == "pi_3QAcme0001"
    assert got.outcome is Outcome.SUCCEEDED
    assert got.amount == Money("1500.00", "MXN")
    assert got.occurred_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert got.final is True
    assert got.references == ("pi_3QAcme0001", "ch_3QAcme0001")
    assert got.method_details == MethodDetails(
        type="card",
        brand="visa",
        last4="0008",
        funding="credit",
        authorization_code="A1B2C3",
        paid_at=datetime(2026, 1, 1, 0, 1, tzinfo=UTC),
    )


def test_payment_intent_succeeded_stripe_unavailable_error_response(processor, settings, cassette):
    """Without its charge the success would lose its method details: Stripe delivers it again."""
    with pytest.raises(ProcessorUnavailable):
        parse(processor, settings, event("payment_intent.succeeded", intent("succeeded")))


def test_payment_intent_payment_failed_error_response(processor, settings):
    error = {"code": "card_declined", "decline_code": "insufficient_funds", "type": "card_error"}
    body = event(
        "payment_intent.payment_failed", intent("requires_payment_method", last_payment_error=error)
    )
    got = parse(processor, settings, body)

    assert got.outcome is Outcome.FAILED
    assert got.failure.code == "insufficient_funds"
    assert got.final is True  # a token charge: the portal asks for a new payment
    assert got.processor_reference == "pi_3QAcme0001"


def test_a_decline_on_an_open_checkout_page_is_an_attempt_error_response(processor, settings):
    """The Checkout Session stays open: the customer may try another card on it."""
    error = {"code": "card_declined", "decline_code": "generic_decline", "type": "card_error"}
    checkout_intent = intent(
        "requires_payment_method",
        id="pi_3QAcmeCs0001",
        metadata={**META, "flow": "checkout"},
        last_payment_error=error,
    )
    got = parse(processor, settings, event("payment_intent.payment_failed", checkout_intent))

    assert got.outcome is Outcome.FAILED
    assert got.final is False
    assert got.payment_id == PAYMENT
    assert got.processor_reference is None  # the payment is known by its session
    assert got.attempt_reference == "pi_3QAcmeCs0001"
    assert got.failure.code == "card_declined"


def test_a_canceled_checkout_payment_intent_is_final_error_response(processor, settings):
    checkout_intent = intent("canceled", metadata={**META, "flow": "checkout"})
    got = parse(processor, settings, event("payment_intent.canceled", checkout_intent))

    assert (got.outcome, got.final, got.failure.code) == (Outcome.FAILED, True, "canceled")


def test_a_partially_funded_transfer_reports_what_arrived(processor, settings):
    instructions = {
        "amount_remaining": 50000,
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
        "reference": "REF123456",
        "type": "mx_bank_transfer",
    }
    funded = intent(
        "requires_action",
        next_action={
            "type": "display_bank_transfer_instructions",
            "display_bank_transfer_instructions": instructions,
        },
    )
    got = parse(processor, settings, event("payment_intent.partially_funded", funded))

    assert got.outcome is Outcome.PENDING
    assert got.received == Money("1000.00", "MXN")
    # The buyer is shown what is still due, so the whole amount is not sent again.
    transfer = got.next_action.bank_transfer
    assert (transfer.clabe, transfer.amount) == ("646180111800001016", Money("500.00", "MXN"))


def test_payment_intent_processing(processor, settings):
    got = parse(processor, settings, event("payment_intent.processing", intent("processing")))

    assert got.outcome is Outcome.PENDING


def test_payment_intent_requires_action_changes_nothing(processor, settings):
    body = event("payment_intent.requires_action", intent("requires_action"))
    got = parse(processor, settings, body)

    assert got.kind is EventKind.PAYMENT
    assert got.outcome is None  # recorded against the payment; the charge gave the next action


def test_payment_intent_canceled_error_response(processor, settings):
    got = parse(processor, settings, event("payment_intent.canceled", intent("canceled")))

    assert got.outcome is Outcome.FAILED
    assert got.failure.code == "canceled"


def test_checkout_session_completed(processor, settings, cassette):
    got = parse(
        processor, settings, event("checkout.session.completed", session("complete", "paid"))
    )

    assert got.kind is EventKind.PAYMENT
    assert got.payment_id == PAYMENT
    assert got.processor_reference == "cs_test_a1QAcme0001"
    assert got.outcome is Outcome.SUCCEEDED
    assert got.amount == Money("1500.00", "MXN")
    assert got.attempt_reference == "pi_3QAcmeCs0001"
    assert got.references == ("pi_3QAcmeCs0001", "ch_3QAcmeCs0001")  # a dispute names these
    assert (got.method_details.brand, got.method_details.funding) == ("visa", "debit")


def test_checkout_session_completed_unpaid_waits(processor, settings):
    """A voucher or a transfer: the page is done, the money comes later."""
    body = event("checkout.session.completed", session("complete", "unpaid", metadata={}))
    got = parse(processor, settings, body)

    assert got.outcome is Outcome.PENDING
    assert got.payment_id == PAYMENT  # from client_reference_id


def test_checkout_session_async_payment_succeeded(processor, settings, cassette):
    body = event("checkout.session.async_payment_succeeded", session("complete", "paid"))

    assert parse(processor, settings, body).outcome is Outcome.SUCCEEDED


def test_checkout_session_async_payment_failed_error_response(processor, settings):
    body = event("checkout.session.async_payment_failed", session("complete", "unpaid"))
    got = parse(processor, settings, body)

    assert got.outcome is Outcome.FAILED
    assert got.failure.code == "payment_failed"


def test_checkout_session_expired_error_response(processor, settings):
    body = event("checkout.session.expired", session("expired", "unpaid"))
    got = parse(processor, settings, body)

    assert got.outcome is Outcome.FAILED
    assert got.failure.code == "canceled"


# -- refunds and disputes ------------------------------------------------------------------------
def test_refund_created(processor, settings):
    got = parse(processor, settings, event("refund.created", refund("succeeded")))

    assert got.kind is EventKind.REFUND
    assert got.payment_id == PAYMENT
    assert got.processor_reference == "pi_3QAcme0001"
    assert got.refund_id == "re_01"
    assert got.refund_reference == "re_3QAcme0001"
    assert got.outcome is Outcome.SUCCEEDED
    assert got.amount == Money("500.00", "MXN")  # this refund's own amount


def test_refund_updated_pending(processor, settings):
    got = parse(processor, settings, event("refund.updated", refund("pending")))

    assert got.outcome is Outcome.PENDING


def test_refund_failed_error_response(processor, settings):
    body = event("refund.failed", refund("failed", failure_reason="lost_or_stolen_card"))
    got = parse(processor, settings, body)

    assert got.outcome is Outcome.FAILED
    assert got.failure.code == "refund_failed"
    assert got.failure.processor_code == "lost_or_stolen_card"


def test_charge_refunded_with_its_refunds(processor, settings):
    charge = {
        "id": "ch_3QAcme0001",
        "object": "charge",
        "amount": 150000,
        "amount_refunded": 70000,
        "currency": "mxn",
        "metadata": META,
        "payment_intent": "pi_3QAcme0001",
        "refunds": {"object": "list", "data": [refund("succeeded", metadata={}, created=2)]},
    }
    got = parse(processor, settings, event("charge.refunded", charge))

    assert got.kind is EventKind.REFUND
    assert got.payment_id == PAYMENT  # the charge's metadata, copied from the PaymentIntent
    assert got.refund_reference == "re_3QAcme0001"
    assert got.refunded == Money("700.00", "MXN")


def test_charge_refunded_without_its_refunds_is_ignored(processor, settings):
    """Current API versions do not embed refunds: the refund.* events carry them instead."""
    charge = {"id": "ch_3QAcme0001", "object": "charge", "amount": 150000, "currency": "mxn"}
    got = parse(processor, settings, event("charge.refunded", charge))

    assert got.kind is EventKind.IGNORED


def dispute(status: str, **extra):
    return {
        "id": "dp_1QAcme0001",
        "object": "dispute",
        "amount": 150000,
        "charge": "ch_3QAcme0001",
        "currency": "mxn",
        "metadata": {},
        "payment_intent": "pi_3QAcme0001",
        "reason": "fraudulent",
        "status": status,
        **extra,
    }


@pytest.mark.parametrize(
    ("event_type", "status", "state"),
    [
        ("charge.dispute.created", "needs_response", DisputeStatus.OPEN),
        ("charge.dispute.created", "warning_needs_response", DisputeStatus.OPEN),
        ("charge.dispute.funds_withdrawn", "needs_response", DisputeStatus.OPEN),
        ("charge.dispute.updated", "under_review", DisputeStatus.OPEN),
        ("charge.dispute.closed", "won", DisputeStatus.WON),
        ("charge.dispute.closed", "warning_closed", DisputeStatus.WON),
        ("charge.dispute.funds_reinstated", "won", DisputeStatus.WON),
        ("charge.dispute.closed", "lost", DisputeStatus.LOST),
    ],
)
def test_charge_disputes_become_the_core_s_dispute_states(event_type, status, state):
    got = events.webhook_event(event(event_type, dispute(status)))

    assert got.kind is EventKind.DISPUTE
    assert got.payment_id is None  # a dispute carries none of our metadata
    assert got.processor_reference == "ch_3QAcme0001"
    assert got.references == ("pi_3QAcme0001",)
    assert got.dispute == Dispute(state, Money("1500.00", "MXN"), "fraudulent", "dp_1QAcme0001")


def test_a_dispute_gets_our_payment_id_from_its_payment_intent(processor, settings, cassette):
    """The core may know the payment by neither the charge nor the PaymentIntent (a Checkout
    payment made before it kept aliases): the PaymentIntent's metadata names it."""
    got = parse(processor, settings, event("charge.dispute.closed", dispute("lost")))

    assert got.payment_id == PAYMENT
    assert got.processor_reference == "ch_3QAcme0001"
    assert got.references == ("pi_3QAcme0001", "ch_3QAcme0001")
    assert got.dispute.status is DisputeStatus.LOST


def test_a_dispute_stripe_unavailable_error_response(processor, settings, cassette):
    """Acknowledged unmatched, a lost dispute would leave its invoices paid: Stripe retries."""
    with pytest.raises(ProcessorUnavailable):
        parse(processor, settings, event("charge.dispute.closed", dispute("lost")))


def test_a_dispute_of_a_payment_intent_stripe_no_longer_has_error_response(
    processor, settings, cassette
):
    got = parse(processor, settings, event("charge.dispute.created", dispute("needs_response")))

    assert (got.payment_id, got.references) == (None, ("pi_3QAcme0001",))


def test_a_dashboard_refund_gets_our_payment_id_from_its_payment_intent(
    processor, settings, cassette
):
    body = event("refund.created", refund("succeeded", metadata={}))
    got = parse(processor, settings, body)

    assert (got.payment_id, got.refund_id) == (PAYMENT, None)
    assert got.refund_reference == "re_3QAcme0001"


def test_a_dispute_of_a_charge_without_payment_intent_names_the_charge(processor, settings):
    got = parse(
        processor,
        settings,
        event("charge.dispute.created", dispute("needs_response", payment_intent=None)),
    )

    assert (got.processor_reference, got.references) == ("ch_3QAcme0001", ())


def test_other_events_are_ignored(processor, settings):
    body = event("customer.created", {"id": "cus_1QAcme", "object": "customer"}, id="evt_2")
    got = parse(processor, settings, body)

    assert got.kind is EventKind.IGNORED
    assert got.event_id == "evt_2"
    assert got.event_type == "customer.created"


# -- authenticity --------------------------------------------------------------------------------
def test_tampered_body_is_refused(processor, settings):
    genuine = signed(event("payment_intent.succeeded", intent("succeeded")), WEBHOOK_SECRET)
    forged = genuine.body.replace(b"150000", b"1")
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(
            WebhookRequest(genuine.merchant_id, forged, genuine.headers), settings
        )


def test_reserialized_body_is_refused(processor, settings):
    """The signature covers the raw bytes: parsed and dumped again, they differ."""
    genuine = signed(event("payment_intent.succeeded", intent("succeeded")), WEBHOOK_SECRET)
    compact = json.dumps(json.loads(genuine.body)).encode()
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(
            WebhookRequest(genuine.merchant_id, compact, genuine.headers), settings
        )


def test_stale_notification_is_refused(processor, settings):
    body = event("payment_intent.succeeded", intent("succeeded"))
    with pytest.raises(WebhookSignatureInvalid, match="300 s"):
        parse(processor, settings, body, timestamp=int(time.time()) - 301)


def test_recent_notification_is_accepted(processor, settings, cassette):
    body = event("payment_intent.succeeded", intent("succeeded"))

    assert parse(processor, settings, body, timestamp=int(time.time()) - 290).outcome


def test_other_secret_is_refused(processor, settings):
    request = signed(event("payment_intent.succeeded", intent("succeeded")), "whsec_other")
    with pytest.raises(WebhookSignatureInvalid) as raised:
        processor.parse_webhook(request, settings)

    assert WEBHOOK_SECRET not in str(raised.value)
    assert "whsec_" not in str(raised.value)


@pytest.mark.parametrize("header", ["", "t=1700000000", "v1=abc", "garbage", "t=x,v1=00"])
def test_unusable_signature_header_is_refused(processor, settings, header):
    request = signed(event("customer.created", {"id": "cus_1"}), WEBHOOK_SECRET, header=header)
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(request, settings)


def test_body_that_is_not_text_is_refused(processor, settings):
    with pytest.raises(WebhookSignatureInvalid):
        parse(processor, settings, b"\xff\xfe\x00garbage", header="t=1,v1=00")


# -- authentic, but unreadable -------------------------------------------------------------------
def test_authentic_body_that_is_not_json_is_malformed(processor, settings):
    with pytest.raises(WebhookMalformed):
        parse(processor, settings, b"not json")


def test_authentic_thin_event_is_malformed(processor, settings):
    thin = {
        "id": "evt_test_65R",
        "object": "v2.core.event",
        "type": "v1.billing.meter.no_meter_found",
    }
    with pytest.raises(WebhookMalformed):
        parse(processor, settings, thin)


def test_authentic_event_with_a_bad_amount_is_malformed(processor, settings):
    body = event("payment_intent.succeeded", intent("succeeded", amount="1500.00"))
    with pytest.raises(WebhookMalformed, match="evt_1QAcme0001"):
        parse(processor, settings, body)


def test_authentic_event_about_no_payment_is_malformed(processor, settings):
    body = event("payment_intent.succeeded", intent("succeeded", id=None, metadata={}))
    with pytest.raises(WebhookMalformed):
        parse(processor, settings, body)


# -- money no payment took -----------------------------------------------------------------------
def cash_balance(**available: int):
    """A Customer's cash balance (the ``cash_balance.funds_available`` event's object)."""
    return {
        "object": "cash_balance",
        "available": available,
        "customer": "cus_QAcme0001",
        "customer_account": None,
        "livemode": False,
        "settings": {"reconciliation_mode": "automatic", "using_merchant_default": True},
    }


def test_funds_in_a_customer_s_cash_balance_are_an_alert(processor, settings, caplog):
    """A SPEI transfer after its payment was canceled (or an excess) lands in the Stripe
    Customer's cash balance: no payment holds it, so it must be loud."""
    assert check_answer(cash_balance(mxn=150000), CashBalance) == []  # the SDK's own object
    body = event("cash_balance.funds_available", cash_balance(mxn=150000), id="evt_3")
    with caplog.at_level("ERROR", logger="b2bgateway_stripe.events"):
        got = parse(processor, settings, body)

    assert got.kind is EventKind.IGNORED  # about a customer: nothing the core can apply
    assert got.event_type == "cash_balance.funds_available"
    (alert,) = [r.getMessage() for r in caplog.records]
    assert alert.startswith("ALERT merchant acme: Stripe customer cus_QAcme0001 has 1500.00 MXN")
    assert "evt_3" in alert
