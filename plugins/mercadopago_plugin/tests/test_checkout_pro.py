"""The hosted flow: a Checkout Pro preference (cassettes in ``cassettes/test_checkout_pro/``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import PAYMENT_ID, RETURN_URL, WEBHOOK_URL, Sent, charge_request, settings_table
from vcr.cassette import Cassette

from b2bgateway import Outcome
from b2bgateway.plugins import Processor
from b2bgateway_mercadopago import hooks

PREFERENCE_ID = "1234567890-7a0f9f1e-9b5b-4c47-9a65-2d3e9c8f1a2b"


def test_hosted_checkout_creates_a_preference(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    result = processor.charge(charge_request(token=None), settings)

    assert result.outcome is Outcome.PENDING
    assert result.next_action is not None
    assert result.next_action.type == "redirect"
    assert result.next_action.url == (
        f"https://www.mercadopago.com.mx/checkout/v1/redirect?pref_id={PREFERENCE_ID}"
    )
    assert result.next_action.data == {"preference_id": PREFERENCE_ID}
    # A preference is not a payment: the charge gets its reference when the buyer pays.
    assert result.processor_reference is None
    body = json.loads(sent[0].body)
    assert body["external_reference"] == PAYMENT_ID
    assert body["notification_url"] == f"{WEBHOOK_URL}?source_news=webhooks"
    assert body["back_urls"] == {
        "success": RETURN_URL,
        "pending": RETURN_URL,
        "failure": RETURN_URL,
    }
    assert body["auto_return"] == "approved"
    assert body["items"][0]["unit_price"] == 1234.56
    assert body["items"][0]["currency_id"] == "MXN"
    assert sent[0].headers["x-idempotency-key"] == f"{PAYMENT_ID}:charge"


def test_hosted_checkout_with_expiration_and_sandbox_url(
    processor: Processor, cassette: Cassette, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hooks, "_now", lambda: datetime(2024, 5, 20, 16, 14, tzinfo=UTC))
    settings = processor.validate_settings(
        settings_table(checkout_expiration_minutes=60, use_sandbox_init_point=True)
    )
    result = processor.charge(charge_request(token=None), settings)

    assert result.next_action is not None
    assert result.next_action.url is not None
    assert result.next_action.url.startswith("https://sandbox.mercadopago.com.mx/")


def test_hosted_checkout_server_error_is_unknown(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """The preference may exist: reconciliation finds it (or its payment) by our id."""
    assert processor.charge(charge_request(token=None), settings).outcome is Outcome.UNKNOWN


def test_hosted_checkout_refused_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.charge(charge_request(token=None), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "processor_refused"
    assert result.failure.processor_code == "invalid_items"


def test_hosted_checkout_offers_the_msi_chosen(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    """MSI chosen in the portal: the page offers up to that many installments."""
    result = processor.charge(charge_request(token=None, installments=6), settings)

    assert result.outcome is Outcome.PENDING
    assert json.loads(sent[0].body)["payment_methods"] == {"installments": 6}
