"""The payments feed an ERP sync reads: ``GET /v1/payments``, ordered by ``(updated_at, id)``.

A page is read after a cursor, an opaque position (base64url of ``[updated_at, id]``) that only
this module makes and reads.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from b2bgateway.errors import InvalidCursor
from b2bgateway.representation import timestamp
from b2bgateway.store.models import Payment

__all__ = ["FeedQuery", "InvalidCursor", "Page", "decode_cursor", "encode_cursor", "payments_page"]


@dataclass(frozen=True, slots=True)
class FeedQuery:
    """Which payments, from where, how many (``limit``: the page's size)."""

    limit: int
    customer_id: str | None = None
    status: str | None = None
    purpose: str | None = None
    updated_since: datetime | None = None
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    payments: list[Payment]
    next_cursor: str | None  # None: this is the last page


def encode_cursor(payment: Payment) -> str:
    """The position just after ``payment``."""
    raw = json.dumps([timestamp(payment.updated_at), payment.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names.

    :raises InvalidCursor: anything :func:`encode_cursor` did not make (a 422).
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if (
            isinstance(decoded, list)
            and len(decoded) == 2
            and all(isinstance(part, str) for part in decoded)
        ):
            updated = datetime.fromisoformat(decoded[0].replace("Z", "+00:00"))
            if updated.tzinfo is not None:
                return updated, decoded[1]
    except (ValueError, TypeError, binascii.Error):
        pass
    raise InvalidCursor("the cursor is not one this API gave out")


def payments_page(session: Session, merchant_id: str, query: FeedQuery) -> Page:
    """One page of ``merchant_id``'s payments, oldest change first.

    :raises InvalidCursor: ``query.cursor`` is not one this module made.
    """
    stmt = select(Payment).where(Payment.merchant_id == merchant_id)
    if query.customer_id is not None:
        stmt = stmt.where(Payment.customer_id == query.customer_id)
    if query.status is not None:
        stmt = stmt.where(Payment.status == query.status)
    if query.purpose is not None:
        stmt = stmt.where(Payment.purpose == query.purpose)
    if query.updated_since is not None:
        stmt = stmt.where(Payment.updated_at >= query.updated_since)
    if query.cursor is not None:
        after, after_id = decode_cursor(query.cursor)
        stmt = stmt.where(
            or_(
                Payment.updated_at > after, and_(Payment.updated_at == after, Payment.id > after_id)
            )
        )
    stmt = stmt.order_by(Payment.updated_at, Payment.id).limit(query.limit + 1)
    rows = list(session.scalars(stmt))
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    return Page(rows, encode_cursor(rows[-1]) if more else None)
