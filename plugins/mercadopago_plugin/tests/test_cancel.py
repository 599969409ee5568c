"""Cancelling what the customer never finished (reconciliation's expiry)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import PAYMENT_ID, Sent, retrieve_request
from vcr.cassette import Cassette

from b2bgateway import Outcome
from b2bgateway.plugins import Processor
from b2bgateway_mercadopago import hooks


def test_cancel_pending_voucher(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    result = processor.cancel(retrieve_request(), settings)

    assert result is not None
    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "canceled"
    assert json.loads(sent[1].body) == {"status": "cancelled"}
    assert sent[1].headers["x-idempotency-key"] == f"{PAYMENT_ID}:cancel"


def test_cancel_paid_payment_reports_success(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.cancel(retrieve_request(), settings)

    assert result is not None
    assert result.outcome is Outcome.SUCCEEDED


def test_cancel_unpaid_preference_expires_it(
    processor: Processor, settings: Any, cassette: Cassette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "_now", lambda: datetime(2024, 5, 20, 18, 14, tzinfo=UTC))
    result = processor.cancel(retrieve_request(), settings)

    assert result is not None
    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "canceled"


def test_cancel_refused_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """Mercado Pago would not cancel it: None, so the gateway keeps the payment open."""
    assert processor.cancel(retrieve_request("1319876601"), settings) is None


def test_cancel_closes_the_preference_after_rejected_attempts(
    processor: Processor, settings: Any, cassette: Cassette, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only rejected attempts so far, and the page still open: it is closed first (a payment
    after the gateway gave up would be a late success), then the payment is canceled."""
    monkeypatch.setattr(hooks, "_now", lambda: datetime(2024, 5, 20, 18, 0, tzinfo=UTC))
    result = processor.cancel(retrieve_request(), settings)

    assert result is not None
    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "canceled"
    assert result.failure.processor_message == (
        "last attempt 1319876701: rejected/cc_rejected_insufficient_amount"
    )
