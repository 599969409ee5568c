"""The outbox of outbound events in the database: reading it (``b2bgateway outbox list``), and
the worker's two transactions around a batch of deliveries, :func:`claim` and :func:`record`
(:mod:`b2bgateway.notifications` does the HTTP between them).

Order per payment (``ordering_key``): only a payment's *head*, its oldest pending event, is ever
claimed, so a payment never has two events in flight and a later one never overtakes an earlier
one, whatever the claim order across payments.

The claim's cost does not grow with the backlog: it reads at most ``limit * SCAN_FACTOR`` rows at
the head of the due queue (index ``ix_outbox_state_next_attempt``), and, for each, its payment's
head through ``ix_outbox_ordering_key`` (a payment has a handful of events). Followers it finds
blocked behind a head that is not due (leased, or waiting to retry) are moved to that head's time,
so they leave the front of the queue and never crowd out other payments' events (no starvation);
when a head is delivered or becomes a dead letter, :func:`record` makes its followers due at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Select, Table, bindparam, case, exists, literal, select, update
from sqlalchemy.orm import Session, aliased

from b2bgateway.store.db import Store
from b2bgateway.store.models import OutboxMessage, UTCDateTime, utcnow

__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "STATES",
    "Claimed",
    "Outcome",
    "backoff",
    "claim",
    "list_messages",
    "record",
]

log = logging.getLogger(__name__)

STATES = ("pending", "delivered", "dead")
MAX_ATTEMPTS = 12  # 10 s doubling, capped at an hour: about 9 hours of retries
LEASE = timedelta(minutes=5)
SCAN_FACTOR = 4  # due rows read per head wanted: room for followers blocked behind their heads


def backoff(attempts: int) -> timedelta:
    """10 s, 20 s, 40 s ... capped at one hour."""
    return timedelta(seconds=min(10 * 2 ** max(attempts - 1, 0), 3600))


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


@dataclass(frozen=True)
class Claimed:
    """A leased message, with what its delivery needs (no second read)."""

    id: int
    merchant_id: str
    ordering_key: str
    payload: dict[str, Any]
    attempts: int
    lease: datetime  # its next_attempt_at while leased: a retry is recorded only under it


@dataclass(frozen=True)
class Outcome:
    message: Claimed
    status: int  # HTTP status, 0 when the receiver could not be reached
    error: str


def _head(column: Any) -> Any:
    """``column`` of the claimed row's payment head (its oldest pending message)."""
    head = aliased(OutboxMessage)
    return (
        select(column(head))
        .where(head.ordering_key == OutboxMessage.ordering_key, head.state == "pending")
        .order_by(head.id)
        .limit(1)
        .scalar_subquery()
    )


def _scan(limit: int, now: datetime) -> Select[Any]:
    """The head of the due queue, each row with its payment's head's id and time."""
    return (
        select(
            OutboxMessage.id,
            OutboxMessage.next_attempt_at,
            _head(lambda head: head.id).label("head_id"),
            _head(lambda head: head.next_attempt_at).label("head_at"),
        )
        .where(OutboxMessage.state == "pending", OutboxMessage.next_attempt_at <= now)
        # Due order, from the index on (state, next_attempt_at): the head of the queue is read,
        # not the delivered rows before it, and never more than this many rows.
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit * SCAN_FACTOR)
    )


def claim(store: Store, now: datetime, limit: int) -> list[Claimed]:
    """Lease up to ``limit`` due payment heads (distinct payments); returns them by id.

    Several workers can run: on PostgreSQL rows are claimed with FOR UPDATE SKIP LOCKED; on SQLite
    the write transaction (BEGIN IMMEDIATE) serializes the claim.
    """
    scan = _scan(limit, now)
    if store.dialect == "postgresql":
        scan = scan.with_for_update(skip_locked=True, of=OutboxMessage)
    with store.write() as session:
        rows = session.execute(scan).all()
        # Leased from now, not from when the pass began (a pass can outlast a lease).
        lease = max(now, utcnow()) + LEASE
        heads = [row.id for row in rows if row.id == row.head_id][:limit]
        mine = set(heads)
        moves = []  # followers blocked behind a head: to the head's time (or its new lease)
        for row in rows:
            if row.id == row.head_id:
                continue  # a head: claimed, or left due for the next claim
            later = lease if row.head_id in mine else row.head_at
            if later is not None and later > row.next_attempt_at:
                moves.append({"b_id": row.id, "b_head": row.head_id, "b_at": later})
        if moves:
            _move_followers(session, moves)
        if not heads:
            return []
        leased = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(heads))
            .values(next_attempt_at=lease)
            .returning(
                OutboxMessage.id,
                OutboxMessage.merchant_id,
                OutboxMessage.ordering_key,
                OutboxMessage.payload,
                OutboxMessage.attempts,
            )
            .execution_options(synchronize_session=False)
        ).all()
    return sorted(
        (Claimed(row[0], row[1], row[2], row[3], row[4], lease) for row in leased),
        key=lambda message: message.id,
    )


def _move_followers(session: Session, moves: list[dict[str, Any]]) -> None:
    """Followers to their head's time, only while the head is still pending as of now (this
    statement's snapshot, not the scan's): a head delivered meanwhile has made its followers
    due, and moving one back behind it would leave it waiting until the head's lease ran out."""
    table = cast(Table, OutboxMessage.__table__)
    head = table.alias("head")
    session.execute(
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            exists().where(head.c.id == bindparam("b_head"), head.c.state == "pending"),
        )
        .values(next_attempt_at=bindparam("b_at", type_=UTCDateTime())),
        moves,
    )


def record(store: Store, outcomes: Sequence[Outcome], now: datetime) -> tuple[int, int, int]:
    """Write a batch of attempts in one transaction; returns (delivered, retried, dead).

    Only a message still pending is changed (a worker whose lease had expired, and whose message
    another worker delivered meanwhile, changes nothing); a retry or dead letter only under the
    writer's own lease. A payment whose head is done has its followers made due at once.
    """
    delivered = [o.message.id for o in outcomes if 200 <= o.status < 300]
    failed = [o for o in outcomes if not 200 <= o.status < 300]
    retries = [o for o in failed if o.message.attempts + 1 < MAX_ATTEMPTS]
    dead = [o for o in failed if o.message.attempts + 1 >= MAX_ATTEMPTS]
    with store.write() as session:
        done_keys: list[str] = []  # payments whose head was delivered or became a dead letter
        if delivered:
            done_keys += session.scalars(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(delivered), OutboxMessage.state == "pending")
                .values(
                    state="delivered",
                    attempts=OutboxMessage.attempts + 1,
                    delivered_at=utcnow(),
                    last_error=None,
                )
                .returning(OutboxMessage.ordering_key)
                .execution_options(synchronize_session=False)
            ).all()
        delivered_count = len(done_keys)
        if retries:
            _retry_later(session, retries, now)
        for outcome in dead:
            key = _bury(session, outcome)
            if key is not None:
                done_keys.append(key)
        if done_keys:
            _wake_followers(session, done_keys, now)
    return delivered_count, len(retries), len(done_keys) - delivered_count


def _retry_later(session: Session, retries: Sequence[Outcome], now: datetime) -> None:
    """Back off, from when the attempt ended (not when the pass began); under our lease only."""
    ended = max(now, utcnow())
    table = cast(Table, OutboxMessage.__table__)
    session.execute(
        update(table)
        .where(
            table.c.id == bindparam("b_id"),
            table.c.state == "pending",
            table.c.next_attempt_at == bindparam("b_lease", type_=UTCDateTime()),
        )
        .values(
            attempts=bindparam("b_attempts"),
            next_attempt_at=bindparam("b_at", type_=UTCDateTime()),
            last_error=bindparam("b_error"),
        ),
        [
            {
                "b_id": o.message.id,
                "b_lease": o.message.lease,
                "b_attempts": o.message.attempts + 1,
                "b_at": ended + backoff(o.message.attempts + 1),
                "b_error": o.error,
            }
            for o in retries
        ],
    )


def _bury(session: Session, outcome: Outcome) -> str | None:
    """A dead letter, under our lease only; its payment's key when it became one."""
    message = outcome.message
    key = session.scalar(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == message.id,
            OutboxMessage.state == "pending",
            OutboxMessage.next_attempt_at == message.lease,
        )
        .values(state="dead", attempts=message.attempts + 1, last_error=outcome.error)
        .returning(OutboxMessage.ordering_key)
        .execution_options(synchronize_session=False)
    )
    if key is not None:
        log.error(
            "outbound event %s to merchant %s is a dead letter: %s",
            message.payload.get("id"),
            message.merchant_id,
            outcome.error,
        )
    return key


def _wake_followers(session: Session, keys: list[str], now: datetime) -> None:
    """The next event of each payment is due now, not when a claim moved it to. Every pending row
    of the payment is matched (not only those due later), so a row a concurrent claim has locked,
    to move it behind this head, is waited for and woken after that claim commits (PostgreSQL
    re-reads a row updated meanwhile)."""
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.ordering_key.in_(keys), OutboxMessage.state == "pending")
        .values(
            next_attempt_at=case(
                (OutboxMessage.next_attempt_at > now, literal(now, UTCDateTime())),
                else_=OutboxMessage.next_attempt_at,
            )
        )
        .execution_options(synchronize_session=False)
    )
