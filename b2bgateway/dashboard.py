"""The payments module's home figures for one merchant ("Inicio"): collected today and this month
by method, what waits for customers' funds, failed payments of the last 7 days, open disputes,
outbound events in dead letter and webhooks refused in the last 24 hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from b2bgateway.store.models import OutboxMessage, Payment, WebhookEvent, utcnow

__all__ = ["PAID", "REFUSED_WEBHOOKS", "Figures", "figures"]

#: Statuses in which the money was collected (refunds are shown on their own).
PAID = ("succeeded", "partially_refunded", "refunded", "disputed")
#: Webhook outcomes a person should look at.
REFUSED_WEBHOOKS = ("refused", "mismatch", "unknown_payment")


@dataclass(frozen=True, slots=True)
class Figures:
    today: dict[tuple[str, str], int]  # (method, currency) -> minor units
    month: dict[tuple[str, str], int]
    waiting: dict[str, int]  # currency -> minor units
    failed_7d: int
    open_disputes: int
    dead_letters: int
    refused_webhooks_24h: int


def _collected(session: Session, merchant_id: str, since: datetime) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(Payment.payment_method, Payment.currency, func.sum(Payment.amount_minor))
        .where(
            Payment.merchant_id == merchant_id,
            Payment.status.in_(PAID),
            Payment.paid_at >= since,
        )
        .group_by(Payment.payment_method, Payment.currency)
    )
    return {(method, currency): int(total) for method, currency, total in rows}


def _count(session: Session, stmt: object) -> int:
    return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]


def figures(
    session: Session, merchant_id: str, zone: ZoneInfo, now: datetime | None = None
) -> Figures:
    now = now or utcnow()
    local = now.astimezone(zone)
    day = datetime.combine(local.date(), time(), tzinfo=zone)
    month = day.replace(day=1)
    waiting = session.execute(
        select(Payment.currency, func.sum(Payment.amount_minor))
        .where(
            Payment.merchant_id == merchant_id,
            Payment.payment_method.in_(("bank_transfer", "cash")),
            Payment.status.in_(("requires_action", "processing")),
        )
        .group_by(Payment.currency)
    )
    return Figures(
        today=_collected(session, merchant_id, day),
        month=_collected(session, merchant_id, month),
        waiting={currency: int(total) for currency, total in waiting},
        failed_7d=_count(
            session,
            select(func.count()).where(
                Payment.merchant_id == merchant_id,
                Payment.status.in_(("failed", "canceled")),
                Payment.created_at >= now - timedelta(days=7),
            ),
        ),
        open_disputes=_count(
            session,
            select(func.count()).where(
                Payment.merchant_id == merchant_id, Payment.dispute_status == "open"
            ),
        ),
        dead_letters=_count(
            session,
            select(func.count()).where(
                OutboxMessage.merchant_id == merchant_id, OutboxMessage.state == "dead"
            ),
        ),
        refused_webhooks_24h=_count(
            session,
            select(func.count()).where(
                WebhookEvent.merchant_id == merchant_id,
                WebhookEvent.outcome.in_(REFUSED_WEBHOOKS),
                WebhookEvent.received_at >= now - timedelta(hours=24),
            ),
        ),
    )
