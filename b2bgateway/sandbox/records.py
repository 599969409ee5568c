"""The sandbox ledger's vocabulary (what tokens and buttons do), its SQLite plumbing, and
its records read back as frozen values (the tables are in :mod:`~b2bgateway.sandbox.schema`).

Several gunicorn workers and threads use one file at once: every call opens its own
connection, the file is in WAL mode, and every write is ``BEGIN IMMEDIATE``, because a deferred
transaction that reads and then writes gets ``SQLITE_BUSY`` at once, whatever ``busy_timeout``.
Amounts are integer minor units plus a currency; timestamps are UTC ISO strings.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from b2bgateway.errors import ProcessorPaymentNotFound
from b2bgateway.money import Money

__all__ = [
    "CARDS",
    "COMPLETIONS",
    "DEFAULT_CARD",
    "LOST_ANSWER_TOKEN",
    "TOKENS",
    "Card",
    "Charge",
    "Completion",
    "Flow",
    "LedgerRefusal",
    "Refund",
    "Status",
    "charge_from_row",
    "connect",
    "get_charge",
    "insert",
    "iso",
    "lookup_charge",
    "new_id",
    "now",
    "parse_time",
    "refund_from_row",
    "transaction",
    "update_charge",
]

Flow = Literal["token", "three_d_secure", "hosted", "bank_transfer", "cash"]
#: ``expired`` is never stored: a ``requires_action`` charge past its ``expires_at`` reads so.
Status = Literal["requires_action", "succeeded", "failed", "canceled", "expired"]
Completion = Literal["approve", "decline", "cancel"]

#: What each test token does: (flow, status it lands in, failure code). None: the hosted page.
TOKENS: dict[str | None, tuple[Flow, Status, str | None]] = {
    "tok_approved": ("token", "succeeded", None),
    "tok_debit": ("token", "succeeded", None),
    "tok_prepaid": ("token", "succeeded", None),
    "tok_declined": ("token", "failed", "card_declined"),
    "tok_insufficient_funds": ("token", "failed", "insufficient_funds"),
    "tok_3ds": ("three_d_secure", "requires_action", None),
    "tok_timeout": ("token", "succeeded", None),  # charged here; the hooks lose the answer
    None: ("hosted", "requires_action", None),
}
#: The token whose charge succeeds in the books but whose answer never reaches the gateway.
LOST_ANSWER_TOKEN = "tok_timeout"  # noqa: S105 (a test token, not a password)


@dataclass(frozen=True, slots=True)
class Card:
    """The test card behind a token: what a processor reports about the card that paid."""

    brand: str
    last4: str
    funding: Literal["credit", "debit", "prepaid"]


#: The card used by the hosted page and 3-D Secure, and by every token not in :data:`CARDS`.
DEFAULT_CARD = Card("visa", "4242", "credit")
#: Tokens whose card is not the default one (Stripe's test numbers' last digits).
CARDS: dict[str, Card] = {
    "tok_debit": Card("visa", "5556", "debit"),
    "tok_prepaid": Card("mastercard", "5100", "prepaid"),
}
#: What the sandbox page's buttons do: (new status, failure code, event type). A decline is one
#: failed attempt: the charge stays open for another card, as a hosted checkout does.
COMPLETIONS: dict[Completion, tuple[Status, str | None, str]] = {
    "approve": ("succeeded", None, "charge.succeeded"),
    "decline": ("requires_action", "card_declined", "charge.attempt_failed"),
    "cancel": ("canceled", "canceled", "charge.canceled"),
}


class LedgerRefusal(Exception):
    """The sandbox refused a request, as a processor answers a 4xx: nothing was recorded.
    ``code`` is the :class:`~b2bgateway.interface.Failure` code the hooks report."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- plumbing ------------------------------------------------------------------------------------
@contextmanager
def connect(path: str) -> Iterator[sqlite3.Connection]:
    """This thread's connection to the ledger (autocommit outside ``BEGIN``), kept open.

    Opening one per call was the sandbox's main cost: the last connection closing on a WAL file
    checkpoints it. A connection is used by one thread at a time, so one per thread and path.
    """
    cache: OrderedDict[str, sqlite3.Connection] = _THREAD_CONNECTIONS.__dict__.setdefault(
        "by_path", OrderedDict()
    )
    conn = cache.get(path)
    if conn is None:
        # isolation_level=None: no implicit BEGIN, so writes can say BEGIN IMMEDIATE themselves.
        conn = sqlite3.connect(path, timeout=5.0, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 5000")
        # In WAL mode NORMAL loses nothing on a process crash (only on power loss, up to the last
        # checkpoint), and a commit no longer waits for fsync: a test ledger needs no more.
        conn.execute("PRAGMA synchronous = NORMAL")
        cache[path] = conn
        while len(cache) > _MAX_LEDGERS_PER_THREAD:  # a few ledgers per thread, not one per file
            cache.popitem(last=False)[1].close()
    cache.move_to_end(path)
    yield conn


@contextmanager
def transaction(path: str) -> Iterator[sqlite3.Connection]:
    """A write transaction: ``BEGIN IMMEDIATE``, committed on exit, rolled back on an error."""
    with connect(path) as conn:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


_THREAD_CONNECTIONS = threading.local()
_MAX_LEDGERS_PER_THREAD = 4


def insert(conn: sqlite3.Connection, table: str, values: Mapping[str, Any]) -> None:
    """Insert one row; ``table`` and the column names come from this package, never from input."""
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))  # noqa: S608


def update_charge(
    conn: sqlite3.Connection, charge_id: str, changes: Mapping[str, Any], stamp: str
) -> None:
    """Set ``changes`` on a charge (column names from this package, never input) and its
    ``updated_at`` to ``stamp``, in the caller's transaction."""
    columns = ", ".join(f"{name} = ?" for name in changes)
    conn.execute(
        f"UPDATE charges SET {columns}, updated_at = ? WHERE id = ?",  # noqa: S608
        (*changes.values(), stamp, charge_id),
    )


def now() -> datetime:
    """The current instant, in UTC."""
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    """``moment`` as stored: one fixed UTC format, so the strings sort like the instants."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def new_id(prefix: str) -> str:
    """A processor-style id: ``sbx_ch_`` + 24 hex digits."""
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True)
class Charge:
    """A charge in the sandbox's books. ``id`` is its processor reference (``sbx_ch_...``)."""

    id: str
    merchant_id: str
    payment_id: str  # the gateway's own id, echoed back like a processor's metadata
    amount: Money
    token: str | None
    flow: Flow
    status: Status
    failure_code: str | None
    refunded: Money
    return_url: str | None
    webhook_url: str | None
    action_url: str | None  # the sandbox page where a person finishes a requires_action charge
    created_at: datetime
    updated_at: datetime
    method: str = "card"  # a PaymentMethodType value: card, bank_transfer or cash
    installments: int | None = None  # MSI on a card
    expires_at: datetime | None = None  # when an unfinished charge expires (None: it cannot)
    received: Money | None = None  # funds received by transfer or at the store (None: a card)
    clabe: str | None = None  # where a SPEI transfer goes
    payment_reference: str | None = None  # SPEI's numeric reference, or the cash voucher's
    beneficiary: str | None = None  # the CLABE's account holder
    voucher_url: str | None = None  # the printable cash voucher
    attempt_id: str | None = None  # the latest attempt on the sandbox page (att_...)
    card: Card | None = None  # the card that paid
    authorization_code: str | None = None
    tracking_key: str | None = None  # SPEI's clave de rastreo of the transfer that completed it
    payer_bank: str | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Refund:
    """A succeeded refund (the sandbox refuses bad refunds outright instead of recording them)."""

    id: str  # sbx_re_...
    merchant_id: str
    charge_id: str
    refund_id: str  # the gateway's own id
    amount: Money
    created_at: datetime


# -- rows ----------------------------------------------------------------------------------------
def parse_time(value: str | None) -> datetime | None:
    """A stored timestamp (or None) as an aware datetime."""
    return None if value is None else datetime.fromisoformat(value)


def _status(row: sqlite3.Row, expires_at: datetime | None) -> tuple[Status, str | None]:
    """The charge's status and failure code as of now: unfinished past its expiry is expired.

    Computed on read rather than by a sweeper, so expiry is exact and needs no background job,
    like a processor that refuses an expired voucher at the till.
    """
    if row["status"] == "requires_action" and expires_at is not None and expires_at <= now():
        return "expired", "expired"
    return row["status"], row["failure_code"]


def charge_from_row(row: sqlite3.Row) -> Charge:
    """A ``charges`` row as a :class:`Charge`."""
    currency = row["currency"]
    expires_at = parse_time(row["expires_at"])
    status, failure_code = _status(row, expires_at)
    brand = row["card_brand"]
    return Charge(
        id=row["id"],
        merchant_id=row["merchant_id"],
        payment_id=row["payment_id"],
        amount=Money.from_minor_units(row["amount_minor"], currency),
        token=row["token"],
        flow=row["flow"],
        status=status,
        failure_code=failure_code,
        refunded=Money.from_minor_units(row["refunded_minor"], currency),
        return_url=row["return_url"],
        webhook_url=row["webhook_url"],
        action_url=row["action_url"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
        method=row["method"],
        installments=row["installments"],
        expires_at=expires_at,
        received=None
        if row["method"] == "card"
        else Money.from_minor_units(row["received_minor"], currency),
        clabe=row["clabe"],
        payment_reference=row["payment_reference"],
        beneficiary=row["beneficiary"],
        voucher_url=row["voucher_url"],
        attempt_id=row["attempt_id"],
        card=None if brand is None else Card(brand, row["card_last4"], row["card_funding"]),
        authorization_code=row["authorization_code"],
        tracking_key=row["tracking_key"],
        payer_bank=row["payer_bank"],
        paid_at=parse_time(row["paid_at"]),
    )


def get_charge(conn: sqlite3.Connection, merchant_id: str, charge_id: str) -> Charge:
    """The merchant's charge ``charge_id``, read in ``conn``'s transaction.

    :raises ProcessorPaymentNotFound: no such charge for this merchant.
    """
    row = conn.execute(
        "SELECT * FROM charges WHERE merchant_id = ? AND id = ?", (merchant_id, charge_id)
    ).fetchone()
    if row is None:
        raise ProcessorPaymentNotFound(f"the sandbox has no charge {charge_id}")
    return charge_from_row(row)


def lookup_charge(conn: sqlite3.Connection, merchant_id: str, reference: str) -> Charge:
    """The charge ``reference`` names: its id (``sbx_ch_...``), or else the gateway's payment
    id (its latest charge), so a person can "pay" a payment knowing only the gateway's id.

    :raises ProcessorPaymentNotFound: neither matches a charge of this merchant.
    """
    row = conn.execute(
        "SELECT * FROM charges WHERE merchant_id = ? AND (id = ? OR payment_id = ?)"
        " ORDER BY id = ? DESC, created_at DESC, rowid DESC LIMIT 1",
        (merchant_id, reference, reference, reference),
    ).fetchone()
    if row is None:
        raise ProcessorPaymentNotFound(f"the sandbox has no charge for {reference}")
    return charge_from_row(row)


def refund_from_row(row: sqlite3.Row) -> Refund:
    """A ``refunds`` row as a :class:`Refund`."""
    return Refund(
        id=row["id"],
        merchant_id=row["merchant_id"],
        charge_id=row["charge_id"],
        refund_id=row["refund_id"],
        amount=Money.from_minor_units(row["amount_minor"], row["currency"]),
        created_at=datetime.fromisoformat(row["created_at"]),
    )
