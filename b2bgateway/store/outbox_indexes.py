"""The outbox's index of pending rows, declared apart from ``models.py`` (its size ceiling).

The worker's claim asks, for each due row, for its payment's head (the oldest pending event).
Without an index of the pending rows alone, a planner without statistics (autovacuum off or
behind, a table that grew fast) intersected the ordering key's index with the index of every
pending row: 64 ms a lookup with 85,000 pending, seconds a claim. Migration 0014.
"""

from __future__ import annotations

from sqlalchemy import Index, text

from b2bgateway.store.models import OutboxMessage

__all__: list[str] = []

_outbox = OutboxMessage.__table__.c
Index(
    "ix_outbox_pending_ordering_key",
    _outbox.ordering_key,
    _outbox.id,
    sqlite_where=text("state = 'pending'"),
    postgresql_where=text("state = 'pending'"),
)
