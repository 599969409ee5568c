"""Refunds: ``POST /v1/payments/{id}/refunds`` (cassettes in ``cassettes/test_refunds/``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import Sent, refund_request
from vcr.cassette import Cassette

from b2bgateway import Outcome, ProcessorMisconfigured
from b2bgateway.plugins import Processor

PAYMENT = "1319876541"


def test_full_refund(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    result = processor.refund(refund_request(reference=PAYMENT), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1009876551"
    # "Everything that is left" by our books, said explicitly: never a body without an amount.
    assert json.loads(sent[0].body) == {"amount": 1234.56}
    assert sent[0].headers["x-idempotency-key"] == "re_01J8Z9:refund"


def test_partial_refund(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    result = processor.refund(refund_request("234.50", full=False, reference=PAYMENT), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1009876552"
    assert json.loads(sent[0].body) == {"amount": 234.5}


def test_refund_in_process_is_pending(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.refund(refund_request("234.50", full=False, reference=PAYMENT), settings)

    assert result.outcome is Outcome.PENDING
    assert result.processor_reference == "1009876553"


def test_refund_refused_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.refund(refund_request("234.50", full=False, reference=PAYMENT), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "refund_refused"
    assert result.failure.processor_code == "4040"


def test_refund_server_error_is_unknown(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.refund(refund_request("234.50", full=False, reference=PAYMENT), settings)

    assert result.outcome is Outcome.UNKNOWN


def test_refund_invalid_access_token_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorMisconfigured):
        processor.refund(refund_request(reference=PAYMENT), settings)


def test_refund_of_a_checkout_pro_payment(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """A hosted payment whose id the gateway never learnt is found by our id first."""
    result = processor.refund(refund_request(reference=""), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1009876554"


def test_retrieve_refund_answers_the_refund_its_key_made(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    """A refund whose answer was lost: the same request, with the same idempotency key, is
    answered with the refund that key made (Mercado Pago makes it now if it never was)."""
    result = processor.retrieve_refund(
        refund_request("234.50", full=False, reference=PAYMENT), settings
    )

    assert result is not None
    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1009876552"
    assert sent[0].headers["x-idempotency-key"] == "re_01J8Z9:refund"


def test_refunding_the_rest_sends_the_amount_left(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    """After a partial refund, "the rest" is what is left by our books, sent as an amount."""
    result = processor.refund(refund_request("1000.06", full=True, reference=PAYMENT), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert json.loads(sent[0].body) == {"amount": 1000.06}
