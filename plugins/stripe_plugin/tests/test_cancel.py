"""Cancelling what the customer never finished, so that it can no longer succeed."""

from __future__ import annotations

import pytest
from stripe_factories import retrieve_request

from b2bgateway import Outcome, ProcessorPaymentNotFound, ProcessorUnavailable

pytestmark = pytest.mark.usefixtures("cassette")


def test_cancel_abandoned_3ds(processor, settings, cassette):
    result = processor.cancel(retrieve_request("pi_3QAcme3ds01"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "canceled"  # the core marks the payment canceled
    assert result.processor_reference == "pi_3QAcme3ds01"
    keys = cassette.sent.keys_for("POST", "/v1/payment_intents/pi_3QAcme3ds01/cancel")
    assert keys == {"pay_01:cancel"}


def test_cancel_paid_meanwhile_error_response(processor, settings):
    """Paid before we asked: nothing to cancel, and the core hears of the success."""
    result = processor.cancel(retrieve_request("pi_3QAcme3ds01"), settings)

    assert result.outcome is Outcome.SUCCEEDED


def test_cancel_race_error_response(processor, settings):
    """Paid between our read and the cancel: Stripe refuses, and a new read tells."""
    result = processor.cancel(retrieve_request("pi_3QAcme3ds01"), settings)

    assert result.outcome is Outcome.SUCCEEDED


def test_cancel_open_checkout_session(processor, settings, cassette):
    result = processor.cancel(retrieve_request("cs_test_a1QAcme0001"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "canceled"
    assert result.processor_reference == "cs_test_a1QAcme0001"
    keys = cassette.sent.keys_for("POST", "/v1/checkout/sessions/cs_test_a1QAcme0001/expire")
    assert keys == {"pay_01:cancel"}


def test_cancel_completed_checkout_session_error_response(processor, settings):
    result = processor.cancel(retrieve_request("cs_test_a1QAcme0001"), settings)

    assert result.outcome is Outcome.SUCCEEDED


def test_cancel_by_payment_id(processor, settings):
    result = processor.cancel(retrieve_request(None), settings)

    assert result.outcome is Outcome.FAILED
    assert result.processor_reference == "pi_3QAcme3ds01"


def test_cancel_unknown_payment_error_response(processor, settings):
    with pytest.raises(ProcessorPaymentNotFound):
        processor.cancel(retrieve_request(None, payment_id="pay_09"), settings)


def test_cancel_stripe_unavailable_error_response(processor, settings):
    with pytest.raises(ProcessorUnavailable):  # reconciliation asks again later
        processor.cancel(retrieve_request("pi_3QAcme3ds01"), settings)
