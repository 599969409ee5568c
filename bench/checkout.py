"""Checkout benchmarks against a real ``b2bgateway serve`` (gunicorn, gthread workers).

1. Overhead: the sandbox at 0 ms, concurrency 1: p50/p99 of ``POST /v1/checkouts`` end to end.
2. Throughput ratio: checkouts/s at concurrency 16 divided by the requests/s of a bare Flask JSON
   POST endpoint under the same gunicorn settings, in the same run.
3. Slow processor: the sandbox at 1,200 ms (a Stripe test-mode charge): checkouts/s and how many
   were in flight.

On SQLite and PostgreSQL (when reachable). The load generator is Python threads with keep-alive
connections on the same two cores, so absolute figures are understated; ratios are fair.
Prints the figures and writes ``bench/results/checkout.json``.

    python bench/checkout.py [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

from common import POSTGRES, cpu_seconds, fresh_schema, machine, machine_cpu, on_both_databases
from sqlalchemy import text

from b2bgateway.store import Store, upgrade

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "checkout.json"
KEY = "sk_bench_merchant_1"
BIN = Path(sys.executable).parent

BARE_APP = """
from flask import Flask, request, jsonify
app = Flask(__name__)
@app.post("/echo")
def echo():
    body = request.get_json()
    return jsonify(received=body), 201
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_up(port: int, path: str = "/healthz", timeout: float = 120) -> None:
    # Generous: on a shared 2-core machine a gunicorn with two workers can take over 30 s.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", path)
            if conn.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not come up")


class Server:
    def __init__(self, args: list[str], env: dict[str, str], port: int, health: str) -> None:
        # The log outlives this call: the server writes to it until stop().
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
            prefix="bench-server-", suffix=".log", delete=False
        )
        self.env = env
        self.proc = subprocess.Popen(args, env=env, stdout=self.log, stderr=self.log)
        wait_up(port, health)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def gateway_server(
    url: str,
    tmp: Path,
    latency_ms: int,
    port: int,
    *,
    workers: int = 2,
    merchant: dict[str, str] | None = None,
) -> Server:
    """``b2bgateway serve`` on ``port`` with ``workers`` processes; ``merchant``: more of the
    merchant's settings (strings), e.g. its ``notification_url``. The ledger is ``tmp``'s."""
    config = tmp / f"bench-{port}.toml"
    extra = "".join(f"{name} = {json.dumps(value)}\n" for name, value in (merchant or {}).items())
    config.write_text(
        textwrap.dedent(f"""
        database_url = "{url}"
        public_url = "http://127.0.0.1:{port}"
        [merchants.bench]
        api_keys = ["{KEY}"]
        processor = "sandbox"
        order_payments = true
        invoice_payments = true
    """)
        + extra
        + textwrap.dedent(f"""
        [merchants.bench.processors.sandbox]
        webhook_secret = "whsec_bench_secret"
        ledger_path = "{tmp / "ledger.db"}"
        latency_ms = {latency_ms}
    """)
    )
    env = {**os.environ, "B2BGATEWAY_CONFIG": str(config), "XDG_RUNTIME_DIR": str(tmp)}
    return Server(
        [
            str(BIN / "b2bgateway"),
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--threads",
            "64",
        ],
        env,
        port,
        "/healthz",
    )


def call(
    conn: http.client.HTTPConnection, method: str, path: str, body: Any, key: str | None = None
) -> int:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {KEY}"}
    if key:
        headers["Idempotency-Key"] = key
    conn.request(method, path, body=json.dumps(body), headers=headers)
    response = conn.getresponse()
    response.read()
    return response.status


def bare_flask_c16(tmp: Path, scale: int) -> dict[str, Any]:
    """The same load against a bare Flask endpoint under the same gunicorn settings: what the
    machine gives at all, the denominator of every throughput ratio."""
    bare_port = free_port()
    app_dir = tmp / "bare"
    app_dir.mkdir()
    (app_dir / "bare_app.py").write_text(BARE_APP)
    bare = Server(
        [
            str(BIN / "gunicorn"),
            "--bind",
            f"127.0.0.1:{bare_port}",
            "--workers",
            "2",
            "--threads",
            "64",
            "--worker-class",
            "gthread",
            "--chdir",
            str(app_dir),
            "bare_app:app",
        ],
        {**os.environ, "XDG_RUNTIME_DIR": str(tmp)},
        bare_port,
        "/nothing",
    )
    try:
        return load(bare_port, "/echo", order, 16, 3000 // scale, None, bare.proc.pid)
    finally:
        bare.stop()


def seed(port: int) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    status = call(
        conn,
        "PUT",
        "/v1/customers/C-1",
        {"name": "Bench", "active": True, "credit_limit": "0.00", "currency": "MXN"},
    )
    assert status in (200, 201), status


def order(n: int) -> dict[str, Any]:
    return {
        "customer_id": "C-1",
        "purpose": "order",
        "order": {"reference": f"PED-{n}", "amount": "1500.00", "currency": "MXN"},
        "payment_method": {"token": "tok_approved"},
    }


def load(
    port: int,
    path: str,
    body_for: Any,
    concurrency: int,
    total: int,
    key_prefix: str | None,
    server_pid: int | None = None,
) -> dict[str, Any]:
    """``total`` requests over ``concurrency`` keep-alive connections; latencies and rate. With
    ``server_pid``, also the CPU the server spent per request (its processes), the load
    generator's, and what the rest of the machine (the database) used meanwhile, in cores: on two
    shared cores the rate is bounded by the sum."""
    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))
    lock = threading.Lock()
    in_flight = 0
    peak = 0

    def worker() -> None:
        nonlocal errors, in_flight, peak
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                n = next(counter, None)
                if n is None:
                    return
                in_flight += 1
                peak = max(peak, in_flight)
            start = time.perf_counter()
            try:
                status = call(
                    conn, "POST", path, body_for(n), f"{key_prefix}-{n}" if key_prefix else None
                )
            except OSError:
                status = 0
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            elapsed = (time.perf_counter() - start) * 1000
            with lock:
                in_flight -= 1
                latencies.append(elapsed)
                if status != 201:
                    errors += 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    server_cpu = 0.0 if server_pid is None else cpu_seconds(server_pid)
    client_cpu, busy_before = time.process_time(), machine_cpu()
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()
    figures: dict[str, Any] = {
        "requests": total,
        "concurrency": concurrency,
        "errors": errors,
        "per_second": round(total / wall, 1),
        "p50_ms": round(statistics.median(latencies), 2),
        "p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 2),
        "peak_in_flight": peak,
    }
    if server_pid is not None:
        server_cpu = cpu_seconds(server_pid) - server_cpu
        client_cpu = time.process_time() - client_cpu
        busy, ticks = (a - b for a, b in zip(machine_cpu(), busy_before, strict=True))
        figures["server_cpu_ms_per_request"] = round(server_cpu * 1000 / total, 3)
        figures["load_generator_cpu_ms_per_request"] = round(client_cpu * 1000 / total, 3)
        figures["machine_busy_percent"] = round(100 * busy / max(ticks, 1), 1)
        figures["other_cpu_cores"] = round(
            (busy / os.sysconf("SC_CLK_TCK") - server_cpu - client_cpu) / wall, 2
        )
    return figures


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children (gunicorn master + workers), in MiB."""
    total = 0
    pids = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return round(total / 1024, 1)


_PROBE_INSERT = text("INSERT INTO bench_commit_probe (v) VALUES (:n)")


def commit_probe(url: str, repeat: int = 300) -> dict[str, Any]:
    """What one durable write costs this database on this machine, apart from the gateway: p50
    of a one-row INSERT and its COMMIT through the gateway's own store (its engine settings),
    and on PostgreSQL the same with ``synchronous_commit = off`` (no wait for the WAL to reach
    the disk). A checkout commits twice and a webhook once: on a disk whose flush takes
    milliseconds, that alone sets a floor under their latency at concurrency 1."""
    store = Store(url)
    durable, deferred = [], []
    try:
        with store.write() as session:
            session.execute(text("CREATE TABLE IF NOT EXISTS bench_commit_probe (v INTEGER)"))
        modes = [(durable, None)]
        if store.dialect == "postgresql":
            modes.append((deferred, "SET LOCAL synchronous_commit = off"))
        for times, setting in modes:
            for n in range(repeat):
                started = time.perf_counter()
                with store.write() as session:
                    if setting:
                        session.execute(text(setting))
                    session.execute(_PROBE_INSERT, {"n": n})
                times.append((time.perf_counter() - started) * 1000)
        with store.write() as session:
            session.execute(text("DROP TABLE bench_commit_probe"))
    finally:
        store.dispose()
    figures = {"repeat": repeat, "insert_commit_p50_ms": round(statistics.median(durable), 3)}
    if deferred:
        figures["insert_commit_no_flush_wait_p50_ms"] = round(statistics.median(deferred), 3)
    return figures


def run(url: str, quick: bool) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    store.dispose()
    figures: dict[str, Any] = {"database": url.split(":")[0].split("+")[0]}
    scale = 4 if quick else 1
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        server = gateway_server(url, tmp, 0, port)
        try:
            seed(port)
            load(port, "/v1/checkouts", lambda n: order(n + 10**6), 1, 50, "warm")
            pid = server.proc.pid
            figures["overhead_c1"] = load(port, "/v1/checkouts", order, 1, 1000 // scale, "c1", pid)
            figures["checkouts_c16"] = load(
                port, "/v1/checkouts", lambda n: order(n + 10**7), 16, 3000 // scale, "c16", pid
            )
        finally:
            server.stop()
        figures["bare_flask_c16"] = bare_flask_c16(tmp, scale)
        figures["throughput_ratio"] = round(
            figures["checkouts_c16"]["per_second"] / figures["bare_flask_c16"]["per_second"], 3
        )
        slow_port = free_port()
        slow = gateway_server(url, tmp, 1200, slow_port)
        try:
            seed(slow_port)
            # Steady state, as for the other figures: both gunicorn workers past their first
            # requests (imports, connections) before 128 arrive at once.
            load(slow_port, "/v1/checkouts", lambda n: order(n + 2 * 10**8), 16, 64, "slow-warm")
            figures["slow_processor_1200ms_c128"] = load(
                slow_port, "/v1/checkouts", lambda n: order(n + 10**8), 128, 1536 // scale, "slow"
            )
            figures["slow_processor_memory_mb"] = rss_mb(slow.proc.pid)
        finally:
            slow.stop()
    figures["commit_probe"] = commit_probe(url)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=POSTGRES, help="PostgreSQL URL ('' to skip)")
    parser.add_argument("--quick", action="store_true", help="a quarter of the requests")
    args = parser.parse_args()
    results: dict[str, Any] = {
        "machine": machine(),
        "targets": {
            "overhead_p50_ms": 3,
            "overhead_p99_ms": 15,
            "throughput_ratio": 0.25,
            "slow_checkouts_per_second": 60,
            "slow_in_flight": 100,
        },
        "runs": [],
    }
    results["runs"] = on_both_databases(lambda url: run(url, args.quick), args.postgres)
    for figures in results["runs"]:
        print(f"\n{figures['database']}:")
        for key, value in figures.items():
            if isinstance(value, dict) and "per_second" in value:
                print(
                    f"  {key:<28} {value['per_second']:>8} /s  p50 {value['p50_ms']:>8} ms  "
                    f"p99 {value['p99_ms']:>8} ms  errors {value['errors']}  "
                    f"in flight {value['peak_in_flight']}"
                )
            elif key != "database":
                print(f"  {key:<28} {value}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
