"""The sandbox's outbox: the webhook events its ledger owes the gateway, and their JSON body.

An event is recorded in the transaction that changed the charge (:func:`record_event`), so no
change is ever without its event; :mod:`b2bgateway.sandbox.delivery` then claims, sends and marks
them. A claim is a lease, so two workers retrying at once do not both send the same event (and if
a lease runs out mid-send, the gateway deduplicates by event id anyway).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel

from b2bgateway.sandbox import records
from b2bgateway.sandbox.records import Charge, Refund

__all__ = [
    "Event",
    "EventBody",
    "EventData",
    "EventDispute",
    "EventMethodDetails",
    "EventRefund",
    "claim_event",
    "list_events",
    "mark_delivered",
    "mark_failed",
    "record_event",
]


@dataclass(frozen=True, slots=True)
class Event:
    """A webhook the sandbox owes the gateway, delivered or not."""

    id: str  # sbx_evt_...
    merchant_id: str
    charge_id: str
    type: str
    body: bytes  # the exact JSON that is signed and sent
    webhook_url: str | None
    created_at: datetime
    delivered_at: datetime | None
    attempts: int
    last_error: str | None


class EventRefund(BaseModel):
    id: str
    refund_id: str
    amount: str


class EventMethodDetails(BaseModel):
    """How a succeeded charge was paid (what the ERP needs for the CFDI payment receipt)."""

    type: Literal["card", "bank_transfer", "cash"]
    brand: str | None = None
    last4: str | None = None
    funding: Literal["credit", "debit", "prepaid"] | None = None
    authorization_code: str | None = None
    installments: int | None = None
    tracking_key: str | None = None
    payer_bank: str | None = None
    paid_at: AwareDatetime | None = None


class EventDispute(BaseModel):
    id: str  # dp_...
    status: Literal["open", "won", "lost"]
    reason: str
    amount: str


class EventData(BaseModel):
    """The charge as it is when the event is recorded; fields after ``refund`` came with payment
    methods, attempts and disputes, with defaults so an older body still parses."""

    charge: str
    payment_id: str
    status: str
    amount: str  # a decimal string with the currency's decimals, never a JSON number
    currency: str
    refunded: str
    failure_code: str | None = None
    refund: EventRefund | None = None
    method: Literal["card", "bank_transfer", "cash"] = "card"
    installments: int | None = None
    expires_at: AwareDatetime | None = None
    received: str | None = None  # funds received so far (transfers and cash)
    attempt: str | None = None  # the attempt this event is about (att_...)
    method_details: EventMethodDetails | None = None
    dispute: EventDispute | None = None


class EventBody(BaseModel):
    """The JSON body of a sandbox webhook: written by the ledger, parsed by the hooks."""

    id: str
    type: str
    created: AwareDatetime
    data: EventData | dict[str, Any]  # a dict: a type this version does not know


def method_details(charge: Charge) -> EventMethodDetails | None:
    """How ``charge`` was paid, once it succeeded (None before)."""
    if charge.status != "succeeded" or charge.method not in ("card", "bank_transfer", "cash"):
        return None
    card = charge.card
    return EventMethodDetails(
        type=charge.method,  # checked just above
        brand=card.brand if card else None,
        last4=card.last4 if card else None,
        funding=card.funding if card else None,
        authorization_code=charge.authorization_code,
        installments=charge.installments,
        tracking_key=charge.tracking_key,
        payer_bank=charge.payer_bank,
        paid_at=charge.paid_at,
    )


def _body(
    event_id: str,
    event_type: str,
    charge: Charge,
    refund: Refund | None,
    attempt: tuple[str, str | None] | None,
    dispute: EventDispute | None,
) -> EventBody:
    """The webhook body telling the gateway about ``charge`` (and ``refund``, the ``attempt``
    as its id and failure code, or ``dispute``) as they are now."""
    return EventBody(
        id=event_id,
        type=event_type,
        created=records.now(),
        data=EventData(
            charge=charge.id,
            payment_id=charge.payment_id,
            status=charge.status,
            amount=str(charge.amount.amount),
            currency=charge.amount.currency,
            refunded=str(charge.refunded.amount),
            failure_code=attempt[1] if attempt else charge.failure_code,
            refund=None
            if refund is None
            else EventRefund(
                id=refund.id, refund_id=refund.refund_id, amount=str(refund.amount.amount)
            ),
            method=charge.method,  # the ledger only stores these
            installments=charge.installments,
            expires_at=charge.expires_at,
            received=None if charge.received is None else str(charge.received.amount),
            attempt=attempt[0] if attempt else charge.attempt_id,
            method_details=method_details(charge),
            dispute=dispute,
        ),
    )


def record_event(
    conn: sqlite3.Connection,
    event_type: str,
    charge: Charge,
    refund: Refund | None = None,
    *,
    attempt: tuple[str, str | None] | None = None,
    dispute: EventDispute | None = None,
) -> Event:
    """Record, in the caller's write transaction, the event telling the gateway about ``charge``
    (and ``refund``, ``attempt`` as ``(attempt id, failure code)``, or ``dispute``) as they are
    now; it goes to the charge's ``webhook_url``."""
    body = _body(records.new_id("sbx_evt"), event_type, charge, refund, attempt, dispute)
    records.insert(
        conn,
        "events",
        {
            "id": body.id,
            "merchant_id": charge.merchant_id,
            "charge_id": charge.id,
            "type": event_type,
            "body": body.model_dump_json(),
            "webhook_url": charge.webhook_url,
            "created_at": records.iso(body.created),
        },
    )
    row = conn.execute("SELECT * FROM events WHERE id = ?", (body.id,)).fetchone()
    return event_from_row(row)


def list_events(
    path: str, merchant_id: str, *, charge_id: str | None = None, undelivered: bool = False
) -> list[Event]:
    """The merchant's events, oldest first; only ``charge_id``'s when given; with
    ``undelivered``, only those still owed to a ``webhook_url``."""
    with records.connect(path) as conn:
        rows = conn.execute(
            "SELECT * FROM events WHERE merchant_id = ? AND (? IS NULL OR charge_id = ?)"
            " AND (? = 0 OR (delivered_at IS NULL AND webhook_url IS NOT NULL)) ORDER BY seq",
            (merchant_id, charge_id, charge_id, int(undelivered)),
        ).fetchall()
    return [event_from_row(row) for row in rows]


def claim_event(path: str, event_id: str, *, lease_seconds: float) -> Event | None:
    """Lease an undelivered event for sending; None when it is delivered or leased elsewhere."""
    moment = records.now()
    with records.transaction(path) as conn:
        claimed = conn.execute(
            "UPDATE events SET lease_until = ? WHERE id = ? AND delivered_at IS NULL"
            " AND (lease_until IS NULL OR lease_until < ?)",
            (records.iso(moment + timedelta(seconds=lease_seconds)), event_id, records.iso(moment)),
        ).rowcount
        row = conn.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
    return event_from_row(row) if claimed == 1 else None


def mark_delivered(path: str, event_id: str, *, attempts: int) -> None:
    """Record that the gateway accepted the event after ``attempts`` more tries."""
    with records.transaction(path) as conn:
        conn.execute(
            "UPDATE events SET delivered_at = ?, lease_until = NULL, attempts = attempts + ?,"
            " last_error = NULL WHERE id = ?",
            (records.iso(records.now()), attempts, event_id),
        )


def mark_failed(path: str, event_id: str, *, attempts: int, error: str) -> None:
    """Record ``attempts`` more failed tries and release the lease, so a later run retries."""
    with records.transaction(path) as conn:
        conn.execute(
            "UPDATE events SET lease_until = NULL, attempts = attempts + ?, last_error = ?"
            " WHERE id = ?",
            (attempts, error[:500], event_id),
        )


def event_from_row(row: sqlite3.Row) -> Event:
    """An ``events`` row as an :class:`Event`."""
    delivered = row["delivered_at"]
    return Event(
        id=row["id"],
        merchant_id=row["merchant_id"],
        charge_id=row["charge_id"],
        type=row["type"],
        body=row["body"].encode(),
        webhook_url=row["webhook_url"],
        created_at=datetime.fromisoformat(row["created_at"]),
        delivered_at=None if delivered is None else datetime.fromisoformat(delivered),
        attempts=row["attempts"],
        last_error=row["last_error"],
    )
