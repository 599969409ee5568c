"""Webhooks notifications: ``x-signature`` verified, then the payment re-fetched.

Signatures are computed here from the documented manifest
``id:{data.id};request-id:{x-request-id};ts:{ts};``; the re-fetch (``GET /v1/payments/{id}``)
is replayed from ``cassettes/test_webhooks/``. Inbound notifications need no cassette.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from helpers import PAYMENT_ID, WEBHOOK_SECRET
from vcr.cassette import Cassette

from b2bgateway import (
    DisputeStatus,
    EventKind,
    Money,
    Outcome,
    ProcessorMisconfigured,
    ProcessorPaymentNotFound,
    WebhookMalformed,
    WebhookRequest,
    WebhookSignatureInvalid,
)
from b2bgateway.plugins import Processor

NOW = datetime(2024, 5, 20, 16, 30, tzinfo=UTC)
REQUEST_ID = "bb56a2f1-6aae-46ac-982e-9dcd3581d08e"


def x_signature(secret: str, manifest: str, ts: str) -> str:
    digest = hmac.new(secret.encode(), manifest.encode(), hashlib.sha256).hexdigest()
    return f"ts={ts},v1={digest}"


def notification(
    data_id: str = "1319876541",
    *,
    topic: str = "payment",
    action: str = "payment.updated",
    secret: str = WEBHOOK_SECRET,
    ts: str | None = None,
    signed_id: str | None = None,
    request_id: str | None = REQUEST_ID,
    body: bytes | None = None,
) -> WebhookRequest:
    """A notification as Mercado Pago delivers it: ``POST <url>?data.id=...&type=...``."""
    ts = ts or str(int(NOW.timestamp()))
    signed = data_id if signed_id is None else signed_id
    manifest = f"id:{signed};" + (f"request-id:{request_id};" if request_id else "") + f"ts:{ts};"
    headers = {"x-signature": x_signature(secret, manifest, ts), "content-type": "application/json"}
    if request_id:
        headers["x-request-id"] = request_id
    payload = {
        "id": 114843226051,
        "live_mode": False,
        "type": topic,
        "date_created": "2024-05-20T10:30:00Z",
        "user_id": 1234567890,
        "api_version": "v1",
        "action": action,
        "data": {"id": data_id},
    }
    return WebhookRequest(
        merchant_id="acme",
        body=json.dumps(payload).encode() if body is None else body,
        headers=headers,
        query={"data.id": data_id, "type": topic},
        received_at=NOW,
    )


def test_payment_approved_notification(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(notification(), settings)

    assert event.kind is EventKind.PAYMENT
    assert event.outcome is Outcome.SUCCEEDED  # what Mercado Pago says now, re-fetched
    assert event.payment_id == PAYMENT_ID
    assert event.processor_reference == "1319876541"
    assert event.amount == Money("1234.56", "MXN")
    assert event.event_id == "payment:1319876541:approved:accredited@2024-05-20T10:15:00.000-06:00"
    assert event.event_type == "payment.updated"


def test_millisecond_timestamp_is_accepted(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    ts = str(int(NOW.timestamp() * 1000) - 1500)
    event = processor.parse_webhook(notification(ts=ts), settings)

    assert event.outcome is Outcome.SUCCEEDED


def test_payment_rejected_notification(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    event = processor.parse_webhook(notification("1319876551", action="payment.created"), settings)

    assert event.outcome is Outcome.FAILED
    assert event.failure is not None
    assert event.failure.code == "insufficient_funds"


def test_status_change_is_a_new_event(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """The event id is the payment's state: redelivered it is one event, changed a new one."""
    ids = [processor.parse_webhook(notification("1319876561"), settings) for _ in range(3)]

    assert ids[0].outcome is Outcome.PENDING
    assert ids[1].outcome is Outcome.SUCCEEDED
    assert ids[0].event_id != ids[1].event_id
    assert ids[1].event_id == ids[2].event_id


def test_refund_notification(processor: Processor, settings: Any, cassette: Cassette) -> None:
    event = processor.parse_webhook(notification(), settings)

    assert event.kind is EventKind.REFUND
    assert event.outcome is Outcome.SUCCEEDED
    assert event.refund_reference == "1009876551"
    assert event.amount == Money("1234.56", "MXN")
    assert event.refunded == Money("1234.56", "MXN")
    assert event.payment_id == PAYMENT_ID


def test_chargeback_notification(processor: Processor, settings: Any, cassette: Cassette) -> None:
    event = processor.parse_webhook(notification(), settings)

    assert event.kind is EventKind.DISPUTE
    assert event.processor_reference == "1319876541"
    # charged_back/reimbursed: Mercado Pago covered the chargeback, the merchant keeps the money
    assert event.dispute is not None
    assert event.dispute.status is DisputeStatus.WON


def test_merchant_order_is_ignored(processor: Processor, settings: Any) -> None:
    request = notification("9876543210", topic="merchant_order", action="merchant_order.updated")
    event = processor.parse_webhook(request, settings)

    assert event.kind is EventKind.IGNORED
    assert event.event_id == "merchant_order:9876543210:114843226051"


def test_alphanumeric_data_id_is_lowercased(processor: Processor, settings: Any) -> None:
    """Orders ids are alphanumeric: the manifest has them lower-cased."""
    data_id = "ORD01JQ4S4KY8HWQ6NA5PXB65B3D3"
    request = notification(data_id, topic="order", signed_id=data_id.lower())

    assert processor.parse_webhook(request, settings).kind is EventKind.IGNORED
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(notification(data_id, topic="order"), settings)


def test_absent_request_id_is_dropped_from_the_manifest(
    processor: Processor, settings: Any
) -> None:
    request = notification("9876543210", topic="merchant_order", request_id=None)

    assert processor.parse_webhook(request, settings).kind is EventKind.IGNORED


def test_tampered_data_id_is_refused(processor: Processor, settings: Any) -> None:
    request = notification("1319876542", signed_id="1319876541")

    with pytest.raises(WebhookSignatureInvalid, match="does not match"):
        processor.parse_webhook(request, settings)


def test_wrong_secret_is_refused(processor: Processor, settings: Any) -> None:
    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(notification(secret="whsec_someone_else_123"), settings)


@pytest.mark.parametrize(("offset", "match"), [(301, "future"), (-3 * 86400 - 1, "too old")])
def test_stale_or_future_timestamp_is_refused(
    processor: Processor, settings: Any, offset: int, match: str
) -> None:
    ts = str(int(NOW.timestamp()) + offset)

    with pytest.raises(WebhookSignatureInvalid, match=match):
        processor.parse_webhook(notification(ts=ts), settings)


def test_stale_millisecond_timestamp_is_refused(processor: Processor, settings: Any) -> None:
    ts = str(int(NOW.timestamp() * 1000) - (3 * 86400 + 1) * 1000)

    with pytest.raises(WebhookSignatureInvalid, match="too old"):
        processor.parse_webhook(notification(ts=ts), settings)


def test_a_redelivery_hours_later_with_the_same_ts_is_accepted(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    """Our endpoint was down: Mercado Pago's redelivery (same signed ts, every ~15 minutes)
    still counts, and the payment is re-fetched, so it says what is true now."""
    ts = str(int(NOW.timestamp()) - 5 * 3600)

    event = processor.parse_webhook(notification(ts=ts), settings)

    assert event.outcome is Outcome.SUCCEEDED


@pytest.mark.parametrize("header", ["", "v1=abcdef", "ts=1716222600", "ts=soon,v1=abcdef"])
def test_malformed_signature_is_refused(processor: Processor, settings: Any, header: str) -> None:
    request = notification()
    forged = WebhookRequest(
        merchant_id="acme",
        body=request.body,
        headers={**request.headers, "x-signature": header},
        query=request.query,
        received_at=NOW,
    )

    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(forged, settings)


def test_unsigned_notification_is_refused(processor: Processor, settings: Any) -> None:
    """Legacy IPN (``?topic=payment&id=...``) is not signed: refused, never acted on."""
    request = WebhookRequest(
        merchant_id="acme",
        body=b'{"resource": "1319876541", "topic": "payment"}',
        headers={},
        query={"topic": "payment", "id": "1319876541"},
        received_at=NOW,
    )

    with pytest.raises(WebhookSignatureInvalid):
        processor.parse_webhook(request, settings)


def test_body_not_json_is_malformed(processor: Processor, settings: Any) -> None:
    with pytest.raises(WebhookMalformed):
        processor.parse_webhook(notification(body=b"<html>"), settings)


def test_refetch_invalid_access_token_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorMisconfigured):
        processor.parse_webhook(notification(), settings)


def test_refetch_not_found_error_response(
    processor: Processor, settings: Any, cassette: Cassette
) -> None:
    with pytest.raises(ProcessorPaymentNotFound):
        processor.parse_webhook(notification("1319876549"), settings)


def test_payment_id_must_be_ascii_digits(processor: Processor, settings: Any) -> None:
    with pytest.raises(WebhookMalformed):
        # Full-width digits: str.isdigit() says yes, Mercado Pago's ids are ASCII.
        processor.parse_webhook(notification("\uff11\uff13\uff11\uff19"), settings)
