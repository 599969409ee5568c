"""Inbound webhook benchmark against a real ``b2bgateway serve`` (gunicorn, gthread workers).

N payments are left ``requires_action`` through ``POST /v1/checkouts`` (the sandbox's
``tok_3ds``). Then one ``charge.succeeded`` sandbox event per payment, with the body the sandbox
ledger writes and signed as its delivery signs it (``whsec_bench_secret``, signed at send time),
is POSTed to ``/v1/webhooks/bench/sandbox`` at concurrency 16 over keep-alive connections,
together with re-sends of a quarter of them (20% of all requests are duplicates, in random
order). Any answer other than 200 is an error.

Afterwards the database is checked: every payment ``succeeded``, one ``webhook_events`` row per
distinct event id, each ``applied`` to its own payment, and the answers said ``applied`` once per
event and ``duplicate`` for every re-send. The figure counts only when that check passes.

Target: ≥ 500 verified, deduplicated, applied events/s on PostgreSQL. On SQLite and PostgreSQL
(when reachable; schema ``b2bgateway_bench_webhooks``). The load generator is Python threads on
the same two cores, so absolute figures are understated; the server's CPU per request and how
busy the machine was are recorded with them (another process's load lowers the rate, not the
work per event). Prints the figures and writes ``bench/results/webhooks.json``.

    python bench/webhooks.py [--postgres URL] [--quick]
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
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checkout import free_port, gateway_server, load, order, seed
from common import (
    POSTGRES,
    cpu_seconds,
    fresh_schema,
    machine,
    machine_cpu,
    on_both_databases,
    with_schema,
)
from pydantic import SecretStr
from sqlalchemy import func, select

from b2bgateway.sandbox.events import EventBody, EventData
from b2bgateway.sandbox.records import new_id
from b2bgateway.sandbox.signing import HEADER, sign
from b2bgateway.store import Store, upgrade
from b2bgateway.store.models import Payment, WebhookEvent

RESULTS = Path(__file__).resolve().parent / "results" / "webhooks.json"
SECRET = SecretStr("whsec_bench_secret")  # gateway_server's [merchants.bench.processors.sandbox]
MERCHANT = "bench"
PATH = f"/v1/webhooks/{MERCHANT}/sandbox"
EVENTS = 4000  # distinct events, one per payment
DUPLICATES = 1000  # re-sends of as many distinct events: 20% of the requests
CONCURRENCY = 16


def pending_payments(url: str) -> list[tuple[str, str]]:
    """(payment id, sandbox charge id) of every ``requires_action`` payment, from the database."""
    store = Store(url)
    try:
        with store.read() as session:
            rows = session.execute(
                select(Payment.id, Payment.processor_reference).where(
                    Payment.merchant_id == MERCHANT, Payment.status == "requires_action"
                )
            ).all()
    finally:
        store.dispose()
    return [(pid, ref) for pid, ref in rows if ref]


def event_body(payment_id: str, charge_id: str) -> bytes:
    """The JSON the sandbox ledger records for an approved charge (see sandbox/events.py)."""
    return (
        EventBody(
            id=new_id("sbx_evt"),
            type="charge.succeeded",
            created=datetime.now(UTC),
            data=EventData(
                charge=charge_id,
                payment_id=payment_id,
                status="succeeded",
                amount="1500.00",
                currency="MXN",
                refunded="0.00",
            ),
        )
        .model_dump_json()
        .encode()
    )


def deliver(port: int, server_pid: int, bodies: list[bytes], concurrency: int) -> dict[str, Any]:
    """POST every body, each signed afresh as the sandbox's delivery does; rate, latencies and
    the CPU the server spent (the machine is shared: CPU per request does not depend on it)."""
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    queue = iter(bodies)
    lock = threading.Lock()

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                body = next(queue, None)
            if body is None:
                return
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "b2bgateway-sandbox/0.1",
                HEADER: sign(SECRET, body),
            }
            start = time.perf_counter()
            try:
                conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
            except OSError as exc:
                status, payload = 0, type(exc).__name__.encode()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                latencies.append(elapsed)
                if status == 200:
                    outcomes[json.loads(payload)["outcome"]] += 1
                else:
                    errors[f"{status} {payload[:120]!r}"] += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    server_cpu, client_cpu, machine = cpu_seconds(server_pid), time.process_time(), machine_cpu()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    server_cpu = cpu_seconds(server_pid) - server_cpu
    client_cpu = time.process_time() - client_cpu
    busy, total = (after - before for after, before in zip(machine_cpu(), machine, strict=True))
    latencies.sort()
    for error, count in errors.most_common(5):
        print(f"  error x{count}: {error}", file=sys.stderr)
    return {
        "requests": len(bodies),
        "concurrency": concurrency,
        "seconds": round(wall, 2),
        "errors": sum(errors.values()),
        "outcomes": dict(outcomes),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "server_cpu_ms_per_request": round(server_cpu * 1000 / len(bodies), 3),
        "load_generator_cpu_ms_per_request": round(client_cpu * 1000 / len(bodies), 3),
        "machine_busy_percent": round(100 * busy / max(total, 1), 1),
        # Whatever else ran meanwhile (PostgreSQL, other benchmarks), in cores.
        "other_cpu_cores": round(
            (busy / os.sysconf("SC_CLK_TCK") - server_cpu - client_cpu) / wall, 2
        ),
    }


def verify(
    url: str, payments: list[tuple[str, str]], events: int, sent: dict[str, Any]
) -> dict[str, Any]:
    """What the database holds after the load, and whether it is exactly what was sent."""
    ids = {pid for pid, _ in payments}
    store = Store(url)
    try:
        with store.read() as session:
            statuses = dict(
                session.execute(
                    select(Payment.status, func.count())
                    .where(Payment.merchant_id == MERCHANT)
                    .group_by(Payment.status)
                ).all()
            )
            rows = session.execute(
                select(WebhookEvent.event_id, WebhookEvent.outcome, WebhookEvent.payment_id).where(
                    WebhookEvent.merchant_id == MERCHANT, WebhookEvent.processor == "sandbox"
                )
            ).all()
    finally:
        store.dispose()
    event_ids = Counter(row.event_id for row in rows)
    applied_to = Counter(row.payment_id for row in rows if row.outcome == "applied")
    checks = {
        "payments_succeeded": statuses == {"succeeded": events},
        "one_row_per_event": len(rows) == events and len(event_ids) == events,
        "each_payment_applied_once": set(applied_to) == ids
        and all(n == 1 for n in applied_to.values()),
        "answers": sent["errors"] == 0
        and sent["outcomes"] == {"applied": events, "duplicate": sent["requests"] - events},
    }
    return {
        "passed": all(checks.values()),
        "checks": checks,
        "payment_statuses": statuses,
        "event_rows": len(rows),
        "distinct_event_ids": len(event_ids),
        "row_outcomes": dict(Counter(row.outcome for row in rows)),
    }


def run(url: str, quick: bool) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    store.dispose()
    scale = 4 if quick else 1
    events, duplicates = EVENTS // scale, DUPLICATES // scale
    figures: dict[str, Any] = {"database": url.split(":")[0].split("+")[0]}
    with tempfile.TemporaryDirectory() as tmpdir:
        port = free_port()
        server = gateway_server(url, Path(tmpdir), 0, port)
        try:
            seed(port)
            started = time.perf_counter()
            prepared = load(
                port,
                "/v1/checkouts",
                lambda n: {**order(n), "payment_method": {"token": "tok_3ds"}},
                CONCURRENCY,
                events,
                "prep",
            )
            payments = pending_payments(url)
            if prepared["errors"] or len(payments) != events:
                raise RuntimeError(f"preparation failed: {prepared}, {len(payments)} payments")
            figures["prepare"] = {
                "payments": events,
                "how": "POST /v1/checkouts with tok_3ds (requires_action)",
                "seconds": round(time.perf_counter() - started, 1),
            }
            rng = random.Random(20261127)
            distinct = [event_body(pid, ref) for pid, ref in payments]
            bodies = distinct + rng.sample(distinct, duplicates)
            rng.shuffle(bodies)
            sent = deliver(port, server.proc.pid, bodies, CONCURRENCY)
        finally:
            server.stop()
    sent["applied_per_second"] = round(events / sent["seconds"], 1)
    sent["requests_per_second"] = round(len(bodies) / sent["seconds"], 1)
    figures["webhooks_c16"] = sent
    figures["verification"] = verify(url, payments, events, sent)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        default=with_schema(POSTGRES, "b2bgateway_bench_webhooks"),
        help="PostgreSQL URL ('' to skip)",
    )
    parser.add_argument("--quick", action="store_true", help="a quarter of the events")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "targets": {"applied_events_per_second_postgresql": 500},
        "runs": [],
    }
    results["runs"] = on_both_databases(lambda url: run(url, args.quick), args.postgres)
    for figures in results["runs"]:
        sent, check = figures["webhooks_c16"], figures["verification"]
        print(
            f"\n{figures['database']}: {figures['prepare']['payments']} payments prepared in "
            f"{figures['prepare']['seconds']} s"
        )
        print(
            f"  applied events      {sent['applied_per_second']:>8} /s   "
            f"(all {sent['requests']} requests incl. duplicates: "
            f"{sent['requests_per_second']} /s)"
        )
        print(
            f"  p50 {sent['p50_ms']} ms  p99 {sent['p99_ms']} ms  errors {sent['errors']}  "
            f"outcomes {sent['outcomes']}"
        )
        print(
            f"  server CPU {sent['server_cpu_ms_per_request']} ms/request, load generator "
            f"{sent['load_generator_cpu_ms_per_request']} ms/request; machine "
            f"{sent['machine_busy_percent']}% busy, {sent['other_cpu_cores']} cores used by "
            "everything else (PostgreSQL, other processes)"
        )
        verdict = "PASSED" if check["passed"] else "FAILED (the figure does not count)"
        print(f"  verification {verdict}: {check['checks']}")
        if not check["passed"]:
            print(f"    {check}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0 if all(f["verification"]["passed"] for f in results["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
