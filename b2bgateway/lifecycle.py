"""Payment and refund state changes: the allowed transitions, in one table, and the only code that
applies a processor's answer to a payment row.

Terminal states never regress: a late or repeated answer that would move a payment backwards is
refused (the caller records it) and changes nothing. The one move out of ``failed`` or
``canceled`` is a **late success**: the processor took the money after the gateway gave up
(an expired voucher paid anyway, a processor that could not cancel). It is never lost: it is
recorded, flagged ``late_success`` and raised (log ALERT, ``payment.late_success``); the payment
becomes ``succeeded`` when its invoices (or order) are still free, and otherwise keeps its
status, flagged ``overpaid`` for a refund. Observers hear of every change inside the transaction
that made it.

A failed attempt the customer can still retry on the processor's page (``final=False``) does not
end the payment: it is kept as an attempt, and the payment waits for the next one, a cancel or
its ``expires_at``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from b2bgateway import answers, history, mail
from b2bgateway.answers import EventOutcome
from b2bgateway.interface import (
    ChargeResult,
    Outcome,
    PaymentStatus,
    PaymentStatusChanged,
    PaymentUpdated,
    RefundStatus,
    RefundStatusChanged,
)
from b2bgateway.notifications import SessionOutbox
from b2bgateway.plugins import Plugins
from b2bgateway.representation import next_action_json, payment_json, refund_json
from b2bgateway.store.models import Payment, PaymentAllocation, Refund, utcnow
from b2bgateway.store.repository import set_payment_status, write_changes

__all__ = [
    "ALLOWED",
    "Applied",
    "announce",
    "apply_charge_result",
    "can_move",
    "created",
    "free_again",
    "kept_closed_after_late_success",
    "notify",
    "refund_succeeded",
    "set_refund_status",
    "status_for",
    "transition",
]

log = logging.getLogger(__name__)

S = PaymentStatus
#: status -> the statuses it may move to. Everything else is refused.
ALLOWED: Mapping[PaymentStatus, frozenset[PaymentStatus]] = {
    S.REQUIRES_ACTION: frozenset({S.PROCESSING, S.SUCCEEDED, S.FAILED, S.CANCELED}),
    S.PROCESSING: frozenset({S.REQUIRES_ACTION, S.SUCCEEDED, S.FAILED, S.CANCELED}),
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED}),
    # A dispute won returns to the paid state it left; a lost one stays ``disputed``.
    S.DISPUTED: frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED}),
    # Only a late success, and only while its invoices are free (see apply_charge_result).
    S.FAILED: frozenset({S.SUCCEEDED}),
    S.CANCELED: frozenset({S.SUCCEEDED}),
    S.REFUNDED: frozenset(),
}
#: Where a payment has ended as far as the customer is concerned (a success there is late).
CLOSED = frozenset({S.FAILED, S.CANCELED})
#: Not finished: the customer or the processor has yet to act.
OPEN = frozenset({S.REQUIRES_ACTION, S.PROCESSING})
#: Paid, and since moved only by refunds and disputes, never by an answer about the charge.
SETTLED = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED, S.REFUNDED, S.DISPUTED})


def can_move(current: PaymentStatus, new: PaymentStatus) -> bool:
    return new in ALLOWED[current]


def status_for(result: ChargeResult) -> PaymentStatus | None:
    """The payment status a processor's answer means; None when it tells nothing (unknown)."""
    if result.outcome is Outcome.SUCCEEDED:
        return S.SUCCEEDED
    if result.outcome is Outcome.FAILED:
        failure = result.failure
        return S.CANCELED if failure is not None and failure.code == "canceled" else S.FAILED
    if result.outcome is Outcome.PENDING:
        return S.REQUIRES_ACTION if result.next_action is not None else S.PROCESSING
    return None


def transition(
    session: Session,
    plugins: Plugins,
    payment: Payment,
    new: PaymentStatus,
    details: Mapping[str, Any] | None = None,
) -> bool:
    """Move ``payment`` to ``new`` if the table allows it; tell the observers. False if refused."""
    current = PaymentStatus(payment.status)
    if new == current and new is not S.PARTIALLY_REFUNDED:
        return False
    if not can_move(current, new):
        log.info("payment %s: %s -> %s refused", payment.id, current, new)
        return False
    set_payment_status(session, payment, new)
    announce(session, plugins, payment, current, details)
    if details and details.get("event"):
        _notify_update(session, plugins, payment, details)
    return True


def _outbox(session: Session, plugins: Plugins, merchant_id: str) -> SessionOutbox:
    enabled = merchant_id in plugins.merchants_with_notification_url  # else it writes nothing
    return SessionOutbox(session, merchant_id, enabled)


def announce(
    session: Session,
    plugins: Plugins,
    payment: Payment,
    previous: PaymentStatus | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    history.record(session, payment, previous, details)  # with its cause, in this transaction
    if plugins.observed("b2bgateway_payment_status_changed", payment.merchant_id):
        plugins.payment_status_changed(
            PaymentStatusChanged(
                merchant_id=payment.merchant_id,
                payment_id=payment.id,
                customer_id=payment.customer_id,
                processor=payment.processor,
                previous=previous,
                status=PaymentStatus(payment.status),
                amount=payment.amount,
                occurred_at=payment.updated_at,
                details=dict(details or {}),
                payment=payment_json(payment),
            ),
            _outbox(session, plugins, payment.merchant_id),
        )
    if payment.merchant_id in plugins.merchants_with_email:  # the customer's e-mail, queued
        mail.on_status(session, payment, previous)


def _notify_update(
    session: Session, plugins: Plugins, payment: Payment, details: Mapping[str, Any]
) -> None:
    if not plugins.observed("b2bgateway_payment_updated", payment.merchant_id):
        return
    plugins.payment_updated(
        PaymentUpdated(
            merchant_id=payment.merchant_id,
            payment_id=payment.id,
            customer_id=payment.customer_id,
            processor=payment.processor,
            event=str(details["event"]),
            status=PaymentStatus(payment.status),
            occurred_at=payment.updated_at,
            details={k: v for k, v in details.items() if k != "event"},
            payment=payment_json(payment),
        ),
        _outbox(session, plugins, payment.merchant_id),
    )


def created(session: Session, plugins: Plugins, payment: Payment) -> None:
    """Tell the observers a payment now exists (previous status None), in its transaction."""
    announce(session, plugins, payment, None)


class Applied(NamedTuple):
    """What applying an answer did: ``changed``, or why not (``refused``, ``mismatch``)."""

    changed: bool
    reason: EventOutcome = EventOutcome.APPLIED


def apply_charge_result(
    session: Session, plugins: Plugins, payment: Payment, result: ChargeResult
) -> Applied:
    """Record a processor's answer about a charge on the (locked) payment row.

    An answer whose amount or currency differs from ours is never applied (it is flagged
    ``amount_mismatch`` and reported for the caller to record and alert on). The processor
    reference, once known, is kept; every attempt is kept. Funds received beyond the amount
    (a SPEI transfer for more) succeed and are flagged ``overpaid``.
    """
    mismatch = answers.mismatch(payment, result)
    if mismatch:
        return _mismatched(session, plugins, payment, mismatch)
    known = payment.processor_reference  # its own, from an earlier answer: needs no alias
    if result.processor_reference and not payment.processor_reference:
        payment.processor_reference = result.processor_reference
    new = status_for(result)
    current = PaymentStatus(payment.status)
    paid = new is S.SUCCEEDED and current in SETTLED
    if paid and answers.another_success(session, payment, result):
        return _paid_twice(session, plugins, payment, result, known)
    answers.record_attempt(session, payment, result, known)
    funded = answers.note_funding(payment, result)
    if funded and (new is None or new == current or current in SETTLED):
        notify(session, plugins, payment, {"event": "overpaid"})
    if new is None:
        write_changes(session, payment)
        return Applied(False, EventOutcome.UNKNOWN)
    if current in SETTLED:
        # Refunds and disputes move a paid payment; an answer about its charge never does.
        write_changes(session, payment)
        return Applied(
            False, EventOutcome.UNCHANGED if new is S.SUCCEEDED else EventOutcome.REFUSED
        )
    if new is S.FAILED and not result.final and current in OPEN:
        # One declined card on a page that stays open: the customer may try another.
        write_changes(session, payment)
        return Applied(False, EventOutcome.ATTEMPT_FAILED)
    if new is S.PROCESSING and current is S.REQUIRES_ACTION and result.next_action is None:
        # "Still pending" without instructions: the customer's instructions still stand.
        write_changes(session, payment)
        return Applied(False, EventOutcome.UNCHANGED)
    if new is S.SUCCEEDED and current in CLOSED:
        return _late_success(session, plugins, payment, result)
    return _move(session, plugins, payment, result, current, new)


def _move(
    session: Session,
    plugins: Plugins,
    payment: Payment,
    result: ChargeResult,
    current: PaymentStatus,
    new: PaymentStatus,
) -> Applied:
    """The answer's status, if the table allows the move (the same status: its news only)."""
    if new == current:
        if new is S.REQUIRES_ACTION and result.next_action is not None:
            payment.next_action = next_action_json(result.next_action)
        write_changes(session, payment)
        return Applied(False, EventOutcome.UNCHANGED)
    if not can_move(current, new):
        return Applied(False, EventOutcome.REFUSED)
    action = result.next_action if new is S.REQUIRES_ACTION else None
    payment.next_action = None if action is None else next_action_json(action)
    if result.failure is not None and new in (S.FAILED, S.CANCELED):
        payment.failure_code = result.failure.code
        payment.failure_message = result.failure.message
    if new is S.SUCCEEDED:
        answers.note_paid(payment, result)
    transition(session, plugins, payment, new, {"processor_status": result.processor_status})
    return Applied(True)


def _mismatched(session: Session, plugins: Plugins, payment: Payment, mismatch: str) -> Applied:
    log.error("ALERT payment %s: %s: not applied", payment.id, mismatch)
    if payment.add_flag("amount_mismatch"):
        notify(session, plugins, payment, {"event": "amount_mismatch", "detail": mismatch})
    return Applied(False, EventOutcome.MISMATCH)


def _paid_twice(
    session: Session, plugins: Plugins, payment: Payment, result: ChargeResult, known: str | None
) -> Applied:
    payment.add_flag("overpaid")
    log.error(
        "ALERT payment %s: a second attempt (%s) was paid too: refund one at the processor",
        payment.id,
        result.attempt_reference,
    )
    answers.record_attempt(session, payment, result, known)
    notify(session, plugins, payment, {"event": "overpaid", "reason": "second_success"})
    return Applied(False, EventOutcome.OVERPAID)


def _late_success(
    session: Session, plugins: Plugins, payment: Payment, result: ChargeResult
) -> Applied:
    """The processor took money for a payment the gateway closed. Never lost, always loud."""
    previous = PaymentStatus(payment.status)
    if payment.flags and "late_success" in payment.flags:
        return Applied(False, EventOutcome.UNCHANGED)  # already recorded (a repeated notification)
    payment.add_flag("late_success")
    answers.note_paid(payment, result)
    write_changes(session, payment)  # recorded, whatever happens next
    if free_again(session, payment):
        try:  # a checkout racing for the same invoices: the unique indexes decide
            with session.begin_nested():
                payment.failure_code = None
                payment.failure_message = None
                payment.next_action = None
                transition(session, plugins, payment, S.SUCCEEDED, {"event": "late_success"})
        except IntegrityError:
            session.refresh(payment)  # as recorded above: still closed, now flagged
        else:
            log.error(
                "ALERT payment %s was %s but the processor took the money: recorded as "
                "succeeded (its invoices were still free)",
                payment.id,
                previous,
            )
            return Applied(True, EventOutcome.LATE_SUCCESS)
    payment.add_flag("overpaid")
    notify(session, plugins, payment, {"event": "late_success"})
    log.error(
        "ALERT payment %s is %s but the processor took the money, and its invoices were paid "
        "again meanwhile: overpaid, refund it at the processor",
        payment.id,
        previous,
    )
    return Applied(False, EventOutcome.LATE_SUCCESS)


def free_again(session: Session, payment: Payment) -> bool:
    """Are this payment's invoices (or order) still free, no other payment holding any?"""
    taken: object
    if payment.purpose == "order":
        taken = session.scalar(
            select(Payment.id).where(
                Payment.merchant_id == payment.merchant_id,
                Payment.customer_id == payment.customer_id,
                Payment.order_reference == payment.order_reference,
                Payment.id != payment.id,
                Payment.status.in_([s.value for s in S if s.registers_invoices]),
                or_(Payment.dispute_status.is_(None), Payment.dispute_status != "lost"),
            )
        )
    else:
        taken = session.scalar(
            select(PaymentAllocation.id).where(
                PaymentAllocation.merchant_id == payment.merchant_id,
                PaymentAllocation.invoice_id.in_([a.invoice_id for a in payment.allocations]),
                PaymentAllocation.registered.is_(True),
                PaymentAllocation.payment_id != payment.id,
            )
        )
    return taken is None


def notify(
    session: Session, plugins: Plugins, payment: Payment, details: Mapping[str, Any]
) -> None:
    """Tell the observers (``b2bgateway_payment_updated``) of news that is not a new status: a
    flag, a dispute's outcome, an expiry; ``details["event"]`` says which."""
    payment.updated_at = utcnow()
    write_changes(session, payment)
    _notify_update(session, plugins, payment, details)


def kept_closed_after_late_success(payment: Payment) -> bool:
    """Closed but paid late (its invoices paid again): money that can be refunded or disputed."""
    return PaymentStatus(payment.status) in CLOSED and "late_success" in (payment.flags or [])


def refund_succeeded(session: Session, plugins: Plugins, payment: Payment, refund: Refund) -> None:
    """Add a succeeded refund to its (locked) payment: ``partially_refunded`` or ``refunded``.
    A disputed payment keeps its status; a dispute won then returns it to the refunded state."""
    payment.refunded_minor += refund.amount_minor
    new = S.REFUNDED if payment.refunded_minor >= payment.amount_minor else S.PARTIALLY_REFUNDED
    current = PaymentStatus(payment.status)
    if current is S.DISPUTED or current in CLOSED:
        # Disputed: a won dispute returns to refunded. Closed (a late success): it stays closed.
        if current is S.DISPUTED:
            payment.status_before_dispute = new.value
        notify(session, plugins, payment, {"event": "refund_recorded", "refund_id": refund.id})
        return
    transition(session, plugins, payment, new, {"refund_id": refund.id})


def set_refund_status(
    session: Session, plugins: Plugins, refund: Refund, new: RefundStatus
) -> bool:
    """Move a refund out of ``pending`` (its only non-final state); tell the observers."""
    current = RefundStatus(refund.status)
    if current is not RefundStatus.PENDING or new is current:
        return False
    refund.status = new.value
    refund.updated_at = utcnow()
    session.flush()
    plugins.refund_status_changed(
        RefundStatusChanged(
            merchant_id=refund.merchant_id,
            refund_id=refund.id,
            payment_id=refund.payment_id,
            previous=current,
            status=new,
            amount=refund.amount,
            occurred_at=refund.updated_at,
            refund=refund_json(refund),
        ),
        _outbox(session, plugins, refund.merchant_id),
    )
    return True
