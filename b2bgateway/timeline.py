"""One payment's story for the payments module, from what the store already keeps: its status
changes with their causes (:mod:`b2bgateway.history`), the processor's attempts, the webhooks
received, refunds, the dispute, what staff did (the audit log) and the outbound events with their
delivery state, oldest first. A payment made before the status history was kept shows its
creation and payment as before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from b2bgateway import history
from b2bgateway.store.history_models import PaymentStatusChange
from b2bgateway.store.models import OutboxMessage, Payment, PaymentAttempt, Refund, WebhookEvent
from b2bgateway.store.staff_models import AuditEntry

__all__ = ["Moment", "timeline"]


@dataclass(frozen=True, slots=True)
class Moment:
    """``kind``: status, created, attempt, webhook, refund, dispute_opened, dispute_closed, paid,
    staff, event; ``what``: a code for the page to put into words; ``by``: who or what caused it
    (api, processor, webhook, a staff user's e-mail; a status change's cause kind); ``detail``:
    the rest, as text; ``change``: a status change's row (from, to, its cause and evidence)."""

    at: datetime
    kind: str
    what: str
    by: str
    detail: str = ""
    change: PaymentStatusChange | None = None


def timeline(session: Session, payment: Payment) -> list[Moment]:
    changes = [
        Moment(c.at, "status", c.to_status, c.cause, change=c)
        for c in history.changes(session, payment.id)
    ]
    if not changes:  # made before the history was kept: its creation and payment as known
        changes = [Moment(payment.created_at, "created", "", _creator(payment))]
        if payment.paid_at is not None and payment.processor != "manual":
            changes.append(Moment(payment.paid_at, "paid", "succeeded", "processor"))
    found = [
        *changes,
        *_attempts(session, payment),
        *_webhooks(session, payment),
        *_refunds(session, payment),
        *_dispute(payment),
        *_staff(session, payment),
        *_events(session, payment),
    ]
    return sorted(found, key=lambda m: m.at)


def _creator(payment: Payment) -> str:
    if payment.method_details and payment.method_details.get("recorded_by"):
        return str(payment.method_details["recorded_by"])
    return "api"


def _attempts(session: Session, payment: Payment) -> list[Moment]:
    rows = session.scalars(
        select(PaymentAttempt)
        .where(PaymentAttempt.payment_id == payment.id)
        .order_by(PaymentAttempt.id)
    )
    return [
        Moment(
            a.updated_at,
            "attempt",
            a.outcome,
            "processor",
            " ".join(filter(None, [a.reference, a.failure_code, a.failure_message])),
        )
        for a in rows
    ]


def _webhooks(session: Session, payment: Payment) -> list[Moment]:
    rows = session.scalars(
        select(WebhookEvent)
        .where(WebhookEvent.merchant_id == payment.merchant_id)
        .where(WebhookEvent.payment_id == payment.id)
        .order_by(WebhookEvent.id)
    )
    return [
        Moment(w.received_at, "webhook", w.outcome, "webhook", f"{w.event_type or ''} {w.event_id}")
        for w in rows
    ]


def _refunds(session: Session, payment: Payment) -> list[Moment]:
    rows = session.scalars(
        select(Refund).where(Refund.payment_id == payment.id).order_by(Refund.created_at)
    )
    return [
        Moment(
            r.updated_at,
            "refund",
            r.status,
            "api",
            " ".join(filter(None, [str(r.amount.amount), r.currency, r.reason, r.failure_code])),
        )
        for r in rows
    ]


def _dispute(payment: Payment) -> list[Moment]:
    moments = []
    if payment.dispute_opened_at is not None:
        moments.append(
            Moment(
                payment.dispute_opened_at,
                "dispute_opened",
                "open",
                "processor",
                payment.dispute_reason or "",
            )
        )
    if payment.dispute_closed_at is not None:
        moments.append(
            Moment(
                payment.dispute_closed_at,
                "dispute_closed",
                payment.dispute_status or "",
                "processor",
            )
        )
    return moments


def _staff(session: Session, payment: Payment) -> list[Moment]:
    rows = session.scalars(
        select(AuditEntry)
        .where(AuditEntry.merchant_id == payment.merchant_id, AuditEntry.subject == payment.id)
        .order_by(AuditEntry.id)
    )
    return [
        Moment(e.at, "staff", e.action, e.user_email, str((e.detail or {}).get("reason", "")))
        for e in rows
    ]


def _events(session: Session, payment: Payment) -> list[Moment]:
    rows = session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.merchant_id == payment.merchant_id,
            OutboxMessage.ordering_key == payment.id,
        )
        .order_by(OutboxMessage.id)
    )
    return [
        Moment(
            o.created_at,
            "event",
            o.state,
            "gateway",
            f"{o.event_type} #{o.id} ({o.attempts}) {o.last_error or ''}".strip(),
        )
        for o in rows
    ]
