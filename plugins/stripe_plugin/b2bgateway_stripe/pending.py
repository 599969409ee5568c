"""Payments the customer finishes later, away from the page: an OXXO voucher paid at a store, a
SPEI transfer to the CLABE of the customer's Stripe Customer (``customer_balance``); the charge's
method details added to a success notification, and our payment id to a dispute or a Dashboard
refund (read from their PaymentIntent).

The Stripe Customer a transfer needs is made once per gateway customer (found first by its
metadata, else made with the idempotency key ``<merchant>:<customer>:customer``) and returned in
``ChargeResult.processor_customer``: the core remembers it and sends it back in
``ChargeRequest.processor_customer``. The plugin keeps nothing.
"""

from __future__ import annotations

import dataclasses

import stripe

from b2bgateway import (
    ChargeRequest,
    ChargeResult,
    EventKind,
    Failure,
    Outcome,
    ProcessorPaymentNotFound,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway_stripe import client, mapping, methods, params
from b2bgateway_stripe.settings import StripeSettings

__all__ = ["bank_transfer", "cash_voucher", "with_charge", "with_payment_id"]


def cash_voucher(
    api: client.StripeApi, request: ChargeRequest, settings: StripeSettings
) -> ChargeResult:
    """An OXXO voucher (``display_cash_voucher``), paid at a store within its days."""
    if not request.customer.email:  # Stripe needs it: the voucher is also sent there
        failure = Failure(
            "customer_email_required",
            "Se necesita el correo del cliente para generar la ficha de pago OXXO.",
            "billing_details[email]",
            "Stripe requires the customer's email for an OXXO voucher",
        )
        return ChargeResult(Outcome.FAILED, failure=failure)
    try:
        intent = api.create_payment_intent(
            params.cash_voucher(request, request.customer.email), request.idempotency_key
        )
    except stripe.StripeError as exc:
        return mapping.charge_error(exc, request.merchant_id, api.sdk_retries)
    return mapping.intent_result(intent, settings.publishable_key)


def bank_transfer(
    api: client.StripeApi, request: ChargeRequest, settings: StripeSettings
) -> ChargeResult:
    """SPEI instructions (``display_bank_transfer_instructions``): the CLABE Stripe assigns to
    the customer's Stripe Customer, made first when the core has none for this customer."""
    customer, made = request.processor_customer, None
    try:
        if customer is None:
            made = _stripe_customer(api, request)
            customer = made
        intent = api.create_payment_intent(
            params.bank_transfer(request, customer), request.idempotency_key
        )
    except stripe.StripeError as exc:
        result = mapping.charge_error(exc, request.merchant_id, api.sdk_retries)
        return dataclasses.replace(result, processor_customer=made)
    result = mapping.intent_result(intent, settings.publishable_key)
    return dataclasses.replace(result, processor_customer=made)


def _stripe_customer(api: client.StripeApi, request: ChargeRequest) -> str:
    """The customer's Stripe Customer: the oldest one already made for it (searched by our
    ``metadata[customer_id]`` and ``metadata[merchant_id]``: the core may have lost or never
    kept it, and a new Customer would get a new CLABE), else one made now. The idempotency key
    covers the minute search takes to see a new Customer."""
    found = api.find_customers(params.customer_metadata(request))
    if found:
        return str(min(found, key=lambda c: (c.get("created") or 0, str(c.get("id"))))["id"])
    key = f"{request.merchant_id}:{request.customer.id}:customer"
    return str(api.create_customer(params.customer(request), key)["id"])


def with_charge(
    api: client.StripeApi, event: WebhookEvent, request: WebhookRequest
) -> WebhookEvent:
    """A success notification with how it was paid: events carry the PaymentIntent without its
    charge, so it is read once, with the charge expanded (the CFDI needs the card's brand,
    funding and authorization code). A payment intent Stripe no longer has adds nothing.

    :raises ProcessorUnavailable: Stripe could not answer; the notification is answered 503 and
      Stripe delivers it again.
    """
    if event.kind is not EventKind.PAYMENT or event.outcome is not Outcome.SUCCEEDED:
        return event
    intent_id = event.attempt_reference or event.processor_reference
    if not intent_id or not intent_id.startswith("pi_"):
        return event
    try:
        with mapping.read_errors(request.merchant_id, f"PaymentIntent {intent_id}"):
            intent = api.retrieve_payment_intent(intent_id)
    except ProcessorPaymentNotFound:
        return event
    charge = methods.charge_of(intent)
    return dataclasses.replace(
        event,
        method_details=None if charge is None else methods.method_details(charge),
        references=tuple(dict.fromkeys((*event.references, *methods.references(intent)))),
    )


def with_payment_id(
    api: client.StripeApi, event: WebhookEvent, request: WebhookRequest
) -> WebhookEvent:
    """A dispute, or a refund made in the Dashboard, with our payment id: neither carries our
    metadata, only the charge and its PaymentIntent, which the core may not know (a Checkout
    payment made before the core kept aliases knows only its session). The PaymentIntent is
    read once for the ``metadata[payment_id]`` we set on it; one Stripe no longer has adds
    nothing (the core then matches the event by its references alone).

    :raises ProcessorUnavailable: Stripe could not answer; the notification is answered 503 and
      Stripe delivers it again (a dispute must never be acknowledged unmatched).
    """
    if event.kind not in (EventKind.DISPUTE, EventKind.REFUND) or event.payment_id:
        return event
    named = (event.processor_reference, *event.references)
    intent_id = next((r for r in named if r and r.startswith("pi_")), None)
    if intent_id is None:  # a charge made without a PaymentIntent: never one of ours
        return event
    try:
        with mapping.read_errors(request.merchant_id, f"PaymentIntent {intent_id}"):
            intent = api.retrieve_payment_intent(intent_id)
    except ProcessorPaymentNotFound:
        return event
    return dataclasses.replace(
        event,
        payment_id=mapping.meta(intent, "payment_id"),
        references=tuple(dict.fromkeys((*event.references, *methods.references(intent)))),
    )
