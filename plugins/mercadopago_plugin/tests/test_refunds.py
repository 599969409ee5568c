"""Refunds: ``POST /v1/payments/{id}/refunds`` (cassettes in ``cassettes/test_refunds/``)."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from helpers import Sent, refund_request
from vcr.cassette import Cassette

from b2bgateway import Outcome, ProcessorMisconfigured, RefundResult
from b2bgateway.plugins import Processor
from b2bgateway_mercadopago import hooks, refund_lookup

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


#: When the refund of 234.50 whose answer was lost was first asked (Mercado Pago made it, if it
#: did, at 2024-05-21T09:00:05-06:00).
ASKED = datetime(2024, 5, 21, 15, 0, tzinfo=UTC)


def retrieve(
    processor: Processor, settings: Any, monkeypatch: pytest.MonkeyPatch, now: datetime
) -> RefundResult:
    monkeypatch.setattr(hooks, "_now", lambda: now)
    request = refund_request("234.50", full=False, reference=PAYMENT, requested_at=ASKED)
    result = processor.retrieve_refund(request, settings)
    assert result is not None
    return result


def test_retrieve_refund_finds_ours_among_the_payments_refunds(
    processor: Processor,
    settings: Any,
    cassette: Cassette,
    sent: list[Sent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``GET /v1/payments/{id}/refunds``: of the refunds of our amount, the one made since we
    asked is ours (the one of the day before is an earlier refund); nothing is sent again."""
    result = retrieve(processor, settings, monkeypatch, ASKED + timedelta(days=3))

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1009876552"
    assert [request.method for request in sent] == ["GET"]


def test_retrieve_refund_not_listed_is_sent_again_within_the_window(
    processor: Processor,
    settings: Any,
    cassette: Cassette,
    sent: list[Sent],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not listed, asked 10 minutes ago: the same request with the same idempotency key (which
    Mercado Pago still knows: it answers the refund that key made, or makes it)."""
    result = retrieve(processor, settings, monkeypatch, ASKED + timedelta(minutes=10))

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1009876552"
    assert [request.method for request in sent] == ["GET", "POST"]
    assert sent[1].headers["x-idempotency-key"] == "re_01J8Z9:refund"


def test_retrieve_refund_not_listed_after_the_window_is_unknown(
    processor: Processor,
    settings: Any,
    cassette: Cassette,
    sent: list[Sent],
    caplog: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Asked two hours ago (past ``refund_resend_minutes``): the key may be forgotten and a POST
    could refund a second time. Nothing is sent; the gateway keeps the refund pending."""
    with caplog.at_level(logging.ERROR):
        result = retrieve(processor, settings, monkeypatch, ASKED + timedelta(hours=2))

    assert result.outcome is Outcome.UNKNOWN
    assert [request.method for request in sent] == ["GET"]
    assert "ALERT refund re_01J8Z9" in caplog.text
    assert "not sent again" in caplog.text


def test_a_refund_without_its_first_ask_time_is_never_sent_again(
    processor: Processor, settings: Any
) -> None:
    request = refund_request("234.50", full=False, reference=PAYMENT)
    assert not refund_lookup.may_resend(request, ASKED, timedelta(hours=1))


def test_retrieve_refund_that_cannot_be_told_apart_is_unknown(
    processor: Processor,
    settings: Any,
    cassette: Cassette,
    sent: list[Sent],
    caplog: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two refunds of our amount made since we asked: which is ours cannot be told."""
    with caplog.at_level(logging.ERROR):
        result = retrieve(processor, settings, monkeypatch, ASKED + timedelta(minutes=10))

    assert result.outcome is Outcome.UNKNOWN
    assert [request.method for request in sent] == ["GET"]
    assert "1009876552, 1009876553" in caplog.text


def test_a_refund_of_another_amount_is_unknown(
    processor: Processor, settings: Any, cassette: Cassette, caplog: Any
) -> None:
    """Mercado Pago answers a refund of 200.00 for our 234.50: never recorded as ours."""
    with caplog.at_level(logging.ERROR):
        result = processor.refund(refund_request("234.50", full=False, reference=PAYMENT), settings)

    assert result.outcome is Outcome.UNKNOWN
    assert result.processor_reference is None
    assert "ALERT refund re_01J8Z9" in caplog.text


def test_refunding_the_rest_sends_the_amount_left(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    """After a partial refund, "the rest" is what is left by our books, sent as an amount."""
    result = processor.refund(refund_request("1000.06", full=True, reference=PAYMENT), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert json.loads(sent[0].body) == {"amount": 1000.06}
