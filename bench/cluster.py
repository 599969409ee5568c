"""Two machines' worth on one PostgreSQL: two ``b2bgateway serve`` instances and two
``b2bgateway worker`` processes sharing the database (and the sandbox's ledger).

1. Throughput adds up. One instance (``--workers 1``: one gunicorn process, one machine's share)
   with one worker: order checkouts/s at concurrency 16. Then a second instance on its own port
   (same configuration and database) with a second worker, both driven at once at concurrency 16
   each (the same load per instance): combined checkouts/s, and the ratio combined / single. Any
   answer other than 201 is an error; there must be none. Without ``--quick`` a second round
   follows (A alone while B stands idle, then both), so that other people's load drifting during
   the run favours neither figure; the ratio is over both rounds' sums.

   This box has two cores, and the two "machines" share them with PostgreSQL, the load generator
   (Python threads in this process) and, often, another benchmark. One instance is one Python
   process, so it uses at most about one core; two can use both, if nothing else needs them. The
   ratio therefore measures what two cores allow, not what two machines would do: on two
   machines the expectation is about 2. To show which it is, every measured window also records
   the CPU it used (``/proc``): each process group's cores and CPU milliseconds per checkout, the
   whole machine's busy cores, and the rest (PostgreSQL, this bench's sink, other people's
   work). If the instances' CPU per checkout stays the same with two of them, nothing shared
   (locks, the database) costs them more, and throughput grows with the cores given.

2. One payment per invoice. A customer with 20 open invoices (``factura``, ``ventas``); for each
   invoice in turn, 100 threads wait at a barrier and then all ask to pay it (``tok_approved``,
   each with its own ``Idempotency-Key``), half through each instance: 2,000 checkouts. Expected:
   exactly one 201 per invoice, every other answer a 409 or 422 whose problem+json names
   ``payment_registered`` (the ``code`` is ``not_payable``, the reason is in ``reasons``), no 5xx.
   Then the database (one live payment allocated to each invoice, no other payment for the
   customer, the 201s' payments are those) and the sandbox's ledger (one charge per invoice, for
   that payment and the invoice's balance; no other charge made during the phase) are checked.

The workers do real work throughout: the merchant has a ``notification_url`` (a small sink
process here), so every checkout writes outbound events (``payment.processing``,
``payment.succeeded``) that the workers deliver, claiming them with FOR UPDATE SKIP LOCKED. They
run with ``--interval 0.1``; a pass that delivers a full batch (100 events) is followed at once
by another, so a backlog drains at the sink's speed. After each part the bench waits for the
outbox to drain and checks that the sink got every event exactly once. Reconciliation runs in
every pass too, but finds nothing: no payment is left ``processing`` for 300 s.

Each "machine" (instance and worker) connects with ``application_name=cluster-A`` or ``-B``;
every measured part records the most connections each had at once (``pg_stat_activity`` every
50 ms) and how many the database opened meanwhile. Each serve process's pool holds up to
``database_pool_size`` + ``database_max_overflow`` connections (20 + 0 by default) and threads
wait for a free one, so two instances and two workers stay within PostgreSQL's default
``max_connections`` of 100; a database that runs out anyway answers 503, never 500.

PostgreSQL is required (several processes on one SQLite file is not the deployment this
describes). If it does not answer, the bench prints "skipped", leaves ``bench/results/cluster.json``
as it was and exits 0, so ``make bench`` goes on. It exits 1 when a correctness check fails (an
error in part 1, the invariant, the outbox), never for a throughput figure. Schema
``b2bgateway_bench_cluster``. Prints the figures and writes ``bench/results/cluster.json``.

    python bench/cluster.py [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from checkout import BIN, KEY, Server, free_port, gateway_server, load, order, seed
from common import POSTGRES, fresh_schema, machine, reachable, with_schema
from sqlalchemy import func, select, text
from sync import post

from b2bgateway.store import Store, upgrade
from b2bgateway.store.models import (
    REGISTERING_STATUSES,
    OutboxMessage,
    Payment,
    PaymentAllocation,
)

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "cluster.json"
CONCURRENCY = 16  # per instance in part 1
ATTEMPTS = 100  # concurrent checkouts per invoice in part 2
CUSTOMER = "C-CLUSTER"
CLK = os.sysconf("SC_CLK_TCK")

# The merchant's notification_url: answers 204 and appends "<event id> <type>" to a file.
SINK = """
import json, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

lock = threading.Lock()
out = open(sys.argv[2], "a", buffering=1)

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        event = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with lock:
            out.write(f"{event['id']} {event['type']}\\n")
        self.send_response(204)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
"""


# -- processes -----------------------------------------------------------------------------------
class Worker:
    """``b2bgateway worker`` with a server's configuration; its log is kept for the report."""

    def __init__(self, env: dict[str, str]) -> None:
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (read after stop())
            prefix="bench-worker-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            [str(BIN / "b2bgateway"), "worker", "--interval", "0.1"],
            env=env,
            stdout=self.log,
            stderr=self.log,
        )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()

    def report(self) -> dict[str, Any]:
        """Events this worker says it delivered, and any error lines it logged."""
        delivered, errors = 0, []
        for line in Path(self.log.name).read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                errors.append(line[:300])
                continue
            message = str(entry.get("message", ""))
            if message.startswith("outbound events:"):
                delivered += int(message.split()[2])
            if entry.get("level") in ("error", "critical"):
                errors.append(message[:300])
        return {"delivered": delivered, "errors": errors}


_APP_FRAME = re.compile(r'File "[^"]*/((?:b2bgateway|b2bgateway_web)/[^"]+)", line (\d+), in (\w+)')


def server_problems(servers: list[Server]) -> list[dict[str, Any]]:
    """The servers' logged errors, grouped by where in our code they happened (the project's
    frames of the traceback) and what they were (its last line): how many, which log, one
    request id and one whole traceback each."""
    groups: dict[tuple[str, ...], dict[str, Any]] = {}
    for server in servers:
        for line in Path(server.log.name).read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # gunicorn's own start-up lines
            if entry.get("level") not in ("error", "critical"):
                continue
            trace = str(entry.get("exception", ""))
            last = (trace.strip().splitlines() or [str(entry.get("message"))])[-1]
            if last.startswith("(Background on this error"):
                last = trace.strip().splitlines()[-2]
            frames = [f"{path}:{n} {fn}" for path, n, fn in _APP_FRAME.findall(trace)]
            key = (*frames, last)
            if key not in groups:
                groups[key] = {
                    "count": 0,
                    "where": frames,
                    "error": last[:300],
                    "log": server.log.name,
                    "request_id": entry.get("request_id"),
                    "traceback": trace[-6000:],
                }
            groups[key]["count"] += 1
    return sorted(groups.values(), key=lambda g: -g["count"])


# -- CPU -----------------------------------------------------------------------------------------
def _processes() -> dict[int, tuple[str, int, int]]:
    """Every process: pid -> (command name, parent pid, utime + stime in clock ticks)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, _, tail = (entry / "stat").read_text().rpartition(")")
        except OSError:
            continue  # gone meanwhile
        fields = tail.split()
        found[int(entry.name)] = (
            head.partition("(")[2],
            int(fields[1]),
            int(fields[11]) + int(fields[12]),
        )
    return found


def _machine_busy() -> int:
    # user nice system idle iowait irq softirq steal: busy is all but idle and iowait
    ticks = [int(f) for f in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return sum(ticks) - ticks[3] - ticks[4]


class CpuWindow:
    """CPU used between start() and stop(): by named processes (and their children, e.g. a
    gunicorn master's workers), by PostgreSQL, by everything else, and by the whole machine.

    Processes are counted if alive at both ends; what started and ended in between (a
    PostgreSQL backend of a connection beyond the pool's, another person's short command) is
    only in the machine's total and reported as "unattributed".
    """

    def __init__(self, groups: dict[str, int]) -> None:
        self.groups = groups  # name -> pid

    def _sample(self) -> tuple[dict[int, tuple[str, int, int]], int]:
        return _processes(), _machine_busy()

    def start(self) -> None:
        self.wall = time.monotonic()
        self.begin = self._sample()

    def _group_of(self, pid: int, procs: dict[int, tuple[str, int, int]]) -> str:
        by_pid = {p: name for name, p in self.groups.items()}
        seen = pid
        for _ in range(3):  # the process itself, its parent, its grandparent
            if seen in by_pid:
                return by_pid[seen]
            seen = procs.get(seen, ("", 0, 0))[1]
        return "postgres" if procs[pid][0].startswith("postgres") else "other processes"

    def stop(self, checkouts: int) -> dict[str, Any]:
        wall = time.monotonic() - self.wall
        (before, busy_before), (after, busy_after) = self.begin, self._sample()
        used: dict[str, float] = {name: 0.0 for name in self.groups}
        used |= {"postgres": 0.0, "other processes": 0.0}
        for pid, (comm, _, ticks) in after.items():
            if pid in before and before[pid][0] == comm:
                used[self._group_of(pid, after)] += (ticks - before[pid][2]) / CLK
        machine = (busy_after - busy_before) / CLK
        used["unattributed"] = max(0.0, machine - sum(used.values()))
        for kind in ("serve", "worker"):
            used[f"{kind} (all)"] = sum(v for k, v in used.items() if k.startswith(f"{kind} "))
        used["machine"] = machine
        return {
            "wall_s": round(wall, 2),
            "cores_busy": {name: round(seconds / wall, 2) for name, seconds in used.items()},
            "cpu_ms_per_checkout": {
                name: round(seconds * 1000 / checkouts, 2) for name, seconds in used.items()
            },
        }


# -- part 1 --------------------------------------------------------------------------------------
def drive(ports: list[tuple[int, int]], total: int, label: str) -> dict[str, Any]:
    """``total`` order checkouts per (port, offset), every port at once; combined rate."""
    results: dict[int, dict[str, Any]] = {}

    def one(port: int, offset: int) -> None:
        results[port] = load(
            port,
            "/v1/checkouts",
            lambda n: order(n + offset),
            CONCURRENCY,
            total,
            f"{label}-{offset}",
        )

    threads = [threading.Thread(target=one, args=pair) for pair in ports]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "instances": [results[port] for port, _ in ports],
        "requests": total * len(ports),
        "errors": sum(r["errors"] for r in results.values()),
        "per_second": round(total * len(ports) / wall, 1),
    }


def outbox_states(store: Store) -> dict[str, int]:
    with store.read() as session:
        return dict(
            session.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            ).all()
        )


def measure(
    groups: dict[str, int], ports: list[tuple[int, int]], total: int, store: Store
) -> dict[str, Any]:
    """drive() with its CPU window (``groups`` are the processes named in it), then the
    outbox's drain."""
    cpu = CpuWindow(dict(groups))
    opened = sessions(store)
    cpu.start()
    with Connections(store) as connections:
        figures = drive(ports, total, f"c{ports[0][1]}")
    figures["cpu"] = cpu.stop(figures["requests"])
    figures["postgres_connections_peak"] = connections.peaks()
    # Connections opened meanwhile (the whole database's count, so others' too): each is a
    # PostgreSQL backend started, a cost in "unattributed" when it ends before the window does.
    figures["postgres_connections_opened"] = sessions(store) - opened
    figures["outbox"] = drain(store)
    return figures


def tagged(url: str, machine: str) -> str:
    """The database URL with ``application_name=cluster-<machine>``: the instance and the worker
    of one "machine" are told apart from the other's, and from everyone else's, in
    ``pg_stat_activity``."""
    return f"{url}{'&' if '?' in url else '?'}application_name=cluster-{machine}"


class Connections:
    """Samples ``pg_stat_activity`` every 50 ms while in use: the most connections each
    application name had at once, and the most in all (PostgreSQL's ``max_connections`` is the
    limit for the sum, everyone's)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.done = threading.Event()
        self.peak: Counter[str] = Counter()
        self.limit = 0

    def __enter__(self) -> Connections:
        self.thread = threading.Thread(target=self._sample)
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.thread.join()

    def _sample(self) -> None:
        query = text(
            "SELECT coalesce(nullif(application_name, ''), 'other'), count(*)"
            " FROM pg_stat_activity WHERE backend_type = 'client backend' GROUP BY 1"
        )
        with self.store.engine.connect() as conn:
            self.limit = int(conn.execute(text("SHOW max_connections")).scalar_one())
            while not self.done.wait(0.05):
                counts = dict(conn.execute(query).all())
                conn.rollback()
                counts["all"] = sum(counts.values())
                for name, count in counts.items():
                    self.peak[name] = max(self.peak[name], count)

    def peaks(self) -> dict[str, int]:
        return {**dict(sorted(self.peak.items())), "max_connections": self.limit}


def sessions(store: Store) -> int:
    """How many connections the database has had (PostgreSQL's pg_stat_database.sessions)."""
    with store.engine.connect() as conn:
        query = "SELECT sessions FROM pg_stat_database WHERE datname = current_database()"
        return int(conn.execute(text(query)).scalar_one())


def drain(store: Store, timeout: float = 300) -> dict[str, Any]:
    """Wait until no outbound event is pending: how many were, how long it took (the workers'
    delivery rate while no checkout runs) and the outbox's states since the start."""
    started = time.monotonic()
    pending = outbox_states(store).get("pending", 0)
    while True:
        states = outbox_states(store)
        if not states.get("pending") or time.monotonic() - started > timeout:
            took = time.monotonic() - started
            return {
                "pending_at_start": pending,
                "drain_s": round(took, 2),
                "events_per_second": round(pending / took, 1) if pending else None,
                "outbox_total": states,
            }
        time.sleep(0.2)


def sink_check(store: Store, events_file: Path) -> dict[str, Any]:
    """Every outbox row delivered, and received by the sink exactly once."""
    received = Counter(
        line.split()[0] for line in events_file.read_text().splitlines() if line.strip()
    )
    with store.read() as session:
        ids = [p["id"] for p in session.scalars(select(OutboxMessage.payload))]
        states = dict(
            session.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            ).all()
        )
    return {
        "events": len(ids),
        "states": states,
        "received": sum(received.values()),
        "never_received": len(set(ids) - set(received)),
        "received_twice_or_more": sum(1 for n in received.values() if n > 1),
        "ok": states.get("delivered", 0) == len(ids)
        and set(ids) == set(received)
        and all(n == 1 for n in received.values()),
    }


# -- part 2 --------------------------------------------------------------------------------------
def seed_invoices(port: int, count: int) -> dict[str, int]:
    """The customer and ``count`` open invoices; invoice id -> balance in minor units."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    post(
        conn,
        "PUT",
        f"/v1/customers/{CUSTOMER}",
        {"name": "Cluster", "active": True, "credit_limit": "0.00", "currency": "MXN"},
    )
    balances = {f"F-CL-{i:03d}": 100_000 + i * 100 for i in range(count)}  # 1,000.00 + i
    post(
        conn,
        "POST",
        "/v1/invoices/batch",
        {
            "invoices": [
                {
                    "invoice_id": invoice_id,
                    "customer_id": CUSTOMER,
                    "folio": invoice_id,
                    "document_type": "factura",
                    "source": "ventas",
                    "issued_on": "2026-10-01",
                    "due_on": "2026-11-30",
                    "total": f"{minor / 100:.2f}",
                    "balance": f"{minor / 100:.2f}",
                    "currency": "MXN",
                }
                for invoice_id, minor in balances.items()
            ]
        },
    )
    return balances


def race(ports: list[int], invoices: list[str]) -> list[dict[str, Any]]:
    """For each invoice in turn, ATTEMPTS threads (thread t on ports[t % 2]) wait at a barrier,
    then all ask to pay it. One answer per attempt."""
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()
    barrier = threading.Barrier(ATTEMPTS)

    def attempt(t: int) -> None:
        port = ports[t % len(ports)]
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        for invoice_id in invoices:
            body = json.dumps(
                {
                    "customer_id": CUSTOMER,
                    "purpose": "invoices",
                    "invoice_ids": [invoice_id],
                    "payment_method": {"token": "tok_approved"},
                }
            )
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {KEY}",
                "Idempotency-Key": f"race-{invoice_id}-{t}",
            }
            barrier.wait()
            try:
                conn.request("POST", "/v1/checkouts", body=body, headers=headers)
                response = conn.getresponse()
                status, raw = response.status, response.read()
            except OSError as exc:
                status, raw = 0, str(exc).encode()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"unparsed": raw[:300].decode(errors="replace")}
            with lock:
                answers.append(
                    {
                        "invoice_id": invoice_id,
                        "port": port,
                        "status": status,
                        "code": payload.get("code"),
                        "reasons": payload.get("reasons") or [],
                        "payment_id": payload.get("id") if status == 201 else None,
                        "payment_status": payload.get("status") if status == 201 else None,
                        "body": None if status in (201, 409, 422) else payload,
                    }
                )

    threads = [threading.Thread(target=attempt, args=(t,)) for t in range(ATTEMPTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def ledger_mark(path: Path) -> int:
    import sqlite3

    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT coalesce(max(rowid), 0) FROM charges").fetchone()[0])


def ledger_charges(path: Path, after: int) -> list[tuple[str, int, str]]:
    """(payment id, amount in minor units, status) of every charge made after rowid ``after``."""
    import sqlite3

    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT payment_id, amount_minor, status FROM charges WHERE rowid > ?", (after,)
        ).fetchall()


def check_invariant(
    store: Store, balances: dict[str, int], answers: list[dict[str, Any]], charges: list[Any]
) -> dict[str, Any]:
    """The answers, the database and the ledger all say: one payment per invoice."""
    by_status = Counter(
        f"{a['status']}"
        + (f" {a['code']}" if a["code"] else "")
        + (f" {'+'.join(a['reasons'])}" if a["reasons"] else "")
        + (f" payment {a['payment_status']}" if a["payment_status"] else "")
        for a in answers
    )
    created = Counter(a["invoice_id"] for a in answers if a["status"] == 201)
    refused_ok = sum(
        1 for a in answers if a["status"] in (409, 422) and "payment_registered" in a["reasons"]
    )
    other = [
        a
        for a in answers
        if a["status"] != 201
        and not (a["status"] in (409, 422) and "payment_registered" in a["reasons"])
    ]
    answered = {a["invoice_id"]: a["payment_id"] for a in answers if a["status"] == 201}
    with store.read() as session:
        live = session.execute(
            select(PaymentAllocation.invoice_id, Payment.id, Payment.status)
            .join(Payment, Payment.id == PaymentAllocation.payment_id)
            .where(Payment.customer_id == CUSTOMER, Payment.status.in_(REGISTERING_STATUSES))
        ).all()
        registered = Counter(
            session.scalars(
                select(PaymentAllocation.invoice_id).where(
                    PaymentAllocation.invoice_id.in_(list(balances)),
                    PaymentAllocation.registered.is_(True),
                )
            )
        )
        payments = dict(
            session.execute(
                select(Payment.status, func.count())
                .where(Payment.customer_id == CUSTOMER)
                .group_by(Payment.status)
            ).all()
        )
    live_per_invoice = Counter(invoice_id for invoice_id, _, _ in live)
    live_payment = {invoice_id: pid for invoice_id, pid, _ in live}
    charged = Counter(pid for pid, _, _ in charges)
    charge_of = {pid: (amount, status) for pid, amount, status in charges}
    database = {
        "payments_for_customer": payments,
        # A payment the processor charged but whose answer was not recorded (e.g. a 500 after
        # the charge) stays processing until reconciliation, 300 s later by default.
        "payments_not_succeeded": sorted(
            f"{pid} {status} ({invoice_id})"
            for invoice_id, pid, status in live
            if status != "succeeded"
        ),
        "invoices_with_one_live_payment": sum(
            1 for i in balances if live_per_invoice[i] == 1 and registered[i] == 1
        ),
        "invoices_with_more": sorted(
            i for i in balances if live_per_invoice[i] > 1 or registered[i] > 1
        ),
        "answers_match_database": answered == live_payment,
    }
    ledger = {
        "charges_during_phase": len(charges),
        "invoices_charged_once": sum(
            1
            for i in balances
            if i in live_payment
            and charged[live_payment[i]] == 1
            and charge_of[live_payment[i]] == (balances[i], "succeeded")
        ),
        "payments_charged_more_than_once": sorted(p for p, n in charged.items() if n > 1),
        "charges_for_other_payments": sorted(set(charged) - set(live_payment.values())),
    }
    n = len(balances)
    holds = (
        all(created[i] == 1 for i in balances)
        and not other
        and refused_ok == len(answers) - n
        and database["invoices_with_one_live_payment"] == n
        and database["answers_match_database"]
        and sum(payments.values()) == n
        and ledger["charges_during_phase"] == n
        and ledger["invoices_charged_once"] == n
    )
    return {
        "answers": dict(sorted(by_status.items())),
        "server_errors_5xx": sum(1 for a in answers if a["status"] >= 500),
        "no_answer": sum(1 for a in answers if a["status"] == 0),
        "invoices_with_one_201": sum(1 for i in balances if created[i] == 1),
        "invoices_with_more_than_one_201": sorted(i for i in balances if created[i] > 1),
        "refused_payment_registered": refused_ok,
        "unexpected_answers": other[:20],
        "database": database,
        "ledger": ledger,
        "holds": holds,
    }


# -- the run -------------------------------------------------------------------------------------
def run(url: str, quick: bool) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    scale = 4 if quick else 1
    figures: dict[str, Any] = {}
    servers: list[Server] = []
    workers: list[Worker] = []
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
        try:
            ports = [free_port(), free_port()]
            servers.append(
                gateway_server(tagged(url, "A"), tmp, 0, ports[0], workers=1, merchant=merchant)
            )
            workers.append(Worker(servers[0].env))
            seed(ports[0])
            load(ports[0], "/v1/checkouts", lambda n: order(n + 10**6), 1, 50, "warm-a")
            drain(store)

            total = 3000 // scale
            groups = {
                "serve A": servers[0].proc.pid,
                "worker 1": workers[0].proc.pid,
                "bench": os.getpid(),
                "sink": sink.proc.pid,
            }
            rounds: list[dict[str, Any]] = []
            # Round 1: one instance (the only one yet), then two. Round 2 (not with --quick) the
            # same again with B idle during "one", so that other people's load drifting during
            # the run favours neither figure.
            for n in range(1 if quick else 2):
                base = 10**7 * (1 + 3 * n)  # order numbers: every checkout its own order
                single = measure(groups, [(ports[0], base)], total, store)
                if n == 0:
                    servers.append(
                        gateway_server(
                            tagged(url, "B"), tmp, 0, ports[1], workers=1, merchant=merchant
                        )
                    )
                    workers.append(Worker(servers[1].env))
                    groups |= {"serve B": servers[1].proc.pid, "worker 2": workers[1].proc.pid}
                    load(ports[1], "/v1/checkouts", lambda k: order(k + 2 * 10**6), 1, 50, "wb")
                    drain(store)
                pair = [(ports[0], base + 10**7), (ports[1], base + 2 * 10**7)]
                both = measure(groups, pair, total, store)
                rounds.append(
                    {
                        "one_instance": single,
                        "two_instances": both,
                        "ratio": round(both["per_second"] / single["per_second"], 2),
                    }
                )
            figures["rounds"] = rounds
            ones = [r["one_instance"]["per_second"] for r in rounds]
            twos = [r["two_instances"]["per_second"] for r in rounds]
            figures["one_instance_per_second"] = round(sum(ones) / len(ones), 1)
            figures["two_instances_per_second"] = round(sum(twos) / len(twos), 1)
            figures["ratio_two_vs_one"] = round(sum(twos) / sum(ones), 2)
            figures["part1_errors"] = sum(
                r[k]["errors"] for r in rounds for k in ("one_instance", "two_instances")
            )

            invoices = 20 if not quick else 5
            balances = seed_invoices(ports[0], invoices)
            mark = ledger_mark(tmp / "ledger.db")
            started = time.perf_counter()
            with Connections(store) as connections:
                answers = race(ports, list(balances))
            wall = time.perf_counter() - started
            figures["invariant"] = {
                "invoices": invoices,
                "attempts_per_invoice": ATTEMPTS,
                "requests": len(answers),
                "threads": ATTEMPTS,
                "wall_s": round(wall, 2),
                "per_second": round(len(answers) / wall, 1),
                "postgres_connections_peak": connections.peaks(),
                **check_invariant(
                    store, balances, answers, ledger_charges(tmp / "ledger.db", mark)
                ),
            }
            figures["invariant"]["outbox_drain"] = drain(store)
            figures["notifications"] = sink_check(store, events_file)
        finally:
            for process in [*workers, *servers, sink]:
                process.stop()
            store.dispose()
        figures["workers"] = [w.report() for w in workers]
        figures["server_errors"] = server_problems(servers)
    return figures


def show(figures: dict[str, Any]) -> None:
    for n, round_ in enumerate(figures["rounds"], 1):
        for key in ("one_instance", "two_instances"):
            part = round_[key]
            name = key.replace("_", " ")
            print(f"\nround {n}, {name}: {part['per_second']} checkouts/s, errors {part['errors']}")
            for i, inst in enumerate(part["instances"]):
                print(
                    f"  instance {'AB'[i]}: {inst['per_second']:>8} /s  p50 {inst['p50_ms']:>7} ms"
                    f"  p99 {inst['p99_ms']:>7} ms  errors {inst['errors']}"
                )
            cpu = part["cpu"]
            print(f"  cores busy over {cpu['wall_s']} s: {cpu['cores_busy']}")
            print(f"  CPU ms per checkout: {cpu['cpu_ms_per_checkout']}")
            print(
                f"  PostgreSQL connections opened: {part['postgres_connections_opened']}, "
                f"at most at once: {part['postgres_connections_peak']}"
            )
            print(f"  outbox after the load: {part['outbox']}")
        print(f"round {n} ratio two / one: {round_['ratio']}")
    print(
        f"\none instance {figures['one_instance_per_second']} /s, two instances "
        f"{figures['two_instances_per_second']} /s: ratio {figures['ratio_two_vs_one']}"
    )
    inv = figures["invariant"]
    print(
        f"\ninvariant: {inv['invoices']} invoices x {inv['attempts_per_invoice']} concurrent "
        f"attempts = {inv['requests']} requests in {inv['wall_s']} s over both instances"
    )
    for answer, count in inv["answers"].items():
        print(f"  {count:>6}  {answer}")
    print(f"  invoices with exactly one 201: {inv['invoices_with_one_201']}/{inv['invoices']}")
    print(f"  5xx: {inv['server_errors_5xx']}  no answer: {inv['no_answer']}")
    print(f"  PostgreSQL connections at most at once: {inv['postgres_connections_peak']}")
    print(f"  database: {inv['database']}")
    print(f"  ledger: {inv['ledger']}")
    print(f"  HOLDS: {inv['holds']}")
    print(f"\nnotifications: {figures['notifications']}")
    print(f"workers: {figures['workers']}")
    for problem in figures["server_errors"]:
        print(f"\nserver error x{problem['count']}: {problem['error']}")
        print(f"  at {' -> '.join(problem['where'])}")
        print(f"  e.g. request {problem['request_id']} in {problem['log']}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=with_schema(POSTGRES, "b2bgateway_bench_cluster"))
    parser.add_argument(
        "--quick", action="store_true", help="a quarter of part 1's requests, 5 invoices in part 2"
    )
    args = parser.parse_args()
    why = reachable(args.postgres) if args.postgres else "no --postgres URL"
    if why is not None:
        print(f"cluster bench skipped: PostgreSQL is required and did not answer ({why})")
        return 0
    figures = run(args.postgres, args.quick)
    results = {
        "machine": machine(),
        "targets": {
            "throughput": "two instances + two workers on one PostgreSQL: combined checkouts/s "
            "about 2x one instance on two machines; here both share 2 cores (see cpu)",
            "part1_errors": 0,
            "attempts_per_invoice": ATTEMPTS,
            "payments_per_invoice": 1,
            "server_errors_5xx": 0,
        },
        "quick": args.quick,
        **figures,
    }
    show(figures)
    ok = (
        figures["part1_errors"] == 0
        and figures["invariant"]["holds"]
        and figures["notifications"]["ok"]
    )
    print(f"\ncorrectness checks: {'pass' if ok else 'FAIL'}")
    results["correctness_ok"] = ok
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(f"written to {RESULTS}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
