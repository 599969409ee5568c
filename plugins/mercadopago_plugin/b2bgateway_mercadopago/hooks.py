"""Mercado Pago's hook implementations: the only module with ``@hookimpl``.

Each maps the request, calls :mod:`~b2bgateway_mercadopago.client` and maps the answer with
:mod:`~b2bgateway_mercadopago.mapping`. Our ``payment_id`` is every payment's and preference's
``external_reference``; that is how a payment is found when we have no Mercado Pago id for it.

The hosted flow (Checkout Pro) creates a *preference*, which is not a payment: the charge has no
processor reference until the buyer pays. Retrieving it searches payments by our id, then, when
there is none yet, preferences: an open preference is still PENDING (with its redirect), an
expired one FAILED, and no preference at all means the charge never reached Mercado Pago.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

from b2bgateway import (
    Capabilities,
    ChargeRequest,
    ChargeResult,
    EventKind,
    Failure,
    InvalidAmount,
    Outcome,
    ProcessorInfo,
    ProcessorPaymentNotFound,
    RefundRequest,
    RefundResult,
    RetrieveRequest,
    WebhookEvent,
    WebhookMalformed,
    WebhookRequest,
    hookimpl,
)
from b2bgateway_mercadopago import bodies, client, lookups, mapping, signature
from b2bgateway_mercadopago.settings import MERCADOPAGO_CURRENCIES, MercadoPagoSettings

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    currencies=MERCADOPAGO_CURRENCIES,
    token_charge=True,
    hosted_checkout=True,
    partial_refund=True,
    three_d_secure=False,
    requires_webhook_secret=True,
)
#: Payments Mercado Pago lets us cancel (``PUT status=cancelled``).
CANCELLABLE = frozenset({"pending", "in_process", "authorized"})


def _now() -> datetime:
    return datetime.now(UTC)


@hookimpl
def b2bgateway_processor_info() -> ProcessorInfo:
    """Mercado Pago: card tokens (Checkout API) and Checkout Pro; :class:`MercadoPagoSettings`."""
    return ProcessorInfo(
        display_name="Mercado Pago",
        settings_model=MercadoPagoSettings,
        capabilities=CAPABILITIES,
        documentation_url="https://www.mercadopago.com.mx/developers/en/reference",
    )


@hookimpl
def b2bgateway_create_charge(request: ChargeRequest, settings: MercadoPagoSettings) -> ChargeResult:
    """Charge a card token (``POST /v1/payments``), or create a Checkout Pro preference."""
    if request.amount.currency != settings.currency:
        failure = Failure(
            "currency_not_supported",
            f"Esta cuenta de Mercado Pago cobra en {settings.currency}.",
            processor_message=f"the account charges {settings.currency} only",
        )
        return ChargeResult(Outcome.FAILED, failure=failure)
    mp = lookups.for_settings(settings)
    try:
        if request.token is None:
            body = bodies.preference_body(request, settings, _now())
            with mapping.translated_errors(writes=True):
                preference = mp.create_preference(body, request.idempotency_key)
            return mapping.checkout_result(preference, sandbox=settings.use_sandbox_init_point)
        body = bodies.payment_body(request, settings)
        with mapping.translated_errors(writes=True):
            payment = mp.create_payment(body, request.idempotency_key)
    except bodies.Refused as refused:
        return ChargeResult(Outcome.FAILED, failure=refused.failure)
    except mapping.OutcomeUnknown as exc:  # sent, no answer: reconciliation finds it by our id
        log.warning("payment %s: Mercado Pago outcome unknown: %s", request.payment_id, exc)
        return ChargeResult(Outcome.UNKNOWN)
    except client.ApiError as exc:  # refused outright (HTTP 4xx): nothing was created
        return ChargeResult(Outcome.FAILED, failure=mapping.request_failure(exc))
    return mapping.charge_result(payment)


@hookimpl
def b2bgateway_retrieve_payment(
    request: RetrieveRequest, settings: MercadoPagoSettings
) -> ChargeResult:
    """The payment by its id, else by our id; else the preference still waiting to be paid."""
    mp = lookups.for_settings(settings)
    with lookups.reading():
        payment = lookups.find_payment(
            mp, reference=request.processor_reference, payment_id=request.payment_id
        )
        if payment is not None:
            return mapping.charge_result(payment)
        preference = mapping.newest(mp.search_preferences(request.payment_id))
        if preference is None:
            raise ProcessorPaymentNotFound(
                f"Mercado Pago has no payment or preference for {request.payment_id}"
            )
        if lookups.is_expired(preference, _now()):
            failure = Failure(
                "expired", "El pago no se completó a tiempo.", processor_code="preference_expired"
            )
            return ChargeResult(Outcome.FAILED, failure=failure, processor_status="preference")
        # The search leaves out init_point: read the preference itself.
        preference = mp.get_preference(str(preference["id"]))
        return mapping.checkout_result(preference, sandbox=settings.use_sandbox_init_point)


@hookimpl
def b2bgateway_cancel_payment(
    request: RetrieveRequest, settings: MercadoPagoSettings
) -> ChargeResult | None:
    """Cancel a pending payment, or close an unpaid Checkout Pro preference; None if we cannot."""
    mp = lookups.for_settings(settings)
    with lookups.reading():
        payment = lookups.find_payment(
            mp, reference=request.processor_reference, payment_id=request.payment_id
        )
    if payment is None:
        if not lookups.expire_checkout(mp, request.payment_id, _now()):
            return None
        with lookups.reading():  # a payment may have started just before the preference closed
            payment = lookups.find_payment(
                mp, reference=request.processor_reference, payment_id=request.payment_id
            )
        if payment is None:
            failure = Failure(
                "canceled", "El pago se canceló.", processor_code="preference_expired"
            )
            return ChargeResult(Outcome.FAILED, failure=failure, processor_status="preference")
    if payment.get("status") not in CANCELLABLE:
        return mapping.charge_result(payment)  # already final: paid, rejected or cancelled
    try:
        with mapping.translated_errors(writes=True):
            payment = mp.cancel_payment(str(payment["id"]), f"{request.payment_id}:cancel")
    except (mapping.OutcomeUnknown, client.ApiError) as exc:
        log.warning("payment %s: Mercado Pago did not cancel it: %s", request.payment_id, exc)
        return None
    return mapping.charge_result(payment)


@hookimpl
def b2bgateway_refund(request: RefundRequest, settings: MercadoPagoSettings) -> RefundResult:
    """``POST /v1/payments/{id}/refunds``: no body for everything left, else the amount."""
    mp = lookups.for_settings(settings)
    reference = request.processor_reference
    if not mapping.is_payment_id(reference):  # never learnt the payment's id: find it by ours
        with lookups.reading():
            found = lookups.find_payment(mp, reference=None, payment_id=request.payment_id)
        if found is None:
            failure = Failure("payment_not_found", "Mercado Pago no encuentra el pago.")
            return RefundResult(Outcome.FAILED, failure=failure)
        reference = str(found["id"])
    amount = None if request.full else request.amount.amount
    try:
        with mapping.translated_errors(writes=True):
            refund = mp.create_refund(reference, amount, request.idempotency_key)
    except mapping.OutcomeUnknown as exc:
        log.warning("refund %s: Mercado Pago outcome unknown: %s", request.refund_id, exc)
        return RefundResult(Outcome.UNKNOWN)
    except client.ApiError as exc:
        failure = Failure(
            "refund_refused",
            "Mercado Pago no aceptó el reembolso.",
            processor_code=exc.code,
            processor_message=exc.message,
        )
        return RefundResult(Outcome.FAILED, failure=failure)
    refunded = mapping.money(refund.get("amount"), request.amount.currency)
    if refunded is not None and refunded != request.amount:
        log.error(
            "ALERT refund %s: Mercado Pago refunded %s, we asked for %s",
            request.refund_id,
            refunded,
            request.amount,
        )
    status = str(refund.get("status") or "")
    outcome = mapping.REFUND_STATUS_MAP.get(status, Outcome.PENDING)
    declined = None
    if outcome is Outcome.FAILED:
        declined = Failure(
            "refund_refused", "Mercado Pago rechazó el reembolso.", processor_code=status
        )
    return RefundResult(outcome, processor_reference=str(refund["id"]), failure=declined)


@hookimpl
def b2bgateway_parse_webhook(
    request: WebhookRequest, settings: MercadoPagoSettings
) -> WebhookEvent:
    """Verify ``x-signature``, then re-fetch the payment: the event says what Mercado Pago says
    now, not what the notification claimed. Other topics are acknowledged as ignored."""
    signature.verify(
        request.headers,
        request.query,
        settings.webhook_secret.get_secret_value(),
        tolerance_seconds=settings.signature_tolerance_seconds,
        now=request.received_at,
    )
    try:
        body = json.loads(request.body or b"{}", parse_float=Decimal)
    except ValueError:
        raise WebhookMalformed("the notification body is not JSON") from None
    if not isinstance(body, dict):
        raise WebhookMalformed("the notification body is not a JSON object")
    data = body.get("data")
    data = data if isinstance(data, dict) else {}
    topic = str(request.query.get("type") or body.get("type") or body.get("topic") or "")
    data_id = str(request.query.get("data.id") or data.get("id") or "")
    action = str(body.get("action") or topic)
    if topic != "payment":  # merchant_order, order, plan, subscription...: nothing to do
        notification = body.get("id") or request.headers.get("x-request-id") or data_id
        event_id = f"{topic or 'unknown'}:{data_id}:{notification}"
        return WebhookEvent(event_id, EventKind.IGNORED, event_type=action)
    if not mapping.is_payment_id(data_id):
        raise WebhookMalformed("the payment notification names no payment id (data.id)")
    with lookups.reading():
        payment = lookups.find_payment(lookups.for_settings(settings), reference=data_id)
    if payment is None:  # cannot happen: by id, an unknown payment raises
        raise ProcessorPaymentNotFound(f"Mercado Pago has no payment {data_id}")
    try:
        return mapping.webhook_event(payment, action)
    except InvalidAmount as exc:
        raise WebhookMalformed(f"payment {data_id} has an amount we cannot read") from exc
