"""ERP sync benchmark: 100,000 invoices through ``POST /v1/invoices/batch`` (10 requests of 10,000)
against a real ``b2bgateway serve``, first as creations and then again as updates.

Target (issue 10): 100,000 invoices in ≤ 10 s on PostgreSQL. Prints the figures and writes
``bench/results/sync.json``.

    python bench/sync.py [--postgres URL]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from checkout import KEY, free_port, gateway_server
from common import POSTGRES, fresh_schema, machine, on_both_databases

from b2bgateway.store import Store, upgrade

RESULTS = Path(__file__).resolve().parent / "results" / "sync.json"
TOTAL = 100_000
BATCH = 10_000
CUSTOMERS = 200


def post(conn: http.client.HTTPConnection, method: str, path: str, body: Any) -> dict[str, Any]:
    conn.request(
        method,
        path,
        body=json.dumps(body),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"},
    )
    response = conn.getresponse()
    payload = json.loads(response.read() or b"{}")
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: {response.status} {payload}")
    return payload


def invoices(start: int, balance: str) -> list[dict[str, Any]]:
    return [
        {
            "invoice_id": f"F-{n:07d}",
            "customer_id": f"C-{n % CUSTOMERS:04d}",
            "folio": f"A-{n}",
            "document_type": "factura",
            "source": "ventas",
            "issued_on": "2026-10-01",
            "due_on": "2026-11-30",
            "total": "1500.00",
            "balance": balance,
            "currency": "MXN",
        }
        for n in range(start, start + BATCH)
    ]


def run(url: str) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    store.dispose()
    with tempfile.TemporaryDirectory() as tmpdir:
        port = free_port()
        server = gateway_server(url, Path(tmpdir), 0, port)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for c in range(CUSTOMERS):
                post(
                    conn,
                    "PUT",
                    f"/v1/customers/C-{c:04d}",
                    {
                        "name": f"Cliente {c}",
                        "active": True,
                        "credit_limit": "0.00",
                        "currency": "MXN",
                    },
                )
            figures: dict[str, Any] = {"database": url.split(":")[0].split("+")[0]}
            for label, balance in (("create_100k_s", "1500.00"), ("update_100k_s", "750.00")):
                bodies = [
                    {"invoices": invoices(start, balance)} for start in range(0, TOTAL, BATCH)
                ]
                started = time.perf_counter()
                for body in bodies:
                    post(conn, "POST", "/v1/invoices/batch", body)
                figures[label] = round(time.perf_counter() - started, 2)
        finally:
            server.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL ('' to skip)")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "target": "100,000 invoices <= 10 s on PostgreSQL",
        "runs": [],
    }
    results["runs"] = on_both_databases(run, args.postgres)
    for figures in results["runs"]:
        print(
            f"{figures['database']}: 100,000 invoices created in {figures['create_100k_s']} s, "
            f"updated in {figures['update_100k_s']} s"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
