"""Customers' e-mails, queued in the transaction that changed the payment (the outbox pattern)
and sent later by ``b2bgateway worker`` (:mod:`b2bgateway.mail_delivery`), never inside a
request.

What is queued, for a merchant with ``[merchants.X.email]`` and a customer with an e-mail:

- ``receipt``: the payment succeeded ("Comprobante de pago");
- ``instructions``: the payment waits for a SPEI transfer or a cash payment (CLABE, reference,
  amount, deadline);
- ``pay_link``: a person of the payments module sent the customer a fresh payment link.

A row is unique per merchant, payment and ``dedupe_key`` (``INSERT ... ON CONFLICT DO
NOTHING``): a replayed webhook, a second worker or a double submit never queues it twice. The
row names the payment; the e-mail's words are rendered when it is sent (by the web layer, which
holds the customer page's templates), so it reads like the customer page at that moment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from b2bgateway.interface import PaymentStatus
from b2bgateway.store.email_models import EMAIL_STATES, EmailMessage
from b2bgateway.store.models import Customer, Payment, utcnow
from b2bgateway.store.repository import upsert

__all__ = [
    "INSTRUCTION_ACTIONS",
    "KINDS",
    "customer_email",
    "dead_count",
    "list_messages",
    "on_status",
    "queue",
    "replay",
]

KINDS = ("receipt", "instructions", "pay_link")
#: the ``next_action`` types whose instructions are e-mailed
INSTRUCTION_ACTIONS = frozenset({"display_bank_transfer_instructions", "display_cash_voucher"})
#: statuses a payment reaches from paid ones (a dispute won): no second receipt, even without
#: the unique key
_PAID_BEFORE = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.DISPUTED,
    }
)


def customer_email(session: Session, merchant_id: str, customer_id: str) -> str | None:
    """The customer's synced e-mail, if any."""
    found = session.scalar(
        select(Customer.email).where(
            Customer.merchant_id == merchant_id, Customer.customer_id == customer_id
        )
    )
    return found.strip() if found and found.strip() else None


def queue(
    session: Session,
    payment: Payment,
    kind: str,
    *,
    dedupe_key: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> bool:
    """Queue one e-mail about ``payment`` to its customer, in the caller's transaction.

    :return: False when the customer has no e-mail or this e-mail was already queued.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown e-mail kind {kind!r}")
    recipient = customer_email(session, payment.merchant_id, payment.customer_id)
    if recipient is None:
        return False
    now = utcnow()
    done = session.execute(
        upsert(session, EmailMessage.__table__)
        .values(
            merchant_id=payment.merchant_id,
            payment_id=payment.id,
            kind=kind,
            dedupe_key=dedupe_key or kind,
            recipient=recipient,
            data=dict(data or {}),
            state="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        .on_conflict_do_nothing(index_elements=["merchant_id", "payment_id", "dedupe_key"])
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def on_status(session: Session, payment: Payment, previous: PaymentStatus | None) -> None:
    """What a new status means for the customer's mailbox (called by :mod:`lifecycle` for the
    merchants with e-mail settings, inside the transaction that changed the payment)."""
    status = PaymentStatus(payment.status)
    if status is PaymentStatus.SUCCEEDED and previous not in _PAID_BEFORE:
        queue(session, payment, "receipt")
    elif status is PaymentStatus.REQUIRES_ACTION:
        action = payment.next_action or {}
        if action.get("type") in INSTRUCTION_ACTIONS:
            queue(session, payment, "instructions")


def list_messages(
    session: Session, state: str, limit: int, merchant_id: str | None = None
) -> list[dict[str, Any]]:
    """E-mails in ``state``, newest first, as plain dicts (the recipient, never the data)."""
    if state not in EMAIL_STATES:
        raise ValueError(f"state must be one of {', '.join(EMAIL_STATES)}")
    stmt = select(EmailMessage).where(EmailMessage.state == state)
    if merchant_id:
        stmt = stmt.where(EmailMessage.merchant_id == merchant_id)
    rows = session.scalars(stmt.order_by(EmailMessage.id.desc()).limit(limit)).all()
    return [
        {
            "id": row.id,
            "merchant_id": row.merchant_id,
            "payment_id": row.payment_id,
            "kind": row.kind,
            "recipient": row.recipient,
            "attempts": row.attempts,
            "last_error": row.last_error,
            "created_at": row.created_at.isoformat(),
        }
        for row in rows
    ]


def dead_count(session: Session, merchant_id: str) -> int:
    """The merchant's e-mails that gave up (the payments module's "Inicio")."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(EmailMessage)
            .where(EmailMessage.merchant_id == merchant_id, EmailMessage.state == "dead")
        )
        or 0
    )


def replay(
    session: Session, *, message_ids: list[int] | None = None, merchant_id: str | None = None
) -> int:
    """Send dead e-mails again (all, one merchant's, or the given ids); returns how many."""
    stmt = update(EmailMessage).where(EmailMessage.state == "dead")
    if message_ids:
        stmt = stmt.where(EmailMessage.id.in_(message_ids))
    if merchant_id:
        stmt = stmt.where(EmailMessage.merchant_id == merchant_id)
    done = session.execute(
        stmt.values(state="pending", attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
