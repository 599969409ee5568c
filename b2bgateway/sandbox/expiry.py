"""Expiry's webhook: ``charge.expired``, as a processor announces a voucher or page that ran out.

The ledger already reads a waiting charge past its ``expires_at`` as ``expired`` (see
:func:`b2bgateway.sandbox.records.charge_from_row`), so retrieving or paying it is exact without
any background job. Real processors also *tell* the merchant (Stripe's
``checkout.session.expired``, a voucher's failure at its due date); :func:`expire_due` does that
for the sandbox when something runs it (a command, a test), storing the status it computed.
"""

from __future__ import annotations

from b2bgateway.sandbox import records
from b2bgateway.sandbox.events import record_event
from b2bgateway.sandbox.records import Charge

__all__ = ["expire_due"]


def expire_due(path: str, merchant_id: str) -> list[Charge]:
    """Store ``expired`` on the merchant's waiting charges past their expiry and record a
    ``charge.expired`` event for each (once: a stored ``expired`` is final).

    :return: the charges it expired, oldest expiry first.
    """
    moment = records.now()
    expired: list[Charge] = []
    with records.transaction(path) as conn:
        rows = conn.execute(
            "SELECT id FROM charges WHERE merchant_id = ? AND status = 'requires_action'"
            " AND expires_at IS NOT NULL AND expires_at <= ? ORDER BY expires_at",
            (merchant_id, records.iso(moment)),
        ).fetchall()
        for row in rows:
            changes = {"status": "expired", "failure_code": "expired"}
            records.update_charge(conn, row["id"], changes, records.iso(moment))
            charge = records.get_charge(conn, merchant_id, row["id"])
            record_event(conn, "charge.expired", charge)
            expired.append(charge)
    return expired
