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
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from b2bgateway.errors import ProcessorPaymentNotFound
from b2bgateway.interface import INSTALLMENT_COUNTS
from b2bgateway.money import Money
from b2bgateway.sandbox import (
    attempts,
    disputes,
    funding,
    instruments,
    records,
    refunds,
    vouchers,
)
from b2bgateway.sandbox.attempts import Attempt
from b2bgateway.sandbox.disputes import DisputeRecord
from b2bgateway.sandbox.events import Event, list_events
from b2bgateway.sandbox.expiry import expire_due
from b2bgateway.sandbox.records import (
    CARDS,
    COMPLETIONS,
    DEFAULT_CARD,
    LOST_ANSWER_TOKEN,
    TOKENS,
    Charge,
    Completion,
    LedgerRefusal,
    Refund,
)
from b2bgateway.sandbox.schema import ensure_schema
from b2bgateway.sandbox.settings import SandboxSettings

__all__ = [
    "COMPLETIONS",
    "LOST_ANSWER_TOKEN",
    "TOKENS",
    "Attempt",
    "Charge",
    "Completion",
    "DisputeRecord",
    "Event",
    "Ledger",
    "LedgerRefusal",
    "Refund",
    "open_ledger",
]

_REUSED = "idempotency key reused with other parameters"
#: How long an unfinished charge lives at most, by flow, unless the ledger is told otherwise.
DEFAULT_EXPIRY: dict[str, timedelta] = {
    "three_d_secure": timedelta(hours=1),
    "hosted": timedelta(hours=1),
    "bank_transfer": timedelta(hours=72),
    "cash": timedelta(hours=72),
}


class Ledger:
    """The sandbox's books in one SQLite file (``path``).

    Each method uses its own short-lived connection, so one instance can be shared by threads
    and several processes can share the file. One file may hold every merchant's charges: every
    lookup is scoped by ``merchant_id``.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        currencies: Iterable[str] = ("MXN", "USD"),
        beneficiary: str = "Sandbox B2B SA de CV",
        expiry: Mapping[str, timedelta] | None = None,
    ) -> None:
        self.path = str(path)
        self.currencies = frozenset(currencies)
        self.beneficiary = beneficiary
        self.expiry = {**DEFAULT_EXPIRY, **(expiry or {})}

    @staticmethod
    def _get(conn: sqlite3.Connection, merchant_id: str, charge_id: str) -> Charge:
        return records.get_charge(conn, merchant_id, charge_id)

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
        payment_method: str = "card",
        installments: int | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[Charge, bool]:
        """Charge ``amount`` with a test ``token`` (None: the hosted flow), or start a SPEI
        transfer or a cash voucher (``payment_method``), once per key.

        A charge that waits (``tok_3ds``, hosted, transfer, cash) gets an ``action_url`` on
        ``gateway_url``, ``/sandbox/<merchant_id>/charges/<charge_id>``, and an ``expires_at``:
        the one asked for, but no later than the ledger's own limit for its flow.

        :return: the charge and whether this call created it; a repeat of the same request
          (same key, payment, amount, currency, token, method and installments) gets the charge
          as it is now.
        :raises LedgerRefusal: ``idempotency_mismatch`` (the key was used for another request),
          ``currency_not_supported``, ``invalid_amount``, ``invalid_payment_method`` or
          ``installments_not_available``.
        """
        with records.transaction(self.path) as conn:
            row = conn.execute(
                "SELECT * FROM charges WHERE merchant_id = ? AND idempotency_key = ?",
                (merchant_id, idempotency_key),
            ).fetchone()
            if row is not None:
                return _repeated(row, (payment_id, amount, token, payment_method, installments))
            self._check(amount, token, payment_method, installments)
            charge_id = records.new_id("sbx_ch")
            values = self._new_charge(charge_id, token, payment_method, expires_at)
            values.update(
                _urls(gateway_url, merchant_id, charge_id, values["status"], payment_method)
            )
            records.insert(
                conn,
                "charges",
                dict(
                    values,
                    merchant_id=merchant_id,
                    idempotency_key=idempotency_key,
                    payment_id=payment_id,
                    amount_minor=amount.to_minor_units(),
                    currency=amount.currency,
                    token=token,
                    installments=installments,
                    return_url=return_url,
                    webhook_url=webhook_url,
                ),
            )
            return self._get(conn, merchant_id, charge_id), True

    def _check(
        self, amount: Money, token: str | None, payment_method: str, installments: int | None
    ) -> None:
        """Refuse what no charge can be made of, before anything is recorded."""
        if amount.currency not in self.currencies:
            raise LedgerRefusal(
                "currency_not_supported", f"the sandbox does not charge {amount.currency}"
            )
        if amount.to_minor_units() <= 0:
            raise LedgerRefusal("invalid_amount", "the amount must be positive")
        if payment_method == "card":
            if token not in TOKENS:
                raise LedgerRefusal("invalid_payment_method", "unknown sandbox test token")
        elif payment_method in ("bank_transfer", "cash"):
            if token is not None or installments is not None:
                raise LedgerRefusal(
                    "invalid_payment_method", f"a {payment_method} charge takes no card"
                )
            if amount.currency != "MXN":  # SPEI and Mexican stores move pesos only
                raise LedgerRefusal("currency_not_supported", f"{payment_method} is only in MXN")
        else:
            raise LedgerRefusal("invalid_payment_method", f"no such method {payment_method}")
        if installments is not None:
            card = CARDS.get(token or "", DEFAULT_CARD)
            if installments not in INSTALLMENT_COUNTS or card.funding != "credit":
                raise LedgerRefusal(
                    "installments_not_available",
                    f"{installments} MSI are not available on a {card.funding} card",
                )

    def _new_charge(
        self,
        charge_id: str,
        token: str | None,
        payment_method: str,
        expires_at: datetime | None,
    ) -> dict[str, Any]:
        """The new charge's columns that depend on its flow: status, expiry, instructions and,
        for a token that pays at once, the card's details."""
        moment = records.now()
        stamp = records.iso(moment)
        if payment_method == "card":
            flow, status, failure_code = TOKENS[token]
        else:
            flow, status, failure_code = payment_method, "requires_action", None  # type: ignore[assignment]
        values: dict[str, Any] = dict(
            id=charge_id,
            flow=flow,
            status=status,
            failure_code=failure_code,
            method=payment_method,
            created_at=stamp,
            updated_at=stamp,
        )
        if status == "requires_action":
            until = instruments.expiry(moment, expires_at, self.expiry[flow])
            values["expires_at"] = records.iso(until)
        if payment_method == "bank_transfer":
            values.update(
                clabe=instruments.new_clabe(),
                payment_reference=instruments.numeric_reference(7),
                beneficiary=self.beneficiary,
            )
        elif payment_method == "cash":
            values["payment_reference"] = instruments.numeric_reference(14)
        elif status == "succeeded":
            values.update(
                instruments.card_paid(CARDS.get(token or "", DEFAULT_CARD), charge_id, stamp)
            )
        return values

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

    def lookup(self, merchant_id: str, reference: str) -> Charge | None:
        """The charge ``reference`` names: a charge id (``sbx_ch_...``) or the gateway's payment
        id (its latest charge); None when neither matches."""
        try:
            with records.connect(self.path) as conn:
                return records.lookup_charge(conn, merchant_id, reference)
        except ProcessorPaymentNotFound:
            return None

    def voucher(self, charge_id: str) -> Charge | None:
        """The cash charge ``charge_id`` whatever its merchant (a voucher's URL names none), or
        None; see :mod:`b2bgateway.sandbox.vouchers`."""
        return vouchers.find_voucher(self.path, charge_id)

    def complete_charge(self, merchant_id: str, charge_id: str, outcome: Completion) -> Charge:
        """Apply the button the person pressed on the sandbox page to a ``requires_action``
        charge and record the webhook event it owes; ``decline`` is one failed attempt and the
        charge stays open. See :func:`b2bgateway.sandbox.attempts.complete`."""
        return attempts.complete(self.path, merchant_id, charge_id, outcome)

    def attempts(self, merchant_id: str, charge_id: str) -> list[Attempt]:
        """The charge's attempts on the sandbox page, oldest first."""
        return attempts.list_attempts(self.path, merchant_id, charge_id)

    def expire_due(self, merchant_id: str) -> list[Charge]:
        """Record ``charge.expired`` for the merchant's waiting charges past their expiry; see
        :func:`b2bgateway.sandbox.expiry.expire_due`."""
        return expire_due(self.path, merchant_id)

    # -- funds and disputes ----------------------------------------------------------------------
    def pay(
        self,
        merchant_id: str,
        reference: str,
        amount: Money | None = None,
        tracking_key: str | None = None,
        payer_bank: str | None = None,
    ) -> Charge:
        """Receive a SPEI transfer or a cash payment for a waiting charge (``reference``: the
        charge id or the gateway's payment id); see :func:`b2bgateway.sandbox.funding.pay`."""
        return funding.pay(
            self.path,
            merchant_id,
            reference,
            amount,
            tracking_key=tracking_key,
            payer_bank=payer_bank,
        )

    def dispute(
        self,
        merchant_id: str,
        reference: str,
        status: Literal["open", "won", "lost"],
        reason: str = "fraudulent",
        amount: Money | None = None,
    ) -> DisputeRecord:
        """Open or close a chargeback on a succeeded charge (``reference``: the charge id or the
        gateway's payment id); see :func:`b2bgateway.sandbox.disputes.dispute`."""
        return disputes.dispute(self.path, merchant_id, reference, status, reason, amount)

    # -- refunds ---------------------------------------------------------------------------------
    def find_refund(self, merchant_id: str, refund_id: str) -> Refund | None:
        """The refund the gateway asked for as ``refund_id`` (its id), if the sandbox made it."""
        return refunds.find_refund(self.path, merchant_id, refund_id)

    def refund(
        self,
        merchant_id: str,
        charge_id: str,
        *,
        refund_id: str,
        idempotency_key: str,
        amount: Money,
    ) -> Refund:
        """Refund ``amount`` of a succeeded charge, once per key, and record its webhook event;
        see :func:`b2bgateway.sandbox.refunds.refund`."""
        return refunds.refund(
            self.path,
            merchant_id,
            charge_id,
            refund_id=refund_id,
            idempotency_key=idempotency_key,
            amount=amount,
        )

    # -- events ----------------------------------------------------------------------------------
    def events(self, merchant_id: str, *, charge_id: str | None = None) -> list[Event]:
        """The merchant's webhook events, oldest first (only ``charge_id``'s when given)."""
        return list_events(self.path, merchant_id, charge_id=charge_id)


def open_ledger(settings: SandboxSettings) -> Ledger:
    """The ledger in ``settings.ledger_path``, its tables created on first use.

    Cheap enough to call on every request: the schema is created once per file and process.
    """
    path = _resolved(settings.ledger_path, os.getcwd())
    ensure_schema(path)
    return Ledger(
        path,
        currencies=settings.currencies,
        beneficiary=settings.beneficiary,
        expiry={
            "three_d_secure": timedelta(minutes=settings.card_expiry_minutes),
            "hosted": timedelta(minutes=settings.card_expiry_minutes),
            "bank_transfer": timedelta(hours=settings.bank_transfer_expiry_hours),
            "cash": timedelta(hours=settings.cash_expiry_hours),
        },
    )


def _repeated(row: sqlite3.Row, asked: tuple[object, ...]) -> tuple[Charge, bool]:
    """The charge a repeated request gets, as it is now, if it asks the same (payment, amount,
    token, method, installments) as the first time.

    :raises LedgerRefusal: ``idempotency_mismatch``.
    """
    charge = records.charge_from_row(row)
    first = (charge.payment_id, charge.amount, charge.token, charge.method, charge.installments)
    if first != asked:
        raise LedgerRefusal("idempotency_mismatch", _REUSED)
    return charge, False


def _urls(
    gateway_url: str, merchant_id: str, charge_id: str, status: str, method: str
) -> dict[str, str]:
    """The sandbox pages of a new charge on the gateway: where a person finishes it (or reads
    the transfer's instructions), and a cash voucher's printable page."""
    base = gateway_url.rstrip("/")
    urls = {}
    if status == "requires_action":
        urls["action_url"] = f"{base}/sandbox/{quote(merchant_id, safe='')}/charges/{charge_id}"
    if method == "cash":
        urls["voucher_url"] = f"{base}/sandbox/vouchers/{charge_id}"
    return urls


@functools.lru_cache(maxsize=64)
def _resolved(path: str, cwd: str) -> str:
    """The ledger's absolute path (resolving touches the file system: once per path and working
    directory, which a relative path depends on)."""
    return str(Path(path).resolve())
