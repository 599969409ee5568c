"""Payment and refund state changes: the allowed transitions, in one table, and the only code that
applies a processor's answer to a payment row.

Terminal states never regress: a late or repeated answer that would move a payment backwards is
refused (the caller records it) and changes nothing. Observers hear of every change inside the
transaction that made it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from sqlalchemy.orm import Session

from b2bgateway.interface import (
    ChargeResult,
    Outcome,
    PaymentStatus,
    PaymentStatusChanged,
    RefundStatus,
    RefundStatusChanged,
)
from b2bgateway.notifications import SessionOutbox
from b2bgateway.plugins import Plugins
from b2bgateway.representation import payment_json, refund_json
from b2bgateway.store.models import Payment, Refund, utcnow
from b2bgateway.store.repository import set_payment_status

__all__ = [
    "ALLOWED",
    "Applied",
    "apply_charge_result",
    "can_move",
    "created",
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
    S.SUCCEEDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
    S.FAILED: frozenset(),
    S.CANCELED: frozenset(),
    S.REFUNDED: frozenset(),
}


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
    _notify_payment(session, plugins, payment, current, details)
    return True


def _outbox(session: Session, plugins: Plugins, merchant_id: str) -> SessionOutbox:
    return SessionOutbox(session, merchant_id, merchant_id in plugins.outbox_merchants)


def _notify_payment(
    session: Session,
    plugins: Plugins,
    payment: Payment,
    previous: PaymentStatus | None,
    details: Mapping[str, Any] | None = None,
) -> None:
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


def created(session: Session, plugins: Plugins, payment: Payment) -> None:
    """Tell the observers a payment now exists (previous status None), in its transaction."""
    _notify_payment(session, plugins, payment, None)


class Applied:
    """What applying an answer did: ``changed``, or why not (``refused``, ``mismatch``)."""

    __slots__ = ("changed", "reason")

    def __init__(self, changed: bool, reason: str = "") -> None:
        self.changed = changed
        self.reason = reason


def apply_charge_result(
    session: Session, plugins: Plugins, payment: Payment, result: ChargeResult
) -> Applied:
    """Record a processor's answer about a charge on the (locked) payment row.

    An answer whose amount or currency differs from ours is never applied (it is reported as a
    mismatch for the caller to record and alert on). The processor reference, once known, is kept.
    """
    if result.amount is not None and result.amount != payment.amount:
        log.warning(
            "payment %s: processor reports %s, ours is %s",
            payment.id,
            result.amount,
            payment.amount,
        )
        return Applied(False, "mismatch")
    if result.processor_reference and not payment.processor_reference:
        payment.processor_reference = result.processor_reference
    new = status_for(result)
    if new is None:
        return Applied(False, "unknown")
    current = PaymentStatus(payment.status)
    if new == current:
        if new is S.REQUIRES_ACTION and result.next_action is not None:
            payment.next_action = _next_action(result)
        return Applied(False, "unchanged")
    if not can_move(current, new):
        return Applied(False, "refused")
    payment.next_action = _next_action(result) if new is S.REQUIRES_ACTION else None
    if result.failure is not None and new in (S.FAILED, S.CANCELED):
        payment.failure_code = result.failure.code
        payment.failure_message = result.failure.message
    transition(session, plugins, payment, new, {"processor_status": result.processor_status})
    return Applied(True)


def _next_action(result: ChargeResult) -> dict[str, Any] | None:
    if result.next_action is None:
        return None
    action = asdict(result.next_action)
    action["data"] = dict(action["data"])
    return {key: value for key, value in action.items() if value not in (None, {})}


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
