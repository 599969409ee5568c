"""Python CPU and database work per checkout, in process (robust to a busy machine).

500 checkouts of an order through the Flask test client against the sandbox at 0 ms, after 50 to
warm up: CPU seconds of this process per checkout (``time.process_time``: the gateway's Python,
the test client's and the database driver's, not the database server's), and, counted by a
SQLAlchemy event listener, the statements and transactions one checkout runs, and on PostgreSQL
its round trips (every exchange that waits for the server's ReadyForQuery, BEGIN and COMMIT
included), counted exactly from libpq's own trace of the connection.

Instruction counts, which do not depend on how busy the machine is: run it under callgrind with
instrumentation off and ``--callgrind``, which turns it on (``callgrind_control``) for the
measured checkouts only, so start-up, imports and the warm-up are not counted; instructions per
checkout = callgrind's total ÷ ``-n``:

    python bench/checkout_cpu.py [--postgres URL] [-n 500] [--only sqlite|postgresql]
    valgrind --tool=callgrind --instr-atstart=no python bench/checkout_cpu.py --callgrind \
        --only sqlite -n 100 --warm 20
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, TextIO

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


def callgrind(instrument: str) -> None:
    """Turn callgrind's instrumentation of this process ``on`` or ``off``. The request is read
    only while the process runs (not while it waits in a system call): spin until answered."""
    request = subprocess.Popen(
        ["callgrind_control", "--instr=" + instrument, str(os.getpid())],
        stdout=subprocess.DEVNULL,
    )
    while request.poll() is None:
        sum(range(1000))


def round_trips(trace: Path) -> int:
    """Exchanges with PostgreSQL in a libpq trace: each ends with the server's ReadyForQuery."""
    return sum("ReadyForQuery" in line for line in trace.read_text().splitlines())


def measure(url: str, total: int, warm: int = 50, count: bool = False) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        client, store = client_for(url, Path(tmp))
        for n in range(warm):
            checkout(client, n)
        counts = {"statements": 0, "transactions": 0}
        postgres = store.engine.dialect.name == "postgresql"
        trace_path = Path(tmp) / "libpq.trace"
        trace: TextIO = trace_path.open("w")

        def statement(*_: Any) -> None:
            counts["statements"] += 1

        def begin(*_: Any) -> None:
            counts["transactions"] += 1

        def traced(dbapi_connection: Any, *_: Any) -> None:
            if postgres:
                dbapi_connection.pgconn.trace(trace.fileno())

        def untraced(dbapi_connection: Any, *_: Any) -> None:
            if postgres:
                trace.flush()
                dbapi_connection.pgconn.untrace()

        event.listen(store.engine, "before_cursor_execute", statement)
        event.listen(store.engine, "begin", begin)
        event.listen(store.engine.pool, "checkout", traced)
        event.listen(store.engine.pool, "checkin", untraced)
        for n in range(warm, warm + 10):
            checkout(client, n)
        event.remove(store.engine, "before_cursor_execute", statement)
        event.remove(store.engine, "begin", begin)
        event.remove(store.engine.pool, "checkout", traced)
        event.remove(store.engine.pool, "checkin", untraced)
        trace.close()
        if count:
            callgrind("on")
        started = time.process_time()
        for n in range(warm + 10, warm + 10 + total):
            checkout(client, n)
        cpu = time.process_time() - started
        if count:
            callgrind("off")
        store.dispose()
        figures = {
            "cpu_ms_per_checkout": round(cpu / total * 1000, 3),
            "statements_per_checkout": counts["statements"] / 10,
            "transactions_per_checkout": counts["transactions"] / 10,
        }
        if postgres:
            figures["round_trips_per_checkout"] = round_trips(trace_path) / 10
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--postgres", default=POSTGRES)
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--warm", type=int, default=50, help="checkouts before measuring")
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    parser.add_argument(
        "--callgrind", action="store_true", help="under callgrind: count the measured part only"
    )
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/cpu.db"
            print("sqlite", measure(url, args.n, args.warm, args.callgrind))
    if args.only != "sqlite":
        url = with_schema(args.postgres, "b2bgateway_bench_cpu")
        fresh_schema(url)
        print("postgresql", measure(url, args.n, args.warm, args.callgrind))


if __name__ == "__main__":
    main()
