"""b2bgateway's requests as Stripe's request parameters (the other direction is ``mapping``).

Amounts go through ``Money.to_minor_units`` (integer minor units, as Stripe wants them),
currencies are lower case, and our ids travel in ``metadata`` so that a PaymentIntent, a
Checkout Session or a Refund can be found, and its events matched, by our payment id.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from stripe.params import PaymentIntentCreateParams, RefundCreateParams
from stripe.params.checkout import SessionCreateParams

from b2bgateway import ChargeRequest, RefundRequest

__all__ = [
    "STRIPE_REFUND_REASONS",
    "checkout_session",
    "metadata",
    "payment_intent",
    "refund",
    "return_to",
]

#: The refund reasons Stripe accepts; any other reason goes into the refund's metadata.
STRIPE_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})


def metadata(request: ChargeRequest) -> dict[str, str]:
    """The request's metadata plus ours, within Stripe's limits (50 keys of 40 characters,
    values of 500); ``payment_id`` and ``merchant_id`` always win."""
    merged = {**request.metadata, "payment_id": request.payment_id}
    merged["merchant_id"] = request.merchant_id
    return {key[:40]: value[:500] for key, value in list(merged.items())[-50:]}


def return_to(url: str, payment_id: str) -> str:
    """``url`` with ``payment_id`` in its query (others kept): the portal's return page reads it
    to show the payment the customer comes back from."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "payment_id"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("payment_id", payment_id)])))


def payment_intent(request: ChargeRequest, payment_method: str) -> PaymentIntentCreateParams:
    """A PaymentIntent created and confirmed at once with the browser's PaymentMethod."""
    params: PaymentIntentCreateParams = {
        "amount": request.amount.to_minor_units(),
        "currency": request.amount.currency.lower(),
        "payment_method": payment_method,
        "confirm": True,
        "metadata": metadata(request),
    }
    if request.description:  # Stripe refuses an empty string
        params["description"] = request.description
    if request.return_url:  # 3-D Secure may send the customer to the bank and back there
        params["return_url"] = return_to(request.return_url, request.payment_id)
    else:  # without a return URL, Stripe confirms only with methods that never redirect
        params["automatic_payment_methods"] = {"enabled": True, "allow_redirects": "never"}
    return params


def checkout_session(request: ChargeRequest, return_url: str) -> SessionCreateParams:
    """A Checkout Session in payment mode for the whole amount, back to ``return_url``."""
    tags = metadata(request)
    back = return_to(return_url, request.payment_id)
    params: SessionCreateParams = {
        "mode": "payment",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": request.amount.currency.lower(),
                    "unit_amount": request.amount.to_minor_units(),
                    "product_data": {"name": request.description or request.payment_id},
                },
            }
        ],
        "success_url": back,
        "cancel_url": back,
        "client_reference_id": request.payment_id,
        "metadata": tags,
        "payment_intent_data": {"metadata": tags},
    }
    if request.description:
        params["payment_intent_data"]["description"] = request.description
    if request.customer.email:
        params["customer_email"] = request.customer.email
    return params


def refund(request: RefundRequest, intent_id: str) -> RefundCreateParams:
    """A refund of part of the PaymentIntent, or (``full``) of everything left on it."""
    tags = {
        "refund_id": request.refund_id,
        "payment_id": request.payment_id,
        "merchant_id": request.merchant_id,
    }
    params: RefundCreateParams = {"payment_intent": intent_id, "metadata": tags}
    if not request.full:
        params["amount"] = request.amount.to_minor_units()
    if request.reason in STRIPE_REFUND_REASONS:
        params["reason"] = request.reason  # one of Stripe's, checked above
    elif request.reason:
        tags["reason"] = request.reason[:500]
    return params
