"""Refunds, full and partial, each with its own idempotency key; and finding one again."""

from __future__ import annotations

import pytest
from stripe_factories import refund_request

from b2bgateway import Outcome, ProcessorMisconfigured

pytestmark = pytest.mark.usefixtures("cassette")


def test_partial_refund(processor, settings, cassette):
    request = refund_request("pi_3QAcme0001", "500.00", reason="requested_by_customer")
    result = processor.refund(request, settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "re_3QAcme0001"
    assert cassette.sent.keys_for("POST", "/v1/refunds") == {"re_01:refund"}


def test_full_refund_omits_the_amount(processor, settings, cassette):
    """Stripe refunds whatever is left; a reason Stripe does not know goes in metadata."""
    request = refund_request(
        "pi_3QAcme0001",
        "1500.00",
        refund_id="re_02",
        idempotency_key="re_02:refund",
        full=True,
        reason="Mercancía devuelta",
    )
    result = processor.refund(request, settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "re_3QAcme0002"
    assert cassette.sent.keys_for("POST", "/v1/refunds") == {"re_02:refund"}


def test_refund_pending(processor, settings):
    result = processor.refund(refund_request("pi_3QAcme0001"), settings)

    assert result.outcome is Outcome.PENDING  # refund.updated settles it
    assert result.processor_reference == "re_3QAcme0003"


def test_refund_of_checkout_payment(processor, settings):
    """A hosted payment's reference is its Checkout Session: refund its PaymentIntent."""
    result = processor.refund(refund_request("cs_test_a1QAcme0001"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "re_3QAcme0004"


def test_refund_of_unpaid_checkout_error_response(processor, settings):
    result = processor.refund(refund_request("cs_test_a1QAcme0001"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "charge_not_refundable"


def test_refund_already_refunded_error_response(processor, settings):
    result = processor.refund(refund_request("pi_3QAcme0001"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "already_refunded"
    assert result.failure.processor_code == "charge_already_refunded"


def test_refund_stripe_failed_error_response(processor, settings):
    result = processor.refund(refund_request("pi_3QAcme0001"), settings)

    assert result.outcome is Outcome.UNKNOWN  # it may have been made: reconcile


def test_refund_bad_key_error_response(processor, settings):
    with pytest.raises(ProcessorMisconfigured, match="merchant acme"):
        processor.refund(refund_request("pi_3QAcme0001"), settings)


def test_retrieve_refund_finds_ours(processor, settings):
    result = processor.retrieve_refund(refund_request("pi_3QAcme0001"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "re_3QAcme0001"  # not the dashboard's refund


def test_retrieve_refund_never_made_error_response(processor, settings):
    result = processor.retrieve_refund(refund_request("pi_3QAcme0001"), settings)

    assert result.outcome is Outcome.FAILED  # never made: safe to ask for it again
    assert result.failure.code == "refund_not_found"


def test_refund_without_a_reference_is_not_sent(processor, settings, cassette):
    result = processor.refund(refund_request(""), settings)  # no cassette: nothing is sent

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "charge_not_refundable"
    assert cassette.sent == []
