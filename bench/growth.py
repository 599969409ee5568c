"""Growth curves: does each hot path cost the same with 10k payments in the database as with 10M?

One merchant's history grows in steps (10k, 100k, 1M and 10M payments on PostgreSQL; SQLite to
1M). Each step adds, per payment, what a real one leaves behind: the paid invoice, its allocation
and the processor's webhook event, spread over two years among 10,000 customers (95% succeeded,
the rest failed, canceled or refunded). The rows are written by the database itself
(``generate_series`` / a recursive CTE).

After each step, against a real ``b2bgateway serve`` (sandbox at 0 ms, one keep-alive
connection, so the figures are server time plus loopback):

- ``checkout``: ``POST /v1/checkouts`` of an order (new reference each time);
- ``payment_read``: ``GET /v1/payments/{id}`` of a random historical payment;
- ``feed_page``: ``GET /v1/payments?updated_since=…&limit=100``, a page of the ERP's sync from
  a random point of the history;
- ``statement_100``: ``GET /v1/customers/C-42/statement``: 100 open invoices, and a history that
  grows with the database (a thousand paid invoices at 10M);
- ``webhook``: one signed ``charge.succeeded`` for a payment left ``requires_action``, verified,
  deduplicated and applied.

Target (issue 22): each p50 within 1.5x from the smallest to the largest step. Prints a table,
writes ``bench/results/growth.json`` and plots ``docs/images/growth.png`` (matplotlib, the
``bench`` extra).

Each step has its own database (a PostgreSQL schema, a SQLite file), seeded once and kept: seed
under any load (``--phase seed``, the 10M step takes a while), then measure on a quiet machine
(``--phase measure``, a couple of minutes); the default does both, skipping steps already seeded.

    python bench/growth.py [--phase all|seed|measure] [--postgres URL] [--sqlite-max N]
                           [--postgres-max N] [--repeat N] [--sqlite-dir DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from checkout import KEY, free_port, gateway_server
from common import POSTGRES, fresh_schema, machine, reachable, schema_of, with_schema
from sqlalchemy import text
from webhooks import PATH as WEBHOOK_PATH
from webhooks import SECRET, event_body

from b2bgateway.sandbox.signing import HEADER, sign
from b2bgateway.store import Store, upgrade

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "growth.json"
PLOT = HERE.parent / "docs" / "images" / "growth.png"
STEPS = (10_000, 100_000, 1_000_000, 10_000_000)
CUSTOMERS = 10_000
HISTORY_START = datetime(2024, 1, 1, tzinfo=UTC)
SECONDS_APART = 6  # 10M payments over two years
MEASURES = ("checkout", "payment_read", "feed_page", "statement_100", "webhook")
TARGET_RATIO = 1.5


# -- the history, written by the database --------------------------------------------------------


def _sql(dialect: str) -> dict[str, str]:
    """The dialect's pieces: a series of ``n`` in [:lo, :hi) and the time of payment ``n``."""
    if dialect == "postgresql":
        return {
            "series": "SELECT n FROM generate_series(:lo, :hi - 1) AS g(n)",
            "at": "(timestamptz '2024-01-01 00:00:00+00'"
            f" + n * interval '{SECONDS_APART} seconds')",
            "day": f"(date '2024-01-01' + (n * {SECONDS_APART} / 86400)::int)",
        }
    return {  # SQLite: timestamps as SQLAlchemy writes them (naive UTC, microseconds)
        "series": "WITH RECURSIVE g(n) AS (SELECT :lo UNION ALL SELECT n + 1 FROM g "
        "WHERE n < :hi - 1) SELECT n FROM g",
        "at": f"(datetime('2024-01-01', '+' || (n * {SECONDS_APART}) || ' seconds') || '.000000')",
        "day": f"date('2024-01-01', '+' || (n * {SECONDS_APART} / 86400) || ' days')",
    }


def _status(n: str) -> str:
    return (
        f"CASE {n} % 20 WHEN 0 THEN 'failed' WHEN 1 THEN 'canceled' WHEN 2 THEN 'refunded' "
        "ELSE 'succeeded' END"
    )


def history_statements(dialect: str) -> list[str]:
    """INSERTs of payments [lo, hi) with their invoices, allocations and webhook events."""
    q = _sql(dialect)
    series, at, day = q["series"], q["at"], q["day"]
    amount = "(150000 + (n % 1000) * 100)"
    customer = f"('C-' || (n % {CUSTOMERS}))"
    return [
        f"""INSERT INTO invoices (merchant_id, invoice_id, customer_id, folio, document_type,
            source, issued_on, due_on, total_minor, balance_minor, currency, created_at,
            updated_at)
            SELECT 'bench', 'FG-' || n, {customer}, 'FG' || n, 'factura', 'ventas', {day}, {day},
                   {amount}, 0, 'MXN', {at}, {at} FROM ({series}) AS s""",
        f"""INSERT INTO payments (id, merchant_id, customer_id, purpose, amount_minor, currency,
            status, processor, processor_reference, refunded_minor, payment_method,
            reconcile_attempts, created_at, updated_at, paid_at)
            SELECT 'pay_g' || n, 'bench', {customer}, 'invoices', {amount}, 'MXN', {_status("n")},
                   'sandbox', 'sbx_ch_g' || n,
                   CASE WHEN n % 20 = 2 THEN {amount} ELSE 0 END, 'card', 0, {at}, {at},
                   CASE WHEN n % 20 < 2 THEN NULL ELSE {at} END
            FROM ({series}) AS s""",
        f"""INSERT INTO payment_allocations (payment_id, merchant_id, invoice_id, amount_minor,
            currency, registered)
            SELECT 'pay_g' || n, 'bench', 'FG-' || n, {amount}, 'MXN', n % 20 > 2
            FROM ({series}) AS s""",
        f"""INSERT INTO webhook_events (merchant_id, processor, event_id, event_type, payment_id,
            received_at, outcome)
            SELECT 'bench', 'sandbox', 'sbx_evt_g' || n, 'charge.succeeded', 'pay_g' || n, {at},
                   'applied'
            FROM ({series}) AS s""",
    ]


def write_customers(store: Store) -> None:
    q = _sql(store.engine.dialect.name)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                f"""INSERT INTO customers (merchant_id, customer_id, name, email, active,
                credit_limit_minor, currency, created_at, updated_at)
                SELECT 'bench', 'C-' || n, 'Cliente ' || n, NULL, true, 0, 'MXN',
                       {q["at"]}, {q["at"]} FROM ({q["series"]}) AS s"""
            ),
            {"lo": 0, "hi": CUSTOMERS},
        )


def grow(store: Store, lo: int, hi: int, chunk: int = 1_000_000) -> float:
    """Add payments [lo, hi) and what they leave behind; seconds it took."""
    started = time.perf_counter()
    statements = [text(s) for s in history_statements(store.engine.dialect.name)]
    for start in range(lo, hi, chunk):
        with store.engine.begin() as conn:
            for statement in statements:
                conn.execute(statement, {"lo": start, "hi": min(start + chunk, hi)})
    if store.engine.dialect.name == "postgresql":
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    else:
        with store.engine.begin() as conn:
            conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


# -- the measures, over HTTP ---------------------------------------------------------------------


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        sent = {"Authorization": f"Bearer {KEY}", **(headers or {})}
        raw = None
        if body is not None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            sent.setdefault("Content-Type", "application/json")
        self.conn.request(method, path, body=raw, headers=sent)
        response = self.conn.getresponse()
        return response.status, response.read()


def timed(calls: list[Callable[[], int]], expected: int) -> dict[str, float]:
    """p50/p95 in ms of each call, after checking every one answered ``expected``."""
    latencies = []
    for call in calls:
        started = time.perf_counter()
        status = call()
        latencies.append((time.perf_counter() - started) * 1000)
        if status != expected:
            raise RuntimeError(f"expected {expected}, got {status}")
    latencies.sort()
    return {
        "p50_ms": round(statistics.median(latencies), 2),
        "p95_ms": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 2),
        "n": len(latencies),
    }


def prepare(client: Client) -> None:
    """C-42 gets 100 open invoices (its paid history comes with the steps); C-43 pays orders."""
    invoices = [
        {
            "invoice_id": f"OPEN-{n}",
            "customer_id": "C-42",
            "folio": f"A{n}",
            "document_type": "factura",
            "source": "ventas",
            "issued_on": "2026-10-01",
            "due_on": (datetime(2026, 11, 1) + timedelta(days=n % 60)).date().isoformat(),
            "total": "1000.00",
            "balance": "1000.00",
            "currency": "MXN",
        }
        for n in range(100)
    ]
    status, body = client.call("POST", "/v1/invoices/batch", {"invoices": invoices})
    if status not in (200, 201, 207):
        raise RuntimeError(f"invoice batch: {status} {body[:300]!r}")


def measure(client: Client, size: int, repeat: int, step: str) -> dict[str, Any]:
    rnd = random.Random(size)
    order = {"customer_id": "C-43", "purpose": "order", "payment_method": {"token": "tok_approved"}}

    def checkout(n: int) -> int:
        reference = {"reference": f"G{step}-{n}", "amount": "1500.00", "currency": "MXN"}
        body = {**order, "order": reference}
        return client.call("POST", "/v1/checkouts", body, {"Idempotency-Key": f"g{step}-{n}"})[0]

    def pending(n: int) -> dict[str, Any]:
        body = {
            **order,
            "order": {"reference": f"W{step}-{n}", "amount": "1500.00", "currency": "MXN"},
            "payment_method": {"token": "tok_3ds"},
        }
        key = {"Idempotency-Key": f"w{step}-{n}"}
        status, raw = client.call("POST", "/v1/checkouts", body, key)
        if status != 201:
            raise RuntimeError(f"pending checkout: {status}")
        payment: dict[str, Any] = json.loads(raw)
        return payment

    def webhook(payment: dict[str, Any]) -> int:
        body = event_body(payment["id"], payment["processor_reference"])
        headers = {HEADER: sign(SECRET, body), "Content-Type": "application/json"}
        return client.call("POST", WEBHOOK_PATH, body, headers)[0]

    def since() -> str:
        n = rnd.randrange(size)
        return (HISTORY_START + timedelta(seconds=n * SECONDS_APART)).isoformat()

    for n in range(20):  # warm: both workers past their first requests
        checkout(-n - 1)
    payments = [pending(n) for n in range(repeat)]
    figures = {
        "checkout": timed([lambda n=n: checkout(n) for n in range(repeat)], 201),
        "payment_read": timed(
            [
                lambda: client.call("GET", f"/v1/payments/pay_g{rnd.randrange(size)}")[0]
                for _ in range(repeat)
            ],
            200,
        ),
        "feed_page": timed(
            [
                lambda: client.call(
                    "GET", f"/v1/payments?limit=100&updated_since={since().replace('+', '%2B')}"
                )[0]
                for _ in range(repeat)
            ],
            200,
        ),
        "statement_100": timed(
            [lambda: client.call("GET", "/v1/customers/C-42/statement")[0] for _ in range(repeat)],
            200,
        ),
        "webhook": timed([lambda p=p: webhook(p) for p in payments], 200),
    }
    return figures


def label(size: int) -> str:
    return f"{size // 1_000_000}m" if size >= 1_000_000 else f"{size // 1_000}k"


def step_url(base: str, size: int, sqlite_dir: Path) -> str:
    """Each step its own database (a PostgreSQL schema, a SQLite file), so that a step can be
    seeded once, under any load, and measured later, again and again, on a quiet machine."""
    if base == "sqlite":
        return f"sqlite:///{sqlite_dir / f'growth_{label(size)}.db'}"
    schema = schema_of(base)
    option = f"search_path%3D{schema}"
    if option not in base:
        raise SystemExit(f"--postgres must name its schema (…?options=-c{option})")
    return base.replace(option, f"{option}_{label(size)}")


def seeded(url: str, size: int) -> bool:
    store = Store(url)
    try:
        with store.engine.connect() as conn:
            held = conn.execute(
                text(
                    "SELECT count(*) FROM payments WHERE merchant_id = 'bench' AND id LIKE 'pay_g%'"
                )
            ).scalar_one()
        return bool(held == size)
    except Exception:  # no schema, no table: not seeded
        return False
    finally:
        store.dispose()


def seed(url: str, size: int) -> float | None:
    """Write ``size`` payments of history into the step's own database; None if already there."""
    if seeded(url, size):
        return None
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    fresh_schema(url)
    store = Store(url)
    try:
        upgrade(store)
        write_customers(store)
        return grow(store, 0, size)
    finally:
        store.dispose()


def measure_step(url: str, size: int, repeat: int, tag: str) -> dict[str, Any]:
    store = Store(url)  # a step seeded by an earlier version: the schema the server expects
    try:
        upgrade(store)
    finally:
        store.dispose()
    with tempfile.TemporaryDirectory() as tmpdir:
        port = free_port()
        server = gateway_server(url, Path(tmpdir), 0, port)
        try:
            prepare(Client(port))
            return measure(Client(port), size, repeat, tag)
        finally:
            server.stop()


def run(
    base: str, steps: list[int], repeat: int, phase: str, sqlite_dir: Path
) -> dict[str, Any] | None:
    database = "sqlite" if base == "sqlite" else "postgresql"
    curve: list[dict[str, Any]] = []
    tag = f"{int(time.time())}-"  # keys and order references new on every measuring run
    for size in steps:
        url = step_url(base, size, sqlite_dir)
        if phase in ("seed", "all"):
            seconds = seed(url, size)
            said = "already seeded" if seconds is None else f"seeded in {seconds:.1f} s"
            print(f"{database:10} {size:>10,}  {said}", flush=True)
        if phase in ("measure", "all"):
            if not seeded(url, size):
                raise SystemExit(f"{database} {size:,}: not seeded (run with --phase seed first)")
            curve.append({"payments": size, **measure_step(url, size, repeat, tag)})
            show_step(database, curve[-1])
    if not curve:
        return None
    return {"database": database, "curve": curve, "ratios": ratios(curve), "load": load()}


def load() -> list[float]:
    """The 1, 5 and 15 minute load averages when a curve was measured (a busy machine says so)."""
    return [round(x, 2) for x in os.getloadavg()]


def ratios(curve: list[dict[str, Any]]) -> dict[str, float]:
    """Largest step's p50 over the smallest's, per measure."""
    first, last = curve[0], curve[-1]
    return {m: round(last[m]["p50_ms"] / first[m]["p50_ms"], 2) for m in MEASURES}


def show_step(database: str, row: dict[str, Any]) -> None:
    cells = "  ".join(f"{m} {row[m]['p50_ms']:>6.2f}/{row[m]['p95_ms']:<6.2f}" for m in MEASURES)
    print(f"{database:10} {row['payments']:>10,}  {cells}", flush=True)


def plot(runs: list[dict[str, Any]]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing (pip install -e '.[bench]'): no plot", file=sys.stderr)
        return
    fig, axes = plt.subplots(1, len(runs), figsize=(6 * len(runs), 4.2), squeeze=False)
    for ax, result in zip(axes[0], runs, strict=True):
        sizes = [row["payments"] for row in result["curve"]]
        for m in MEASURES:
            ax.plot(sizes, [row[m]["p50_ms"] for row in result["curve"]], marker="o", label=m)
        ax.set_xscale("log")
        ax.set_ylim(bottom=0)
        ax.set_xlabel("payments in the database")
        ax.set_ylabel("p50 latency (ms)")
        ax.set_title(f"{result['database']}: cost as data grows")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    fig.tight_layout()
    PLOT.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(PLOT, dpi=110)
    print(f"plot: {PLOT}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=with_schema(POSTGRES, "b2bgateway_bench_growth"))
    parser.add_argument("--sqlite-max", type=int, default=1_000_000)
    parser.add_argument("--postgres-max", type=int, default=10_000_000)
    parser.add_argument("--repeat", type=int, default=200, help="requests per measure and step")
    parser.add_argument(
        "--phase",
        choices=("all", "seed", "measure"),
        default="all",
        help="seed each step's database (slow, any load), measure them (quiet machine), or both",
    )
    parser.add_argument(
        "--sqlite-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "b2bgateway-growth",
        help="where the SQLite steps are kept between phases",
    )
    args = parser.parse_args()
    args.sqlite_dir.mkdir(parents=True, exist_ok=True)
    runs = []
    steps = [s for s in STEPS if s <= args.sqlite_max]
    if steps:  # --sqlite-max 0: PostgreSQL only
        runs.append(run("sqlite", steps, args.repeat, args.phase, args.sqlite_dir))
    why = reachable(args.postgres) if args.postgres else "no --postgres URL"
    if why is None:
        steps = [s for s in STEPS if s <= args.postgres_max]
        runs.append(run(args.postgres, steps, args.repeat, args.phase, args.sqlite_dir))
    else:
        print(f"PostgreSQL skipped: {why}", file=sys.stderr)
    measured = [r for r in runs if r is not None]
    if not measured:
        return 0
    results = {
        "machine": machine(),
        "target": f"each p50 within {TARGET_RATIO}x from the smallest to the largest step",
        "runs": measured,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    for result in measured:
        flat = all(r <= TARGET_RATIO for r in result["ratios"].values())
        print(f"{result['database']}: largest/smallest p50 {result['ratios']}  flat: {flat}")
    plot(measured)
    return 0


if __name__ == "__main__":
    sys.exit(main())
