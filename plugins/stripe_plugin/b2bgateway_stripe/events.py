"""Verified Stripe events as normalized :class:`~b2bgateway.WebhookEvent`\\ s.

:data:`EVENTS` names every event type the gateway acts on; any other type is acknowledged as
``EventKind.IGNORED``. Our payment id comes back in the object's ``metadata`` (we set it on every
PaymentIntent, Checkout Session and Refund) or a session's ``client_reference_id``.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from b2bgateway import (
    Dispute,
    DisputeStatus,
    EventKind,
    Failure,
    Outcome,
    ProcessorContractError,
    WebhookEvent,
    WebhookMalformed,
)
from b2bgateway_stripe import mapping, methods, params
from b2bgateway_stripe.mapping import Obj, meta, object_id

__all__ = ["EVENTS", "FUNDS_AVAILABLE", "funds_alert", "webhook_event"]

log = logging.getLogger(__name__)

_FAILED = ("payment_failed", "El pago no fue aprobado.")


def _intent(event_id: str, event_type: str, obj: Obj) -> WebhookEvent:
    status = str(obj.get("status") or "")
    outcome: Outcome | None = mapping.STATUS_MAP.get(status)
    amount = mapping.money(obj.get("amount"), obj.get("currency"))
    failure, final = None, True
    # A Checkout Session's PaymentIntent is an attempt of the payment (known by its session):
    # a decline on the page leaves the session open for another card.
    checkout = meta(obj, "flow") == params.CHECKOUT_FLOW["flow"]
    if event_type in ("payment_intent.requires_action", "payment_intent.partially_funded"):
        # The charge's answer already gave the customer's next action; "pending" without it
        # would read as "processing": record it (and the funds received so far), change nothing.
        outcome = Outcome.PENDING if event_type.endswith("partially_funded") else None
    elif event_type == "payment_intent.canceled":
        outcome, failure = Outcome.FAILED, Failure("canceled", "El pago se canceló.", status)
    elif event_type == "payment_intent.payment_failed":
        outcome = Outcome.FAILED
        failure = mapping.failure_from(obj.get("last_payment_error"), _FAILED)
        final = not (checkout and status == "requires_payment_method")
    own = object_id(obj)
    return WebhookEvent(
        event_id,
        EventKind.PAYMENT,
        event_type,
        payment_id=meta(obj, "payment_id"),
        processor_reference=None if checkout else own,
        outcome=outcome,
        amount=amount,
        failure=failure,
        final=final,
        attempt_reference=own if checkout else None,
        received=methods.received(obj, amount),
        references=methods.references(obj),
        # What is still due (amount_remaining): the buyer must not send the whole amount again.
        next_action=methods.pending_action(obj, amount) if outcome is Outcome.PENDING else None,
    )


def _session(event_id: str, event_type: str, obj: Obj) -> WebhookEvent:
    failure = None
    if event_type == "checkout.session.expired":
        outcome = Outcome.FAILED
        failure = Failure("canceled", "La página de pago expiró sin completarse.", "expired")
    elif event_type == "checkout.session.async_payment_failed":
        outcome, failure = Outcome.FAILED, Failure(*_FAILED, "async_payment_failed")
    elif event_type == "checkout.session.async_payment_succeeded" or obj.get("payment_status") in (
        "paid",
        "no_payment_required",
    ):  # paid later, or paid when the page was completed
        outcome = Outcome.SUCCEEDED
    else:  # completed, to be paid later by an asynchronous method (a voucher, a transfer)
        outcome = Outcome.PENDING
    reference_id = obj.get("client_reference_id")
    return WebhookEvent(
        event_id,
        EventKind.PAYMENT,
        event_type,
        payment_id=meta(obj, "payment_id")
        or (reference_id if isinstance(reference_id, str) else None),
        processor_reference=object_id(obj),
        outcome=outcome,
        amount=mapping.money(obj.get("amount_total"), obj.get("currency")),
        failure=failure,
        attempt_reference=object_id(obj.get("payment_intent")),
    )


def _refund(event_id: str, event_type: str, obj: Obj) -> WebhookEvent:
    result = mapping.refund_result(obj)
    return WebhookEvent(
        event_id,
        EventKind.REFUND,
        event_type,
        payment_id=meta(obj, "payment_id"),
        processor_reference=object_id(obj.get("payment_intent")) or object_id(obj.get("charge")),
        outcome=result.outcome,
        amount=mapping.money(obj.get("amount"), obj.get("currency")),  # this refund's own
        failure=result.failure,
        refund_id=meta(obj, "refund_id"),
        refund_reference=object_id(obj),
    )


def _charge_refunded(event_id: str, event_type: str, obj: Obj) -> WebhookEvent:
    # Since API version 2022-11-15 a charge no longer embeds its refunds, so this event cannot
    # say which refund it is about: the refund.* events do (see the README).
    refunds = obj.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, Mapping) else None
    if not isinstance(listed, list) or not listed:
        return WebhookEvent(event_id, EventKind.IGNORED, event_type)
    newest = max(listed, key=lambda refund: refund.get("created") or 0)
    refund = _refund(event_id, event_type, newest)
    return dataclasses.replace(
        refund,
        payment_id=refund.payment_id or meta(obj, "payment_id"),  # charges copy the intent's
        refunded=mapping.money(obj.get("amount_refunded"), obj.get("currency")),
    )


#: A Dispute's ``status`` as the core's dispute state. An inquiry (``warning_*``) is open until
#: it closes; one closed without a chargeback (``warning_closed``) or ``prevented`` is won.
DISPUTE_STATES: dict[str, DisputeStatus] = {
    "won": DisputeStatus.WON,
    "warning_closed": DisputeStatus.WON,
    "prevented": DisputeStatus.WON,
    "lost": DisputeStatus.LOST,
}


def _dispute(event_id: str, event_type: str, obj: Obj) -> WebhookEvent:
    """``charge.dispute.*``: the dispute's state now. A dispute names the charge and its
    PaymentIntent, never our payment id: the payment is found by those references."""
    status = str(obj.get("status") or "")
    amount = mapping.money(obj.get("amount"), obj.get("currency"))
    intent = object_id(obj.get("payment_intent"))
    return WebhookEvent(
        event_id,
        EventKind.DISPUTE,
        event_type,
        payment_id=meta(obj, "payment_id"),
        processor_reference=object_id(obj.get("charge")) or intent,
        amount=amount,
        references=(intent,) if intent else (),
        dispute=Dispute(
            DISPUTE_STATES.get(status, DisputeStatus.OPEN),
            amount=amount,
            reason=str(obj.get("reason") or ""),
            reference=object_id(obj),
        ),
    )


#: Money in a Stripe customer's cash balance that no payment took (see :func:`funds_alert`).
FUNDS_AVAILABLE = "cash_balance.funds_available"


def _funds_available(event_id: str, event_type: str, obj: Obj) -> WebhookEvent:
    # About a customer, not a payment: nothing the core can apply (the hook logs the ALERT).
    return WebhookEvent(event_id, EventKind.IGNORED, event_type)


def _funds(amount: object, currency: object) -> str:
    try:
        return str(mapping.money(amount, currency))
    except ProcessorContractError:  # still worth the alert: Stripe's own words
        return f"{amount!r} {currency!r}"


def funds_alert(event: Obj, merchant_id: str) -> None:
    """Log an ALERT for a ``cash_balance.funds_available`` event: a SPEI transfer that arrived
    after its payment was canceled at our deadline, or an excess over what the customer owed,
    sits in the Stripe Customer's cash balance; no payment of the gateway holds it."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        return
    available = obj.get("available")
    funds = [
        _funds(amount, currency)
        for currency, amount in (available.items() if isinstance(available, Mapping) else ())
        if amount
    ]
    log.error(
        "ALERT merchant %s: Stripe customer %s has %s in its cash balance that no payment took "
        "(a SPEI transfer after its payment expired, or an excess): apply it to a payment or "
        "refund it from the Stripe Dashboard (event %s)",
        merchant_id,
        obj.get("customer"),
        ", ".join(funds) or "funds",
        event.get("id"),
    )


#: Event type -> how to read its ``data.object``. Subscribe the endpoint to exactly these.
EVENTS: dict[str, Callable[[str, str, Obj], WebhookEvent]] = {
    "payment_intent.succeeded": _intent,
    "payment_intent.payment_failed": _intent,
    "payment_intent.processing": _intent,
    "payment_intent.requires_action": _intent,
    "payment_intent.canceled": _intent,
    "payment_intent.partially_funded": _intent,
    "checkout.session.completed": _session,
    "checkout.session.async_payment_succeeded": _session,
    "checkout.session.async_payment_failed": _session,
    "checkout.session.expired": _session,
    "charge.refunded": _charge_refunded,
    "refund.created": _refund,
    "refund.updated": _refund,
    "refund.failed": _refund,
    "charge.refund.updated": _refund,  # the older name of refund.updated
    "charge.dispute.created": _dispute,
    "charge.dispute.updated": _dispute,
    "charge.dispute.closed": _dispute,
    "charge.dispute.funds_withdrawn": _dispute,
    "charge.dispute.funds_reinstated": _dispute,
    FUNDS_AVAILABLE: _funds_available,
}


def webhook_event(event: Obj) -> WebhookEvent:
    """The normalized event; types not in :data:`EVENTS` are acknowledged as ignored.

    :raises WebhookMalformed: an authentic event that lacks what its type promises.
    """
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise WebhookMalformed("the Stripe event has no id or type")
    created = event.get("created")
    occurred = datetime.fromtimestamp(created, UTC) if isinstance(created, int) else None
    read = EVENTS.get(event_type)
    if read is None:
        return WebhookEvent(event_id, EventKind.IGNORED, event_type, occurred_at=occurred)
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        raise WebhookMalformed(f"the {event_type} event {event_id} has no data.object")
    try:
        normalized = read(event_id, event_type, obj)
    except (ValueError, TypeError, AttributeError, ProcessorContractError) as exc:
        raise WebhookMalformed(f"the {event_type} event {event_id} cannot be read: {exc}") from exc
    return dataclasses.replace(normalized, occurred_at=occurred)
