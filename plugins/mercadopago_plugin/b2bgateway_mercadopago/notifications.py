"""Webhooks notifications: verified (``x-signature``), then what they are about re-fetched.

Topics the gateway acts on:

- ``payment``: the payment (``GET /v1/payments/{id}``): its state, a refund, or a dispute its
  status tells of (``charged_back``, ``in_mediation``); a rejected payment whose Checkout Pro
  preference is still open is one attempt (``final=False``);
- ``topic_chargebacks_wh`` ("Chargebacks" / "Contracargos" in "Your integrations"): the
  chargeback (``GET /v1/chargebacks/{id}``) as a dispute of its payment; a chargeback without
  a ``status`` (the API reference's resource) is told by its payment, re-fetched;
- ``topic_claims_integration_wh`` ("Claims" / "Reclamos"): the claim (``GET
  /post-purchase/v1/claims/{id}``, Mercado Pago's Claims API); a claim about a payment
  (``resource: "payment"``, ``resource_id``) makes the plugin re-fetch that payment and report
  it as the ``payment`` topic does. The claim itself documents no winner (``status`` is only
  ``opened`` / ``closed``, ``resolution`` a reason and who closed it), so the dispute's state is
  the payment's: ``in_mediation`` open, then ``approved`` again won or ``refunded`` lost. A claim
  about anything else (an order, a shipment, a purchase) is acknowledged as ignored.

Anything else (``merchant_order``, ``order``, ...) is acknowledged as ignored.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from b2bgateway import (
    EventKind,
    InvalidAmount,
    ProcessorPaymentNotFound,
    WebhookEvent,
    WebhookMalformed,
    WebhookRequest,
)
from b2bgateway_mercadopago import client, disputes, lookups, mapping, signature
from b2bgateway_mercadopago.settings import MercadoPagoSettings

__all__ = ["CHARGEBACK_TOPICS", "CLAIM_TOPICS", "PAYMENT_TOPICS", "parse"]

PAYMENT_TOPICS = frozenset({"payment"})
#: ``topic_chargebacks_wh`` is what Mercado Pago sends (``chargebacks`` is its older name).
CHARGEBACK_TOPICS = frozenset({"topic_chargebacks_wh", "chargebacks"})
#: Claims ("Reclamos" in "Your integrations").
CLAIM_TOPICS = frozenset({"topic_claims_integration_wh"})


def _body(request: WebhookRequest) -> dict[str, Any]:
    try:
        body = json.loads(request.body or b"{}", parse_float=Decimal)
    except ValueError:
        raise WebhookMalformed("the notification body is not JSON") from None
    if not isinstance(body, dict):
        raise WebhookMalformed("the notification body is not a JSON object")
    return body


def parse(request: WebhookRequest, settings: MercadoPagoSettings, now: datetime) -> WebhookEvent:
    """The verified notification as an event (see the module's docstring)."""
    signature.verify(
        request.headers,
        request.query,
        settings.webhook_secret.get_secret_value(),
        tolerance_seconds=settings.signature_tolerance_seconds,
        max_age_seconds=settings.signature_max_age_seconds,
        now=request.received_at or now,
    )
    body = _body(request)
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    topic = str(request.query.get("type") or body.get("type") or body.get("topic") or "")
    data_id = str(request.query.get("data.id") or data.get("id") or "")
    actions = body.get("actions")  # chargebacks: ["changed_case_status"]
    first = actions[0] if isinstance(actions, list) and actions else None
    action = str(body.get("action") or first or topic)
    if topic in PAYMENT_TOPICS:
        return _payment(settings, data_id, action, now)
    if topic in CHARGEBACK_TOPICS:
        return _chargeback(settings, data_id, action)
    if topic in CLAIM_TOPICS:
        return _claim(settings, data_id, action, now)
    notification = body.get("id") or request.headers.get("x-request-id") or data_id
    event_id = f"{topic or 'unknown'}:{data_id}:{notification}"
    return WebhookEvent(event_id, EventKind.IGNORED, event_type=action)


def _payment(
    settings: MercadoPagoSettings, data_id: str, action: str, now: datetime
) -> WebhookEvent:
    if not mapping.is_payment_id(data_id):
        raise WebhookMalformed("the payment notification names no payment id (data.id)")
    mp = lookups.for_settings(settings)
    with lookups.reading():
        payment = lookups.find_payment(mp, reference=data_id)
        if payment is None:  # cannot happen: by id, an unknown payment raises
            raise ProcessorPaymentNotFound(f"Mercado Pago has no payment {data_id}")
        attempt_open = lookups.attempt_may_retry(mp, payment, now)
    try:
        return mapping.webhook_event(payment, action, attempt_open=attempt_open)
    except InvalidAmount as exc:
        raise WebhookMalformed(f"payment {data_id} has an amount we cannot read") from exc


def _chargeback(settings: MercadoPagoSettings, data_id: str, action: str) -> WebhookEvent:
    if not data_id or not data_id.isascii() or not data_id.isalnum():
        raise WebhookMalformed("the chargeback notification names no chargeback id (data.id)")
    mp = lookups.for_settings(settings)
    try:
        with mapping.translated_errors(writes=False):
            chargeback = mp.get_chargeback(data_id)
    except client.ApiError as exc:
        if exc.status in (400, 404):
            raise ProcessorPaymentNotFound(f"Mercado Pago has no chargeback {data_id}") from exc
        raise
    payment = None
    about = disputes.chargeback_payment(chargeback)
    if not chargeback.get("status") and about is not None:
        # The API reference's chargeback has no status: its payment's says where it stands.
        if not mapping.is_payment_id(str(about)):
            raise WebhookMalformed(f"chargeback {data_id} names no payment id we can read")
        with lookups.reading():
            payment = lookups.find_payment(mp, reference=str(about))
    try:
        return mapping.chargeback_event(chargeback, action, payment)
    except InvalidAmount as exc:
        raise WebhookMalformed(f"chargeback {data_id} has an amount we cannot read") from exc
    except ValueError as exc:
        raise WebhookMalformed(f"chargeback {data_id}: {exc}") from exc


def _claim(settings: MercadoPagoSettings, data_id: str, action: str, now: datetime) -> WebhookEvent:
    if not data_id or not data_id.isascii() or not data_id.isdigit():
        raise WebhookMalformed("the claim notification names no claim id (data.id)")
    mp = lookups.for_settings(settings)
    try:
        with mapping.translated_errors(writes=False):
            claim = mp.get_claim(data_id)
    except client.ApiError as exc:
        if exc.status in (400, 404):
            raise ProcessorPaymentNotFound(f"Mercado Pago has no claim {data_id}") from exc
        raise
    resource_id = str(claim.get("resource_id") or "")
    if claim.get("resource") == "payment" and mapping.is_payment_id(resource_id):
        return _payment(settings, resource_id, action, now)
    state = f"{claim.get('status') or ''}:{claim.get('stage') or ''}"
    return WebhookEvent(f"claim:{data_id}:{state}", EventKind.IGNORED, event_type=action)
