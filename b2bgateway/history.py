"""A payment's status history: every status change (its creation included) with its cause, in the
transaction that made it.

The cause travels from the entry point down to :func:`b2bgateway.lifecycle.announce` in a context
variable, so nothing between them has to pass it along: an entry point says what it is with
``with caused_by(Cause(...)):`` (a webhook, a reconciliation pass, an expiry, the customer page)
or ``with acting(actor):`` (a person: a staff user, the command line, an API client), and
:func:`record` reads it. The innermost one wins; outside any, the cause is ``unknown``. A web
request's cause is set by the web layer with :func:`begin` / :func:`end` (the core never imports
Flask). What the change itself tells (the processor's status, a failure code, a refund, a
dispute) comes from the payment row and the details its observers hear.

Recording costs one Core ``INSERT`` per change: no ``SELECT``, no flush.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from b2bgateway.audit import Actor
from b2bgateway.interface import PaymentStatus
from b2bgateway.representation import timestamp
from b2bgateway.store.history_models import PaymentStatusChange
from b2bgateway.store.models import Payment

__all__ = [
    "KINDS",
    "Cause",
    "PaymentStatusChange",
    "acting",
    "actor_json",
    "begin",
    "caused_by",
    "change_json",
    "changes",
    "current",
    "end",
    "record",
]

#: What can cause a status change: a merchant's API client (its portal), the customer page, a
#: processor's notification, reconciliation asking the processor, an expiry, a staff user in
#: the payments module, the command line, or an entry point that named none.
KINDS = ("api", "customer", "webhook", "reconcile", "expiry", "staff", "cli", "unknown")


@dataclass(frozen=True, slots=True)
class Cause:
    """``kind`` (one of :data:`KINDS`), who (``actor``: an API client, an e-mail, a customer
    id, a processor; ``actor_id``: the API key's number, a staff user's id), and for a webhook
    our event row, the processor's event id and its type (``processor_status``, when the change
    names no processor status of its own). ``failure_code``: the code a change that closes the
    payment gives it when the entry point, not the processor's answer, decides it (an expiry's
    ``expired``, which replaces the processor's ``canceled`` in the same transaction)."""

    kind: str
    actor: str | None = None
    actor_id: str | None = None
    webhook_event_id: int | None = None
    processor_event_id: str | None = None
    processor_status: str | None = None
    failure_code: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown cause {self.kind!r}")


UNKNOWN = Cause("unknown")
_current: ContextVar[Cause] = ContextVar("b2bgateway_status_cause", default=UNKNOWN)


def current() -> Cause:
    """The cause a status change made now would be recorded with."""
    return _current.get()


def begin(cause: Cause) -> Token[Cause]:
    """Make ``cause`` current until :func:`end` (a web request's hooks); prefer
    :func:`caused_by`."""
    return _current.set(cause)


def end(token: Token[Cause]) -> None:
    _current.reset(token)


@contextmanager
def caused_by(cause: Cause) -> Iterator[Cause]:
    """Record the status changes made inside with ``cause``."""
    token = _current.set(cause)
    try:
        yield cause
    finally:
        _current.reset(token)


@contextmanager
def acting(actor: Actor | None) -> Iterator[Cause]:
    """A person acts: a staff user (``staff``, their e-mail and id) or the command line
    (``cli``). An API client (``api:<merchant>``) keeps the cause its request set (which names
    the key) and is ``api`` outside one. No actor: the cause stays as it is."""
    cause = current()
    if actor is not None and actor.user_id is not None:
        cause = Cause("staff", actor.email, str(actor.user_id))
    elif actor is not None and actor.email.startswith("api:"):
        cause = cause if cause.kind == "api" else Cause("api", actor.email)
    elif actor is not None:
        cause = Cause("cli", actor.email)
    with caused_by(cause):
        yield cause


_TABLE: Table = PaymentStatusChange.__table__  # type: ignore[assignment]
_INSERT = insert(_TABLE)  # built once: every checkout runs it
_CLOSED = (PaymentStatus.FAILED.value, PaymentStatus.CANCELED.value)


def record(
    session: Session,
    payment: Payment,
    previous: PaymentStatus | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Write the change of ``payment`` from ``previous`` (None: created) to its status now, with
    the current cause, in the session's transaction (its rollback takes the row with it)."""
    cause = _current.get()
    details = details or {}
    event = details.get("event")
    status = payment.status
    session.connection().execute(
        _INSERT,
        {
            "payment_id": payment.id,
            "merchant_id": payment.merchant_id,
            "from_status": None if previous is None else previous.value,
            "to_status": status,
            "at": payment.updated_at,
            "cause": cause.kind,
            "actor": cause.actor,
            "actor_id": cause.actor_id,
            "webhook_event_id": cause.webhook_event_id,
            "processor_event_id": cause.processor_event_id,
            "processor_status": _text(
                details.get("processor_status") or cause.processor_status, 128
            ),
            "failure_code": (
                (cause.failure_code or payment.failure_code) if status in _CLOSED else None
            ),
            "refund_id": _text(details.get("refund_id"), 40),
            "dispute_reference": (
                payment.dispute_reference if str(event or "").startswith("dispute") else None
            ),
            "event": _text(event, 32),
        },
    )


def _text(value: object, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def changes(session: Session, payment_id: str) -> list[PaymentStatusChange]:
    """A payment's status changes, oldest first (none for a payment made before history)."""
    return list(
        session.scalars(
            select(PaymentStatusChange)
            .where(PaymentStatusChange.payment_id == payment_id)
            .order_by(PaymentStatusChange.id)
        )
    )


def change_json(change: PaymentStatusChange) -> dict[str, Any]:
    """One status change as ``GET /v1/payments/{id}/history`` lists it to the merchant's API
    client (its portal's server, which may show it to customers): who made it is told by its
    kind and what the merchant already knows (its API key's number, its customer's id, the
    processor), never a person's data (a staff user's e-mail or id, the command line's user: the
    payments module and the audit log keep those). Our webhook row id is left out too: the
    processor's event id names the notification."""
    return {
        "from_status": change.from_status,
        "to_status": change.to_status,
        "at": timestamp(change.at),
        "cause": change.cause,
        "actor": actor_json(change.cause, change.actor, change.actor_id),
        "processor_event_id": change.processor_event_id,
        "processor_status": change.processor_status,
        "failure_code": change.failure_code,
        "refund_id": change.refund_id,
        "dispute_reference": change.dispute_reference,
        "event": change.event,
    }


_BY_PROCESSOR = ("webhook", "reconcile", "expiry")


def actor_json(kind: str, actor: str | None, actor_id: str | None) -> dict[str, Any]:
    """Who made a change, for the API: ``kind`` (the cause) and only the merchant's own
    identifiers; a staff user, the command line and an unknown entry point are a kind alone."""
    number = actor_id if kind == "api" and actor_id and actor_id.isdigit() else None
    return {
        "kind": kind,
        "api_key": None if number is None else int(number),
        "customer_id": actor if kind == "customer" else None,
        "processor": actor if kind in _BY_PROCESSOR else None,
    }
