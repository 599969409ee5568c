"""A real ``b2bgateway serve`` (gunicorn, 2 gthread workers) under concurrent checkouts.

One invoice (or one order reference), 100 simultaneous checkouts with different Idempotency-Keys:
exactly one payment, one charge in the sandbox's ledger, one 201; every other answer is a clean
"already registered" refusal, never a 5xx or a dropped connection. The server is a subprocess on a
loopback port and shares the suite's database (SQLite file or PostgreSQL schema), so this test
reads the rows the server wrote. Nothing leaves loopback: the sandbox sends webhooks only for page
approvals and refunds, and no ``notification_url`` is configured.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.store import Store
from b2bgateway.store.models import Payment, PaymentAllocation

API_KEY = "sk_test_concurrency_acme"
WEBHOOK_SECRET = "whsec_concurrency_secret"
MERCHANT = "acme"
CUSTOMER = "C-CONC"
ROUNDS = 20
ATTEMPTS = 100  # checkouts per round, all for the same invoice (or order)
THREADS = 100  # released together by one barrier; each makes ATTEMPTS // THREADS requests
START_TIMEOUT = 20.0
REQUEST_TIMEOUT = 60.0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _executable() -> str:
    beside = Path(sys.executable).parent / "b2bgateway"
    if beside.exists():
        return str(beside)
    found = shutil.which("b2bgateway")
    if found is None:  # pragma: no cover - the package is installed in the venv
        pytest.fail("the b2bgateway console script is not installed")
    return found


@dataclass(frozen=True)
class Answer:
    status: int  # 0: the request never got an answer (connection error)
    body: Any
    error: str | None = None


@dataclass
class Server:
    port: int
    ledger: SandboxSettings
    log: Path
    process: subprocess.Popen[bytes]

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> Answer:
        """One request on a fresh connection (no keep-alive), with the merchant's key."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=REQUEST_TIMEOUT)
        try:
            sent = {"Authorization": f"Bearer {API_KEY}", "Connection": "close"}
            data = None
            if body is not None:
                data = json.dumps(body).encode()
                sent["Content-Type"] = "application/json"
            sent.update(headers or {})
            conn.request(method, path, body=data, headers=sent)
            response = conn.getresponse()
            raw = response.read()
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = raw.decode("utf-8", "replace")
            return Answer(response.status, parsed)
        except (OSError, http.client.HTTPException) as exc:
            return Answer(0, None, f"{type(exc).__name__}: {exc}")
        finally:
            conn.close()

    def log_errors(self) -> list[str]:
        """Lines of the server's output that report an error (JSON logs and gunicorn's own)."""
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        markers = ('"level": "error"', '"level": "critical"', "Traceback", "[ERROR]", "[CRITICAL]")
        return [line for line in text.splitlines() if any(m in line for m in markers)]

    def log_tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def _write_config(path: Path, database_url: str, ledger_path: Path, top: str = "") -> None:
    path.write_text(
        f"""
database_url = {json.dumps(database_url)}
{top}

[merchants.{MERCHANT}]
api_keys = [{json.dumps(API_KEY)}]
processor = "sandbox"
currency = "MXN"
order_payments = true
invoice_payments = true

[merchants.{MERCHANT}.processors.sandbox]
webhook_secret = {json.dumps(WEBHOOK_SECRET)}
ledger_path = {json.dumps(str(ledger_path))}
"""
    )


@pytest.fixture
def server(tmp_path: Path, database_url: str, store: Store) -> Iterator[Server]:
    """``b2bgateway serve --workers 2 --threads 32`` on a free loopback port, healthy, and always
    terminated afterwards (before ``store`` empties the tables)."""
    with running_server(tmp_path, database_url) as srv:
        yield srv


def server_env(tmp_path: Path, database_url: str, top: str = "") -> dict[str, str]:
    """The environment of a ``b2bgateway`` command on acme's configuration (``top``: more
    top-level settings), without the machine's B2BGATEWAY_ variables."""
    config = tmp_path / "gateway.toml"
    _write_config(config, database_url, tmp_path / "sandbox-ledger.db", top)
    env = {k: v for k, v in os.environ.items() if not k.startswith("B2BGATEWAY_")}
    env["B2BGATEWAY_CONFIG"] = str(config)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@contextmanager
def running_server(
    tmp_path: Path, database_url: str, env: dict[str, str] | None = None
) -> Iterator[Server]:
    """The server of :func:`server` (on ``env``, default :func:`server_env`'s)."""
    ledger_path = tmp_path / "sandbox-ledger.db"
    env = dict(env or server_env(tmp_path, database_url))
    # gunicorn (>= 25) opens a control socket in $XDG_RUNTIME_DIR or ~/.gunicorn, shared by every
    # gunicorn on the machine: keep this one's private (and short enough for AF_UNIX).
    runtime = Path(tempfile.mkdtemp(prefix="b2bgw-"))
    env["XDG_RUNTIME_DIR"] = str(runtime)
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:  # a file, not a pipe: the access log must never block the server
        process = subprocess.Popen(
            [
                _executable(),
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "2",
                "--threads",
                "32",
            ],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    srv = Server(
        port=port,
        ledger=SandboxSettings(webhook_secret=WEBHOOK_SECRET, ledger_path=str(ledger_path)),
        log=log,
        process=process,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited with {process.returncode}:\n{srv.log_tail()}")
            answer = srv.request("GET", "/healthz")
            if answer.status == 200:
                break
            if time.monotonic() > deadline:
                pytest.fail(
                    f"/healthz not 200 within {START_TIMEOUT:.0f} s "
                    f"(last: {answer.status} {answer.body or answer.error}):\n{srv.log_tail()}"
                )
            time.sleep(0.1)
        yield srv
    finally:
        if process.poll() is None:
            process.terminate()  # SIGTERM: gunicorn's graceful shutdown of its workers
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        shutil.rmtree(runtime, ignore_errors=True)


def _invoice(invoice_id: str, balance: str) -> dict[str, Any]:
    return {
        "customer_id": CUSTOMER,
        "folio": invoice_id,
        "document_type": "factura",
        "source": "ventas",
        "issued_on": "2025-01-10",
        "due_on": "2025-02-10",
        "total": balance,
        "balance": balance,
        "currency": "MXN",
    }


def _seed_customer(server: Server) -> None:
    answer = server.request(
        "PUT",
        f"/v1/customers/{CUSTOMER}",
        {
            "name": "Ferretería Concurrente",
            "email": "pagos@concurrente.example",
            "active": True,
            "credit_limit": "1000.00",
            "currency": "MXN",
        },
    )
    assert answer.status == 201, answer


def _storm(server: Server, body: dict[str, Any]) -> tuple[list[Answer], float]:
    """ATTEMPTS checkouts of ``body``, each with its own Idempotency-Key, from THREADS threads
    released together by a barrier."""
    answers: list[Answer] = []
    lock = threading.Lock()
    barrier = threading.Barrier(THREADS)
    per_thread = ATTEMPTS // THREADS

    def attempt() -> None:
        mine = []
        try:
            barrier.wait(timeout=30)
        except threading.BrokenBarrierError as exc:  # pragma: no cover - reported below
            mine.append(Answer(0, None, f"barrier: {exc!r}"))
        for _ in range(per_thread):
            key = f"conc-{uuid.uuid4().hex}"
            mine.append(server.request("POST", "/v1/checkouts", body, {"Idempotency-Key": key}))
        with lock:
            answers.extend(mine)

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=REQUEST_TIMEOUT * per_thread + 30)
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads), "a client thread never finished"
    return answers, elapsed


def _is_registered_refusal(answer: Answer) -> bool:
    body = answer.body if isinstance(answer.body, dict) else {}
    code = body.get("code", "")
    if answer.status == 422:
        return code == "not_payable" and body.get("reasons") == ["payment_registered"]
    if answer.status == 409:
        return isinstance(code, str) and code.startswith("idempotency")
    return False


def _check_round(server: Server, answers: list[Answer], label: str) -> dict[str, Any]:
    """Exactly one 201 ``succeeded``; every other answer a clean refusal. Returns the payment."""
    assert len(answers) == ATTEMPTS, label
    broken = [a for a in answers if a.status == 0 or a.status >= 500]
    assert not broken, (
        f"{label}: {len(broken)} answers were 5xx or connection errors, e.g. {broken[:3]}\n"
        f"{server.log_tail()}"
    )
    created = [a for a in answers if a.status == 201]
    summary = Counter(
        (a.status, a.body.get("code") if isinstance(a.body, dict) else None) for a in answers
    )
    assert len(created) == 1, f"{label}: {len(created)} checkouts were created: {summary}"
    payment = created[0].body
    assert payment["status"] == "succeeded", (label, payment)
    others = [a for a in answers if a.status != 201]
    unexpected = [a for a in others if not _is_registered_refusal(a)]
    assert not unexpected, f"{label}: unexpected answers {unexpected[:3]} ({summary})"
    return payment


def _check_books(
    server: Server, store: Store, payment: dict[str, Any], *, invoice_id: str | None = None
) -> None:
    """One payment row for the invoice/order in the gateway's database, one charge for it in
    the sandbox's ledger."""
    with store.read() as session:
        if invoice_id is not None:
            rows = session.scalars(
                select(Payment.id)
                .join(PaymentAllocation, PaymentAllocation.payment_id == Payment.id)
                .where(
                    PaymentAllocation.merchant_id == MERCHANT,
                    PaymentAllocation.invoice_id == invoice_id,
                )
            ).all()
        else:
            rows = session.scalars(
                select(Payment.id).where(
                    Payment.merchant_id == MERCHANT,
                    Payment.order_reference == payment["order_reference"],
                )
            ).all()
        assert rows == [payment["id"]], (invoice_id, rows)
        stored = session.get(Payment, payment["id"])
        assert stored is not None and stored.status == "succeeded"
    ledger = open_ledger(server.ledger)
    charge = ledger.find_charge(MERCHANT, payment["id"])
    assert charge is not None and charge.status == "succeeded", charge
    assert str(charge.amount.amount) == payment["amount"]
    assert charge.id == payment["processor_reference"]
    with sqlite3.connect(ledger.path) as conn:
        (charges,) = conn.execute(
            "SELECT count(*) FROM charges WHERE merchant_id = ? AND payment_id = ?",
            (MERCHANT, payment["id"]),
        ).fetchone()
    assert charges == 1, f"the sandbox charged payment {payment['id']} {charges} times"


def test_concurrent_checkouts_of_one_invoice_make_one_payment(server, store):
    _seed_customer(server)
    timings = []
    for n in range(ROUNDS):
        invoice_id = f"F-CONC-{n:02d}"
        balance = f"{1000 + n}.50"
        answer = server.request("PUT", f"/v1/invoices/{invoice_id}", _invoice(invoice_id, balance))
        assert answer.status == 201, answer
        body = {
            "customer_id": CUSTOMER,
            "purpose": "invoices",
            "invoice_ids": [invoice_id],
            "expected_amount": balance,
            "payment_method": {"token": "tok_approved"},
        }
        answers, elapsed = _storm(server, body)
        timings.append(elapsed)
        payment = _check_round(server, answers, f"round {n} ({invoice_id})")
        assert payment["allocations"] == [{"invoice_id": invoice_id, "amount": balance}]
        assert payment["amount"] == balance
        _check_books(server, store, payment, invoice_id=invoice_id)

    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == ROUNDS
    ledger = open_ledger(server.ledger)
    with sqlite3.connect(ledger.path) as conn:
        (charges,) = conn.execute("SELECT count(*) FROM charges").fetchone()
    assert charges == ROUNDS
    assert ledger.events(MERCHANT) == []  # no webhooks owed: nothing to send off the machine
    assert server.process.poll() is None, server.log_tail()
    assert server.log_errors() == []
    print(f"\n{ROUNDS} rounds of {ATTEMPTS}: " + ", ".join(f"{t:.2f}s" for t in timings))


def test_concurrent_checkouts_of_one_order_make_one_payment(server, store):
    _seed_customer(server)
    body = {
        "customer_id": CUSTOMER,
        "purpose": "order",
        "order": {"reference": "PED-CONC-1", "amount": "1500.00", "currency": "MXN"},
        "payment_method": {"token": "tok_approved"},
    }
    answers, elapsed = _storm(server, body)
    payment = _check_round(server, answers, "order PED-CONC-1")
    assert payment["order_reference"] == "PED-CONC-1"
    assert payment["amount"] == "1500.00"
    assert payment["allocations"] == []
    _check_books(server, store, payment)
    assert open_ledger(server.ledger).events(MERCHANT) == []
    assert server.process.poll() is None, server.log_tail()
    assert server.log_errors() == []
    print(f"\norder round of {ATTEMPTS}: {elapsed:.2f}s")
