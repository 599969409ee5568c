"""b2bgateway's requests as Stripe's request parameters (the other direction is ``mapping``).

Amounts go through ``Money.to_minor_units`` (integer minor units, as Stripe wants them),
currencies are lower case, and our ids travel in ``metadata`` so that a PaymentIntent, a
Checkout Session or a Refund can be found, and its events matched, by our payment id.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from stripe.params import (
    CustomerCreateParams,
    PaymentIntentCreateParams,
    PaymentIntentCreateParamsPaymentMethodOptions,
    RefundCreateParams,
)
from stripe.params.checkout import SessionCreateParams

from b2bgateway import ChargeRequest, RefundRequest

__all__ = [
    "CHECKOUT_FLOW",
    "CONTRACT_METADATA",
    "STRIPE_REFUND_REASONS",
    "bank_transfer",
    "cash_voucher",
    "checkout_session",
    "customer",
    "customer_metadata",
    "metadata",
    "payment_intent",
    "refund",
    "return_to",
    "voucher_days",
]

#: The refund reasons Stripe accepts; any other reason goes into the refund's metadata.
STRIPE_REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
#: The keys of ``ChargeRequest.metadata`` the contract names: the core's ids. Anything else in
#: it (the browser's free-form details) stays in the gateway and never reaches Stripe.
CONTRACT_METADATA = ("payment_id", "customer_id")
#: ``metadata[flow]`` of a Checkout Session's PaymentIntent: its declines are attempts, since the
#: customer can try again on the page (a PaymentIntent does not name its session otherwise).
CHECKOUT_FLOW = {"flow": "checkout"}
#: OXXO vouchers can be paid for 1 to 7 calendar days (Mexico City time) after creation.
VOUCHER_DAYS = (1, 7)


def metadata(request: ChargeRequest) -> dict[str, str]:
    """Our ids: the payment, the merchant and the customer (the contract's metadata keys)."""
    named = {
        key: request.metadata[key][:500] for key in CONTRACT_METADATA if key in request.metadata
    }
    return {**named, "payment_id": request.payment_id, "merchant_id": request.merchant_id}


def voucher_days(expires_at: datetime | None, now: datetime | None = None) -> int:
    """The payment's expiry as OXXO's ``expires_after_days`` (whole days, rounded up, 1 to 7)."""
    if expires_at is None:
        return 3  # Stripe's own default
    seconds = (expires_at - (now or datetime.now(UTC))).total_seconds()
    return min(max(math.ceil(seconds / 86400), VOUCHER_DAYS[0]), VOUCHER_DAYS[1])


def _installments(count: int) -> PaymentIntentCreateParamsPaymentMethodOptions:
    return {
        "card": {
            "installments": {
                "enabled": True,
                "plan": {"count": count, "interval": "month", "type": "fixed_count"},
            }
        }
    }


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
        "expand": ["latest_charge"],  # a paid charge's method details (for the CFDI)
    }
    if request.description:  # Stripe refuses an empty string
        params["description"] = request.description
    if request.installments:  # meses sin intereses: the plan the customer chose
        params["payment_method_options"] = _installments(request.installments)
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
        "payment_intent_data": {"metadata": {**tags, **CHECKOUT_FLOW}},
        # An invoice is paid in its own currency: a foreign card charged in another presentment
        # currency could not be refunded in MXN amounts.
        "adaptive_pricing": {"enabled": False},
    }
    if request.description:
        params["payment_intent_data"]["description"] = request.description
    if request.installments:  # the page offers the card's plans; the customer picks one
        params["payment_method_options"] = {"card": {"installments": {"enabled": True}}}
    if request.customer.email:
        params["customer_email"] = request.customer.email
    return params


def _pending(request: ChargeRequest) -> PaymentIntentCreateParams:
    """A PaymentIntent paid later by the customer (a voucher, a transfer), confirmed at once."""
    params: PaymentIntentCreateParams = {
        "amount": request.amount.to_minor_units(),
        "currency": request.amount.currency.lower(),
        "confirm": True,
        "metadata": metadata(request),
    }
    if request.description:
        params["description"] = request.description
    return params


def cash_voucher(request: ChargeRequest, email: str) -> PaymentIntentCreateParams:
    """An OXXO voucher, payable until the payment's expiry (in whole days)."""
    params = _pending(request)
    params["allowed_payment_method_types"] = ["oxxo"]
    params["payment_method_data"] = {
        "type": "oxxo",
        "billing_details": {"name": request.customer.name or request.customer.id, "email": email},
    }
    params["payment_method_options"] = {
        "oxxo": {"expires_after_days": voucher_days(request.expires_at)}
    }
    return params


def bank_transfer(request: ChargeRequest, customer_id: str) -> PaymentIntentCreateParams:
    """A SPEI transfer to the Stripe Customer's CLABE (``customer_balance``, mx_bank_transfer)."""
    params = _pending(request)
    params["customer"] = customer_id
    params["allowed_payment_method_types"] = ["customer_balance"]
    params["payment_method_data"] = {"type": "customer_balance"}
    params["payment_method_options"] = {
        "customer_balance": {
            "funding_type": "bank_transfer",
            "bank_transfer": {"type": "mx_bank_transfer"},
        }
    }
    return params


def customer_metadata(request: ChargeRequest) -> dict[str, str]:
    """Our ids on the customer's Stripe Customer: how it is found again."""
    return {"customer_id": request.customer.id, "merchant_id": request.merchant_id}


def customer(request: ChargeRequest) -> CustomerCreateParams:
    """The gateway customer as a Stripe Customer (made once, then remembered by the core)."""
    params: CustomerCreateParams = {
        "name": request.customer.name or request.customer.id,
        "metadata": customer_metadata(request),
    }
    if request.customer.email:
        params["email"] = request.customer.email
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
