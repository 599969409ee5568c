"""What the metrics read from the database when they are scraped: payments by status, method and
processor; outbound events waiting or given up; the reconciliation backlog.

Every query is a count through an index, so a scrape costs little whatever the tables hold:
the payments' grouped count reads only ``ix_payments_status_method_processor`` (an index-only
scan on PostgreSQL, a covering index on SQLite), the outbox's two states and the open payments'
oldest change come from the leading columns of ``ix_outbox_state_next_attempt`` and
``ix_payments_status_updated``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from b2bgateway.store.models import (
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    OutboxMessage,
    Payment,
    utcnow,
)

__all__ = ["OUTBOX_STATES", "WAITING", "Gauges", "read_gauges"]

#: Outbox states worth watching: waiting for delivery (or a retry), and given up (dead letters).
OUTBOX_STATES = ("pending", "dead")
#: Payments waiting for an answer: the processor's (processing) or the customer's
#: (requires_action); the worker's reconciliation asks the processor about both.
WAITING = ("processing", "requires_action")


@dataclass(frozen=True, slots=True)
class Gauges:
    #: (status, payment method, processor) -> payments; every status and method of each
    #: processor named, 0 included, so a series does not vanish when its count drops to none
    payments: dict[tuple[str, str, str], int]
    #: outbox state (``OUTBOX_STATES``) -> outbound events
    outbox: dict[str, int]
    #: seconds since the longest-waiting open payment last changed (0 without one)
    oldest_waiting_seconds: float

    def waiting(self) -> dict[str, int]:
        """Open payments per status of ``WAITING``: the reconciliation backlog."""
        counts = dict.fromkeys(WAITING, 0)
        for (status, _method, _processor), count in self.payments.items():
            if status in counts:
                counts[status] += count
        return counts


def read_gauges(session: Session, processors: Iterable[str], now: datetime | None = None) -> Gauges:
    """The counts, in one read transaction. ``processors``: the installed ones (their series are
    shown at 0 too); a processor no longer installed still shows the payments it has."""
    now = now or utcnow()
    rows = session.execute(
        select(Payment.status, Payment.payment_method, Payment.processor, func.count()).group_by(
            Payment.status, Payment.payment_method, Payment.processor
        )
    ).all()
    payments = {
        (status, method, processor): 0
        for processor in processors
        for status in PAYMENT_STATUSES
        for method in PAYMENT_METHODS
    }
    for status, method, processor, count in rows:
        payments[(status, method, processor)] = count
    outbox = dict.fromkeys(OUTBOX_STATES, 0)
    for state, count in session.execute(
        select(OutboxMessage.state, func.count())
        .where(OutboxMessage.state.in_(OUTBOX_STATES))
        .group_by(OutboxMessage.state)
    ):
        outbox[state] = count
    oldest = session.scalar(select(func.min(Payment.updated_at)).where(Payment.status.in_(WAITING)))
    waited = 0.0 if oldest is None else max((now - oldest).total_seconds(), 0.0)
    return Gauges(payments=payments, outbox=outbox, oldest_waiting_seconds=waited)
