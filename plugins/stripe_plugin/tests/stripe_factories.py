"""Requests as the core builds them, and Stripe events signed as Stripe signs them."""

from __future__ import annotations

import json
import time
from typing import Any

import stripe

from b2bgateway import (
    ChargeRequest,
    CustomerRef,
    Money,
    RefundRequest,
    RetrieveRequest,
    WebhookRequest,
)

MERCHANT = "acme"
PAYMENT = "pay_01"
RETURN_URL = "https://portal.example.com/pagos/pay_01/regreso"


def charge_request(**overrides: Any) -> ChargeRequest:
    values: dict[str, Any] = {
        "payment_id": PAYMENT,
        "merchant_id": MERCHANT,
        "amount": Money("1500.00", "MXN"),
        "customer": CustomerRef("C-1", "Ferretería del Norte"),
        "description": "Pedido PED-77",
        "idempotency_key": f"{PAYMENT}:charge",
        "token": "pm_card_visa",
        "metadata": {"payment_id": PAYMENT, "customer_id": "C-1"},
    }
    values.update(overrides)
    return ChargeRequest(**values)


def retrieve_request(reference: str | None = None, payment_id: str = PAYMENT) -> RetrieveRequest:
    return RetrieveRequest(payment_id, MERCHANT, processor_reference=reference)


def refund_request(reference: str, amount: str = "500.00", **overrides: Any) -> RefundRequest:
    values: dict[str, Any] = {
        "refund_id": "re_01",
        "payment_id": PAYMENT,
        "merchant_id": MERCHANT,
        "processor_reference": reference,
        "amount": Money(amount, "MXN"),
        "idempotency_key": "re_01:refund",
    }
    values.update(overrides)
    return RefundRequest(**values)


def event(event_type: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """A snapshot event as Stripe delivers it (``object: event``, ``data.object``)."""
    return {
        "id": extra.pop("id", "evt_1QAcme0001"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": 1767225600,
        "data": {"object": obj},
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": "req_Acme0001", "idempotency_key": "pay_01:charge"},
        "type": event_type,
        **extra,
    }


def signed(
    body: dict[str, Any] | bytes,
    secret: str,
    *,
    timestamp: int | None = None,
    header: str | None = None,
) -> WebhookRequest:
    """The notification as the gateway receives it, signed with the SDK's own helper."""
    raw = body if isinstance(body, bytes) else json.dumps(body, indent=2).encode()
    if header is None:
        header = stripe.WebhookSignature.generate_signature_header(
            raw.decode(), secret, timestamp=timestamp or int(time.time())
        )
    headers = {"stripe-signature": header, "content-type": "application/json; charset=utf-8"}
    return WebhookRequest(merchant_id=MERCHANT, body=raw, headers=headers)
