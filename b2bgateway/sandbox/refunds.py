"""Refunds: the sandbox gives back part or all of a succeeded charge, once per idempotency key,
and owes the gateway a ``refund.succeeded`` webhook for each. A bad refund is refused outright
(:class:`~b2bgateway.sandbox.records.LedgerRefusal`) rather than recorded as failed.
"""

from __future__ import annotations

from b2bgateway.money import Money
from b2bgateway.sandbox import records
from b2bgateway.sandbox.events import record_event
from b2bgateway.sandbox.records import LedgerRefusal, Refund

__all__ = ["find_refund", "refund"]

_REUSED = "idempotency key reused with other parameters"


def find_refund(path: str, merchant_id: str, refund_id: str) -> Refund | None:
    """The refund the gateway asked for as ``refund_id`` (its id), if the sandbox made it."""
    with records.connect(path) as conn:
        row = conn.execute(
            "SELECT * FROM refunds WHERE merchant_id = ? AND refund_id = ?",
            (merchant_id, refund_id),
        ).fetchone()
    return None if row is None else records.refund_from_row(row)


def refund(
    path: str,
    merchant_id: str,
    charge_id: str,
    *,
    refund_id: str,
    idempotency_key: str,
    amount: Money,
) -> Refund:
    """Refund ``amount`` of a succeeded charge, once per key, and record its webhook event.

    :return: the refund; a repeat of the same request gets the same refund.
    :raises ProcessorPaymentNotFound: no such charge for this merchant.
    :raises LedgerRefusal: ``idempotency_mismatch``, ``currency_mismatch``, ``invalid_amount``,
      ``charge_not_refundable`` (not succeeded) or ``amount_exceeds_refundable``.
    """
    with records.transaction(path) as conn:
        row = conn.execute(
            "SELECT * FROM refunds WHERE merchant_id = ? AND idempotency_key = ?",
            (merchant_id, idempotency_key),
        ).fetchone()
        if row is not None:
            done = records.refund_from_row(row)
            if (done.charge_id, done.refund_id, done.amount) != (charge_id, refund_id, amount):
                raise LedgerRefusal("idempotency_mismatch", _REUSED)
            return done
        _check_refundable(records.get_charge(conn, merchant_id, charge_id), amount)
        refund = Refund(
            records.new_id("sbx_re"), merchant_id, charge_id, refund_id, amount, records.now()
        )
        stamp, minor = records.iso(refund.created_at), amount.to_minor_units()
        records.insert(
            conn,
            "refunds",
            dict(
                id=refund.id,
                merchant_id=merchant_id,
                idempotency_key=idempotency_key,
                charge_id=charge_id,
                refund_id=refund_id,
                amount_minor=minor,
                currency=amount.currency,
                created_at=stamp,
            ),
        )
        conn.execute(
            "UPDATE charges SET refunded_minor = refunded_minor + ?, updated_at = ? WHERE id = ?",
            (minor, stamp, charge_id),
        )
        record_event(
            conn, "refund.succeeded", records.get_charge(conn, merchant_id, charge_id), refund
        )
    return refund


def _check_refundable(charge: records.Charge, amount: Money) -> None:
    left = charge.amount - charge.refunded
    if amount.currency != left.currency:
        raise LedgerRefusal("currency_mismatch", f"the charge is in {left.currency}")
    if charge.status != "succeeded":
        raise LedgerRefusal("charge_not_refundable", f"the charge is {charge.status}")
    if not amount.is_positive():
        raise LedgerRefusal("invalid_amount", "the amount must be positive")
    if amount > left:
        raise LedgerRefusal("amount_exceeds_refundable", f"only {left} is left to refund")
