"""The inbound webhook pipeline: verify, dedupe, lock, check, apply, record.

1. the processor's plugin verifies the raw body (its signature scheme, or its credentials plus a
   re-fetch from the processor when notifications cannot be trusted on their own);
2. the event is recorded once per (merchant, processor, event id): a repeat is acknowledged and
   changes nothing;
3. the payment row is locked, the event's amount and currency are checked against ours (a
   mismatch is recorded and logged as an alert, never applied), and only allowed, monotonic
   transitions are applied (see :mod:`b2bgateway.lifecycle`);
4. the outcome of every event is recorded with it, in the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import Insert, bindparam, select, update
from sqlalchemy.orm import Session, joinedload, lazyload

from b2bgateway import disputes, history, lifecycle, references
from b2bgateway.answers import EventOutcome
from b2bgateway.errors import EventOutOfOrder, GatewayError, NotFound
from b2bgateway.gateway import Gateway
from b2bgateway.interface import (
    ChargeResult,
    EventKind,
    Outcome,
    PaymentStatus,
    RefundStatus,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.store.db import is_unavailable
from b2bgateway.store.models import Payment, Refund, utcnow
from b2bgateway.store.models import WebhookEvent as EventRow
from b2bgateway.store.repository import dialect_insert, new_id

__all__ = ["EventOutcome", "Received", "receive"]

log = logging.getLogger(__name__)
MAX_STORED_BODY = 64 * 1024


@dataclass(frozen=True, slots=True)
class Received:
    """What became of a notification (``outcome``), and the payment it was about."""

    event_id: str
    outcome: EventOutcome
    payment_id: str | None = None


def _find_payment(
    gw: Gateway, session: Session, merchant_id: str, processor: str, event: WebhookEvent
) -> Payment | None:
    # Observers get the payment's JSON, its allocations included: then they are loaded with the
    # locked row, in the same statement; otherwise only if something reads them (a late success).
    observed = gw.plugins.observed("b2bgateway_payment_status_changed", merchant_id)
    lock = _LOCK_WITH_ALLOCATIONS if observed else _LOCK_PAYMENT
    if event.payment_id:
        payment = session.execute(lock, {"payment_id": event.payment_id}).unique().scalar()
        # A notification verified with one processor's secret speaks only for that processor.
        if (
            payment is not None
            and payment.merchant_id == merchant_id
            and payment.processor == processor
        ):
            return payment
    # Its own reference, or any other it got on the way (a hosted page's payment intent, a
    # charge): disputes and refunds made at the processor often carry only those.
    for reference in (event.processor_reference, event.attempt_reference, *event.references):
        alias = reference and references.payment_for(session, merchant_id, processor, reference)
        if alias:
            found = session.execute(lock, {"payment_id": alias}).unique().scalar()
            if found is not None and (found.merchant_id, found.processor) == (
                merchant_id,
                processor,
            ):
                return found
    return None


def _apply_payment(
    gw: Gateway, session: Session, payment: Payment, event: WebhookEvent
) -> EventOutcome:
    if event.outcome is None:
        return EventOutcome.IGNORED
    result = ChargeResult(
        event.outcome,
        processor_reference=event.processor_reference or payment.processor_reference,
        amount=event.amount,
        failure=event.failure,
        processor_status=event.event_type,
        final=event.final,
        attempt_reference=event.attempt_reference,
        method_details=event.method_details,
        received=event.received,
        references=event.references,
        # New instructions of a payment still waiting (what is still due of a SPEI transfer).
        next_action=event.next_action if event.outcome is Outcome.PENDING else None,
    )
    applied = lifecycle.apply_charge_result(session, gw.plugins, payment, result)
    if applied.reason in (
        EventOutcome.LATE_SUCCESS,
        EventOutcome.ATTEMPT_FAILED,
        EventOutcome.MISMATCH,
    ):
        return applied.reason
    return EventOutcome.APPLIED if applied.changed else applied.reason


#: A refund can be reported for a payment in these states only (before: out of order).
_REFUNDABLE = (
    PaymentStatus.SUCCEEDED.value,
    PaymentStatus.PARTIALLY_REFUNDED.value,
    PaymentStatus.REFUNDED.value,
    PaymentStatus.DISPUTED.value,
)


def _apply_refund(
    gw: Gateway, session: Session, payment: Payment, event: WebhookEvent
) -> EventOutcome:
    if payment.status not in _REFUNDABLE and not lifecycle.kept_closed_after_late_success(payment):
        raise EventOutOfOrder(f"payment {payment.id} is {payment.status}: not refundable yet")
    refund = _find_refund(session, payment, event)
    if refund is None:
        if event.outcome is not Outcome.SUCCEEDED or event.amount is None:
            return EventOutcome.IGNORED
        refund = _refund_made_outside(session, payment, event)
        if refund is None:
            return EventOutcome.MISMATCH
    if refund.payment_id != payment.id:
        return EventOutcome.MISMATCH
    if event.outcome is Outcome.SUCCEEDED:
        if not lifecycle.set_refund_status(session, gw.plugins, refund, RefundStatus.SUCCEEDED):
            return EventOutcome.UNCHANGED
        lifecycle.refund_succeeded(session, gw.plugins, payment, refund)
        return EventOutcome.APPLIED
    if event.outcome is Outcome.FAILED:
        if event.failure is not None:
            refund.failure_code = event.failure.code
            refund.failure_message = event.failure.message
        changed = lifecycle.set_refund_status(session, gw.plugins, refund, RefundStatus.FAILED)
        return EventOutcome.APPLIED if changed else EventOutcome.UNCHANGED
    return EventOutcome.IGNORED


def _find_refund(session: Session, payment: Payment, event: WebhookEvent) -> Refund | None:
    """The refund an event is about: by our id, by the processor's reference, or our pending
    refund of that amount that has no reference yet (which then adopts the event's)."""
    refund = None
    if event.refund_id:
        refund = session.get(Refund, event.refund_id)
    if refund is None and event.refund_reference:
        refund = session.scalar(
            select(Refund).where(
                Refund.payment_id == payment.id,
                Refund.processor_reference == event.refund_reference,
            )
        )
    if refund is None and event.amount is not None:
        # Our pending refund, reported by the processor's reference only: adopt it.
        refund = session.scalar(
            select(Refund)
            .where(
                Refund.payment_id == payment.id,
                Refund.status == RefundStatus.PENDING.value,
                Refund.processor_reference.is_(None),
                Refund.amount_minor == event.amount.to_minor_units(),
            )
            .order_by(Refund.created_at)
            .limit(1)
        )
        if refund is not None:
            refund.processor_reference = event.refund_reference
    return refund


def _refund_made_outside(session: Session, payment: Payment, event: WebhookEvent) -> Refund | None:
    """A refund made outside the gateway (the processor's dashboard), recorded ``pending``;
    None (and an alert) when it does not fit the payment."""
    assert event.amount is not None
    if event.amount.currency != payment.currency or (
        payment.refunded_minor + event.amount.to_minor_units() > payment.amount_minor
    ):
        log.error(
            "ALERT payment %s: refund event %s for %s does not fit the payment",
            payment.id,
            event.event_id,
            event.amount,
        )
        return None
    refund = Refund(
        id=new_id("re"),
        merchant_id=payment.merchant_id,
        payment_id=payment.id,
        amount_minor=event.amount.to_minor_units(),
        currency=event.amount.currency,
        status=RefundStatus.PENDING.value,
        processor_reference=event.refund_reference,
        reason="made at the processor",
    )
    session.add(refund)
    session.flush()
    return refund


def receive(
    gw: Gateway,
    merchant_id: str,
    processor_name: str,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> Received:
    """Handle one notification end to end, and tell the instruments what became of it.

    :raises NotFound: no such merchant, or the merchant has no settings for that processor.
    :raises WebhookSignatureInvalid: not authentic (nothing is recorded or changed).
    """
    # The path names the processor: only installed ones become a label, never what was sent.
    label = processor_name if processor_name in gw.plugins.processor_names else "unknown"
    try:
        received = _receive(gw, merchant_id, processor_name, body, headers, query)
    except Exception as exc:
        _report(gw, label, accepted=False, reason=_refusal(exc))
        raise
    _report(gw, label, accepted=True, reason=received.outcome.value)
    return received


def _refusal(exc: Exception) -> str:
    """The error code the answer carries (what problems.py maps the exception to)."""
    if isinstance(exc, GatewayError):
        return exc.code
    return "service_unavailable" if is_unavailable(exc) else "internal_error"


def _report(gw: Gateway, processor: str, *, accepted: bool, reason: str) -> None:
    try:
        gw.plugins.instruments.webhook(processor, accepted, reason)
    except Exception:  # measuring must never change what a notification does
        log.exception("instruments failed on a webhook")


def _receive(
    gw: Gateway,
    merchant_id: str,
    processor_name: str,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> Received:
    event = _verify(gw, merchant_id, processor_name, body, headers, query)
    with gw.store.write() as session:
        # One statement dedupes: the unique constraint decides, between earlier and concurrent
        # deliveries alike (a concurrent one waits for the first to commit or roll back). No row
        # back means this event id is already recorded: a repeat, acknowledged, changing nothing.
        row_id = session.connection().scalar(
            _INSERT_EVENT[session.get_bind().dialect.name],
            {
                "merchant_id": merchant_id,
                "processor": processor_name,
                "event_id": event.event_id,
                "event_type": event.event_type[:128] or event.kind.value,
                "outcome": EventOutcome.RECEIVED.value,
                "body": body[:MAX_STORED_BODY].decode("utf-8", "replace"),
            },
        )
        if row_id is None:
            return Received(event.event_id, EventOutcome.DUPLICATE)
        # Whatever it changes was caused by this notification (our row, the processor's id).
        cause = history.Cause(
            "webhook", processor_name, None, row_id, event.event_id, event.event_type or None
        )
        with history.caused_by(cause):
            outcome, payment = _apply(gw, session, merchant_id, processor_name, event)
        payment_id = None if payment is None else payment.id
        session.connection().execute(
            _RECORD_OUTCOME,
            {"row_id": row_id, "outcome": outcome.value, "payment_id": payment_id},
        )
        return Received(event.event_id, outcome, payment_id)


def _verify(
    gw: Gateway,
    merchant_id: str,
    processor_name: str,
    body: bytes,
    headers: Mapping[str, str],
    query: Mapping[str, str],
) -> WebhookEvent:
    """The event, as the processor's plugin reads (and authenticates) it."""
    merchant = gw.merchants.get(merchant_id)
    settings = None if merchant is None else merchant.settings_for(processor_name)
    if merchant is None or settings is None:
        raise NotFound("no such webhook endpoint")
    return gw.plugins.processor(processor_name).parse_webhook(
        WebhookRequest(
            merchant_id=merchant_id,
            body=body,
            headers={k.lower(): v for k, v in headers.items()},
            query=dict(query),
            received_at=utcnow(),
        ),
        settings,
    )


def _apply(
    gw: Gateway, session: Session, merchant_id: str, processor_name: str, event: WebhookEvent
) -> tuple[EventOutcome, Payment | None]:
    """What a new event does to its payment (on the locked row), and that payment."""
    if event.kind is EventKind.IGNORED:
        return EventOutcome.IGNORED, None
    payment = _find_payment(gw, session, merchant_id, processor_name, event)
    if payment is None:
        return EventOutcome.UNKNOWN_PAYMENT, None
    if event.kind is not EventKind.PAYMENT:
        # A refund's or a dispute's notification may name the payment by another reference.
        references.remember_references(
            session, payment, (event.processor_reference, *event.references)
        )
    if event.kind is EventKind.DISPUTE:
        return disputes.apply(gw.plugins, session, payment, event), payment
    closed = None
    if disputes.ends_open_dispute(payment, event):  # the dispute's end, told by the payment
        closed = disputes.apply(gw.plugins, session, payment, event)
    if event.kind is EventKind.PAYMENT:
        outcome = _apply_payment(gw, session, payment, event)
    else:
        outcome = _apply_refund(gw, session, payment, event)
    if closed is EventOutcome.APPLIED and outcome in (EventOutcome.UNCHANGED, EventOutcome.IGNORED):
        return closed, payment
    return outcome, payment


# The statements of every delivery, built once.
#: The payment row locked; its allocations are loaded when first read.
_LOCK_PAYMENT = (
    select(Payment)
    .where(Payment.id == bindparam("payment_id"))
    .options(lazyload(Payment.allocations))
    .with_for_update()
)
#: The payment row locked, with its allocations (the lock on the payment only: PostgreSQL refuses
#: FOR UPDATE on the nullable side of an outer join).
_LOCK_WITH_ALLOCATIONS = (
    select(Payment)
    .where(Payment.id == bindparam("payment_id"))
    .options(joinedload(Payment.allocations))
    .with_for_update(of=Payment)
)
_EVENT_KEY = ("merchant_id", "processor", "event_id")  # the events' unique constraint
#: Per dialect (the two the store supports both have ON CONFLICT and RETURNING).
_INSERT_EVENT: dict[str, Insert] = {
    dialect: dialect_insert(dialect)(EventRow)
    .on_conflict_do_nothing(index_elements=_EVENT_KEY)
    .returning(EventRow.id)
    for dialect in ("postgresql", "sqlite")
}
_RECORD_OUTCOME = update(EventRow).where(EventRow.id == bindparam("row_id"))
