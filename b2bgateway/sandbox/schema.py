"""The sandbox ledger's tables, and how a file made by an older version is brought up to date.

A merchant's demo ledger (``b2bgateway-sandbox.db``) outlives upgrades, so the schema only ever
grows: :func:`ensure_schema` creates what is missing (``CREATE ... IF NOT EXISTS``) and adds the
columns an older file lacks (``ALTER TABLE ... ADD COLUMN``, each with a default that means "as
before": a card charge, nothing received).
"""

from __future__ import annotations

import sqlite3
import threading

from b2bgateway.sandbox.records import connect

__all__ = ["ADDED_COLUMNS", "SCHEMA", "ensure_schema"]

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
CREATE TABLE IF NOT EXISTS attempts (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, charge_id TEXT NOT NULL REFERENCES charges (id),
    outcome TEXT NOT NULL, failure_code TEXT, created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS attempts_by_charge ON attempts (charge_id, created_at);
CREATE TABLE IF NOT EXISTS transfers (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, charge_id TEXT NOT NULL REFERENCES charges (id),
    amount_minor INTEGER NOT NULL, currency TEXT NOT NULL, tracking_key TEXT, payer_bank TEXT,
    created_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS transfers_by_charge ON transfers (charge_id, created_at);
CREATE TABLE IF NOT EXISTS disputes (
    id TEXT PRIMARY KEY, merchant_id TEXT NOT NULL, charge_id TEXT NOT NULL REFERENCES charges (id),
    status TEXT NOT NULL, reason TEXT NOT NULL, amount_minor INTEGER NOT NULL,
    currency TEXT NOT NULL, created_at TEXT NOT NULL, closed_at TEXT);
CREATE INDEX IF NOT EXISTS disputes_by_charge ON disputes (charge_id, created_at);
"""

#: Columns added to ``charges`` after its first version: (name, declaration). An older file gets
#: them with these defaults, which describe its charges exactly (all were card charges).
ADDED_COLUMNS: tuple[tuple[str, str], ...] = (
    ("method", "TEXT NOT NULL DEFAULT 'card'"),
    ("installments", "INTEGER"),
    ("expires_at", "TEXT"),
    ("received_minor", "INTEGER NOT NULL DEFAULT 0"),
    ("clabe", "TEXT"),
    ("payment_reference", "TEXT"),  # SPEI's numeric reference, or the cash voucher's
    ("beneficiary", "TEXT"),
    ("voucher_url", "TEXT"),
    ("attempt_id", "TEXT"),  # the latest attempt on the sandbox page
    ("card_brand", "TEXT"),
    ("card_last4", "TEXT"),
    ("card_funding", "TEXT"),
    ("authorization_code", "TEXT"),
    ("tracking_key", "TEXT"),
    ("payer_bank", "TEXT"),
    ("paid_at", "TEXT"),
)

_READY: set[str] = set()
_READY_LOCK = threading.Lock()


def _add_missing_columns(conn: sqlite3.Connection) -> None:
    present = {row["name"] for row in conn.execute("PRAGMA table_info(charges)")}
    for name, declaration in ADDED_COLUMNS:
        if name not in present:
            # Names and declarations are this module's constants, never input.
            conn.execute(f"ALTER TABLE charges ADD COLUMN {name} {declaration}")


def ensure_schema(path: str) -> None:
    """Create missing tables, add missing columns and switch the file to WAL, once per process.

    Several processes may upgrade one file at once: the work runs in one ``BEGIN IMMEDIATE``
    transaction, and the columns are looked up inside it, so the second process finds them.
    """
    with _READY_LOCK:
        if path in _READY:
            return
        with connect(path) as conn:
            conn.execute("PRAGMA journal_mode = WAL")  # persistent: a property of the file
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                _add_missing_columns(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        _READY.add(path)
