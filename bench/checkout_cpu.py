"""Python CPU and database work per checkout, in process (robust to a busy machine).

500 checkouts of an order through the Flask test client against the sandbox at 0 ms, after 50 to
warm up: CPU seconds of this process per checkout (``time.process_time``: the gateway's Python,
the test client's and the database driver's, not the database server's), and, counted by a
SQLAlchemy event listener, the statements and transactions one checkout runs.

    python bench/checkout_cpu.py [--postgres URL] [-n 500]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import POSTGRES, fresh_schema, with_schema
from sqlalchemy import event

from b2bgateway.gateway import Gateway
from b2bgateway.plugins import load_plugins
from b2bgateway.settings import Settings
from b2bgateway.store import Store, upgrade

KEY = "sk_bench_merchant_1"


def client_for(url: str, tmp: Path) -> tuple[Any, Store]:
    from b2bgateway_web import create_app

    settings = Settings(
        database_url=url,
        merchants={
            "bench": {
                "api_keys": [KEY],
                "processor": "sandbox",
                "order_payments": True,
                "processors": {
                    "sandbox": {
                        "webhook_secret": "whsec_bench_secret",
                        "ledger_path": str(tmp / "ledger.db"),
                    }
                },
            }
        },
    )
    store = Store(url)
    upgrade(store)
    app = create_app(gateway=Gateway.build(settings, load_plugins(load_entrypoints=False), store))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {KEY}"}
    customer = {"name": "Bench", "active": True, "credit_limit": "0.00", "currency": "MXN"}
    assert client.put("/v1/customers/C-1", json=customer, headers=headers).status_code in (200, 201)
    return client, store


def checkout(client: Any, n: int) -> None:
    body = {
        "customer_id": "C-1",
        "purpose": "order",
        "order": {"reference": f"PED-{n}", "amount": "1500.00", "currency": "MXN"},
        "payment_method": {"token": "tok_approved"},
    }
    headers = {"Authorization": f"Bearer {KEY}", "Idempotency-Key": f"cpu-{uuid.uuid4().hex}"}
    response = client.post("/v1/checkouts", json=body, headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)


def measure(url: str, total: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        client, store = client_for(url, Path(tmp))
        for n in range(50):
            checkout(client, n)
        counts = {"statements": 0, "transactions": 0}

        def statement(*_: Any) -> None:
            counts["statements"] += 1

        def begin(*_: Any) -> None:
            counts["transactions"] += 1

        event.listen(store.engine, "before_cursor_execute", statement)
        event.listen(store.engine, "begin", begin)
        for n in range(50, 60):
            checkout(client, n)
        event.remove(store.engine, "before_cursor_execute", statement)
        event.remove(store.engine, "begin", begin)
        started = time.process_time()
        for n in range(60, 60 + total):
            checkout(client, n)
        cpu = time.process_time() - started
        store.dispose()
        return {
            "cpu_ms_per_checkout": round(cpu / total * 1000, 3),
            "statements_per_checkout": counts["statements"] / 10,
            "transactions_per_checkout": counts["transactions"] / 10,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("-n", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print("sqlite", measure(f"sqlite:///{tmp}/cpu.db", args.n))
    url = with_schema(args.postgres, "b2bgateway_bench_cpu")
    fresh_schema(url)
    print("postgresql", measure(url, args.n))


if __name__ == "__main__":
    main()
