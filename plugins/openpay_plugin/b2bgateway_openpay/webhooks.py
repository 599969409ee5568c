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
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from b2bgateway import (
    ChargeResult,
    Dispute,
    DisputeStatus,
    EventKind,
    Failure,
    Outcome,
    ProcessorUnavailable,
    WebhookEvent,
    WebhookMalformed,
    WebhookSignatureInvalid,
)
from b2bgateway_openpay import mapping, methods
from b2bgateway_openpay.client import Charge

__all__ = ["EVENT_KINDS", "Notification", "check_credentials", "event", "ignored", "parse"]

log = logging.getLogger("b2bgateway_openpay")

#: Notification types the gateway acts on; any other is acknowledged as ignored.
EVENT_KINDS: dict[str, EventKind] = {
    "charge.succeeded": EventKind.PAYMENT,
    "charge.failed": EventKind.PAYMENT,
    "charge.cancelled": EventKind.PAYMENT,
    "spei.received": EventKind.PAYMENT,  # a SPEI transfer arrived: the charge says for what
    "charge.refunded": EventKind.REFUND,
    "chargeback.created": EventKind.DISPUTE,
    "chargeback.accepted": EventKind.DISPUTE,
    "chargeback.rejected": EventKind.DISPUTE,
    "charge.rescored.to.decline": EventKind.DISPUTE,  # or a failure, if it was never paid
}
#: A re-fetched charge's chargeback status as the dispute's state. Accepted: the chargeback
#: stands and the money went back to the cardholder (lost for the merchant).
CHARGEBACK_STATES: dict[str, DisputeStatus] = {
    "chargeback_pending": DisputeStatus.OPEN,
    "chargeback_accepted": DisputeStatus.LOST,
}
#: What a chargeback notification says has happened, for a paid charge whose status does not
#: tell (``chargeback_adjustment``; a rejected chargeback returns the charge to ``completed``).
CHARGEBACK_EVENTS: dict[str, DisputeStatus] = {
    "chargeback.created": DisputeStatus.OPEN,
    "chargeback.accepted": DisputeStatus.LOST,
    "chargeback.rejected": DisputeStatus.WON,
}
#: Notifications that end a chargeback: a charge still ``chargeback_pending`` after one lags.
CHARGEBACK_ENDS = frozenset({"chargeback.accepted", "chargeback.rejected"})
#: Statuses of a charge that was paid (its money taken, whatever happened since).
PAID = frozenset(
    {"completed", "refunded", "chargeback_pending", "chargeback_accepted", "chargeback_adjustment"}
)


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
    order_id: str  # the transaction's order_id: our payment id, on our charges
    status: str
    refund_id: str  # the nested refund's id, when the notification carries one
    verification_code: str
    webhook_id: str  # on a verification: the webhook Openpay is verifying
    occurred_at: datetime | None

    @property
    def event_id(self) -> str:
        """The deduplication key: Openpay re-delivers until it gets a 2xx."""
        if self.type == "verification":
            return f"verification:{self.verification_code}"
        return f"{self.type}:{self.charge_id}:{self.status}"

    def __str__(self) -> str:
        return self.event_id


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
        order_id=str(transaction.get("order_id") or ""),
        status=str(transaction.get("status") or ""),
        refund_id=str(refund.get("id") or "") if isinstance(refund, dict) else "",
        verification_code=str(payload.get("verification_code") or ""),
        webhook_id=str(payload.get("id") or ""),
        occurred_at=methods.parse_time(payload.get("event_date")),
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


def _dispute_state(notification: Notification, charge: Charge) -> DisputeStatus | None:
    """The chargeback's state: the re-fetched charge's chargeback status when it shows one; for
    a charge that was paid but shows none (``completed`` again after a rejection, an adjustment)
    what the notification says; for a charge never paid, none (recorded, not applied).

    :raises ProcessorUnavailable: the notification ends the chargeback but the charge still
      shows it pending (Openpay's charge lags): answered 503, so Openpay delivers it again,
      instead of recording an open dispute that no later notification would close.
    """
    status = str(charge.get("status") or "")
    if notification.type in CHARGEBACK_ENDS and status == "chargeback_pending":
        log.warning(
            "payment %s: %s but Openpay's charge %s still shows chargeback_pending: "
            "asking Openpay to deliver it again",
            charge.get("order_id") or "?",
            notification.type,
            charge.get("id"),
        )
        raise ProcessorUnavailable(f"Openpay's charge still lags behind {notification.type}")
    if status in CHARGEBACK_STATES:
        return CHARGEBACK_STATES[status]
    if status in PAID:
        return CHARGEBACK_EVENTS.get(notification.type)
    return None


def _reference(kind: str, notification: Notification, charge: Charge) -> str:
    """The dispute's reference: the charge, and the notification's own transaction when it names
    one (a chargeback's), so that a second chargeback of the same charge is a new dispute."""
    if notification.charge_id and notification.charge_id != charge["id"]:
        return f"{kind}:{charge['id']}:{notification.charge_id}"
    return f"{kind}:{charge['id']}"


def _rescored(notification: Notification, charge: Charge, now: ChargeResult) -> Dispute:
    """A paid charge that Openpay's anti-fraud declined after the fact. Whether Openpay takes
    the money back is not documented: the payment is held as an open dispute (its invoices stay
    paid for the ERP) and the merchant is alerted, never released on an assumption."""
    log.error(
        "ALERT payment %s: Openpay's anti-fraud declined its paid charge %s after the fact "
        "(charge.rescored.to.decline): ask Openpay whether the money is taken back",
        charge.get("order_id") or "?",
        charge.get("id"),
    )
    return Dispute(
        status=DisputeStatus.OPEN,
        amount=now.amount,
        reason="fraud_rescored",
        reference=_reference("rescore", notification, charge),
    )


def _dispute(notification: Notification, charge: Charge, now: ChargeResult) -> WebhookEvent:
    """A chargeback, or Openpay's anti-fraud declining a charge after the fact.

    A rescored decline of a charge that was paid is an open dispute (reason
    ``fraud_rescored``): held and raised, not released; of one never paid, it is the charge's
    failure.
    """
    dispute = None
    if notification.type == "charge.rescored.to.decline":
        if not (charge.get("status") in PAID or charge.get("authorization")):
            failure = Failure(
                "fraud_suspected", "El sistema antifraude rechazó el pago.", "rescored"
            )
            return _payment(notification, charge, _failed(now, failure))
        dispute = _rescored(notification, charge, now)
    elif (state := _dispute_state(notification, charge)) is not None:
        dispute = Dispute(
            status=state,
            amount=now.amount,
            reason="chargeback",
            reference=_reference("chargeback", notification, charge),
        )
    return WebhookEvent(
        notification.event_id,
        EventKind.DISPUTE,
        notification.type,
        payment_id=str(charge["order_id"]) if charge.get("order_id") else None,
        processor_reference=now.processor_reference,
        dispute=dispute,
        occurred_at=notification.occurred_at,
    )


def _failed(now: ChargeResult, failure: Failure) -> ChargeResult:
    return ChargeResult(
        Outcome.FAILED,
        processor_reference=now.processor_reference,
        amount=now.amount,
        failure=failure,
        processor_status=now.processor_status,
    )


def _payment(notification: Notification, charge: Charge, now: ChargeResult) -> WebhookEvent:
    return WebhookEvent(
        notification.event_id,
        EventKind.PAYMENT,
        notification.type,
        payment_id=str(charge["order_id"]) if charge.get("order_id") else None,
        processor_reference=now.processor_reference,
        outcome=now.outcome,
        amount=now.amount,
        failure=now.failure,
        refunded=now.refunded,
        occurred_at=notification.occurred_at,
        method_details=now.method_details,
    )


def event(notification: Notification, charge: Charge) -> WebhookEvent:
    """The event for ``notification``, built from ``charge`` as Openpay returned it just now."""
    now = mapping.charge_result(charge)
    payment_id = str(charge["order_id"]) if charge.get("order_id") else None
    kind = EVENT_KINDS[notification.type]
    if kind is EventKind.DISPUTE:
        return _dispute(notification, charge, now)
    if kind is EventKind.PAYMENT:
        return _payment(notification, charge, now)
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
