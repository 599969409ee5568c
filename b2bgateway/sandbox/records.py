"""The sandbox ledger's vocabulary (what tokens and buttons do), its tables, its SQLite plumbing,
and its records read back as frozen values.

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

from b2bgateway.money import Money

__all__ = [
    "COMPLETIONS",
    "LOST_ANSWER_TOKEN",
    "TOKENS",
    "Charge",
    "Completion",
    "Flow",
    "Refund",
    "Status",
    "charge_from_row",
    "connect",
    "ensure_schema",
    "insert",
    "iso",
    "new_id",
    "now",
    "refund_from_row",
    "transaction",
]

Flow = Literal["token", "three_d_secure", "hosted"]
Status = Literal["requires_action", "succeeded", "failed", "canceled"]
Completion = Literal["approve", "decline", "cancel"]

#: What each test token does: (flow, status it lands in, failure code). None: the hosted page.
TOKENS: dict[str | None, tuple[Flow, Status, str | None]] = {
    "tok_approved": ("token", "succeeded", None),
    "tok_declined": ("token", "failed", "card_declined"),
    "tok_insufficient_funds": ("token", "failed", "insufficient_funds"),
    "tok_3ds": ("three_d_secure", "requires_action", None),
    "tok_timeout": ("token", "succeeded", None),  # charged here; the hooks lose the answer
    None: ("hosted", "requires_action", None),
}
#: The token whose charge succeeds in the books but whose answer never reaches the gateway.
LOST_ANSWER_TOKEN = "tok_timeout"  # noqa: S105 (a test token, not a password)
#: What the sandbox page's buttons do: (new status, failure code, event type).
COMPLETIONS: dict[Completion, tuple[Status, str | None, str]] = {
    "approve": ("succeeded", None, "charge.succeeded"),
    "decline": ("failed", "card_declined", "charge.failed"),
    "cancel": ("canceled", "canceled", "charge.canceled"),
}

SCHEMA = """
CREATE TABLE IF NOT EXISTS charges (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    payment_id TEXT NOT NULL, amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, token TEXT,
    flow TEXT NOT NULL, status TEXT NOT NULL, failure_code TEXT,
    refunded_minor INTEGER NOT NULL DEFAULT 0, return_url TEXT, webhook_url TEXT, action_url TEXT,
    created_at TEXT NOT NULL, updated_at TEXT NOT NULL, UNIQUE (merchant_id, idempotency_key));
CREATE INDEX IF NOT EXISTS charges_by_payment ON charges (merchant_id, payment_id, created_at);
CREATE TABLE IF NOT EXISTS refunds (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    charge_id TEXT NOT NULL REFERENCES charges (id), refund_id TEXT NOT NULL,
    amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (merchant_id, idempotency_key));
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, merchant_id TEXT NOT NULL,
    charge_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, webhook_url TEXT,
    created_at TEXT NOT NULL, delivered_at TEXT, lease_until TEXT,
    attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
CREATE INDEX IF NOT EXISTS events_pending ON events (merchant_id, delivered_at, seq);
"""


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
_READY: set[str] = set()
_READY_LOCK = threading.Lock()


def ensure_schema(path: str) -> None:
    """Create the tables if they are missing and switch the file to WAL, once per process."""
    with _READY_LOCK:
        if path in _READY:
            return
        with connect(path) as conn:
            conn.execute("PRAGMA journal_mode = WAL")  # persistent: a property of the file
            conn.executescript(f"BEGIN IMMEDIATE; {SCHEMA} COMMIT;")
        _READY.add(path)


def insert(conn: sqlite3.Connection, table: str, values: Mapping[str, Any]) -> None:
    """Insert one row; ``table`` and the column names come from this package, never from input."""
    columns = ", ".join(values)
    marks = ", ".join("?" for _ in values)
    conn.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", tuple(values.values()))  # noqa: S608


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
def charge_from_row(row: sqlite3.Row) -> Charge:
    """A ``charges`` row as a :class:`Charge`."""
    currency = row["currency"]
    return Charge(
        id=row["id"],
        merchant_id=row["merchant_id"],
        payment_id=row["payment_id"],
        amount=Money.from_minor_units(row["amount_minor"], currency),
        token=row["token"],
        flow=row["flow"],
        status=row["status"],
        failure_code=row["failure_code"],
        refunded=Money.from_minor_units(row["refunded_minor"], currency),
        return_url=row["return_url"],
        webhook_url=row["webhook_url"],
        action_url=row["action_url"],
        created_at=datetime.fromisoformat(row["created_at"]),
        updated_at=datetime.fromisoformat(row["updated_at"]),
    )


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
