"""Card-token charges: ``POST /v1/payments`` (cassettes in ``cassettes/test_charges/``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import EMAIL, PAYMENT_ID, TOKEN, Sent, charge_request, settings_table
from pydantic import ValidationError
from vcr.cassette import Cassette

from b2bgateway import (
    CustomerRef,
    Money,
    Outcome,
    ProcessorMisconfigured,
)
from b2bgateway.plugins import Processor
from b2bgateway.testing import assert_method_conforms
from b2bgateway_mercadopago import hooks


def sent_json(sent: list[Sent], index: int = 0) -> Any:
    return json.loads(sent[index].body)


def test_charge_approved(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "1319876541"
    assert result.amount == Money("1234.56", "MXN")
    assert result.refunded == Money("0", "MXN")
    assert result.processor_status == "approved/accredited"
    request = sent[0]
    # One key per operation, ours, through the SDK's request options (not its random one).
    assert request.headers["x-idempotency-key"] == f"{PAYMENT_ID}:charge"
    body = sent_json(sent)
    assert body["external_reference"] == PAYMENT_ID
    assert body["payer"] == {"email": EMAIL}
    assert body["transaction_amount"] == 1234.56  # a JSON number, exact, made at the boundary


def test_charge_with_installments_and_issuer(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    """MSI are the core's typed count (checked against what the merchant offers); what the
    browser said about installments is not read."""
    details = {"payment_method_id": "visa", "installments": "12", "issuer_id": "160"}
    request = charge_request(browser_details=details, installments=3)
    result = processor.charge(request, settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert sent_json(sent)["installments"] == 3
    assert sent_json(sent)["issuer_id"] == 160


def test_charge_declined_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """A declined card is HTTP 201 with ``status: rejected``: a FAILED result, not an error."""
    expected = [
        (
            "3f1c0a9e6b2d4c8f9e7a1b2c3d4e5f01",
            "insufficient_funds",
            "cc_rejected_insufficient_amount",
        ),
        (
            "3f1c0a9e6b2d4c8f9e7a1b2c3d4e5f02",
            "invalid_card_data",
            "cc_rejected_bad_filled_security_code",
        ),
        ("3f1c0a9e6b2d4c8f9e7a1b2c3d4e5f03", "call_issuer", "cc_rejected_call_for_authorize"),
        ("3f1c0a9e6b2d4c8f9e7a1b2c3d4e5f04", "fraud_suspected", "cc_rejected_high_risk"),
        ("3f1c0a9e6b2d4c8f9e7a1b2c3d4e5f05", "card_declined", "cc_rejected_other_reason"),
    ]
    for token, code, detail in expected:
        result = processor.charge(charge_request(token=token), settings)

        assert result.outcome is Outcome.FAILED
        assert result.failure is not None
        assert (result.failure.code, result.failure.processor_code) == (code, detail)
        assert result.failure.message  # shown to the customer
        assert result.processor_reference is not None  # Mercado Pago keeps rejected payments


def test_charge_in_process_is_pending(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.PENDING
    assert result.next_action is None  # Mercado Pago is reviewing it: a webhook will settle it
    assert result.processor_reference == "1319876561"


def test_charge_invalid_access_token_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorMisconfigured, match="401"):
        processor.charge(charge_request(), settings)


def test_charge_invalid_card_token_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "invalid_payment_method"
    assert result.failure.processor_code == "3003"
    assert result.failure.processor_message == "Invalid card_token_id"


def test_charge_server_error_is_unknown(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """A 5xx after sending may have charged: UNKNOWN, for the core to reconcile by our id."""
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.UNKNOWN


def test_a_merchant_level_payer_email_is_no_setting(processor: Processor) -> None:
    """No fallback address: it may be the seller's own account, and Mercado Pago refuses a
    payment to oneself. A table that still has the key is refused at start-up."""
    with pytest.raises(ValidationError, match="payer_email"):
        processor.validate_settings(settings_table(payer_email="pagos@acme.example"))


def test_charge_without_payer_email_is_not_sent(
    processor: Processor, settings: Any, sent: list[Sent]
) -> None:
    request = charge_request(customer=CustomerRef("C-002", "Sin correo", None))
    result = processor.charge(request, settings)

    assert sent == []
    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "customer_email_required"


def test_charge_without_payment_method_is_not_sent(processor: Processor, settings: Any) -> None:
    """Mercado Pago needs the card's payment_method_id next to the token (from the browser)."""
    result = processor.charge(charge_request(browser_details={}), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "invalid_payment_method"


def test_charge_in_another_currency_is_not_sent(processor: Processor, settings: Any) -> None:
    result = processor.charge(charge_request(amount=Money("10.00", "USD")), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure is not None
    assert result.failure.code == "currency_not_supported"


def test_charge_reports_the_method_details_for_the_cfdi(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    result = processor.charge(charge_request(), settings)

    details = result.method_details
    assert details is not None
    assert (details.type, details.brand, details.last4, details.funding) == (
        "card",
        "visa",
        "3704",
        "credit",
    )
    assert details.installments == 1
    assert details.paid_at == datetime(2024, 5, 20, 16, 15, tzinfo=UTC)


def test_charge_sends_the_device_session_id(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    """MercadoPago.js's device id reaches Mercado Pago's fraud prevention as X-meli-session-id."""
    result = processor.charge(charge_request(device_session_id="armor.0a1b2c3d4e5f"), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert sent[0].headers["x-meli-session-id"] == "armor.0a1b2c3d4e5f"


def test_no_notification_url_to_a_webhook_url_that_is_not_https(
    processor: Processor, settings: Any, cassette: Cassette, sent: list[Sent]
) -> None:
    """Mercado Pago answers 400 to a notification_url that is not public https (the default
    public_url is http://127.0.0.1:8000): none is sent, the dashboard's Webhooks setting rules."""
    request = charge_request(webhook_url="http://127.0.0.1:8000/v1/webhooks/acme/mercadopago")
    result = processor.charge(request, settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert "notification_url" not in sent_json(sent)
    assert "x-meli-session-id" not in sent[0].headers


def test_a_card_in_msi_conforms(settings: Any, cassette: Cassette) -> None:
    result = assert_method_conforms(
        "mercadopago",
        hooks,
        settings,
        "card",
        token=TOKEN,
        installments=3,
        browser_details={"payment_method_id": "master"},
    )

    assert result.method_details is not None
    assert result.method_details.brand == "mastercard"
    assert result.method_details.installments == 3
