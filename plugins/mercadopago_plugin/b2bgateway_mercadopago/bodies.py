"""Our requests as Mercado Pago request bodies. Amounts stay ``Decimal`` here: the client turns
them into JSON numbers at the SDK boundary.

A card charge needs more than the token: Mercado Pago wants the card's ``payment_method_id``
(``visa``, ``master``, ``debvisa``, ...), which the browser's Card Payment Brick / MercadoPago.js
gives alongside the token; the core passes it in ``ChargeRequest.browser_details`` (with
``issuer_id``, optional). The number of installments (MSI) is the core's typed
``ChargeRequest.installments``, which it has checked against what the merchant offers.

A cash voucher (``payment_method="cash"``) is a payment with a ``ticket`` method: ``oxxo`` unless
the portal chose another of :data:`CASH_METHODS`, due at ``ChargeRequest.expires_at``.

A SPEI transfer (``payment_method="bank_transfer"``) is a payment with ``payment_method_id``
``clabe`` (Mercado Pago México's guide "Transferencias SPEI"), due at ``ChargeRequest.expires_at``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from b2bgateway import ChargeRequest, Failure
from b2bgateway_mercadopago.client import mp_datetime
from b2bgateway_mercadopago.settings import MercadoPagoSettings

__all__ = [
    "CASH_METHODS",
    "TRANSFER_METHOD",
    "Refused",
    "cash_body",
    "notification_url",
    "payment_body",
    "preference_body",
    "transfer_body",
]

#: Mercado Pago México's cash (``ticket``) methods for Checkout API: OXXO, Paycash and the bank
#: counters of BBVA Bancomer and Citibanamex.
CASH_METHODS = frozenset({"oxxo", "paycash", "bancomer", "banamex"})


#: Mercado Pago México's SPEI method for Checkout API (``payment_type_id`` ``bank_transfer``).
TRANSFER_METHOD = "clabe"


class Refused(Exception):
    """The request cannot be sent as it is; nothing was sent."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def notification_url(request: ChargeRequest, settings: MercadoPagoSettings) -> str | None:
    """Our webhook URL, asking for the (signed) Webhooks format only, not legacy IPN; None
    unless it is a public https URL (Mercado Pago answers 400 to any other, and notifications
    then come from the application's Webhooks setting in "Your integrations")."""
    url = request.webhook_url
    if not settings.send_notification_url or not url or not url.startswith("https://"):
        return None
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}source_news=webhooks"


def _payer_email(request: ChargeRequest) -> str:
    """The customer's own e-mail. Never a merchant-level address: that may be the seller's own
    Mercado Pago account, and Mercado Pago refuses a payment to oneself."""
    if not request.customer.email:
        raise Refused(
            Failure(
                "customer_email_required",
                "Mercado Pago necesita el correo electrónico del cliente.",
                processor_message="the customer has no e-mail (Mercado Pago requires payer.email)",
            )
        )
    return request.customer.email


def _common(request: ChargeRequest, settings: MercadoPagoSettings) -> dict[str, Any]:
    body: dict[str, Any] = {"external_reference": request.payment_id}
    url = notification_url(request, settings)
    if url:
        body["notification_url"] = url
    if settings.statement_descriptor:
        body["statement_descriptor"] = settings.statement_descriptor
    if settings.binary_mode:
        body["binary_mode"] = True
    return body


def payment_body(request: ChargeRequest, settings: MercadoPagoSettings) -> dict[str, Any]:
    """``POST /v1/payments`` for a card token made in the browser."""
    method = request.browser_details.get("payment_method_id")
    if not method:
        raise Refused(
            Failure(
                "invalid_payment_method",
                "Falta el método de pago de la tarjeta.",
                processor_message="Mercado Pago needs payment_method_id with the card token",
            )
        )
    body: dict[str, Any] = {
        "transaction_amount": request.amount.amount,
        "token": request.token,
        "description": request.description,
        "installments": request.installments or 1,
        "payment_method_id": method,
        "payer": {"email": _payer_email(request)},
        **_common(request, settings),
    }
    if settings.three_d_secure_mode != "not_supported":
        body["three_d_secure_mode"] = settings.three_d_secure_mode
    issuer = request.browser_details.get("issuer_id")
    if issuer:
        body["issuer_id"] = int(issuer) if issuer.isascii() and issuer.isdigit() else issuer
    return body


def cash_body(request: ChargeRequest, settings: MercadoPagoSettings) -> dict[str, Any]:
    """``POST /v1/payments`` for a cash voucher (``ticket``), due when the gateway stops
    waiting (``date_of_expiration``)."""
    method = request.browser_details.get("payment_method_id") or "oxxo"
    if method not in CASH_METHODS:
        raise Refused(
            Failure(
                "invalid_payment_method",
                "Ese medio de pago en efectivo no está disponible.",
                processor_message=f"cash payment_method_id {method!r} is not one of "
                + ", ".join(sorted(CASH_METHODS)),
            )
        )
    body: dict[str, Any] = {
        "transaction_amount": request.amount.amount,
        "description": request.description,
        "payment_method_id": method,
        "payer": {"email": _payer_email(request)},
        **_common(request, settings),
    }
    if request.expires_at is not None:
        body["date_of_expiration"] = mp_datetime(request.expires_at)
    return body


def transfer_body(request: ChargeRequest, settings: MercadoPagoSettings) -> dict[str, Any]:
    """``POST /v1/payments`` for a SPEI transfer (``clabe``), due when the gateway stops waiting
    (``date_of_expiration``). The guide's request names the payer (``first_name``): the gateway
    has one name for its customer (the company's), sent as such when it has one."""
    payer: dict[str, Any] = {"email": _payer_email(request)}
    if request.customer.name:
        payer["first_name"] = request.customer.name
    body: dict[str, Any] = {
        "transaction_amount": request.amount.amount,
        "description": request.description,
        "payment_method_id": TRANSFER_METHOD,
        "payer": payer,
        **_common(request, settings),
    }
    if request.expires_at is not None:
        body["date_of_expiration"] = mp_datetime(request.expires_at)
    return body


def _expiry(
    request: ChargeRequest, settings: MercadoPagoSettings, now: datetime
) -> datetime | None:
    """When the Checkout Pro page stops taking payments: the gateway's expiry of the payment,
    or the merchant's ``checkout_expiration_minutes``, whichever comes first."""
    until = [request.expires_at] if request.expires_at is not None else []
    if settings.checkout_expiration_minutes:
        until.append(now + timedelta(minutes=settings.checkout_expiration_minutes))
    return min(until) if until else None


def preference_body(
    request: ChargeRequest, settings: MercadoPagoSettings, now: datetime
) -> dict[str, Any]:
    """``POST /checkout/preferences``: one item, the whole amount, back to ``return_url``."""
    item = {
        "id": request.payment_id,
        "title": request.description or request.payment_id,
        "quantity": 1,
        "currency_id": request.amount.currency,
        "unit_price": request.amount.amount,
    }
    body: dict[str, Any] = {"items": [item], **_common(request, settings)}
    if request.customer.email:
        body["payer"] = {"email": request.customer.email}
    if request.return_url:
        url = request.return_url
        body["back_urls"] = {"success": url, "pending": url, "failure": url}
        body["auto_return"] = "approved"
    until = _expiry(request, settings, now)
    if until is not None:
        body["expires"] = True
        body["expiration_date_from"] = mp_datetime(now)
        body["expiration_date_to"] = mp_datetime(until)
    if request.installments:
        body["payment_methods"] = {"installments": request.installments}
    return body
