"""Migrations on databases that hold data, not only on empty ones: every row survives an upgrade
and a downgrade (on SQLite a table rebuild must not cascade into the rows that refer to it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

from b2bgateway.store import Store
from b2bgateway.store.db import downgrade, upgrade

TABLES = ("customers", "invoices", "payments", "payment_allocations", "refunds")
ROWS = """
INSERT INTO customers (merchant_id, customer_id, name, active, currency, created_at, updated_at)
  VALUES ('m', 'C-1', 'Cliente', true, 'MXN', '2026-11-01 00:00:00', '2026-11-01 00:00:00');
INSERT INTO invoices (merchant_id, invoice_id, customer_id, folio, document_type, source,
  issued_on, due_on, total_minor, balance_minor, currency, created_at, updated_at)
  VALUES ('m', 'F-1', 'C-1', 'A1', 'factura', 'ventas', '2026-11-01', '2026-12-01', 100000,
  100000, 'MXN', '2026-11-01 00:00:00', '2026-11-01 00:00:00');
INSERT INTO invoices (merchant_id, invoice_id, customer_id, folio, document_type, source,
  issued_on, due_on, total_minor, balance_minor, currency, created_at, updated_at)
  VALUES ('m', 'F-2', 'C-1', 'A2', 'factura', 'ventas', '2026-11-01', '2026-12-01', 100000,
  100000, 'MXN', '2026-11-01 00:00:00', '2026-11-01 00:00:00');
INSERT INTO payments (id, merchant_id, customer_id, purpose, amount_minor, currency, status,
  processor, refunded_minor, created_at, updated_at, reconcile_attempts)
  VALUES ('pay_1', 'm', 'C-1', 'invoices', 100000, 'MXN', 'partially_refunded', 'sandbox', 100,
  '2026-11-02 00:00:00', '2026-11-02 00:00:00', 0);
INSERT INTO payments (id, merchant_id, customer_id, purpose, amount_minor, currency, status,
  processor, refunded_minor, created_at, updated_at, reconcile_attempts, order_reference)
  VALUES ('pay_2', 'm', 'C-1', 'order', 500000, 'MXN', 'processing', 'sandbox', 0,
  '2026-11-02 00:00:00', '2026-11-02 00:00:00', 0, 'PED-1');
INSERT INTO payment_allocations (payment_id, merchant_id, invoice_id, amount_minor, currency,
  registered) VALUES ('pay_1', 'm', 'F-1', 100000, 'MXN', true);
INSERT INTO refunds (id, merchant_id, payment_id, amount_minor, currency, status, created_at,
  updated_at) VALUES ('re_1', 'm', 'pay_1', 100, 'MXN', 'succeeded', '2026-11-03 00:00:00',
  '2026-11-03 00:00:00');
"""


@pytest.fixture
def empty_store(database_url: str, tmp_path: Path) -> Iterator[Store]:
    """A database of its own: a file on SQLite, a schema of its own on PostgreSQL."""
    if database_url.startswith("sqlite"):
        store = Store(f"sqlite:///{tmp_path / 'migrations.db'}")
        yield store
        store.dispose()
        return
    url = database_url.split("?", 1)[0] + "?options=-csearch_path%3Db2bgateway_migrations"
    admin = Store(database_url)
    with admin.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS b2bgateway_migrations CASCADE"))
        conn.execute(text("CREATE SCHEMA b2bgateway_migrations"))
    store = Store(url)
    yield store
    store.dispose()
    with admin.engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS b2bgateway_migrations CASCADE"))
    admin.dispose()


def counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in TABLES}


def test_the_lifecycle_migration_keeps_every_row_both_ways(empty_store: Store) -> None:
    upgrade(empty_store, "0004")
    with empty_store.engine.begin() as conn:
        for statement in filter(str.strip, ROWS.split(";")):
            conn.execute(text(statement))
    before = counts(empty_store)
    assert before == dict.fromkeys(TABLES, 1) | {"invoices": 2, "payments": 2}

    upgrade(empty_store)
    assert counts(empty_store) == before
    with empty_store.engine.begin() as conn:
        row = conn.execute(
            text("SELECT payment_method, flags FROM payments WHERE id = 'pay_1'")
        ).one()
        assert row.payment_method == "card"
        registered = conn.execute(text("SELECT registered FROM payment_allocations")).scalar()
        assert registered in (True, 1)
        # the new status is allowed; a lost dispute frees the order for another payment
        conn.execute(
            text(
                "UPDATE payments SET status = 'disputed', dispute_status = 'lost', "
                "status_before_dispute = 'processing' WHERE id = 'pay_2'"
            )
        )
        conn.execute(
            text(
                "INSERT INTO payments (id, merchant_id, customer_id, purpose, amount_minor, "
                "currency, status, processor, refunded_minor, created_at, updated_at, "
                "reconcile_attempts, order_reference, payment_method) VALUES ('pay_3', 'm', "
                "'C-1', 'order', 500000, 'MXN', 'succeeded', 'sandbox', 0, "
                "'2026-11-04 00:00:00', '2026-11-04 00:00:00', 0, 'PED-1', 'card')"
            )
        )
        conn.execute(text("DELETE FROM payments WHERE id = 'pay_3'"))

    downgrade(empty_store, "0004")
    assert counts(empty_store) == before
    with empty_store.engine.connect() as conn:
        status = conn.execute(text("SELECT status FROM payments WHERE id = 'pay_2'")).scalar()
        assert status == "refunded"  # a lost dispute gave the money back
    upgrade(empty_store)
    assert counts(empty_store) == before


def test_the_references_migration_adds_its_tables_and_takes_them_back(empty_store: Store) -> None:
    upgrade(empty_store, "0006")
    with empty_store.engine.begin() as conn:
        for statement in filter(str.strip, ROWS.split(";")):
            conn.execute(text(statement))
    before = counts(empty_store)

    upgrade(empty_store, "0007")
    alias = (
        "INSERT INTO payment_references (payment_id, merchant_id, processor, reference, "
        "created_at) VALUES ('{payment}', 'm', 'sandbox', 'ch_1', '2026-11-05 00:00:00')"
    )
    with empty_store.engine.begin() as conn:
        conn.execute(text(alias.format(payment="pay_1")))
        conn.execute(
            text(
                "INSERT INTO processor_customers (merchant_id, processor, customer_id, reference, "
                "created_at, updated_at) VALUES ('m', 'stripe', 'C-1', 'cus_1', "
                "'2026-11-05 00:00:00', '2026-11-05 00:00:00')"
            )
        )
    with pytest.raises(IntegrityError), empty_store.engine.begin() as conn:
        conn.execute(text(alias.format(payment="pay_2")))  # one payment per reference

    downgrade(empty_store, "0006")
    assert counts(empty_store) == before
    with empty_store.engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert not tables & {"payment_references", "processor_customers"}
    upgrade(empty_store)


def test_the_migrations_are_one_chain_numbered_in_order() -> None:
    """Branches merged with migrations of their own are chained, never two heads."""
    from alembic.script import ScriptDirectory

    from b2bgateway.store.db import _alembic_config

    script = ScriptDirectory.from_config(_alembic_config(None))
    assert len(script.get_heads()) == 1
    revisions = [r.revision for r in script.walk_revisions()][::-1]
    assert revisions == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
