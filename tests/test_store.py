import threading
from datetime import date

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.store import Store, upgrade
from b2bgateway.store.db import current_revision, head_revision
from b2bgateway.store.models import Base, Customer, Invoice, Payment, PaymentAllocation
from b2bgateway.store.repository import (
    CustomerData,
    InvoiceData,
    create_payment,
    set_payment_status,
    upsert_customer,
    upsert_invoices,
)

MXN = "MXN"


def seed(store, merchant="acme", invoices=("F-1", "F-2")):
    with store.write() as session:
        upsert_customer(
            session,
            merchant,
            "C-1",
            CustomerData(
                name="Cliente", active=True, currency=MXN, credit_limit=Money("1000.00", MXN)
            ),
        )
        upsert_invoices(
            session,
            merchant,
            [
                InvoiceData(
                    invoice_id=invoice_id,
                    customer_id="C-1",
                    folio=invoice_id,
                    document_type="factura",
                    source="ventas",
                    issued_on=date(2026, 1, 1),
                    due_on=date(2026, 2, 1),
                    total=Money("500.00", MXN),
                    balance=Money("500.00", MXN),
                )
                for invoice_id in invoices
            ],
        )


def pay(store, invoice_id="F-1", merchant="acme", status=PaymentStatus.PROCESSING):
    with store.write() as session:
        payment = create_payment(
            session,
            merchant_id=merchant,
            customer_id="C-1",
            purpose="invoices",
            amount=Money("500.00", MXN),
            processor="sandbox",
            allocations=[(invoice_id, Money("500.00", MXN))],
            status=status,
        )
        return payment.id


def test_migrations_are_at_head_and_match_the_models(store):
    assert current_revision(store) == head_revision()
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upserts_create_then_update(store):
    seed(store)
    with store.write() as session:
        _, created = upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData(name="Nuevo nombre", active=False, currency=MXN, credit_limit=None),
        )
    assert created is False
    with store.read() as session:
        customer = session.get(Customer, ("acme", "C-1"))
        assert customer.name == "Nuevo nombre"
        assert customer.credit_limit is None
        invoice = session.get(Invoice, ("acme", "F-1"))
        assert invoice.balance == Money("500.00", MXN)
        assert invoice.created_at.tzinfo is not None


def test_ids_are_per_merchant(store):
    seed(store, "acme")
    seed(store, "globex")
    with store.read() as session:
        assert (
            session.scalar(select(Invoice).where(Invoice.invoice_id == "F-1").limit(5)) is not None
        )
        assert len(session.scalars(select(Invoice).where(Invoice.invoice_id == "F-1")).all()) == 2


def test_one_registered_payment_per_invoice(store):
    seed(store)
    pay(store, "F-1")
    with pytest.raises(IntegrityError):
        pay(store, "F-1")
    with store.read() as session:
        assert session.scalar(text("SELECT count(*) FROM payments")) == 1


def test_the_database_refuses_a_second_registered_payment_even_bypassing_python(store):
    seed(store)
    pay(store, "F-1")
    now = "2026-01-01 00:00:00"
    with pytest.raises(IntegrityError), store.write() as session:
        session.execute(
            text(
                "INSERT INTO payments (id, merchant_id, customer_id, purpose, amount_minor, currency,"
                " status, processor, refunded_minor, created_at, updated_at) VALUES ('pay_raw', 'acme',"
                f" 'C-1', 'invoices', 50000, 'MXN', 'processing', 'sandbox', 0, '{now}', '{now}')"
            )
        )
        # `registered` is left out: its server default holds the invoice.
        session.execute(
            text(
                "INSERT INTO payment_allocations (payment_id, merchant_id, invoice_id, amount_minor,"
                " currency) VALUES ('pay_raw', 'acme', 'F-1', 50000, 'MXN')"
            )
        )
    with store.read() as session:
        assert session.scalar(text("SELECT count(*) FROM payments")) == 1


@pytest.mark.parametrize(
    ("status", "frees"),
    [
        (PaymentStatus.FAILED, True),
        (PaymentStatus.CANCELED, True),
        (PaymentStatus.REFUNDED, True),
        (PaymentStatus.SUCCEEDED, False),
        (PaymentStatus.PARTIALLY_REFUNDED, False),
        (PaymentStatus.REQUIRES_ACTION, False),
    ],
)
def test_a_payment_that_ends_without_money_frees_its_invoices(store, status, frees):
    seed(store)
    payment_id = pay(store, "F-1")
    with store.write() as session:
        payment = session.get(Payment, payment_id)
        set_payment_status(session, payment, status)
        # the loaded allocations say what their rows now say (observers read them)
        assert [a.registered for a in payment.allocations] == [not frees]
    if frees:
        pay(store, "F-1")
    else:
        with pytest.raises(IntegrityError):
            pay(store, "F-1")


def test_a_status_change_is_one_update_of_the_changed_columns(store):
    """set_payment_status writes the row itself (no unit-of-work flush): once, only what changed,
    and the session has nothing left to write at commit."""
    from sqlalchemy import event

    seed(store)
    payment_id = pay(store, "F-1")
    updates: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    event.listen(store.engine, "before_cursor_execute", seen)
    try:
        with store.write() as session:
            payment = session.get(Payment, payment_id)
            payment.processor_reference = "ch_1"
            payment.next_action = None  # set, but not changed: not written
            set_payment_status(session, payment, PaymentStatus.SUCCEEDED)
            assert not session.is_modified(payment)
    finally:
        event.remove(store.engine, "before_cursor_execute", seen)
    assert len(updates) == 1, updates
    assert "next_action" not in updates[0] and "registered" not in updates[0]
    with store.read() as session:
        saved = session.get(Payment, payment_id)
        assert (saved.status, saved.processor_reference) == ("succeeded", "ch_1")


def test_a_failed_payment_created_as_failed_does_not_register(store):
    seed(store)
    pay(store, "F-1", status=PaymentStatus.FAILED)
    pay(store, "F-1")  # the invoice is free


def test_check_constraints_hold(store):
    seed(store)
    with pytest.raises(IntegrityError), store.write() as session:
        payment = session.get(Payment, pay(store, "F-2"))
        payment.status = "paid"
    with pytest.raises(IntegrityError), store.write() as session:
        payment = session.scalars(select(Payment)).one()
        payment.refunded_minor = payment.amount_minor + 1


def test_concurrent_payments_for_one_invoice_exactly_one_wins(migrated_store, store):
    """Threads with their own connections race to register one invoice: one winner, no other error."""
    seed(store)
    racer = Store(migrated_store.url)
    barrier = threading.Barrier(8)
    outcomes = []

    def attempt():
        barrier.wait()
        try:
            pay(racer, "F-1")
            outcomes.append("won")
        except IntegrityError:
            outcomes.append("refused")
        except Exception as exc:  # "database is locked" would land here
            outcomes.append(repr(exc))

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    racer.dispose()
    assert sorted(outcomes) == ["refused"] * 7 + ["won"]
    with store.read() as session:
        registered = session.scalars(
            select(PaymentAllocation).where(PaymentAllocation.registered.is_(True))
        ).all()
        assert len(registered) == 1


def test_database_session_settings(store):
    if store.dialect == "postgresql":
        with store.read() as session:
            assert session.execute(text("SHOW transaction_isolation")).scalar() == "read committed"
        return
    with store.read() as session:
        assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert session.execute(text("PRAGMA busy_timeout")).scalar() == 5000
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_money_is_never_a_float_in_the_database(store):
    seed(store)
    with store.read() as session:
        value = session.execute(text("SELECT balance_minor FROM invoices LIMIT 1")).scalar()
    assert isinstance(value, int)


def test_an_idle_connection_the_server_dropped_is_replaced_before_use(database_url, monkeypatch):
    """PostgreSQL only: a pooled connection idle past IDLE_PING_SECONDS is pinged on checkout,
    and one the server closed meanwhile (restart, firewall) is swapped for a new one: the
    request never sees the dead connection. Busy connections are not pinged at all."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no server to lose")
    from b2bgateway.store import db

    fresh = Store(database_url, pool_size=1, max_overflow=0)
    try:
        with fresh.read() as session:
            first = session.scalar(text("SELECT pg_backend_pid()"))
        with fresh.read() as session:  # returned a moment ago: the same connection, no ping
            assert session.scalar(text("SELECT pg_backend_pid()")) == first
        admin = Store(database_url)
        with admin.engine.begin() as conn:  # the server drops it
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        admin.dispose()
        monkeypatch.setattr(db, "IDLE_PING_SECONDS", 0.0)  # it has now been idle "long enough"
        with fresh.read() as session:
            replaced = session.scalar(text("SELECT pg_backend_pid()"))
        assert replaced != first
    finally:
        fresh.dispose()


def test_sqlite_writers_of_different_processes_queue_on_a_file_lock(tmp_path):
    """Two Stores on one file behave like two processes (flock locks belong to each open file):
    the second writer waits for the first to finish instead of polling SQLite's busy handler."""
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    first, second = Store(url), Store(url)
    upgrade(first)
    order: list[str] = []
    holding = threading.Event()
    release = threading.Event()

    def write_long() -> None:
        with first.write() as session:
            with first.write():  # re-entrant within a thread
                pass
            session.execute(text("SELECT 1"))
            order.append("first in")
            holding.set()
            release.wait(5)
            order.append("first out")

    thread = threading.Thread(target=write_long)
    thread.start()
    holding.wait(5)
    started = threading.Event()

    def write_second() -> None:
        started.set()
        with second.write():
            order.append("second in")

    waiter = threading.Thread(target=write_second)
    waiter.start()
    started.wait(5)
    waiter.join(0.3)
    assert waiter.is_alive(), "the second writer must wait for the first"
    release.set()
    thread.join(5)
    waiter.join(5)
    assert order == ["first in", "first out", "second in"]
    assert (tmp_path / "shared.db.writer-lock").exists()
    first.dispose()
    second.dispose()


def test_sqlite_writes_go_on_when_the_writer_lock_file_cannot_be_used(tmp_path, caplog):
    """The lock file only improves queueing: unusable (here a directory is in its place), the
    write goes ahead under SQLite's own locking, with a warning."""
    url = f"sqlite:///{tmp_path / 'blocked.db'}"
    (tmp_path / "blocked.db.writer-lock").mkdir()
    store = Store(url)
    upgrade(store)
    with store.write() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))
    with store.write() as session:
        assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
    assert "writer lock" in caplog.text
    store.dispose()
