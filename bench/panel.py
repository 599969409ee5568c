"""The payments module at scale: 1,000,000 payments of one merchant on PostgreSQL.

Builds (server-side, with ``generate_series``) 10,000 customers, 1,000,000 invoices and 1,000,000
payments with one allocation each, spread over about a year, then measures the module's pages as
served (Flask's test client, signed in as an admin: the view, its queries and the template):

- the list's first page, unfiltered; a filtered page (status and method; a status and method
  that no payment has together; a processor); a page deep in the
  list (following ``despues`` cursors); a customer search (by id, and by part of the name); a
  folio search: p95 of ``--repeat`` requests each (target: <= 100 ms);
- the CSV export of 100,000 payments (a date range): its time (target: <= 10 s) and the
  process's resident memory while it streams (target: flat).

Prints the figures and writes them to ``bench/results/panel.json``. The data are built once and
kept in their schema: a later run measures them again (after the gateway's migrations) unless
``--fresh`` asks for a new build (``--seed-only`` builds without measuring, under any load).

    python bench/panel.py [--postgres URL] [--repeat N] [--fresh] [--seed-only]
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from common import POSTGRES, fresh_schema, machine, reachable, with_schema
from sqlalchemy import text

from b2bgateway import staff
from b2bgateway.audit import Actor
from b2bgateway.gateway import Gateway
from b2bgateway.plugins import load_plugins
from b2bgateway.settings import Settings
from b2bgateway.store import Store, upgrade

RESULTS = Path(__file__).parent / "results" / "panel.json"
PAYMENTS = 1_000_000
CUSTOMERS = 10_000
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
STEP_SECONDS = 30  # one payment every 30 s: a million over about 347 days
PASSWORD = "bench-password-123"  # noqa: S105 (a throwaway user of the bench schema)


def _built(store: Store) -> bool:
    """Whether the schema already holds a complete build (its admin is written last)."""
    try:
        with store.read() as session:
            payments = session.execute(
                text("SELECT count(*) FROM payments WHERE merchant_id = 'bench'")
            ).scalar()
            admin = session.execute(
                text("SELECT count(*) FROM staff_users WHERE email = 'admin@bench.mx'")
            ).scalar()
    except Exception:  # no schema or no tables yet
        return False
    return payments == PAYMENTS and admin == 1


def build(store: Store) -> None:
    """Everything in SQL on the server: no million Python objects."""
    started = time.perf_counter()
    statements = [
        f"""INSERT INTO customers (merchant_id, customer_id, name, email, active, currency,
            credit_limit_minor, created_at, updated_at)
            SELECT 'bench', 'C-' || lpad(n::text, 5, '0'), 'Cliente ' || n || ' SA de CV',
                   'c' || n || '@example.mx', true, 'MXN', 1000000, now(), now()
            FROM generate_series(1, {CUSTOMERS}) AS n""",
        f"""INSERT INTO invoices (merchant_id, invoice_id, customer_id, folio, document_type,
            source, issued_on, due_on, total_minor, balance_minor, currency, created_at,
            updated_at)
            SELECT 'bench', 'F-' || n, 'C-' || lpad((n % {CUSTOMERS} + 1)::text, 5, '0'),
                   'A-' || n, 'factura', 'ventas', date '2026-01-01', date '2026-02-01',
                   10000 + (n % 500) * 1000, 0, 'MXN', now(), now()
            FROM generate_series(1, {PAYMENTS}) AS n""",
        f"""INSERT INTO payments (id, merchant_id, customer_id, purpose, amount_minor, currency,
            status, processor, refunded_minor, payment_method, reconcile_attempts, created_at,
            updated_at, failure_code)
            SELECT 'pay_' || lpad(n::text, 24, '0'), 'bench',
                   'C-' || lpad((n % {CUSTOMERS} + 1)::text, 5, '0'), 'invoices',
                   10000 + (n % 500) * 1000, 'MXN',
                   (ARRAY['succeeded','succeeded','succeeded','failed','canceled',
                          'refunded','requires_action','succeeded'])[n % 8 + 1],
                   CASE WHEN n % 10 = 0 THEN 'manual' ELSE 'sandbox' END, 0,
                   CASE WHEN n % 10 = 0 THEN 'manual'
                        ELSE (ARRAY['card','card','bank_transfer','cash'])[(n / 8) % 4 + 1] END,
                   0, ts, ts,
                   CASE WHEN n % 8 = 3 THEN 'card_declined' END
            FROM (SELECT n,
                         timestamptz '{NOW.isoformat()}' - make_interval(secs => n * {STEP_SECONDS})
                         AS ts
                  FROM generate_series(1, {PAYMENTS}) AS n) AS s""",
        f"""INSERT INTO payment_allocations (payment_id, merchant_id, invoice_id, amount_minor,
            currency, registered)
            SELECT 'pay_' || lpad(n::text, 24, '0'), 'bench', 'F-' || n,
                   10000 + (n % 500) * 1000, 'MXN', n % 8 NOT IN (3, 4, 5)
            FROM generate_series(1, {PAYMENTS}) AS n""",
    ]
    with store.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        # Its own tables only: a database-wide VACUUM also walks every other schema on the box.
        for table in ("customers", "invoices", "payments", "payment_allocations"):
            conn.execute(text(f"VACUUM ANALYZE {table}"))
    print(f"built in {time.perf_counter() - started:.0f} s", flush=True)


def _client(gw: Gateway) -> Any:
    from b2bgateway_web import create_app

    app = create_app(gateway=gw)
    client = app.test_client()
    page = client.get("/panel/entrar").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    signed = client.post(
        "/panel/entrar",
        data={"csrf_token": token.group(1), "email": "admin@bench.mx", "password": PASSWORD},
    )
    assert signed.status_code == 302, signed.status_code
    return client


def _p95(client: Any, path: str, repeat: int) -> dict[str, float]:
    client.get(path)  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    times.sort()
    return {
        "p50_ms": round(statistics.median(times), 1),
        "p95_ms": round(times[max(0, int(len(times) * 0.95) - 1)], 1),
    }


def _deep_page(client: Any, pages: int) -> str:
    """The path of the list's page ``pages`` deep, following the "next" links."""
    path = "/panel/pagos"
    for _ in range(pages):
        html = client.get(path).get_data(as_text=True)
        found = re.search(r'href="([^"]+)" rel="next"', html)
        assert found is not None
        path = found.group(1).replace("&amp;", "&")
    return path


def _rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _export(client: Any) -> dict[str, Any]:
    """The CSV of the 100,000 payments of the latest ~35 days, streamed and read in chunks."""
    start = (NOW - timedelta(seconds=STEP_SECONDS * 100_000)).date() + timedelta(days=1)
    path = f"/panel/pagos/exportar.csv?desde={start.isoformat()}"
    rss = [_rss_kb()]
    started = time.perf_counter()
    response = client.get(path, buffered=False)
    lines = 0
    size = 0
    for chunk in response.response:
        data = chunk if isinstance(chunk, bytes) else chunk.encode()
        lines += data.count(b"\n")
        size += len(data)
        if lines % 10_000 < 2:
            rss.append(_rss_kb())
    elapsed = time.perf_counter() - started
    response.close()
    rss.append(_rss_kb())
    return {
        "rows": lines - 1,
        "seconds": round(elapsed, 2),
        "bytes": size,
        "rss_start_mb": round(rss[0] / 1024, 1),
        "rss_max_mb": round(max(rss) / 1024, 1),
        "rss_growth_mb": round((max(rss) - rss[0]) / 1024, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=with_schema(POSTGRES, "b2bgateway_panel_bench"))
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--fresh", action="store_true", help="build the data again")
    parser.add_argument("--seed-only", action="store_true", help="build if needed, no figures")
    args = parser.parse_args()
    why = reachable(args.postgres)
    if why is not None:
        print(f"PostgreSQL is not reachable: {why}", file=sys.stderr)
        return 1
    settings = Settings(
        database_url=args.postgres, merchants={"bench": {"api_keys": ["sk_bench_key_1"]}}
    )
    store = Store(args.postgres)
    if args.fresh or not _built(store):
        fresh_schema(args.postgres)
        upgrade(store)
        build(store)
        with store.write() as session:
            actor = Actor("bench", "cli:bench", "local")
            staff.add_user(session, actor, "bench", "admin@bench.mx", "A", "admin", PASSWORD)
    else:
        upgrade(store)  # kept data, the gateway's schema as it is now
        print("reusing the payments built by an earlier run (--fresh builds them again)")
    if args.seed_only:
        return 0
    gw = Gateway.build(settings, load_plugins(), store)
    client = _client(gw)
    figures: dict[str, Any] = {"payments": PAYMENTS, "customers": CUSTOMERS}
    cases = {
        "first_page": "/panel/pagos",
        "filtered_page": "/panel/pagos?estado=failed&metodo=card",
        # No payment is both: every failed one is walked to find that out.
        "filtered_none": "/panel/pagos?estado=failed&metodo=manual",
        "processor_page": "/panel/pagos?procesador=manual",
        "deep_page": _deep_page(client, 200),
        "customer_by_id": "/panel/pagos?cliente=C-04242",
        "customer_by_name": "/panel/pagos?cliente=Cliente+4242+SA",
        "folio": "/panel/pagos?folio=A-777777",
        "failed_payments": "/panel/pagos-fallidos",
    }
    for name, path in cases.items():
        figures[name] = _p95(client, path, args.repeat)
        print(name, figures[name], flush=True)
    figures["csv_export_100k"] = _export(client)
    print("csv_export_100k", figures["csv_export_100k"], flush=True)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine(), "figures": figures}, indent=2) + "\n")
    store.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
