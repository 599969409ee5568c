"""Mercado Pago's hook implementations: the only module with ``@hookimpl``.

Each maps the request, calls :mod:`~b2bgateway_mercadopago.client` and maps the answer with
:mod:`~b2bgateway_mercadopago.mapping`. Our ``payment_id`` is every payment's and preference's
``external_reference``; that is how a payment is found when we have no Mercado Pago id for it.

The hosted flow (Checkout Pro) creates a *preference*, which is not a payment: the charge has no
processor reference until the buyer pays. Retrieving it searches payments by our id, then, when
there is none yet, preferences: an open preference is still PENDING (with its redirect), an
expired one FAILED, and no preference at all means the charge never reached Mercado Pago. A
rejected payment made on a preference that is still open is one attempt (``final=False``): the
buyer may pay on the same page with another card, and the gateway payment ends on approval, the
preference's expiry or a cancel.

3-D Secure (``three_d_secure_mode = "optional"`` in the settings; Mercado Pago's default,
``not_supported``, decides without a challenge): a card payment the issuer challenges comes back
``pending`` / ``pending_challenge`` with ``three_ds_info`` (``external_resource_url``, ``creq``);
it is PENDING with a ``post_form`` next action (post ``creq`` to that URL), which the portal
posts into a frame on the payment's page. Its outcome arrives as the payment's notification
(``approved`` or ``rejected``), or reconciliation finds it; unanswered, it is cancelled at its
expiry.

SPEI (``bank_transfer``): a payment with ``payment_method_id`` ``clabe``. Mercado Pago's
documented answer carries no CLABE, only its page with the instructions: the next action is
``display_bank_transfer_instructions`` with that page as ``hosted_instructions_url``.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from b2bgateway import (
    Capabilities,
    ChargeRequest,
    ChargeResult,
    Failure,
    Outcome,
    ProcessorInfo,
    ProcessorPaymentNotFound,
    RefundRequest,
    RefundResult,
    RetrieveRequest,
    WebhookEvent,
    WebhookRequest,
    hookimpl,
)
from b2bgateway.interface import INSTALLMENT_COUNTS
from b2bgateway_mercadopago import (
    bodies,
    client,
    lookups,
    mapping,
    notifications,
    refund_lookup,
)
from b2bgateway_mercadopago.settings import MERCADOPAGO_CURRENCIES, MercadoPagoSettings

log = logging.getLogger(__name__)

CAPABILITIES = Capabilities(
    currencies=MERCADOPAGO_CURRENCIES,
    token_charge=True,
    hosted_checkout=True,
    partial_refund=True,
    three_d_secure=True,
    requires_webhook_secret=True,
    payment_methods=frozenset({"card", "cash", "bank_transfer"}),
    # MSI: Mercado Pago México's meses sin intereses; which the buyer sees depends on the
    # merchant's promotions at Mercado Pago and on what the merchant offers in the gateway.
    installments=INSTALLMENT_COUNTS,
    # Mercado Pago's payment needs `payer.email` for a card token and a ticket (cash); its
    # Checkout Pro page asks the buyer itself. Refused by the core with a 422 before any call.
    required={
        "card_token": frozenset({"customer.email"}),
        "cash": frozenset({"customer.email"}),
        "bank_transfer": frozenset({"customer.email"}),
    },
)
#: Payments Mercado Pago lets us cancel (``PUT status=cancelled``).
CANCELLABLE = frozenset({"pending", "in_process", "authorized"})


def _now() -> datetime:
    return datetime.now(UTC)


@hookimpl
def b2bgateway_processor_info() -> ProcessorInfo:
    """Mercado Pago México: card tokens (Checkout API, MSI, 3-D Secure), Checkout Pro, cash
    vouchers and SPEI transfers;
    :class:`MercadoPagoSettings`."""
    return ProcessorInfo(
        display_name="Mercado Pago",
        settings_model=MercadoPagoSettings,
        capabilities=CAPABILITIES,
        documentation_url="https://www.mercadopago.com.mx/developers/en/reference",
    )


@hookimpl
def b2bgateway_create_charge(request: ChargeRequest, settings: MercadoPagoSettings) -> ChargeResult:
    """Charge a card token or make a cash voucher (``POST /v1/payments``), or create a Checkout
    Pro preference (a card payment without a token)."""
    if request.amount.currency != settings.currency:
        failure = Failure(
            "currency_not_supported",
            f"Esta cuenta de Mercado Pago cobra en {settings.currency}.",
            processor_message=f"the account charges {settings.currency} only",
        )
        return ChargeResult(Outcome.FAILED, failure=failure)
    mp = lookups.for_settings(settings)
    try:
        if request.payment_method == "cash":
            body = bodies.cash_body(request, settings)
        elif request.payment_method == "bank_transfer":
            body = bodies.transfer_body(request, settings)
        elif request.token is None:
            body = bodies.preference_body(request, settings, _now())
            with mapping.translated_errors(writes=True):
                preference = mp.create_preference(body, request.idempotency_key)
            return mapping.checkout_result(preference, sandbox=settings.use_sandbox_init_point)
        else:
            body = bodies.payment_body(request, settings)
        with mapping.translated_errors(writes=True):
            payment = mp.create_payment(body, request.idempotency_key, request.device_session_id)
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
    """The payment by its id, else by our id; else the preference still waiting to be paid. A
    failed payment is weighed against the other attempts made for our id (Checkout Pro lets the
    buyer try again) and against its preference (still open: the failure is one attempt)."""
    mp = lookups.for_settings(settings)
    now = _now()
    with lookups.reading():
        payment = lookups.current_payment(
            mp, reference=request.processor_reference, payment_id=request.payment_id
        )
        if payment is not None:
            attempt_open = lookups.attempt_may_retry(mp, payment, now)
            return mapping.charge_result(payment, attempt_open=attempt_open)
        preference = mapping.newest(mp.search_preferences(request.payment_id))
        if preference is None:
            raise ProcessorPaymentNotFound(
                f"Mercado Pago has no payment or preference for {request.payment_id}"
            )
        if lookups.is_expired(preference, now):
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
    """Cancel a pending payment, or close the Checkout Pro preference nobody paid on (no payment
    yet, or only rejected attempts: it would take another one); None if we cannot."""
    mp = lookups.for_settings(settings)
    with lookups.reading():
        payment = lookups.current_payment(
            mp, reference=request.processor_reference, payment_id=request.payment_id
        )
    if payment is None or payment.get("status") in lookups.FAILED:
        closing = lookups.expire_checkout(mp, request.payment_id, _now(), required=payment is None)
        if not closing:
            return None
        with lookups.reading():  # a payment may have started just before the preference closed
            payment = lookups.current_payment(
                mp, reference=request.processor_reference, payment_id=request.payment_id
            )
        if payment is None or payment.get("status") in lookups.FAILED:
            last = "" if payment is None else f"last attempt {payment['id']}: "
            failure = Failure(
                "canceled",
                "El pago se canceló.",
                processor_code="preference_expired",
                processor_message=last + mapping.status_of(payment),
            )
            return ChargeResult(Outcome.FAILED, failure=failure, processor_status="preference")
    if payment.get("status") not in CANCELLABLE:
        return mapping.charge_result(payment)  # already final: paid
    try:
        with mapping.translated_errors(writes=True):
            payment = mp.cancel_payment(str(payment["id"]), f"{request.payment_id}:cancel")
    except (mapping.OutcomeUnknown, client.ApiError) as exc:
        log.warning("payment %s: Mercado Pago did not cancel it: %s", request.payment_id, exc)
        return None
    return mapping.charge_result(payment)


@hookimpl
def b2bgateway_refund(request: RefundRequest, settings: MercadoPagoSettings) -> RefundResult:
    """``POST /v1/payments/{id}/refunds`` with the amount (always: "refund the rest" sends what
    is left by our books, explicitly)."""
    return _refund(request, settings)


@hookimpl
def b2bgateway_retrieve_refund(
    request: RefundRequest, settings: MercadoPagoSettings
) -> RefundResult:
    """A refund whose answer was lost: looked for among the payment's refunds first
    (``GET /v1/payments/{id}/refunds``, see :mod:`~b2bgateway_mercadopago.refund_lookup`). One
    of our amount made since we asked is ours. None: sent again with the same idempotency key,
    but only within ``refund_resend_minutes`` of the first ask (Mercado Pago documents no
    lifetime for a key: a key it forgot would refund twice); later, UNKNOWN with an ALERT, and
    the gateway keeps it pending. Several that could be ours: UNKNOWN with an ALERT."""
    mp = lookups.for_settings(settings)
    reference = _payment_reference(mp, request)
    if reference is None:
        failure = Failure("payment_not_found", "Mercado Pago no encuentra el pago.")
        return RefundResult(Outcome.FAILED, failure=failure)
    with lookups.reading():
        found = refund_lookup.candidates(mp.list_refunds(reference), request)
    if len(found) == 1:
        return mapping.refund_result(found[0], request)
    if found:
        log.error(
            "ALERT refund %s: Mercado Pago lists %d refunds of %s on payment %s since it was "
            "asked (%s): which is ours cannot be told; check them at Mercado Pago",
            request.refund_id,
            len(found),
            request.amount,
            reference,
            ", ".join(str(item.get("id")) for item in found),
        )
        return RefundResult(Outcome.UNKNOWN)
    window = timedelta(minutes=settings.refund_resend_minutes)
    if not refund_lookup.may_resend(request, _now(), window):
        log.error(
            "ALERT refund %s: Mercado Pago lists no refund of %s on payment %s, asked at %s: "
            "not sent again (its idempotency key may be forgotten, a second one could refund "
            "twice); check it at Mercado Pago",
            request.refund_id,
            request.amount,
            reference,
            request.requested_at,
        )
        return RefundResult(Outcome.UNKNOWN)
    return _send_refund(mp, reference, request)


def _payment_reference(mp: client.MercadoPago, request: RefundRequest) -> str | None:
    """The Mercado Pago id of the payment to refund; found by our id when the gateway never
    learnt it (None: there is no such payment)."""
    if mapping.is_payment_id(request.processor_reference):
        return request.processor_reference
    with lookups.reading():
        found = lookups.find_payment(mp, reference=None, payment_id=request.payment_id)
    return None if found is None else str(found["id"])


def _refund(request: RefundRequest, settings: MercadoPagoSettings) -> RefundResult:
    mp = lookups.for_settings(settings)
    reference = _payment_reference(mp, request)
    if reference is None:
        failure = Failure("payment_not_found", "Mercado Pago no encuentra el pago.")
        return RefundResult(Outcome.FAILED, failure=failure)
    return _send_refund(mp, reference, request)


def _send_refund(mp: client.MercadoPago, reference: str, request: RefundRequest) -> RefundResult:
    try:
        with mapping.translated_errors(writes=True):
            refund = mp.create_refund(reference, request.amount.amount, request.idempotency_key)
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
    return mapping.refund_result(refund, request)


@hookimpl
def b2bgateway_parse_webhook(
    request: WebhookRequest, settings: MercadoPagoSettings
) -> WebhookEvent:
    """Verify ``x-signature``, then re-fetch what the notification is about (a payment, a
    chargeback): the event says what Mercado Pago says now, not what the notification claimed.
    Other topics are acknowledged as ignored."""
    return notifications.parse(request, settings, _now())
