"""Outbound-event delivery benchmark: one ``b2bgateway worker`` process draining the outbox.

N pending events (4 per payment, interleaved in time as checkouts write them, each a realistic
``payment.*`` body) are written straight into the outbox; the merchant's ``notification_url``
is a local receiver in this process (a threaded HTTP/1.1 server answering 200) that counts each
event id and checks each payment's events arrive in order, never two at once and never twice.

Two runs per database: ``base`` (N events, all delivered; afterwards every row must be
``delivered``) and ``backlog`` (BACKLOG pending events, the first N delivered are timed): the
claim reads only the head of the due queue, so the rate must not fall with the backlog.

Figures: delivered events/s (wall, first to N-th received), the worker's CPU per event (from
/proc: robust to other load on a shared machine) and how busy the machine was. Target: ≥ 500
delivered events/s on PostgreSQL, the backlog run within 20% of the base run. On SQLite and
PostgreSQL (when reachable; schema ``b2bgateway_bench_outbox``). Prints the figures and writes
``bench/results/outbox.json``.

    python bench/outbox.py [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from common import (
    POSTGRES,
    cpu_seconds,
    fresh_schema,
    machine,
    machine_cpu,
    on_both_databases,
    with_schema,
)
from sqlalchemy import func, insert, select, text

from b2bgateway.store import Store, upgrade
from b2bgateway.store.models import OutboxMessage

RESULTS = Path(__file__).resolve().parent / "results" / "outbox.json"
BIN = Path(sys.executable).parent
EVENTS = 20_000
BACKLOG = 200_000
PER_PAYMENT = 4
TYPES = ("payment.processing", "payment.succeeded", "refund.succeeded", "payment.refunded")


class Receiver(ThreadingHTTPServer):
    """The merchant's endpoint: counts, checks order per payment and duplicates."""

    daemon_threads = True

    def __init__(self, wanted: int) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.wanted = wanted
        self.lock = threading.Lock()
        self.seen: dict[str, int] = defaultdict(int)
        self.next_seq: dict[str, int] = defaultdict(int)
        self.in_flight: set[str] = set()
        self.out_of_order = self.overlaps = self.duplicates = 0
        self.first = self.last = 0.0
        self.done = threading.Event()

    def arrive(self, event: dict[str, Any]) -> None:
        payment, seq = event["data"]["object"]["id"], event["data"]["sequence"]
        with self.lock:
            if payment in self.in_flight:
                self.overlaps += 1
            self.in_flight.add(payment)
        time.sleep(0)  # let another delivery of the same payment show itself if there is one
        with self.lock:
            self.in_flight.discard(payment)
            self.seen[event["id"]] += 1
            if self.seen[event["id"]] > 1:
                self.duplicates += 1
            elif seq != self.next_seq[payment]:
                self.out_of_order += 1
            else:
                self.next_seq[payment] = seq + 1
            if len(self.seen) == 1:
                self.first = time.monotonic()
            if len(self.seen) == self.wanted:
                self.last = time.monotonic()
                self.done.set()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        server: Any = self.server
        server.arrive(json.loads(body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError):  # the worker stopped with connections open
            super().handle()


def fill(url: str, events: int) -> float:
    """``events`` pending events, PER_PAYMENT per payment, interleaved; returns seconds taken."""
    started = time.monotonic()
    store = Store(url)
    at = datetime.now(UTC) - timedelta(minutes=1)
    payments = events // PER_PAYMENT
    rows = []
    for seq in range(PER_PAYMENT):
        for n in range(payments):
            key = f"pay_{n:07d}"
            rows.append(
                {
                    "merchant_id": "bench",
                    "event_type": TYPES[seq],
                    "ordering_key": key,
                    "payload": {
                        "id": f"evt_{n:07d}_{seq}",
                        "type": TYPES[seq],
                        "created": at.isoformat().replace("+00:00", "Z"),
                        "merchant_id": "bench",
                        "data": {
                            "object": {
                                "id": key,
                                "amount": "100.00",
                                "currency": "MXN",
                                "status": TYPES[seq].split(".")[1],
                                "reference": f"INV-{n}",
                                "customer_id": f"cus_{n % 97}",
                            },
                            "sequence": seq,
                        },
                    },
                    "state": "pending",
                    "attempts": 0,
                    "next_attempt_at": at,
                    "created_at": at,
                }
            )
            at += timedelta(microseconds=3)
    try:
        with store.write() as session:
            for chunk in range(0, len(rows), 10_000):
                session.execute(insert(OutboxMessage), rows[chunk : chunk + 10_000])
        # Statistics as autovacuum keeps them for a table that grew to this size (a table loaded
        # in one go and read at once would be planned as if it were still empty).
        with store.engine.connect() as conn:
            conn.execute(text("ANALYZE outbox"))
            conn.commit()
    finally:
        store.dispose()
    return round(time.monotonic() - started, 1)


def delivered(url: str) -> int:
    store = Store(url)
    try:
        with store.read() as session:
            query = select(func.count()).where(OutboxMessage.state == "delivered")
            return int(session.scalar(query) or 0)
    finally:
        store.dispose()


def drain(url: str, tmp: Path, events: int, backlog: int) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    store.dispose()
    filled = fill(url, backlog)
    receiver = Receiver(events)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    config = tmp / "outbox-bench.toml"
    config.write_text(
        textwrap.dedent(f"""
        database_url = "{url}"
        [merchants.bench]
        api_keys = ["sk_bench_merchant_1"]
        processor = "sandbox"
        notification_url = "http://127.0.0.1:{receiver.server_address[1]}/events"
        notification_secret = "whsec_bench_notifications"
        [merchants.bench.processors.sandbox]
        webhook_secret = "whsec_bench_secret"
        ledger_path = "{tmp / "ledger.db"}"
    """)
    )
    env = {**os.environ, "B2BGATEWAY_CONFIG": str(config), "XDG_RUNTIME_DIR": str(tmp)}
    with tempfile.NamedTemporaryFile(prefix="bench-worker-", suffix=".log", delete=False) as log:
        worker = subprocess.Popen(
            [str(BIN / "b2bgateway"), "worker", "--interval", "0.5"],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        while not receiver.first and worker.poll() is None:
            time.sleep(0.005)
        cpu0, busy0 = cpu_seconds(worker.pid), machine_cpu()
        finished = receiver.done.wait(timeout=max(120, events / 20))
        cpu1, busy1 = cpu_seconds(worker.pid), machine_cpu()
        deadline = time.monotonic() + 30  # the last outcomes written (the worker not killed first)
        while finished and delivered(url) < events and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        worker.terminate()
        worker.wait(30)
        receiver.shutdown()
        receiver.server_close()
    store = Store(url)
    with store.read() as session:
        states = dict(
            session.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            ).all()
        )
    store.dispose()
    seconds = (receiver.last or time.monotonic()) - receiver.first
    received = len(receiver.seen)
    checks = {
        "every_event_received": finished and received >= events,
        "no_duplicates": receiver.duplicates == 0,
        "in_order_per_payment": receiver.out_of_order == 0,
        "never_two_of_a_payment_at_once": receiver.overlaps == 0,
        # the base run drains everything: every row delivered (the backlog run stops midway)
        "outbox_rows_delivered": states.get("delivered", 0) >= events
        and (backlog > events or states == {"delivered": events}),
    }
    return {
        "events": events,
        "backlog": backlog,
        "filled_s": filled,
        "received": received,
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds) if finished and seconds > 0 else 0,
        "worker_cpu_ms_per_event": round(1000 * (cpu1 - cpu0) / events, 3),
        "machine_busy_percent": round(100 * (busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1)),
        "states": states,
        "checks": checks,
        "passed": all(checks.values()),
        "worker_log": log.name,
    }


def run(url: str, quick: bool) -> dict[str, Any]:
    scale = 10 if quick else 1
    database = "postgresql" if url.startswith("postgresql") else "sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        base = drain(url, Path(tmp), EVENTS // scale, EVENTS // scale)
        backlog = drain(url, Path(tmp), EVENTS // scale, BACKLOG // scale)
    flat = backlog["events_per_second"] / max(base["events_per_second"], 1)
    return {"database": database, "base": base, "backlog": backlog, "backlog_ratio": round(flat, 2)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--postgres", default=with_schema(POSTGRES, "b2bgateway_bench_outbox"), help="'' to skip"
    )
    parser.add_argument("--quick", action="store_true", help="a tenth of the events")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "quick": args.quick,
        "targets": {"delivered_events_per_second_postgresql": 500, "backlog_ratio": 0.8},
        "runs": on_both_databases(lambda url: run(url, args.quick), args.postgres),
    }
    for figures in results["runs"]:
        print(f"\n{figures['database']}:")
        for name in ("base", "backlog"):
            r = figures[name]
            print(
                f"  {name:<8} {r['received']:>6} of {r['backlog']:>7} pending delivered: "
                f"{r['events_per_second']:>6} events/s, worker CPU "
                f"{r['worker_cpu_ms_per_event']} ms/event, machine {r['machine_busy_percent']}% "
                f"busy; checks {'PASSED' if r['passed'] else 'FAILED'} {r['checks']}"
            )
        print(f"  backlog / base rate: {figures['backlog_ratio']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    passed = all(f[name]["passed"] for f in results["runs"] for name in ("base", "backlog"))
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
