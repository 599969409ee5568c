"""Fixtures: ``settings``, ``pm``, ``plugins``, ``gateway``, ``acme`` (its merchant), ``app``,
``client``, ``runner``, ``data`` (acme's customer C-1 and two invoices; a module may define its
own), ``demo`` (acme's demo data) and ``sandbox_outbox`` (what the sandbox sends, recorded); the
web tests' helpers are in ``tests/support/web.py``.

The database is SQLite in a temporary directory, or the one named by
``B2BGATEWAY_TEST_DATABASE_URL`` (``make test`` runs the suite a second time on PostgreSQL).
The schema comes from the real Alembic migrations, once per session; every test starts empty.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pluggy
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.settings import MerchantConfig, Settings
from b2bgateway.store import Store, upgrade
from b2bgateway.store.models import Base
from tests.support.seeding import seed_customer
from tests.support.web import API_KEY, SandboxOutbox, record_sandbox

OTHER_API_KEY = "sk_test_merchant_b"
WEBHOOK_SECRET = "whsec_test_secret"


@pytest.fixture(autouse=True)
def _no_machine_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Tests never read the developer's b2bgateway.toml or B2BGATEWAY_* variables."""
    for name in list(os.environ):
        if name.startswith("B2BGATEWAY_") and name != "B2BGATEWAY_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture(autouse=True)
def _no_outbound_http(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, bytes]]:
    """The sandbox's webhook sender records instead of POSTing: tests make no network calls.

    Tests that look at deliveries override it (see test_sandbox_pages.py)."""
    sent: list[tuple[str, bytes]] = []

    def record(url: str, body: bytes, headers: Any) -> None:
        sent.append((url, body))

    monkeypatch.setattr("b2bgateway.sandbox.delivery.http_post", record)
    return sent


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = os.environ.get("B2BGATEWAY_TEST_DATABASE_URL")
    if url:
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'gateway.db'}"


def _reset_postgres_schema(url: str) -> None:
    """Drop and recreate the schema named in the URL's search_path, so every run starts clean."""
    options = make_url(url).query.get("options", "")
    schema = "public"
    if isinstance(options, str) and "search_path=" in options:
        schema = options.split("search_path=", 1)[1].split()[0]
    store = Store(url)
    with store.engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    store.dispose()


@pytest.fixture(scope="session")
def migrated_store(database_url: str) -> Iterator[Store]:
    if database_url.startswith("postgresql"):
        _reset_postgres_schema(database_url)
    store = Store(database_url)
    upgrade(store)
    yield store
    store.dispose()


@pytest.fixture
def store(migrated_store: Store) -> Iterator[Store]:
    yield migrated_store
    with migrated_store.write() as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        # the audit log and the status history refuse a DELETE (migrations 0009 and 0011):
        # their triggers are set aside to empty them
        if postgres:
            session.execute(text("SET LOCAL session_replication_role = replica"))
        else:
            for table in _NO_DELETE_SQLITE:
                session.execute(text(f"DROP TRIGGER {table}_no_delete"))
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
        if not postgres:
            for table in _NO_DELETE_SQLITE:
                session.execute(text(_NO_DELETE_SQLITE[table]))


#: As migrations 0009 and 0011 make them.
_NO_DELETE_SQLITE = {
    table: f"""
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END
"""
    for table in ("audit_log", "payment_status_changes")
}


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "sandbox",
                "order_payments": True,
                "invoice_payments": True,
                "processors": {
                    "sandbox": {
                        "webhook_secret": WEBHOOK_SECRET,
                        "ledger_path": str(tmp_path / "sandbox-ledger.db"),
                    }
                },
            },
            "globex": {"api_keys": [OTHER_API_KEY], "processor": ""},
        },
    )


@pytest.fixture
def pm() -> pluggy.PluginManager:
    """A fresh plugin manager without entry points: the built-in sandbox only."""
    return get_plugin_manager(load_entrypoints=False)


@pytest.fixture
def plugins(pm: pluggy.PluginManager) -> Plugins:
    return Plugins(pm)


@pytest.fixture
def gateway(settings: Settings, plugins: Plugins, store: Store) -> Gateway:
    return Gateway.build(settings, plugins, store)


@pytest.fixture
def acme(gateway: Gateway) -> MerchantConfig:
    """acme: the sandbox processor, order and invoice payments on."""
    return gateway.merchants["acme"]


@pytest.fixture
def data(store: Store) -> None:
    """acme's customer C-1 (credit limit 1000.00 MXN) with F-1 100.10 and F-2 2399.90, due in
    five days."""
    seed_customer(store, "acme", (("F-1", "100.10"), ("F-2", "2399.90")), credit_limit="1000.00")


@pytest.fixture
def app(gateway: Gateway) -> Any:
    from b2bgateway_web import create_app

    app = create_app(gateway=gateway)
    app.testing = True
    return app


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def demo(gateway: Gateway) -> None:
    """acme's demo customers and invoices (``b2bgateway.demo``)."""
    from b2bgateway.demo import load_demo

    load_demo(gateway.store, gateway.merchants["acme"])


@pytest.fixture
def sandbox_outbox(monkeypatch: pytest.MonkeyPatch) -> SandboxOutbox:
    """The sandbox's webhooks, recorded; its background deliveries run to the end at once."""
    return record_sandbox(monkeypatch)
