"""Scrape-time cost of ``/metrics``' database figures (``b2bgateway.metrics_queries.read_gauges``)
on a payments table of 500,000 rows (and 50,000 outbound events), SQLite then PostgreSQL.

The payments' grouped count reads the covering index ``ix_payments_status_method_processor``
alone; on PostgreSQL after VACUUM (as autovacuum leaves a table) that is an Index Only Scan.
Prints the figures and writes ``bench/results/metrics.json``.

    python bench/metrics.py [--postgres URL] [--payments N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

from common import POSTGRES, fresh_schema, machine, on_both_databases, with_schema
from sqlalchemy import func, insert, select, text

from b2bgateway.metrics_queries import read_gauges
from b2bgateway.store import Store, upgrade
from b2bgateway.store.models import PAYMENT_METHODS, Customer, OutboxMessage, Payment, utcnow

RESULTS = Path(__file__).resolve().parent / "results" / "metrics.json"
STATUSES = ("succeeded",) * 6 + ("failed", "canceled", "refunded", "processing", "requires_action")
CHUNK = 20_000


def fill(store: Store, payments: int) -> float:
    started = time.monotonic()
    now = utcnow()
    with store.write() as session:
        session.execute(
            insert(Customer),
            [
                {
                    "merchant_id": "m",
                    "customer_id": "C-1",
                    "name": "Cliente",
                    "currency": "MXN",
                    "active": True,
                }
            ],
        )
    for start in range(0, payments, CHUNK):
        rows = [
            {
                "id": f"pay_{n:09d}",
                "merchant_id": "m",
                "customer_id": "C-1",
                "purpose": "invoices",
                "amount_minor": 100_000,
                "currency": "MXN",
                "status": STATUSES[n % len(STATUSES)],
                "processor": ("stripe", "openpay", "mercadopago")[n % 3],
                "payment_method": PAYMENT_METHODS[n % 3],
                "refunded_minor": 0,
                "created_at": now - timedelta(seconds=n),
                "updated_at": now - timedelta(seconds=n),
            }
            for n in range(start, min(start + CHUNK, payments))
        ]
        events = [
            {
                "merchant_id": "m",
                "event_type": "payment.succeeded",
                "ordering_key": row["id"],
                "payload": {"id": f"evt_{row['id']}"},
                "state": ("delivered", "delivered", "delivered", "pending", "dead")[i % 5],
            }
            for i, row in enumerate(rows[::10])
        ]
        with store.write() as session:
            session.execute(insert(Payment), rows)
            session.execute(insert(OutboxMessage), events)
    return round(time.monotonic() - started, 1)


def run(url: str, payments: int) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    seconds = fill(store, payments)
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if store.dialect == "postgresql" else "ANALYZE"))
    grouped = select(
        Payment.status, Payment.payment_method, Payment.processor, func.count()
    ).group_by(Payment.status, Payment.payment_method, Payment.processor)
    explain = "EXPLAIN" if store.dialect == "postgresql" else "EXPLAIN QUERY PLAN"
    with store.engine.connect() as conn:
        plan = [
            str(row[-1]) for row in conn.execute(text(f"{explain} {grouped.compile(store.engine)}"))
        ]
    timings = []
    for _ in range(7):
        started = time.perf_counter()
        with store.read() as session:
            gauges = read_gauges(session, ["stripe", "openpay", "mercadopago"])
        timings.append(time.perf_counter() - started)
    store.dispose()
    assert sum(gauges.payments.values()) == payments
    return {
        "database": store.dialect,
        "payments": payments,
        "fill_seconds": seconds,
        "read_gauges_ms_median": round(statistics.median(timings) * 1000, 1),
        "read_gauges_ms_max": round(max(timings) * 1000, 1),
        "outbox": gauges.outbox,
        "payments_plan": plan,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        default=with_schema(POSTGRES, "b2bgateway_bench_metrics"),
        help="PostgreSQL URL ('' to skip)",
    )
    parser.add_argument("--payments", type=int, default=500_000)
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "runs": []}
    results["runs"] = on_both_databases(lambda url: run(url, args.payments), args.postgres)
    for figures in results["runs"]:
        print(
            f"{figures['database']}: {figures['payments']} payments; read_gauges "
            f"{figures['read_gauges_ms_median']} ms median, {figures['read_gauges_ms_max']} ms max"
        )
        print("  " + " | ".join(figures["payments_plan"]))
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
