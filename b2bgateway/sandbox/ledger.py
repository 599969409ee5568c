"""The sandbox's own books: charges, refunds and the webhook events it owes, like a processor's.

This is the processor's side of the sandbox (a real plugin has a thin HTTP client here). It keeps
its own SQLite file, apart from the gateway's database, so that reconciliation meets two systems
that can disagree. Tokens decide what happens (:data:`~b2bgateway.sandbox.records.TOKENS`).
Every state change after the first answer (the sandbox page's approval, a refund) records a
webhook event in the same transaction; :mod:`b2bgateway.sandbox.delivery` sends them.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from b2bgateway.errors import ProcessorPaymentNotFound
from b2bgateway.money import Money
from b2bgateway.sandbox import records
from b2bgateway.sandbox.events import Event, list_events, record_event
from b2bgateway.sandbox.records import (
    COMPLETIONS,
    LOST_ANSWER_TOKEN,
    TOKENS,
    Charge,
    Completion,
    Refund,
)
from b2bgateway.sandbox.settings import SandboxSettings

__all__ = [
    "COMPLETIONS",
    "LOST_ANSWER_TOKEN",
    "TOKENS",
    "Charge",
    "Completion",
    "Event",
    "Ledger",
    "LedgerRefusal",
    "Refund",
    "open_ledger",
]

_REUSED = "idempotency key reused with other parameters"


class LedgerRefusal(Exception):
    """The sandbox refused a request, as a processor answers a 4xx: nothing was recorded.
    ``code`` is the :class:`~b2bgateway.interface.Failure` code the hooks report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Ledger:
    """The sandbox's books in one SQLite file (``path``).

    Each method uses its own short-lived connection, so one instance can be shared by threads
    and several processes can share the file. One file may hold every merchant's charges: every
    lookup is scoped by ``merchant_id``.
    """

    def __init__(self, path: str | Path, *, currencies: Iterable[str] = ("MXN", "USD")) -> None:
        self.path = str(path)
        self.currencies = frozenset(currencies)

    @staticmethod
    def _get(conn: sqlite3.Connection, merchant_id: str, charge_id: str) -> Charge:
        row = conn.execute(
            "SELECT * FROM charges WHERE merchant_id = ? AND id = ?", (merchant_id, charge_id)
        ).fetchone()
        if row is None:
            raise ProcessorPaymentNotFound(f"the sandbox has no charge {charge_id}")
        return records.charge_from_row(row)

    # -- charges ---------------------------------------------------------------------------------
    def create_charge(
        self,
        *,
        merchant_id: str,
        idempotency_key: str,
        payment_id: str,
        amount: Money,
        token: str | None,
        return_url: str | None = None,
        webhook_url: str | None = None,
        gateway_url: str = "",
    ) -> tuple[Charge, bool]:
        """Charge ``amount`` with a test ``token`` (None: the hosted flow), once per key.

        A charge that needs a person (``tok_3ds``, hosted) gets an ``action_url`` on
        ``gateway_url``: ``/sandbox/<merchant_id>/charges/<charge_id>``.

        :return: the charge and whether this call created it; a repeat of the same request
          (same key, payment, amount, currency and token) gets the charge as it is now.
        :raises LedgerRefusal: ``idempotency_mismatch`` (the key was used for another request),
          ``currency_not_supported``, ``invalid_amount`` or ``invalid_payment_method``.
        """
        minor = amount.to_minor_units()
        with records.transaction(self.path) as conn:
            row = conn.execute(
                "SELECT * FROM charges WHERE merchant_id = ? AND idempotency_key = ?",
                (merchant_id, idempotency_key),
            ).fetchone()
            if row is not None:
                charge = records.charge_from_row(row)
                if (charge.payment_id, charge.amount, charge.token) != (payment_id, amount, token):
                    raise LedgerRefusal("idempotency_mismatch", _REUSED)
                return charge, False
            if amount.currency not in self.currencies:
                raise LedgerRefusal(
                    "currency_not_supported", f"the sandbox does not charge {amount.currency}"
                )
            if minor <= 0:
                raise LedgerRefusal("invalid_amount", "the amount must be positive")
            if token not in TOKENS:
                raise LedgerRefusal("invalid_payment_method", "unknown sandbox test token")
            flow, status, failure_code = TOKENS[token]
            charge_id = records.new_id("sbx_ch")
            action_url = None
            if status == "requires_action":
                base = gateway_url.rstrip("/")
                action_url = f"{base}/sandbox/{quote(merchant_id, safe='')}/charges/{charge_id}"
            stamp = records.iso(records.now())
            records.insert(
                conn,
                "charges",
                dict(
                    id=charge_id,
                    merchant_id=merchant_id,
                    idempotency_key=idempotency_key,
                    payment_id=payment_id,
                    amount_minor=minor,
                    currency=amount.currency,
                    token=token,
                    flow=flow,
                    status=status,
                    failure_code=failure_code,
                    return_url=return_url,
                    webhook_url=webhook_url,
                    action_url=action_url,
                    created_at=stamp,
                    updated_at=stamp,
                ),
            )
            return self._get(conn, merchant_id, charge_id), True

    def get_charge(self, merchant_id: str, charge_id: str) -> Charge | None:
        """The merchant's charge ``charge_id`` (``sbx_ch_...``), or None."""
        try:
            with records.connect(self.path) as conn:
                return self._get(conn, merchant_id, charge_id)
        except ProcessorPaymentNotFound:
            return None

    def find_charge(self, merchant_id: str, payment_id: str) -> Charge | None:
        """The latest charge the merchant made for the gateway's ``payment_id``, or None."""
        with records.connect(self.path) as conn:
            row = conn.execute(
                "SELECT * FROM charges WHERE merchant_id = ? AND payment_id = ?"
                " ORDER BY created_at DESC, rowid DESC LIMIT 1",
                (merchant_id, payment_id),
            ).fetchone()
        return None if row is None else records.charge_from_row(row)

    def complete_charge(self, merchant_id: str, charge_id: str, outcome: Completion) -> Charge:
        """Finish a ``requires_action`` charge as the person on the sandbox page chose, and
        record the webhook event it owes (send it with :mod:`b2bgateway.sandbox.delivery`).

        ``approve``: succeeded. ``decline``: failed ``card_declined`` (3-D Secure refused).
        ``cancel``: canceled (the hosted page's "Cancelar").

        :raises ProcessorPaymentNotFound: no such charge for this merchant.
        :raises LedgerRefusal: ``charge_not_pending``, the charge is already final.
        """
        status, failure_code, event_type = COMPLETIONS[outcome]
        with records.transaction(self.path) as conn:
            charge = self._get(conn, merchant_id, charge_id)
            if charge.status != "requires_action":
                raise LedgerRefusal("charge_not_pending", f"the charge is {charge.status}")
            conn.execute(
                "UPDATE charges SET status = ?, failure_code = ?, updated_at = ? WHERE id = ?",
                (status, failure_code, records.iso(records.now()), charge_id),
            )
            charge = self._get(conn, merchant_id, charge_id)
            record_event(conn, event_type, charge)
        return charge

    # -- refunds ---------------------------------------------------------------------------------
    def find_refund(self, merchant_id: str, refund_id: str) -> Refund | None:
        """The refund the gateway asked for as ``refund_id`` (its id), if the sandbox made it."""
        with records.connect(self.path) as conn:
            row = conn.execute(
                "SELECT * FROM refunds WHERE merchant_id = ? AND refund_id = ?",
                (merchant_id, refund_id),
            ).fetchone()
        return None if row is None else records.refund_from_row(row)

    def refund(
        self,
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
        with records.transaction(self.path) as conn:
            row = conn.execute(
                "SELECT * FROM refunds WHERE merchant_id = ? AND idempotency_key = ?",
                (merchant_id, idempotency_key),
            ).fetchone()
            if row is not None:
                done = records.refund_from_row(row)
                if (done.charge_id, done.refund_id, done.amount) != (charge_id, refund_id, amount):
                    raise LedgerRefusal("idempotency_mismatch", _REUSED)
                return done
            charge = self._get(conn, merchant_id, charge_id)
            left = charge.amount - charge.refunded
            if amount.currency != left.currency:
                raise LedgerRefusal("currency_mismatch", f"the charge is in {left.currency}")
            if charge.status != "succeeded":
                raise LedgerRefusal("charge_not_refundable", f"the charge is {charge.status}")
            if not amount.is_positive():
                raise LedgerRefusal("invalid_amount", "the amount must be positive")
            if amount > left:
                raise LedgerRefusal("amount_exceeds_refundable", f"only {left} is left to refund")
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
                "UPDATE charges SET refunded_minor = refunded_minor + ?, updated_at = ?"
                " WHERE id = ?",
                (minor, stamp, charge_id),
            )
            record_event(conn, "refund.succeeded", self._get(conn, merchant_id, charge_id), refund)
        return refund

    # -- events ----------------------------------------------------------------------------------
    def events(self, merchant_id: str, *, charge_id: str | None = None) -> list[Event]:
        """The merchant's webhook events, oldest first (only ``charge_id``'s when given)."""
        return list_events(self.path, merchant_id, charge_id=charge_id)


def open_ledger(settings: SandboxSettings) -> Ledger:
    """The ledger in ``settings.ledger_path``, its tables created on first use.

    Cheap enough to call on every request: the schema is created once per file and process.
    """
    path = _resolved(settings.ledger_path, os.getcwd())
    records.ensure_schema(path)
    return Ledger(path, currencies=settings.currencies)


@functools.lru_cache(maxsize=64)
def _resolved(path: str, cwd: str) -> str:
    """The ledger's absolute path (resolving touches the file system: once per path and working
    directory, which a relative path depends on)."""
    return str(Path(path).resolve())
