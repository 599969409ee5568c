"""Outbound events: written to the outbox in the transaction that changed a payment or refund,
delivered afterwards to the merchant's ``notification_url``.

Each delivery is a POST of a JSON event with the header
``B2BGateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(notification_secret, "{t}.{body}")>``
(the scheme of :mod:`b2bgateway.signing`, like Stripe's). A 2xx answer delivers it; anything else
retries with exponential back-off, in order per payment; after :data:`MAX_ATTEMPTS` it becomes a
dead letter, which ``b2bgateway outbox replay`` sends again.
"""

from __future__ import annotations

import json
import logging
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select, update
from sqlalchemy.orm import Session, aliased

from b2bgateway.signing import sign
from b2bgateway.store import Store
from b2bgateway.store.models import OutboxMessage, utcnow

__all__ = [
    "HEADER",
    "MAX_ATTEMPTS",
    "Delivered",
    "SessionOutbox",
    "backoff",
    "deliver_due",
    "http_post",
    "replay",
    "requeue_dead",
]

log = logging.getLogger(__name__)

HEADER = "B2BGateway-Signature"
MAX_ATTEMPTS = 12  # 10 s doubling, capped at an hour: about 9 hours of retries
LEASE = timedelta(minutes=5)
CLAIM_BATCH = 10  # 10 deliveries of at most 10 s each fit well within the lease
TIMEOUT_SECONDS = 10.0

Sender = Callable[[str, bytes, Mapping[str, str]], int]


class SessionOutbox:
    """The :class:`~b2bgateway.interface.Outbox` observers get: rows in the current session."""

    def __init__(self, session: Session, merchant_id: str, enabled: bool) -> None:
        self._session = session
        self._merchant_id = merchant_id
        self._enabled = enabled

    def emit(self, event_type: str, ordering_key: str, data: Mapping[str, Any]) -> None:
        if not self._enabled:
            return
        now = utcnow()
        event_id = f"evt_{secrets.token_hex(12)}"
        payload = {
            "id": event_id,
            "type": event_type,
            "created": now.isoformat().replace("+00:00", "Z"),
            "merchant_id": self._merchant_id,
            "data": dict(data),
        }
        self._session.add(
            OutboxMessage(
                merchant_id=self._merchant_id,
                event_type=event_type,
                ordering_key=ordering_key,
                payload=payload,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... capped at one hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is not a delivery


_opener = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST and return the status code (0 when the receiver could not be reached)."""
    if not url.startswith(("http://", "https://")):
        return 0
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return 0


@dataclass
class Delivered:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def _claim(store: Store, now: datetime, limit: int) -> list[int]:
    """Lease due messages that have no earlier undelivered message for the same payment.

    Several workers can run: on PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED; on SQLite
    the write transaction (BEGIN IMMEDIATE) serializes the claim.
    """
    earlier = aliased(OutboxMessage)
    blocked = exists().where(
        and_(
            earlier.ordering_key == OutboxMessage.ordering_key,
            earlier.id < OutboxMessage.id,
            earlier.state == "pending",
        )
    )
    with store.write() as session:
        stmt = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.state == "pending",
                OutboxMessage.next_attempt_at <= now,
                ~blocked,
            )
            # Due order, from the index on (state, next_attempt_at): the head of the queue is
            # read, not the delivered rows before it (ordering by id walked all of them, 74 ms
            # a claim behind 200,000 delivered events). Each payment's own order is kept by
            # ``blocked``, whatever the global order.
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(limit)
        )
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.scalars(stmt))
        if ids:  # leased from now, not from when the pass began (a pass can outlast a lease)
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(next_attempt_at=max(now, utcnow()) + LEASE)
            )
        return ids


def deliver_due(
    store: Store,
    endpoints: Mapping[str, tuple[str, Any]],
    *,
    send: Sender | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> Delivered:
    """Deliver what is due. ``endpoints`` maps merchant id to (notification_url, secret)."""
    sender = send or http_post
    now = now or utcnow()
    result = Delivered()
    handled = 0
    # Claim in rounds: delivering a payment's first event makes its next one claimable.
    while handled < limit:
        claimed = _claim(store, now, min(CLAIM_BATCH, limit - handled))
        if not claimed:
            break
        handled += len(claimed)
        for message_id in claimed:
            _deliver_one(store, endpoints, sender, now, message_id, result)
    return result


def _deliver_one(
    store: Store,
    endpoints: Mapping[str, tuple[str, Any]],
    sender: Sender,
    now: datetime,
    message_id: int,
    result: Delivered,
) -> None:
    with store.read() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        merchant_id, payload, attempts = message.merchant_id, message.payload, message.attempts
    endpoint = endpoints.get(merchant_id)
    status = 0
    error = "the merchant has no notification_url any more"
    if endpoint is not None:
        url, secret = endpoint
        body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json",
            HEADER: sign(secret, body),
            "User-Agent": "b2bgateway-notifications/1",
        }
        status = sender(url, body, headers)
        error = f"HTTP {status}" if status else "unreachable"
    with store.write() as session:
        message = session.get(OutboxMessage, message_id)
        assert message is not None
        message.attempts = attempts + 1
        if 200 <= status < 300:
            message.state = "delivered"
            message.delivered_at = utcnow()
            message.last_error = None
            result.delivered += 1
        elif message.attempts >= MAX_ATTEMPTS:
            message.state = "dead"
            message.last_error = error
            result.dead += 1
            log.error(
                "outbound event %s to merchant %s is a dead letter: %s",
                payload.get("id"),
                merchant_id,
                error,
            )
        else:
            # From when this attempt ended, not when the pass began (a pass can take a while).
            message.next_attempt_at = max(now, utcnow()) + backoff(message.attempts)
            message.last_error = error
            result.retried += 1


def replay(
    store: Store,
    *,
    message_ids: list[int] | None = None,
    merchant_id: str | None = None,
    payment_id: str | None = None,
) -> int:
    """Send dead letters again (all, one merchant's, one payment's, or the given ids); returns
    how many."""
    with store.write() as session:
        return requeue_dead(
            session, message_ids=message_ids, merchant_id=merchant_id, payment_id=payment_id
        )


def requeue_dead(
    session: Session,
    *,
    message_ids: list[int] | None = None,
    merchant_id: str | None = None,
    payment_id: str | None = None,
) -> int:
    """:func:`replay` in the caller's transaction (the payments module records who asked for it
    in the same one, so a replay is never left without its audit entry)."""
    stmt = update(OutboxMessage).where(OutboxMessage.state == "dead")
    if message_ids:
        stmt = stmt.where(OutboxMessage.id.in_(message_ids))
    if merchant_id:
        stmt = stmt.where(OutboxMessage.merchant_id == merchant_id)
    if payment_id:  # its events are ordered by it
        stmt = stmt.where(OutboxMessage.ordering_key == payment_id)
    done = session.execute(
        stmt.values(state="pending", attempts=0, next_attempt_at=utcnow(), last_error=None)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
