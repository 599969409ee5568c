"""Retrieving a payment: by PaymentIntent or Checkout Session, or by our id (reconciliation)."""

from __future__ import annotations

import pytest
from stripe_factories import retrieve_request

from b2bgateway import (
    Money,
    Outcome,
    ProcessorMisconfigured,
    ProcessorPaymentNotFound,
    ProcessorUnavailable,
)

pytestmark = pytest.mark.usefixtures("cassette")


def test_retrieve_by_intent_reference(processor, settings):
    result = processor.retrieve(retrieve_request("pi_3QAcme0001"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "pi_3QAcme0001"
    assert result.amount == Money("1500.00", "MXN")
    assert result.refunded == Money("500.00", "MXN")  # from the expanded latest_charge


def test_retrieve_unknown_reference_error_response(processor, settings):
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(retrieve_request("pi_3QNoSuch0000"), settings)


def test_retrieve_by_payment_id(processor, settings):
    """A lost answer: found by metadata[payment_id]; the succeeded attempt wins."""
    result = processor.retrieve(retrieve_request(None), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "pi_3QAcme0001"
    assert result.refunded == Money("0.00", "MXN")


def test_retrieve_by_payment_id_never_charged_error_response(processor, settings):
    with pytest.raises(ProcessorPaymentNotFound, match="pay_09"):
        processor.retrieve(retrieve_request(None, payment_id="pay_09"), settings)


def test_retrieve_after_failed_3ds_error_response(processor, settings):
    result = processor.retrieve(retrieve_request("pi_3QAcme3ds01"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "authentication_failed"
    assert result.failure.processor_code == "payment_intent_authentication_failure"
    assert result.next_action is None


def test_retrieve_checkout_session_paid(processor, settings):
    result = processor.retrieve(retrieve_request("cs_test_a1QAcme0001"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "cs_test_a1QAcme0001"  # the reference the core keeps
    assert result.amount == Money("1500.00", "MXN")
    assert result.refunded == Money("0.00", "MXN")
    assert result.processor_status == "complete/paid/succeeded"


def test_retrieve_checkout_session_open(processor, settings):
    result = processor.retrieve(retrieve_request("cs_test_a1QAcme0001"), settings)

    assert result.outcome is Outcome.PENDING
    assert result.next_action.type == "redirect"
    assert result.next_action.url.startswith("https://checkout.stripe.com/c/pay/")


def test_retrieve_checkout_session_expired_error_response(processor, settings):
    result = processor.retrieve(retrieve_request("cs_test_a1QAcme0001"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "canceled"


def test_retrieve_stripe_unavailable_error_response(processor, settings):
    with pytest.raises(ProcessorUnavailable, match="HTTP 503"):
        processor.retrieve(retrieve_request("pi_3QAcme0001"), settings)


def test_retrieve_bad_key_error_response(processor, settings):
    with pytest.raises(ProcessorMisconfigured, match="merchant acme"):
        processor.retrieve(retrieve_request("pi_3QAcme0001"), settings)


def test_retrieve_rate_limited_error_response(processor, settings):
    with pytest.raises(ProcessorUnavailable, match="HTTP 429"):
        processor.retrieve(retrieve_request("pi_3QAcme0001"), settings)
