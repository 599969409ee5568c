"""The Stripe plugin's hook implementations: the only module with ``@hookimpl``.

Each implementation maps the request to Stripe's parameters, calls the merchant's client
(:mod:`b2bgateway_stripe.client`) and maps the answer (:mod:`b2bgateway_stripe.mapping`). Our
payment id travels in every object's ``metadata`` and the core's per-operation key is Stripe's
``Idempotency-Key``, so a retried charge or refund is never made twice.
"""

from __future__ import annotations

import stripe

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
    WebhookMalformed,
    WebhookRequest,
    WebhookSignatureInvalid,
    hookimpl,
)
from b2bgateway_stripe import client, events, mapping, params, pending
from b2bgateway_stripe.settings import StripeSettings

CAPABILITIES = Capabilities(
    currencies=frozenset({"MXN", "USD"}),
    token_charge=True,
    hosted_checkout=True,
    partial_refund=True,
    three_d_secure=True,
    requires_webhook_secret=True,
    # OXXO vouchers and SPEI transfers (customer_balance, mx_bank_transfer) are MXN only.
    payment_methods=frozenset({"card", "cash", "bank_transfer"}),
    installments=frozenset({3, 6, 9, 12, 18, 24}),
    # Refused by the core with a 422 before the payment exists: Checkout needs a success_url,
    # an OXXO voucher the customer's email (billing_details[email]). The checks below stay for
    # a caller that skips the core.
    required={
        "card_hosted": frozenset({"return_url"}),
        "cash": frozenset({"customer.email"}),
    },
)
#: Methods Stripe takes in MXN only.
_MXN_ONLY = frozenset({"cash", "bank_transfer"})
#: Seconds a signed notification stays acceptable (Stripe's own default).
WEBHOOK_TOLERANCE = 300


def _find(api: client.StripeApi, payment_id: str) -> client.Data | None:
    """Our payment's PaymentIntent, found by the ``metadata[payment_id]`` we sent."""
    found = api.find_payment_intents("payment_id", payment_id)
    succeeded = [intent for intent in found if intent.get("status") == "succeeded"]
    return max(succeeded or found, key=lambda intent: intent.get("created") or 0, default=None)


def _intent_id(api: client.StripeApi, reference: str) -> str | None:
    """The PaymentIntent behind a reference: itself, or a Checkout Session's (None if unpaid)."""
    if reference.startswith("cs_"):
        return mapping.object_id(api.retrieve_checkout_session(reference).get("payment_intent"))
    return reference


@hookimpl
def b2bgateway_processor_info() -> ProcessorInfo:
    """Stripe: token charges (PaymentIntents), hosted Checkout, 3-D Secure, partial refunds."""
    return ProcessorInfo(
        display_name="Stripe",
        settings_model=StripeSettings,
        capabilities=CAPABILITIES,
        documentation_url="https://docs.stripe.com/payments/payment-intents",
    )


@hookimpl
def b2bgateway_create_charge(request: ChargeRequest, settings: StripeSettings) -> ChargeResult:
    """Confirm a PaymentIntent with the browser's PaymentMethod, or open a Checkout Session."""
    currency = request.amount.currency
    if currency not in CAPABILITIES.currencies or (
        request.payment_method in _MXN_ONLY and currency != "MXN"
    ):
        failure = Failure("currency_not_supported", "Stripe no acepta esa moneda.", currency)
        return ChargeResult(Outcome.FAILED, failure=failure)
    api = client.for_merchant(settings)
    if request.payment_method == "cash":
        return pending.cash_voucher(api, request, settings)
    if request.payment_method == "bank_transfer":
        return pending.bank_transfer(api, request, settings)
    if request.token is None:
        return _checkout(api, request, settings)
    token, key = request.token, request.idempotency_key
    if not token.startswith("pm_"):  # nothing to send: Stripe would refuse it
        failure = Failure(
            "invalid_payment_method",
            "El método de pago no es válido.",
            "not_a_payment_method",
            "Stripe charges PaymentMethods (pm_...) made by Stripe.js",
        )
        return ChargeResult(Outcome.FAILED, failure=failure)
    try:
        intent = api.create_payment_intent(params.payment_intent(request, token), key)
    except stripe.StripeError as exc:
        return mapping.charge_error(exc, request.merchant_id, api.sdk_retries)
    return mapping.intent_result(intent, settings.publishable_key)


def _checkout(
    api: client.StripeApi, request: ChargeRequest, settings: StripeSettings
) -> ChargeResult:
    if not request.return_url:
        failure = Failure(
            "return_url_required",
            "Falta la dirección a la que vuelve el cliente después de pagar.",
            "success_url",
            "Stripe Checkout needs a success_url: send return_url with the payment",
        )
        return ChargeResult(Outcome.FAILED, failure=failure)
    try:
        session = api.create_checkout_session(
            params.checkout_session(request, request.return_url), request.idempotency_key
        )
    except stripe.StripeError as exc:
        return mapping.charge_error(exc, request.merchant_id, api.sdk_retries)
    return mapping.session_result(session, settings.publishable_key)


@hookimpl
def b2bgateway_retrieve_payment(request: RetrieveRequest, settings: StripeSettings) -> ChargeResult:
    """The PaymentIntent or Checkout Session by reference, or the PaymentIntent by our id."""
    api = client.for_merchant(settings)
    reference = request.processor_reference
    with mapping.read_errors(request.merchant_id, f"payment {reference or request.payment_id}"):
        if reference and reference.startswith("cs_"):
            session = api.retrieve_checkout_session(reference)
            return mapping.session_result(session, settings.publishable_key)
        intent = (
            api.retrieve_payment_intent(reference) if reference else _find(api, request.payment_id)
        )
    if intent is None:
        raise ProcessorPaymentNotFound(
            f"Stripe has no PaymentIntent for payment {request.payment_id}"
        )
    return mapping.intent_result(intent, settings.publishable_key)


@hookimpl
def b2bgateway_cancel_payment(request: RetrieveRequest, settings: StripeSettings) -> ChargeResult:
    """Cancel an unfinished PaymentIntent, or expire an open Checkout Session; a payment that
    finished meanwhile is reported as it stands."""
    api = client.for_merchant(settings)
    reference = request.processor_reference
    key = f"{request.payment_id}:cancel"
    with mapping.read_errors(request.merchant_id, f"payment {reference or request.payment_id}"):
        if reference and reference.startswith("cs_"):
            session = api.retrieve_checkout_session(reference)
            if session.get("status") == "open":
                try:
                    session = api.expire_checkout_session(reference, key)
                except stripe.InvalidRequestError:  # completed meanwhile: read it again
                    session = api.retrieve_checkout_session(reference)
            return mapping.session_result(session, settings.publishable_key)
        intent = (
            api.retrieve_payment_intent(reference) if reference else _find(api, request.payment_id)
        )
        if intent is not None and intent.get("status") in mapping.CANCELABLE:
            try:
                intent = api.cancel_payment_intent(str(intent["id"]), key)
            except stripe.InvalidRequestError:  # it moved on meanwhile (e.g. it succeeded)
                intent = api.retrieve_payment_intent(str(intent["id"]))
    if intent is None:
        raise ProcessorPaymentNotFound(
            f"Stripe has no PaymentIntent for payment {request.payment_id}"
        )
    return mapping.intent_result(intent, settings.publishable_key, reference)


@hookimpl
def b2bgateway_refund(request: RefundRequest, settings: StripeSettings) -> RefundResult:
    """Refund part (``amount``) or the rest (no amount) of the payment's PaymentIntent."""
    api = client.for_merchant(settings)
    with mapping.read_errors(request.merchant_id, f"payment {request.processor_reference}"):
        intent_id = _intent_id(api, request.processor_reference)
    if not intent_id:  # an unpaid Checkout Session, or no reference at all
        failure = Failure("charge_not_refundable", "El pago no se completó.", "unpaid", None)
        return RefundResult(Outcome.FAILED, failure=failure)
    try:
        refund = api.create_refund(params.refund(request, intent_id), request.idempotency_key)
    except stripe.StripeError as exc:
        return mapping.refund_error(exc, request.merchant_id, api.sdk_retries)
    return mapping.refund_result(refund)


@hookimpl
def b2bgateway_retrieve_refund(request: RefundRequest, settings: StripeSettings) -> RefundResult:
    """Our refund among the PaymentIntent's refunds (by ``metadata[refund_id]``)."""
    api = client.for_merchant(settings)
    with mapping.read_errors(request.merchant_id, f"payment {request.processor_reference}"):
        intent_id = _intent_id(api, request.processor_reference)
        refunds = api.refunds_of(intent_id) if intent_id else iter(())
        ours = next((r for r in refunds if mapping.meta(r, "refund_id") == request.refund_id), None)
    if ours is None:
        failure = Failure("refund_not_found", "Stripe no tiene ese reembolso.", None, None)
        return RefundResult(Outcome.FAILED, failure=failure)
    return mapping.refund_result(ours)


@hookimpl
def b2bgateway_parse_webhook(request: WebhookRequest, settings: StripeSettings) -> WebhookEvent:
    """Verify ``Stripe-Signature`` over the raw body (300 s tolerance), then normalize."""
    signature = request.headers.get("stripe-signature")
    if not signature:
        raise WebhookSignatureInvalid("the notification has no Stripe-Signature header")
    secret = settings.webhook_secret.get_secret_value()
    try:
        event = client.for_merchant(settings).construct_event(
            request.body, signature, secret, WEBHOOK_TOLERANCE
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError):
        raise WebhookSignatureInvalid(
            "Stripe-Signature does not match the body with this merchant's webhook_secret, "
            f"or is older than {WEBHOOK_TOLERANCE} s"
        ) from None
    except ValueError as exc:  # authentic, but not a (snapshot) event
        raise WebhookMalformed(f"the notification is not a Stripe event: {exc}") from None
    api = client.for_merchant(settings)
    normalized = events.webhook_event(event)
    if normalized.event_type == events.FUNDS_AVAILABLE:
        events.funds_alert(event, request.merchant_id)
    normalized = pending.with_payment_id(api, normalized, request)
    return pending.with_charge(api, normalized, request)
