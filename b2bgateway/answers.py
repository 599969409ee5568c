"""Reading a processor's answer about a charge against the payment it is about: is it about
this money (``mismatch``), was another attempt paid already (``another_success``), the funds
received and the processor's expiry (``note_funding``), when and how it was paid (``note_paid``),
and the attempt it is kept as (``record_attempt``). :mod:`b2bgateway.lifecycle` decides what
the answer does; these only read and note. :class:`EventOutcome` names what became of it.
"""

from __future__ import annotations

import enum
import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from b2bgateway import references
from b2bgateway.interface import ChargeResult, MethodDetails, Outcome, PaymentMethodType
from b2bgateway.representation import method_details_json
from b2bgateway.store.models import Payment, PaymentAttempt, utcnow
from b2bgateway.store.repository import dialect_insert

__all__ = [
    "EventOutcome",
    "another_success",
    "mismatch",
    "note_funding",
    "note_paid",
    "record_attempt",
]

log = logging.getLogger(__name__)


class EventOutcome(enum.StrEnum):
    """What became of a processor's answer: why it changed nothing, or that it applied. A
    notification's outcome is one of these (stored with the event and answered to the
    processor); not :class:`~b2bgateway.interface.Outcome`, which is what the processor says."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"  # this event id is already recorded: acknowledged, nothing changes
    IGNORED = "ignored"  # nothing in it for the gateway
    UNCHANGED = "unchanged"  # already so (a repeated or late notification)
    REFUSED = "refused"  # a transition that would go backwards, or a paid payment moved
    LATE_SUCCESS = "late_success"  # money for a closed payment: recorded, flagged, raised
    ATTEMPT_FAILED = "attempt_failed"  # one declined attempt on a page that stays open
    OVERPAID = "overpaid"  # a second attempt was paid too: flagged, for a refund
    MISMATCH = "mismatch"  # amount, currency or payment not ours: never applied, an alert
    RECORDED = "recorded"  # kept (a dispute of money already taken back), nothing to move
    UNKNOWN = "unknown"  # the processor does not know the outcome yet
    UNKNOWN_PAYMENT = "unknown_payment"  # no payment of ours has that id or reference
    RECEIVED = "received"  # stored while the event is being applied, never answered


def mismatch(payment: Payment, result: ChargeResult) -> str:
    """Why this answer cannot be about this payment's money, or "" when it can."""
    if result.amount is not None and result.amount != payment.amount:
        return f"the processor reports {result.amount}, ours is {payment.amount}"
    received = result.received
    if received is not None and received.currency != payment.currency:
        return f"the processor received {received}, ours is in {payment.currency}"
    if (
        result.outcome is Outcome.SUCCEEDED
        and received is not None
        and received.to_minor_units() < payment.amount_minor
    ):
        return f"the processor says paid with {received} received of {payment.amount}"
    return ""


def another_success(session: Session, payment: Payment, result: ChargeResult) -> bool:
    """Did another attempt of this payment succeed already (the customer paid twice)? Only
    attempts' own references count: a session's reference and its paid attempt are one."""
    if not result.attempt_reference:
        return False
    paid = set(
        session.scalars(
            select(PaymentAttempt.reference).where(
                PaymentAttempt.payment_id == payment.id,
                PaymentAttempt.outcome == Outcome.SUCCEEDED.value,
            )
        )
    )
    if result.attempt_reference in paid:
        return False  # this attempt's success again: a repeated notification
    return bool(paid - {payment.processor_reference})


def note_funding(payment: Payment, result: ChargeResult) -> bool:
    """Keep the processor's expiry (ours is the sooner of the two, except for a cash voucher,
    whose printed expiry is ours: the customer holds it) and the funds received so far. True
    when they now exceed the amount for the first time (flagged ``overpaid``)."""
    if result.expires_at is not None:
        payment.processor_expires_at = result.expires_at
        voucher = payment.payment_method == PaymentMethodType.CASH.value
        if payment.expires_at is None or voucher or result.expires_at < payment.expires_at:
            payment.expires_at = result.expires_at
    if result.received is None:
        return False
    received = result.received.to_minor_units()
    if received == payment.received_minor:
        return False
    payment.received_minor = received
    payment.updated_at = utcnow()  # the feed shows the amount received so far
    if received > payment.amount_minor and payment.add_flag("overpaid"):
        log.error(
            "ALERT payment %s: received %s for %s: overpaid, refund or apply the difference",
            payment.id,
            payment.received,
            payment.amount,
        )
        return True
    return False


def note_paid(payment: Payment, result: ChargeResult) -> None:
    details = result.method_details or MethodDetails(type=payment.payment_method)
    payment.paid_at = details.paid_at or utcnow()
    payment.method_details = method_details_json(details, payment.paid_at)
    if result.method_details is not None and details.type == PaymentMethodType.CARD.value:
        _note_installments(payment, details.installments)


def _note_installments(payment: Payment, charged: int | None) -> None:
    """The card's MSI plan as charged is the truth (a hosted page lets the customer pick another
    plan, or none): the payment's ``installments`` becomes it, flagged ``installments_changed``
    when it differs from what was asked (the CFDI and the ERP follow what was charged)."""
    charged = charged if charged is not None and charged > 1 else None  # 1: paid at once
    if charged == payment.installments:
        return
    log.warning(
        "payment %s: %s installments asked, %s charged: recorded as charged",
        payment.id,
        payment.installments or "no",
        charged or "none",
    )
    payment.installments = charged
    payment.add_flag("installments_changed")


def record_attempt(
    session: Session, payment: Payment, result: ChargeResult, known: str | None = None
) -> None:
    """Keep this try at the processor (one row per processor reference): its outcome, failure
    and method details. The references are also how notifications find the payment later.

    One ``INSERT ... ON CONFLICT DO UPDATE`` built once per dialect, on the connection (no ORM
    flush), and only for a reference of this payment: one that another payment holds is left
    alone. A failure or method details already known are kept when this answer has none. Every
    reference the answer names, and the processor customer it made, are remembered too
    (:func:`b2bgateway.references.remember`), but for ``known``: the payment's own reference
    from an earlier answer, which finds it without an alias."""
    references.remember(session, payment, result, known)
    reference = result.attempt_reference or result.processor_reference
    if not reference:
        return
    now = utcnow()
    failure, details = result.failure, result.method_details
    connection = session.connection()
    connection.execute(
        _UPSERT_ATTEMPT[connection.dialect.name],
        {
            "payment_id": payment.id,
            "merchant_id": payment.merchant_id,
            "processor": payment.processor,
            "reference": reference,
            "outcome": result.outcome.value,
            # final: this try has ended (paid, or failed for good); a pending one has not
            "final": result.final and result.outcome in (Outcome.SUCCEEDED, Outcome.FAILED),
            "failure_code": None if failure is None else failure.code,
            "failure_message": None if failure is None else failure.message,
            "method_details": None if details is None else method_details_json(details),
            "created_at": now,
            "updated_at": now,
        },
    )


def _upsert_attempt(dialect: str) -> Any:
    insert = dialect_insert(dialect)(PaymentAttempt)
    table = PaymentAttempt.__table__
    kept = ("failure_code", "failure_message", "method_details")
    return insert.on_conflict_do_update(
        index_elements=("merchant_id", "processor", "reference"),
        set_={
            "outcome": insert.excluded.outcome,
            "final": insert.excluded.final,
            "updated_at": insert.excluded.updated_at,
            **{name: func.coalesce(insert.excluded[name], table.c[name]) for name in kept},
        },
        where=table.c.payment_id == insert.excluded.payment_id,
    )


#: Per dialect (both have ON CONFLICT), built once so that it is compiled once.
_UPSERT_ATTEMPT: dict[str, Any] = {d: _upsert_attempt(d) for d in ("postgresql", "sqlite")}
