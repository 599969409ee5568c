"""The database briefly unavailable (out of connections, restarting): a 503 the client may retry,
never a 500, and an answer the processor already gave is recorded later, never lost."""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from b2bgateway import lifecycle, service
from b2bgateway.reconcile import reconcile
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.settings import store_options
from b2bgateway.store import Store
from b2bgateway.store.db import is_unavailable
from b2bgateway.store.models import Payment
from tests.test_api_checkouts import checkout, data, headers, order_body  # noqa: F401

TOO_MANY = OperationalError(
    "BEGIN", {}, psycopg.errors.TooManyConnections("sorry, too many clients already")
)


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "RECORD_RETRY_PAUSES", (0.0, 0.0, 0.0))


def failing(times: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Recording a processor's answer fails ``times`` times, as a lost connection would."""
    calls: list[int] = []
    original = lifecycle.apply_charge_result

    def apply(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) <= times:
            raise TOO_MANY
        return original(*args, **kwargs)

    monkeypatch.setattr(lifecycle, "apply_charge_result", apply)
    return calls


def charges(gateway: Any, payment_id: str) -> Any:
    settings = gateway.merchants["acme"].processor_settings
    return open_ledger(settings).find_charge("acme", payment_id)


def test_a_database_error_is_a_503_to_retry_not_a_500(client, data, monkeypatch):  # noqa: F811
    def unavailable(self: Store) -> Any:
        raise TOO_MANY

    monkeypatch.setattr(Store, "read", unavailable)
    response = client.get("/v1/customers/C-1", headers=headers())
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "2"
    assert "too many clients" not in response.get_data(as_text=True)  # no internals


def test_recording_the_answer_is_retried_when_the_database_blips(
    client,
    gateway,
    data,  # noqa: F811
    monkeypatch,
):
    calls = failing(2, monkeypatch)
    response = checkout(client, order_body())
    assert response.status_code == 201, response.json
    assert response.json["status"] == "succeeded"
    assert len(calls) == 3
    charge = charges(gateway, response.json["id"])
    assert charge is not None and charge.status == "succeeded"


def test_an_answer_that_cannot_be_recorded_is_settled_by_reconciliation(
    client,
    gateway,
    store,
    data,  # noqa: F811
    monkeypatch,
):
    failing(10, monkeypatch)
    key = "order-PED-77-attempt-1"
    response = checkout(client, order_body(), key)
    assert response.status_code == 503
    assert response.json["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "2"
    with store.read() as session:
        (payment,) = session.query(Payment).all()
        assert payment.status == "processing"  # its invoices / order stay held meanwhile
    assert charges(gateway, payment.id).status == "succeeded"  # the money moved once

    monkeypatch.undo()  # the database is back
    again = checkout(client, order_body(), key)
    assert again.status_code == 201
    assert (again.json["id"], again.json["status"]) == (payment.id, "processing")

    counts = reconcile(gateway, older_than=timedelta(0))
    assert counts.settled == 1
    with store.read() as session:
        assert session.get(Payment, payment.id).status == "succeeded"
    assert charges(gateway, payment.id).amount.amount == payment.amount.amount


def test_postgresql_pool_size_is_configured(database_url: str) -> None:
    from b2bgateway.settings import Settings

    settings = Settings(
        database_url="postgresql+psycopg://u@h/db", database_pool_size=4, database_max_overflow=2
    )
    assert store_options(settings) == {"pool_size": 4, "max_overflow": 2}
    assert store_options(Settings(database_url="sqlite:///x.db")) == {}
    if database_url.startswith("postgresql"):
        pooled = Store(database_url, **store_options(settings))
        try:
            assert (pooled.engine.pool.size(), pooled.engine.pool._max_overflow) == (4, 2)  # type: ignore[attr-defined]
        finally:
            pooled.dispose()


def _sqlite_error(message: str, name: str) -> sqlite3.OperationalError:
    error = sqlite3.OperationalError(message)
    error.sqlite_errorname = name  # as the sqlite3 module sets it
    return error


@pytest.mark.parametrize(
    ("error", "unavailable"),
    [
        (TOO_MANY, True),
        (OperationalError("x", {}, psycopg.errors.AdminShutdown("terminating connection")), True),
        (OperationalError("x", {}, psycopg.errors.DeadlockDetected("deadlock")), True),
        (OperationalError("x", {}, psycopg.OperationalError("connection failed: refused")), True),
        (PoolTimeout("QueuePool limit of size 20 overflow 0 reached"), True),
        (OperationalError("x", {}, _sqlite_error("database is locked", "SQLITE_BUSY")), True),
        (
            OperationalError("x", {}, _sqlite_error("no such table: payments", "SQLITE_ERROR")),
            False,
        ),
        (OperationalError("x", {}, _sqlite_error("disk I/O error", "SQLITE_IOERR")), False),
        (OperationalError("x", {}, psycopg.errors.DiskFull("could not extend file")), False),
        (ValueError("not a database error"), False),
    ],
)
def test_only_passing_database_errors_count_as_unavailable(error, unavailable):
    """A 503 says "retry shortly": a missing table or a broken disk is not that, it is a 500."""
    assert is_unavailable(error) is unavailable


def test_a_lasting_database_fault_is_a_500_not_a_503(client, data, monkeypatch):  # noqa: F811
    def broken(self: Store) -> Any:
        raise OperationalError("SELECT", {}, _sqlite_error("no such table: x", "SQLITE_ERROR"))

    monkeypatch.setattr(Store, "read", broken)
    response = client.get("/v1/customers/C-1", headers=headers())
    assert response.status_code == 500
    assert response.json["code"] == "internal_error"


def test_a_response_is_stored_once_the_database_is_back(store, monkeypatch):
    """The work a response answers is committed: storing it survives a blink of the database."""
    from b2bgateway import idempotency

    monkeypatch.setattr(idempotency, "COMPLETE_RETRY_PAUSES", (0.0, 0.0))
    assert idempotency.begin(store, "acme", "k-1", "POST /v1/checkouts", "digest") is None
    real = Store.write
    failures = iter([TOO_MANY])

    def blinking(self: Store) -> Any:
        for exc in failures:
            raise exc
        return real(self)

    monkeypatch.setattr(Store, "write", blinking)
    idempotency.complete(store, "acme", "k-1", 201, '{"id":"pay_1"}', "application/json")
    monkeypatch.undo()
    replay = idempotency.begin(store, "acme", "k-1", "POST /v1/checkouts", "digest")
    assert replay == idempotency.Replay(201, '{"id":"pay_1"}', "application/json")
