"""Chargebacks (contracargos) on succeeded charges, as the customer's bank raises and settles them.

A dispute opens (``charge.dispute.created``) and later closes ``won`` or ``lost``
(``charge.dispute.closed``). The sandbox never moves money for it, as processors report a dispute
apart from the charge: the charge stays ``succeeded`` in its books, and the gateway decides what a
lost dispute means for the invoices.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from b2bgateway.money import Money
from b2bgateway.sandbox import records
from b2bgateway.sandbox.events import EventDispute, record_event
from b2bgateway.sandbox.records import Charge, LedgerRefusal

__all__ = ["DisputeRecord", "dispute"]

DisputeState = Literal["open", "won", "lost"]


@dataclass(frozen=True, slots=True)
class DisputeRecord:
    """A dispute in the sandbox's books. ``id`` is its processor reference (``dp_...``)."""

    id: str
    merchant_id: str
    charge_id: str
    status: DisputeState
    reason: str
    amount: Money
    created_at: datetime
    closed_at: datetime | None


def _from_row(row: sqlite3.Row) -> DisputeRecord:
    return DisputeRecord(
        id=row["id"],
        merchant_id=row["merchant_id"],
        charge_id=row["charge_id"],
        status=row["status"],
        reason=row["reason"],
        amount=Money.from_minor_units(row["amount_minor"], row["currency"]),
        created_at=datetime.fromisoformat(row["created_at"]),
        closed_at=records.parse_time(row["closed_at"]),
    )


def _open(
    conn: sqlite3.Connection, charge: Charge, reason: str, amount: Money | None
) -> DisputeRecord:
    """Open a dispute on ``charge`` and record ``charge.dispute.created``."""
    disputed = charge.amount if amount is None else amount
    if disputed.currency != charge.amount.currency:
        raise LedgerRefusal("currency_mismatch", f"the charge is in {charge.amount.currency}")
    if not disputed.is_positive() or disputed > charge.amount:
        raise LedgerRefusal("invalid_amount", f"a dispute is for up to {charge.amount}")
    dispute_id = records.new_id("dp")
    records.insert(
        conn,
        "disputes",
        dict(
            id=dispute_id,
            merchant_id=charge.merchant_id,
            charge_id=charge.id,
            status="open",
            reason=reason,
            amount_minor=disputed.to_minor_units(),
            currency=disputed.currency,
            created_at=records.iso(records.now()),
        ),
    )
    opened = _from_row(
        conn.execute("SELECT * FROM disputes WHERE id = ?", (dispute_id,)).fetchone()
    )
    record_event(conn, "charge.dispute.created", charge, dispute=_event(opened))
    return opened


def _event(record: DisputeRecord) -> EventDispute:
    return EventDispute(
        id=record.id, status=record.status, reason=record.reason, amount=str(record.amount.amount)
    )


def dispute(
    path: str,
    merchant_id: str,
    reference: str,
    status: DisputeState,
    reason: str = "fraudulent",
    amount: Money | None = None,
) -> DisputeRecord:
    """Open a dispute (``open``) or close the charge's open one (``won``/``lost``), and record
    its events. Closing a charge with no open dispute opens one first (both events are
    recorded), since a bank never settles a dispute it did not raise.

    :param reference: the charge id, or the gateway's payment id.
    :param amount: what is disputed (None: the whole charge); only used when opening.
    :raises ProcessorPaymentNotFound: no such charge for this merchant.
    :raises LedgerRefusal: ``charge_not_disputable`` (not succeeded), ``dispute_already_open``,
      ``currency_mismatch`` or ``invalid_amount``.
    """
    with records.transaction(path) as conn:
        charge = records.lookup_charge(conn, merchant_id, reference)
        if charge.status != "succeeded":
            raise LedgerRefusal("charge_not_disputable", f"the charge is {charge.status}")
        row = conn.execute(
            "SELECT * FROM disputes WHERE charge_id = ? AND status = 'open'", (charge.id,)
        ).fetchone()
        if status == "open":
            if row is not None:
                raise LedgerRefusal("dispute_already_open", f"dispute {row['id']} is open")
            return _open(conn, charge, reason, amount)
        current = _from_row(row) if row is not None else _open(conn, charge, reason, amount)
        stamp = records.iso(records.now())
        conn.execute(
            "UPDATE disputes SET status = ?, closed_at = ? WHERE id = ?",
            (status, stamp, current.id),
        )
        closed = _from_row(
            conn.execute("SELECT * FROM disputes WHERE id = ?", (current.id,)).fetchone()
        )
        record_event(conn, "charge.dispute.closed", charge, dispute=_event(closed))
    return closed
