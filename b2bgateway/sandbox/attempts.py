"""What a person does on the sandbox page (3-D Secure, the hosted checkout): attempts.

Each press of "approve" or "decline" is an attempt (``att_...``), as each card a customer tries
on a real hosted checkout is its own payment attempt. A declined attempt does not end the charge:
it stays ``requires_action`` and the page keeps its buttons, so the customer may try another
card; the gateway hears ``charge.attempt_failed`` (not final). Only an approved attempt, a cancel
or the charge's expiry end it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from b2bgateway.sandbox import instruments, records
from b2bgateway.sandbox.events import record_event
from b2bgateway.sandbox.records import COMPLETIONS, DEFAULT_CARD, Charge, Completion, LedgerRefusal

__all__ = ["Attempt", "complete", "list_attempts"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try on the sandbox page."""

    id: str  # att_...
    charge_id: str
    outcome: Literal["succeeded", "failed"]
    failure_code: str | None
    created_at: datetime


def _attempt(
    conn: sqlite3.Connection, charge: Charge, outcome: Completion, stamp: str
) -> dict[str, Any]:
    """Record an approve or decline attempt on ``charge``; the charge's columns it changes."""
    _status, failure_code, _event = COMPLETIONS[outcome]
    attempt_id = records.new_id("att")
    records.insert(
        conn,
        "attempts",
        dict(
            id=attempt_id,
            merchant_id=charge.merchant_id,
            charge_id=charge.id,
            outcome="succeeded" if outcome == "approve" else "failed",
            failure_code=failure_code,
            created_at=stamp,
        ),
    )
    changes: dict[str, Any] = {"attempt_id": attempt_id}
    if outcome == "approve":
        changes.update(instruments.card_paid(DEFAULT_CARD, attempt_id, stamp))
    return changes


def complete(path: str, merchant_id: str, charge_id: str, outcome: Completion) -> Charge:
    """Apply the button pressed on the sandbox page, and record the webhook event it owes
    (send it with :mod:`b2bgateway.sandbox.delivery`).

    ``approve``: an attempt that succeeds, and so does the charge (``charge.succeeded``).
    ``decline``: an attempt that fails ``card_declined`` (``charge.attempt_failed``); the charge
    stays ``requires_action``. ``cancel``: canceled (``charge.canceled``, the hosted page's
    "Cancelar", or the gateway canceling); it is not an attempt.

    :raises ProcessorPaymentNotFound: no such charge for this merchant.
    :raises LedgerRefusal: ``charge_not_pending``, the charge is final or expired, or
      ``charge_not_payable``: a transfer or a voucher (paid with
      :func:`b2bgateway.sandbox.funding.pay`, not approved).
    """
    status, failure_code, event_type = COMPLETIONS[outcome]
    with records.transaction(path) as conn:
        charge = records.get_charge(conn, merchant_id, charge_id)
        if charge.status != "requires_action":
            raise LedgerRefusal("charge_not_pending", f"the charge is {charge.status}")
        if charge.method != "card" and outcome != "cancel":
            raise LedgerRefusal("charge_not_payable", "a transfer or voucher is paid, not approved")
        stamp = records.iso(records.now())
        changes: dict[str, Any] = {"status": status, "failure_code": None}
        if outcome == "cancel":
            changes["failure_code"] = failure_code
        else:
            changes.update(_attempt(conn, charge, outcome, stamp))
        records.update_charge(conn, charge_id, changes, stamp)
        charge = records.get_charge(conn, merchant_id, charge_id)
        attempt = (charge.attempt_id or "", failure_code) if outcome == "decline" else None
        record_event(conn, event_type, charge, attempt=attempt)
    return charge


def list_attempts(path: str, merchant_id: str, charge_id: str) -> list[Attempt]:
    """The charge's attempts, oldest first (for tests, support and the page)."""
    with records.connect(path) as conn:
        rows = conn.execute(
            "SELECT * FROM attempts WHERE merchant_id = ? AND charge_id = ?"
            " ORDER BY created_at, rowid",
            (merchant_id, charge_id),
        ).fetchall()
    return [
        Attempt(
            id=row["id"],
            charge_id=row["charge_id"],
            outcome=row["outcome"],
            failure_code=row["failure_code"],
            created_at=datetime.fromisoformat(row["created_at"]),
        )
        for row in rows
    ]
