"""Openpay's notifications: their HTTP Basic credentials, their body, and the event they become.

Openpay signs nothing. A webhook registered with a user and password is delivered with them as
HTTP Basic credentials, checked here in constant time; the hook then re-fetches the charge and
the event is built from Openpay's answer, never from the notification's own claims.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from b2bgateway import (
    EventKind,
    WebhookEvent,
    WebhookMalformed,
    WebhookSignatureInvalid,
)
from b2bgateway_openpay import mapping
from b2bgateway_openpay.client import Charge

__all__ = ["EVENT_KINDS", "Notification", "check_credentials", "event", "ignored", "parse"]

#: Notification types the gateway acts on; any other is acknowledged as ignored.
EVENT_KINDS: dict[str, EventKind] = {
    "charge.succeeded": EventKind.PAYMENT,
    "charge.failed": EventKind.PAYMENT,
    "charge.cancelled": EventKind.PAYMENT,
    "charge.refunded": EventKind.REFUND,
}


def check_credentials(headers: Mapping[str, str], user: str, password: str) -> None:
    """Raise :class:`WebhookSignatureInvalid` unless the header is Basic ``user:password``."""
    scheme, _, encoded = headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise WebhookSignatureInvalid("no Basic credentials on the Openpay notification")
    try:
        presented = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookSignatureInvalid("malformed Basic credentials") from None
    expected = f"{user}:{password}".encode()
    # Compare digests, so that the time taken says nothing about either length.
    if not hmac.compare_digest(
        hashlib.sha256(presented).digest(), hashlib.sha256(expected).digest()
    ):
        raise WebhookSignatureInvalid("wrong Basic credentials on the Openpay notification")


@dataclass(frozen=True, slots=True)
class Notification:
    """What a notification claims; only ``charge_id`` is used, to re-fetch the charge."""

    type: str
    charge_id: str
    status: str
    refund_id: str  # the nested refund's id, when the notification carries one
    verification_code: str
    occurred_at: datetime | None

    @property
    def event_id(self) -> str:
        """The deduplication key: Openpay re-delivers until it gets a 2xx."""
        if self.type == "verification":
            return f"verification:{self.verification_code}"
        return f"{self.type}:{self.charge_id}:{self.status}"

    def __str__(self) -> str:
        return self.event_id


def _occurred(value: object) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def parse(body: bytes) -> Notification:
    """The notification's fields (``type``, ``event_date``, ``transaction``, ...)."""
    try:
        payload = json.loads(body, parse_float=Decimal)
    except ValueError:
        raise WebhookMalformed("the Openpay notification is not JSON") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("type"), str):
        raise WebhookMalformed("the Openpay notification has no type")
    transaction = payload.get("transaction")
    transaction = transaction if isinstance(transaction, dict) else {}
    refund = transaction.get("refund")
    return Notification(
        type=payload["type"],
        charge_id=str(transaction.get("id") or ""),
        status=str(transaction.get("status") or ""),
        refund_id=str(refund.get("id") or "") if isinstance(refund, dict) else "",
        verification_code=str(payload.get("verification_code") or ""),
        occurred_at=_occurred(payload.get("event_date")),
    )


def ignored(notification: Notification) -> WebhookEvent:
    return WebhookEvent(
        notification.event_id,
        EventKind.IGNORED,
        notification.type,
        occurred_at=notification.occurred_at,
    )


def _refund(notification: Notification, charge: Charge) -> dict[str, Any] | None:
    refunds = [r for r in mapping.refunds_of(charge) if r.get("id")]
    named = next((r for r in refunds if r["id"] == notification.refund_id), None)
    return named or (refunds[-1] if refunds else None)


def event(notification: Notification, charge: Charge) -> WebhookEvent:
    """The event for ``notification``, built from ``charge`` as Openpay returned it just now."""
    now = mapping.charge_result(charge)
    payment_id = str(charge["order_id"]) if charge.get("order_id") else None
    if EVENT_KINDS[notification.type] is EventKind.PAYMENT:
        return WebhookEvent(
            notification.event_id,
            EventKind.PAYMENT,
            notification.type,
            payment_id=payment_id,
            processor_reference=now.processor_reference,
            outcome=now.outcome,
            amount=now.amount,
            failure=now.failure,
            refunded=now.refunded,
            occurred_at=notification.occurred_at,
        )
    refund = _refund(notification, charge)
    if refund is None:  # nothing to apply: acknowledged and recorded
        return ignored(notification)
    result = mapping.refund_result(refund)
    currency = refund.get("currency") or charge.get("currency")
    return WebhookEvent(
        f"{notification.event_id}:{refund['id']}",  # a charge may be refunded more than once
        EventKind.REFUND,
        notification.type,
        payment_id=payment_id,
        processor_reference=now.processor_reference,
        outcome=result.outcome,
        amount=mapping.money(refund.get("amount"), currency),  # this refund's own amount
        failure=result.failure,
        refund_id=mapping.refund_id_of(refund),
        refund_reference=str(refund["id"]),
        refunded=now.refunded,
        occurred_at=notification.occurred_at,
    )
