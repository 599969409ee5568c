"""A refund whose answer was lost, looked for among the payment's refunds.

Mercado Pago's refund object (``GET /v1/payments/{id}/refunds``) carries nothing of ours: the
request body takes only ``amount``, the idempotency key is not echoed back, and its ``metadata``
is the payment's. What tells ours apart is the amount and the time: a refund of exactly our
amount, created after we first asked (less :data:`CLOCK_SKEW` between our clock and Mercado
Pago's). One such refund is ours; several cannot be told apart; none means it was not made (yet).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from b2bgateway import RefundRequest
from b2bgateway_mercadopago import mapping

__all__ = ["CLOCK_SKEW", "candidates", "may_resend"]

#: How far Mercado Pago's ``date_created`` may be behind our clock for a refund still to be ours.
CLOCK_SKEW = timedelta(minutes=2)


def candidates(refunds: list[dict[str, Any]], request: RefundRequest) -> list[dict[str, Any]]:
    """The payment's refunds that may be ``request``'s: our amount, not made before we asked."""
    found = []
    for refund in refunds:
        if mapping.money(refund.get("amount"), request.amount.currency) != request.amount:
            continue
        created = mapping.parse_time(refund.get("date_created"))
        asked = request.requested_at
        if created is not None and asked is not None and created < asked - CLOCK_SKEW:
            continue
        found.append(refund)
    return found


def may_resend(request: RefundRequest, now: datetime, window: timedelta) -> bool:
    """Is the refund's idempotency key recent enough to send the refund again with it?"""
    return request.requested_at is not None and now - request.requested_at <= window
