"""Lookups that take more than one call: a payment by its id or by ours, closing a checkout.

Mercado Pago knows our ``payment_id`` as every payment's and preference's
``external_reference``; that is how a payment is found when we have no Mercado Pago id for it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from b2bgateway import ProcessorPaymentNotFound, ProcessorUnavailable
from b2bgateway_mercadopago import client, mapping
from b2bgateway_mercadopago.settings import MercadoPagoSettings

__all__ = [
    "FAILED",
    "PAID",
    "attempt_may_retry",
    "checkout_open",
    "current_payment",
    "expire_checkout",
    "find_payment",
    "for_settings",
    "is_expired",
    "pick_payment",
    "reading",
]

log = logging.getLogger(__name__)

#: Statuses in which Mercado Pago holds (or held) the buyer's money.
PAID = frozenset({"approved", "refunded", "charged_back", "in_mediation"})
#: Statuses of a payment that ended without the money (the buyer may try again in Checkout Pro).
FAILED = frozenset({"rejected", "cancelled"})


def for_settings(settings: MercadoPagoSettings) -> client.MercadoPago:
    """The merchant's client (one per credentials, cached)."""
    return client.for_credentials(
        settings.access_token.get_secret_value(),
        settings.api_base_url,
        settings.connect_timeout,
        settings.read_timeout,
    )


@contextmanager
def reading() -> Iterator[None]:
    """A read: any failure means "ask again later"."""
    try:
        with mapping.translated_errors(writes=False):
            yield
    except client.ApiError as exc:  # 401/403 are ProcessorMisconfigured already
        raise ProcessorUnavailable(f"Mercado Pago refused a lookup ({exc})") from exc


def find_payment(
    mp: client.MercadoPago, *, reference: str | None, payment_id: str = ""
) -> dict[str, Any] | None:
    """The payment with Mercado Pago id ``reference`` (raising ProcessorPaymentNotFound if there
    is none), else the one made for our ``payment_id`` (None if none was)."""
    if reference and mapping.is_payment_id(reference):
        try:
            with mapping.translated_errors(writes=False):
                return mp.get_payment(reference)
        except client.ApiError as exc:
            if exc.status in (400, 404):
                raise ProcessorPaymentNotFound(
                    f"Mercado Pago has no payment {reference} ({exc.code})"
                ) from exc
            raise
    if not payment_id:
        return None
    return pick_payment(mp.search_payments(payment_id))


def current_payment(
    mp: client.MercadoPago, *, reference: str | None, payment_id: str
) -> dict[str, Any] | None:
    """:func:`find_payment`, and a failed payment weighed against the other payments made for
    our id (Checkout Pro lets the buyer try again: a retry may have been paid)."""
    payment = find_payment(mp, reference=reference, payment_id=payment_id)
    if payment is not None and payment.get("status") in FAILED and reference and payment_id:
        payment = pick_payment([payment, *mp.search_payments(payment_id)])
    return payment


def expire_checkout(
    mp: client.MercadoPago, payment_id: str, now: datetime, *, required: bool = True
) -> bool:
    """Close the preference(s) of ``payment_id`` to new payments; False when that failed. None
    to close raises ProcessorPaymentNotFound, unless not ``required`` (a card charge has none)."""
    with reading():
        preferences = mp.search_preferences(payment_id)
    if not preferences:
        if not required:
            return True
        raise ProcessorPaymentNotFound(
            f"Mercado Pago has no payment or preference for {payment_id}"
        )
    for preference in preferences:
        if is_expired(preference, now):
            continue
        try:
            with mapping.translated_errors(writes=True):
                mp.expire_preference(str(preference["id"]), now)
        except (mapping.OutcomeUnknown, client.ApiError) as exc:
            log.warning("payment %s: could not expire its preference: %s", payment_id, exc)
            return False
    return True


def pick_payment(payments: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Of the payments made for one of our payments, the one that took the money, if any, else
    the newest (Checkout Pro lets the buyer try again after a rejection)."""
    ordered = mapping.newest_first(payments)
    paid = [item for item in ordered if item.get("status") in PAID]
    candidates = paid or ordered
    return candidates[0] if candidates else None


def is_expired(preference: Mapping[str, Any], now: datetime) -> bool:
    """A preference on which no payment can start any more."""
    until = mapping.parse_time(preference.get("expiration_date_to"))
    return bool(preference.get("expires")) and until is not None and until <= now


def checkout_open(mp: client.MercadoPago, payment_id: str, now: datetime) -> bool:
    """Does a Checkout Pro preference made for our ``payment_id`` still take payments?"""
    return any(not is_expired(item, now) for item in mp.search_preferences(payment_id))


def attempt_may_retry(mp: client.MercadoPago, payment: Mapping[str, Any], now: datetime) -> bool:
    """Is this failed payment one attempt the buyer may follow with another (its Checkout Pro
    preference is still open)? One more lookup, only for failed payments made for one of ours."""
    ours = payment.get("external_reference")
    if payment.get("status") not in FAILED or not ours:
        return False
    return checkout_open(mp, str(ours), now)
