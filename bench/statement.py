"""Statement benchmark: a customer with 10,000 open invoices among 100,000.

Measures, on SQLite and on PostgreSQL (when reachable):
- in process, the balance sums (``b2bgateway.statement.balances``: total, overdue, upcoming in one
  indexed query) of the big and of a typical (100 invoices) customer, and the statement with
  every line and its payability;
- over HTTP, against a real ``b2bgateway serve``: ``GET /v1/customers/{id}/statement``, the full
  statement JSON, for the big and the typical customer (client on the same two cores).

Targets (issue 10): sums <= 5 ms; full statement JSON p95 <= 60 ms; typical customer p95 <= 10 ms
over HTTP. Prints the figures and writes them to ``bench/results/statement.json``.

    python bench/statement.py [--postgres URL] [--repeat N]
"""

from __future__ import annotations

import argparse
import gc
import http.client
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from checkout import KEY, free_port, gateway_server
from common import POSTGRES, fresh_schema, machine, on_both_databases
from sqlalchemy import insert, text

from b2bgateway.gateway import Gateway
from b2bgateway.payability import statement
from b2bgateway.plugins import load_plugins
from b2bgateway.settings import Settings
from b2bgateway.statement import balances
from b2bgateway.store import Store, upgrade
from b2bgateway.store.models import Customer, Invoice

RESULTS = Path(__file__).parent / "results" / "statement.json"
TODAY = date(2026, 11, 26)
TOTAL_INVOICES = 100_000
BIG_CUSTOMER_INVOICES = 10_000
TYPICAL_INVOICES = 100


def build(store: Store) -> None:
    """100,000 invoices: C-BIG has 10,000 open facturas, C-TYP 100, the rest spread over 900."""
    now = datetime.now(UTC)
    customers = ["C-BIG", "C-TYP", *(f"C-{n:04d}" for n in range(900))]
    rows: list[dict[str, Any]] = []

    def invoice(n: int, customer: str) -> dict[str, Any]:
        kind = n % 10
        return {
            "merchant_id": "bench",
            "invoice_id": f"F-{n:07d}",
            "customer_id": customer,
            "folio": f"A-{n}",
            # Mostly open facturas, some paid, some credit notes: the index must skip them.
            "document_type": "nota_credito" if kind == 9 else "factura",
            "source": "ventas" if kind % 2 else "punto_de_venta",
            "issued_on": TODAY - timedelta(days=60 + n % 120),
            "due_on": TODAY + timedelta(days=(n % 121) - 60),
            "total_minor": 100_00 + n % 50_000,
            "balance_minor": 0 if kind == 8 else 100_00 + n % 50_000,
            "currency": "MXN",
            "created_at": now,
            "updated_at": now,
        }

    n = 0
    for _ in range(BIG_CUSTOMER_INVOICES):
        open_factura = {"document_type": "factura", "balance_minor": 500_00 + n}
        rows.append({**invoice(n, "C-BIG"), **open_factura})
        n += 1
    for _ in range(TYPICAL_INVOICES):
        rows.append({**invoice(n, "C-TYP"), "document_type": "factura", "balance_minor": 250_00})
        n += 1
    while n < TOTAL_INVOICES:
        rows.append(invoice(n, customers[2 + n % 900]))
        n += 1
    with store.write() as session:
        session.execute(
            insert(Customer),
            [
                {
                    "merchant_id": "bench",
                    "customer_id": c,
                    "name": c,
                    "email": None,
                    "active": True,
                    "credit_limit_minor": 0,
                    "currency": "MXN",
                    "created_at": now,
                    "updated_at": now,
                }
                for c in customers
            ],
        )
        for start in range(0, len(rows), 5000):
            session.execute(insert(Invoice), rows[start : start + 5000])
    with store.engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        conn.commit()


def timed(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    fn()  # warm caches and statement compilation
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(samples[int(len(samples) * 0.95) - 1], 3),
        "min_ms": round(samples[0], 3),
        "runs": repeat,
    }


def run(url: str, repeat: int) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    started = time.perf_counter()
    build(store)
    load_s = time.perf_counter() - started
    # As `serve` does after start-up: what lives for the whole run is not the collector's work
    # (here the 100,000 rows just built, which would otherwise be rescanned by every full pass).
    gc.collect()
    gc.freeze()
    settings = Settings(
        database_url=url,
        merchants={"bench": {"processor": "", "invoice_payments": True}},
    )
    gateway = Gateway.build(settings, load_plugins(load_entrypoints=False), store)
    merchant = gateway.merchants["bench"]

    def sums(customer: str) -> Callable[[], object]:
        def go() -> object:
            with store.read() as session:
                return balances(session, "bench", customer, TODAY)

        return go

    def full(customer: str) -> Callable[[], object]:
        def go() -> object:
            with store.read() as session:
                return statement(gateway.plugins, session, merchant, customer, TODAY)

        return go

    with store.read() as session:
        check = balances(session, "bench", "C-BIG", TODAY)["MXN"]
    assert check.count == BIG_CUSTOMER_INVOICES, check
    figures = {
        "database": store.dialect,
        "load_100k_invoices_s": round(load_s, 2),
        "sums_10k_open_invoices": timed(sums("C-BIG"), repeat),
        "sums_typical_100_invoices": timed(sums("C-TYP"), repeat),
        "statement_10k_lines": timed(full("C-BIG"), max(5, repeat // 10)),
        "statement_typical_100_lines": timed(full("C-TYP"), repeat),
    }
    store.dispose()
    figures.update(over_http(url, repeat))
    return figures


def over_http(url: str, repeat: int) -> dict[str, Any]:
    """The statement endpoint's full JSON, end to end, one request at a time."""
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = gateway_server(url, Path(tmp), 0, port)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def get(customer: str) -> Callable[[], object]:
            def go() -> object:
                path = f"/v1/customers/{customer}/statement?as_of={TODAY.isoformat()}"
                conn.request("GET", path, headers={"Authorization": f"Bearer {KEY}"})
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, body[:500]
                return body

            return go

        try:
            big = json.loads(get("C-BIG")())  # it is the statement asked for
            assert len(big["invoices"]) == BIG_CUSTOMER_INVOICES, len(big["invoices"])
            for _ in range(4):  # both gunicorn workers past their first (cold) requests
                get("C-BIG")()
                get("C-TYP")()
            return {
                "http_statement_json_10k_lines": timed(get("C-BIG"), max(50, repeat // 2)),
                "http_statement_json_typical_100_lines": timed(get("C-TYP"), repeat),
            }
        finally:
            conn.close()
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL ('' to skip)")
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "targets": {
            "sums_10k_open_invoices_ms": 5,
            "http_statement_json_10k_lines_p95_ms": 60,
            "http_statement_json_typical_100_lines_p95_ms": 10,
        },
        "runs": [],
    }
    results["runs"] = on_both_databases(lambda url: run(url, args.repeat), args.postgres)
    for figures in results["runs"]:
        loaded = figures["load_100k_invoices_s"]
        print(f"\n{figures['database']}: 100,000 invoices loaded in {loaded} s")
        for key, value in figures.items():
            if isinstance(value, dict):
                p50, p95 = value["p50_ms"], value["p95_ms"]
                print(f"  {key:<30} p50 {p50:>8.3f} ms   p95 {p95:>8.3f} ms")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
