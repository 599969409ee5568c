"""Our requests as Mercado Pago request bodies. Amounts stay ``Decimal`` here: the client turns
them into JSON numbers at the SDK boundary.

A card charge needs more than the token: Mercado Pago wants the card's ``payment_method_id``
(``visa``, ``master``, ``debvisa``, ...) and the number of ``installments``, which the browser's
Card Payment Brick / MercadoPago.js give alongside the token. The core passes them through
``ChargeRequest.browser_details``: ``payment_method_id`` (required), ``installments`` (default
1) and ``issuer_id`` (optional).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from b2bgateway import ChargeRequest, Failure
from b2bgateway_mercadopago.client import mp_datetime
from b2bgateway_mercadopago.settings import MercadoPagoSettings

__all__ = ["Refused", "notification_url", "payment_body", "preference_body"]

MAX_INSTALLMENTS = 48


class Refused(Exception):
    """The request cannot be sent as it is; nothing was sent."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.message)
        self.failure = failure


def notification_url(request: ChargeRequest, settings: MercadoPagoSettings) -> str | None:
    """Our webhook URL, asking for the (signed) Webhooks format only, not legacy IPN."""
    if not settings.send_notification_url or not request.webhook_url:
        return None
    separator = "&" if "?" in request.webhook_url else "?"
    return f"{request.webhook_url}{separator}source_news=webhooks"


def _payer_email(request: ChargeRequest, settings: MercadoPagoSettings) -> str | None:
    return request.customer.email or settings.payer_email


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


def _installments(request: ChargeRequest) -> int:
    raw = request.browser_details.get("installments", "1")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_INSTALLMENTS:
        raise Refused(
            Failure(
                "invalid_installments",
                "El número de meses no es válido.",
                processor_message=f"installments={raw!r}",
            )
        )
    return int(raw)


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
    email = _payer_email(request, settings)
    if not email:
        raise Refused(
            Failure(
                "customer_email_required",
                "Mercado Pago necesita el correo electrónico del cliente.",
                processor_message="no payer email: the customer has none and payer_email is unset",
            )
        )
    body: dict[str, Any] = {
        "transaction_amount": request.amount.amount,
        "token": request.token,
        "description": request.description,
        "installments": _installments(request),
        "payment_method_id": method,
        "payer": {"email": email},
        **_common(request, settings),
    }
    issuer = request.browser_details.get("issuer_id")
    if issuer:
        body["issuer_id"] = int(issuer) if issuer.isascii() and issuer.isdigit() else issuer
    return body


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
    email = _payer_email(request, settings)
    if email:
        body["payer"] = {"email": email}
    if request.return_url:
        url = request.return_url
        body["back_urls"] = {"success": url, "pending": url, "failure": url}
        body["auto_return"] = "approved"
    if settings.checkout_expiration_minutes:
        until = now + timedelta(minutes=settings.checkout_expiration_minutes)
        body["expires"] = True
        body["expiration_date_from"] = mp_datetime(now)
        body["expiration_date_to"] = mp_datetime(until)
    return body
