"""Checkout Pro attempts: the buyer may pay again on the same preference after a rejection.

While the preference is open, a rejected payment is one attempt (``final=False``, its id the
attempt's reference, never the charge's); the gateway payment ends on approval, the
preference's expiry, or a cancel (cassettes in ``cassettes/test_attempts/``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import PAYMENT_ID, retrieve_request
from test_webhooks import notification
from vcr.cassette import Cassette

from b2bgateway import EventKind, Outcome
from b2bgateway.plugins import Processor
from b2bgateway_mercadopago import hooks


@pytest.fixture(autouse=True)
def _clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # After the preference's expiry in the expired cassette (17:14Z); the open one never expires.
    monkeypatch.setattr(hooks, "_now", lambda: datetime(2024, 5, 20, 18, 0, tzinfo=UTC))


def test_a_rejected_checkout_pro_payment_is_an_attempt_while_its_preference_is_open(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(notification("1319876701"), settings)

    assert event.kind is EventKind.PAYMENT
    assert event.outcome is Outcome.FAILED
    assert event.failure is not None
    assert event.failure.code == "insufficient_funds"
    assert event.final is False
    assert event.payment_id == PAYMENT_ID
    assert event.attempt_reference == "1319876701"
    assert event.processor_reference is None  # the attempt's id is not the charge's


def test_a_rejected_payment_after_the_preference_expired_is_final(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(notification("1319876701"), settings)

    assert event.outcome is Outcome.FAILED
    assert event.final is True
    assert event.processor_reference == "1319876701"


def test_the_approved_retry_is_the_charges_success(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(notification("1319876702"), settings)

    assert event.outcome is Outcome.SUCCEEDED
    assert event.processor_reference == event.attempt_reference == "1319876702"
    assert event.method_details is not None
    assert event.method_details.authorization_code == "301299"


def test_retrieving_a_rejected_reference_finds_the_approved_retry(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """Reconciliation asks by the reference it knows: a rejected attempt is weighed against the
    other payments made for our id, and the one that took the money wins."""
    result = processor.retrieve(retrieve_request("1319876701"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1319876702"


def test_the_newest_attempt_rejected_on_an_open_preference_keeps_the_charge_open(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.retrieve(retrieve_request(), settings)

    assert result.outcome is Outcome.FAILED
    assert result.final is False
    assert result.processor_reference is None
    assert result.attempt_reference == "1319876701"
