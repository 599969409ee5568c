"""Reading the outbox of outbound events (``b2bgateway outbox list``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from b2bgateway.store.db import Store
from b2bgateway.store.models import OutboxMessage

__all__ = ["STATES", "list_messages"]

STATES = ("pending", "delivered", "dead")


def list_messages(store: Store, state: str, limit: int) -> list[dict[str, Any]]:
    """Messages in ``state``, newest first, as plain dicts (no payload beyond its event id)."""
    with store.read() as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.state == state)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        ).all()
        return [
            {
                "id": row.id,
                "merchant_id": row.merchant_id,
                "type": row.event_type,
                "event_id": row.payload.get("id"),
                "attempts": row.attempts,
                "last_error": row.last_error,
                "created_at": row.created_at.isoformat(),
            }
            for row in rows
        ]
