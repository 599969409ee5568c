"""Looking payments up: by Mercado Pago's id, or by ours (``external_reference``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import retrieve_request
from vcr.cassette import Cassette

from b2bgateway import (
    Money,
    Outcome,
    ProcessorMisconfigured,
    ProcessorPaymentNotFound,
    ProcessorUnavailable,
)
from b2bgateway.plugins import Processor
from b2bgateway_mercadopago import hooks


def test_retrieve_by_reference(processor: Processor, settings: Any, cassette: Cassette) -> None:
    result = processor.retrieve(retrieve_request("1319876541"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1319876541"
    assert result.amount == Money("1234.56", "MXN")


def test_retrieve_by_reference_not_found_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(retrieve_request("1319876549"), settings)


def test_retrieve_by_our_id_prefers_the_paid_payment(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """Checkout Pro lets the buyer try again: the attempt that took the money wins."""
    result = processor.retrieve(retrieve_request(), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1319876581"


def test_retrieve_by_our_id_newest_attempt(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.retrieve(retrieve_request(), settings)

    assert result.outcome is Outcome.FAILED
    assert result.processor_reference == "1319876591"
    assert result.failure is not None
    assert result.failure.code == "call_issuer"


def test_retrieve_partially_refunded(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.retrieve(retrieve_request("1319876541"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.refunded == Money("234.56", "MXN")
    assert result.processor_status == "approved/partially_refunded"


def test_retrieve_unpaid_preference_is_pending(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """No payment yet, but an open preference: the buyer may still pay, so it stays open."""
    result = processor.retrieve(retrieve_request(), settings)

    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.url is not None
    assert "pref_id=" in result.next_action.url


def test_retrieve_expired_preference_fails(
    processor: Processor, settings: Any, cassette: Cassette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "_now", lambda: datetime(2024, 5, 20, 18, 0, tzinfo=UTC))
    result = processor.retrieve(retrieve_request(), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "expired"


def test_retrieve_never_reached_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """Neither a payment nor a preference: the charge never reached Mercado Pago."""
    with pytest.raises(ProcessorPaymentNotFound):
        processor.retrieve(retrieve_request(), settings)


def test_retrieve_server_error_is_unavailable(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorUnavailable):
        processor.retrieve(retrieve_request("1319876541"), settings)


def test_retrieve_invalid_access_token_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorMisconfigured):
        processor.retrieve(retrieve_request(), settings)
