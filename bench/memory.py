"""Memory over a soak: does ``serve`` or ``worker`` grow while checkouts keep coming?

``b2bgateway serve`` (the defaults: 2 gunicorn workers x 64 threads) with the sandbox at 1,200 ms
(a slow processor: a Stripe test-mode charge), driven by 128 keep-alive connections for
``--soak-seconds`` (default 600), so 128 checkouts are in flight all along (``bench/checkout.py``'s
slow-processor run, held for minutes instead of 1,536 requests). Beside it one ``b2bgateway
worker`` does the work that follows each checkout: the merchant has a ``notification_url`` (a
small sink on loopback, ``bench/cluster.py``'s), so every payment's ``payment.succeeded`` is
delivered by the worker as it goes. Everything is on 127.0.0.1; the load is bounded (128 in
flight, never more) and so is the run (``--soak-seconds``).

Every ``--interval`` seconds (default 5) the bench reads the resident memory (VmRSS) of the
gunicorn master plus its workers (summed: pages the processes share after the fork count once per
process) and of the worker. Per process group: start (the first sample, after a warm-up), peak,
end, and the slope over the last half of the soak (least squares, MB per minute): the first half
includes what a new process fills once (allocator arenas, SQLAlchemy's statement cache, the
connection pool) and is not a leak.

Verdict "no growth" when the last half's slope is within the tolerance: 1 MB/min for ``serve``
(a leak of ~170 bytes per checkout at 100 checkouts/s would show) and 0.5 MB/min for the worker.
Each sample also counts the outbox's delivered and pending events (does the worker keep up?); at
the end the bench waits for the outbox to drain (at most ``--drain-seconds``) and checks that every
event marked delivered reached the sink, none twice.

On PostgreSQL when it answers, else SQLite (``--sqlite`` forces it). Prints the figures and
writes ``bench/results/memory.json``.

    python bench/memory.py [--soak-seconds N] [--interval S] [--postgres URL] [--sqlite]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from checkout import Server, call, free_port, gateway_server, load, order, rss_mb, seed
from cluster import SINK, Worker, drain, outbox_states
from common import POSTGRES, fresh_schema, machine, reachable, with_schema
from sqlalchemy import func, select

from b2bgateway.store import Store, upgrade
from b2bgateway.store.models import OutboxMessage, Payment

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "memory.json"
LATENCY_MS = 1200
IN_FLIGHT = 128
TOLERANCE_MB_PER_MIN = {"serve": 1.0, "worker": 0.5}


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def own_rss_mb(pid: int) -> float:
    """One process's resident memory, in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return 0.0


def slope_mb_per_min(samples: list[dict[str, Any]], key: str) -> float:
    """Least-squares slope of ``key`` (MB) against time (minutes)."""
    xs = [s["t_s"] / 60 for s in samples]
    ys = [s[key] for s in samples]
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def summarize(samples: list[dict[str, Any]], key: str) -> dict[str, Any]:
    half = samples[len(samples) // 2 :]
    slope = slope_mb_per_min(half, key)
    tolerance = TOLERANCE_MB_PER_MIN[key]
    return {
        "start_mb": samples[0][key],
        "peak_mb": max(s[key] for s in samples),
        "end_mb": samples[-1][key],
        "last_half_slope_mb_per_min": round(slope, 3),
        "tolerance_mb_per_min": tolerance,
        "no_growth": slope <= tolerance,
    }


class Soak:
    """``IN_FLIGHT`` connections posting checkouts back to back until ``stop`` is set."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.lock = threading.Lock()
        self.next = 0
        self.done = 0
        self.errors = 0
        self.in_flight = 0
        self.peak = 0
        self.latencies: list[float] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(IN_FLIGHT)]

    def _run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        while not self.stop.is_set():
            with self.lock:
                n = self.next
                self.next += 1
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
            started = time.perf_counter()
            try:
                status = call(conn, "POST", "/v1/checkouts", order(3 * 10**8 + n), f"soak-{n}")
            except OSError:
                status = 0
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            elapsed = (time.perf_counter() - started) * 1000
            with self.lock:
                self.in_flight -= 1
                self.done += 1
                self.latencies.append(elapsed)
                if status != 201:
                    self.errors += 1

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def finish(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()


def delivered_once(store: Store, events_file: Path) -> dict[str, Any]:
    """Every event the outbox marks delivered reached the sink, none twice (events still pending
    when the drain gave up are counted, not judged)."""
    # The database first: an event is marked delivered only after the sink answered, so one
    # read as delivered here is already in the file (the worker may still be delivering).
    with store.read() as session:
        rows = session.execute(select(OutboxMessage.state, OutboxMessage.payload)).all()
    received = Counter(
        line.split()[0] for line in events_file.read_text().splitlines() if line.strip()
    )
    delivered = {payload["id"] for state, payload in rows if state == "delivered"}
    twice = sum(1 for n in received.values() if n > 1)
    missing = len(delivered - set(received))
    return {
        "events": len(rows),
        "delivered": len(delivered),
        "still_pending": sum(1 for state, _ in rows if state == "pending"),
        "received": sum(received.values()),
        "delivered_not_received": missing,
        "received_twice_or_more": twice,
        "ok": missing == 0 and twice == 0,
    }


def payment_outcomes(store: Store) -> list[dict[str, Any]]:
    """How the payments ended: a 201 can carry a failed payment (``processor_unavailable`` when
    the sandbox's ledger stays busy), which the HTTP status alone would hide."""
    with store.read() as session:
        rows = session.execute(
            select(Payment.status, Payment.failure_code, func.count()).group_by(
                Payment.status, Payment.failure_code
            )
        ).all()
    return [{"status": s, "failure_code": code, "payments": n} for s, code, n in rows]


def run(url: str, soak_seconds: float, interval: float, drain_seconds: float) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    figures: dict[str, Any] = {
        "database": url.split(":")[0].split("+")[0],
        "soak_seconds": soak_seconds,
        "sample_every_s": interval,
        "processor_latency_ms": LATENCY_MS,
        "serve": "2 gunicorn workers x 64 threads (master + workers summed)",
    }
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        sink_port = free_port()
        events_file = tmp / "events.txt"
        events_file.touch()
        (tmp / "sink.py").write_text(SINK)
        sink = Server(
            [sys.executable, str(tmp / "sink.py"), str(sink_port), str(events_file)],
            dict(os.environ),
            sink_port,
            "/",
        )
        merchant = {
            "notification_url": f"http://127.0.0.1:{sink_port}/events",
            "notification_secret": "whsec_bench_notifications",
        }
        port = free_port()
        server: Server | None = None
        worker: Worker | None = None
        try:
            server = gateway_server(url, tmp, LATENCY_MS, port, merchant=merchant)
            worker = Worker(server.env)
            seed(port)
            # Warm at the soak's concurrency: both gunicorn workers past their first requests and
            # all 2 x 64 threads started (their stacks), so the first sample is the steady state.
            load(port, "/v1/checkouts", lambda n: order(n + 4 * 10**8), IN_FLIGHT, 512, "warm")
            serve_pid, worker_pid = server.proc.pid, worker.proc.pid
            figures["serve_processes"] = 1 + len(children(serve_pid))
            soak = Soak(port)
            samples: list[dict[str, Any]] = []
            began = time.monotonic()
            soak.start()
            while True:
                elapsed = time.monotonic() - began
                with soak.lock:
                    done, errors, in_flight = soak.done, soak.errors, soak.in_flight
                outbox = outbox_states(store)
                samples.append(
                    {
                        "t_s": round(elapsed, 1),
                        "serve": rss_mb(serve_pid),
                        "worker": rss_mb(worker_pid),
                        "serve_each": [own_rss_mb(p) for p in [serve_pid, *children(serve_pid)]],
                        "checkouts": done,
                        "errors": errors,
                        "in_flight": in_flight,
                        "events_delivered": outbox.get("delivered", 0),
                        "events_pending": outbox.get("pending", 0),
                    }
                )
                if elapsed >= soak_seconds:
                    break
                time.sleep(min(interval, max(0.0, soak_seconds - elapsed)))
                print(
                    f"  {samples[-1]['t_s']:>6} s  serve {samples[-1]['serve']:>7} MB  "
                    f"worker {samples[-1]['worker']:>6} MB  checkouts {done}  errors {errors}  "
                    f"events delivered {outbox.get('delivered', 0)} "
                    f"pending {outbox.get('pending', 0)}  "
                    f"(master, workers: {samples[-1]['serve_each']})",
                    flush=True,
                )
            soak.finish()
            wall = time.monotonic() - began
            soak.latencies.sort()
            figures["load"] = {
                "checkouts": soak.done,
                "errors": soak.errors,
                "per_second": round(soak.done / wall, 1),
                "p50_ms": round(statistics.median(soak.latencies), 1),
                "p99_ms": round(soak.latencies[int(len(soak.latencies) * 0.99) - 1], 1),
                "peak_in_flight": soak.peak,
            }
            last = samples[-1]
            figures["worker_delivery"] = {
                "events_per_second_during_soak": round(last["events_delivered"] / wall, 1),
                "events_pending_at_end_of_soak": last["events_pending"],
            }
            figures["outbox"] = drain(store, drain_seconds)
            figures["notifications"] = delivered_once(store, events_file)
            figures["payments"] = payment_outcomes(store)
            figures["serve_rss"] = summarize(samples, "serve")
            figures["worker_rss"] = summarize(samples, "worker")
            figures["samples"] = samples
        finally:
            if worker is not None:
                worker.stop()
                figures["worker_log"] = worker.report()
            if server is not None:
                server.stop()
            sink.stop()
            store.dispose()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--soak-seconds", type=float, default=600)
    parser.add_argument("--interval", type=float, default=5, help="seconds between samples")
    parser.add_argument(
        "--drain-seconds", type=float, default=300, help="longest wait for the outbox to drain"
    )
    parser.add_argument("--postgres", default=with_schema(POSTGRES, "b2bgateway_bench_memory"))
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if PostgreSQL answers")
    args = parser.parse_args()
    why = "--sqlite" if args.sqlite else (reachable(args.postgres) if args.postgres else "no URL")
    if why is None:
        figures = run(args.postgres, args.soak_seconds, args.interval, args.drain_seconds)
    else:
        print(f"PostgreSQL not used ({why}): SQLite", file=sys.stderr)
        with tempfile.TemporaryDirectory() as tmp:
            figures = run(
                f"sqlite:///{tmp}/bench.db", args.soak_seconds, args.interval, args.drain_seconds
            )
    results = {
        "machine": machine(),
        "targets": {
            "in_flight": IN_FLIGHT,
            "no_growth": "last half's RSS slope within the tolerance (MB/min)",
            "tolerance_mb_per_min": TOLERANCE_MB_PER_MIN,
        },
        "run": figures,
    }
    for key in ("serve_rss", "worker_rss"):
        f = figures[key]
        print(
            f"{key:10} start {f['start_mb']} MB  peak {f['peak_mb']} MB  end {f['end_mb']} MB  "
            f"slope (last half) {f['last_half_slope_mb_per_min']} MB/min  "
            f"no growth: {f['no_growth']} (tolerance {f['tolerance_mb_per_min']} MB/min)"
        )
    print(f"load {figures['load']}")
    print(f"worker delivery {figures['worker_delivery']}, then {figures['outbox']}")
    print(f"notifications {figures['notifications']}")
    print(f"payments {figures['payments']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
