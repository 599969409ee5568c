"""``/metrics`` of a real ``b2bgateway serve`` (gunicorn, 2 workers, Prometheus' multi-process
mode) and of a ``b2bgateway worker`` sharing its directory: whichever gunicorn worker answers a
scrape, it adds up every process's samples; a killed worker's counts stay; a dead process's
files from an earlier run are removed at start; a private directory goes with the server."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from pydantic import SecretStr

from b2bgateway.signing import sign
from b2bgateway.store import Store
from tests.support.metrics import FAMILIES, METRICS_AUTH, METRICS_TOKEN, Samples, parse
from tests.test_concurrency_server import (
    WEBHOOK_SECRET,
    Server,
    _executable,
    _seed_customer,
    running_server,
    server_env,
)

DURATION = "b2bgateway_processor_call_duration_seconds"
#: Above any process id Linux hands out (pid_max is at most 2**22): a process that is gone.
DEAD_PID = 2**22 + 17


def scrape(server: Server) -> Samples:
    answer = server.request("GET", "/metrics", headers=METRICS_AUTH)
    assert answer.status == 200, answer
    return parse(answer.body)


def _order(server: Server, token: str) -> dict[str, object]:
    reference = f"PED-{uuid.uuid4().hex[:8]}"
    body = {
        "customer_id": "C-CONC",
        "purpose": "order",
        "order": {"reference": reference, "amount": "1500.00", "currency": "MXN"},
        "payment_method": {"token": token},
        "return_url": "https://portal.example/return",
    }
    answer = server.request("POST", "/v1/checkouts", body, {"Idempotency-Key": reference})
    assert answer.status == 201, answer
    assert isinstance(answer.body, dict)
    return answer.body


def _webhook(server: Server, payment: dict[str, object]) -> int:
    """POST the sandbox's signed ``charge.succeeded`` for ``payment`` (raw bytes: what is signed)."""
    body = json.dumps(
        {
            "id": f"sbx_evt_{uuid.uuid4().hex[:16]}",
            "type": "charge.succeeded",
            "created": datetime.now(UTC).isoformat(),
            "data": {
                "charge": payment["processor_reference"],
                "payment_id": payment["id"],
                "status": "succeeded",
                "amount": "1500.00",
                "currency": "MXN",
                "refunded": "0.00",
                "failure_code": None,
                "refund": None,
            },
        }
    ).encode()
    signature = sign(SecretStr(WEBHOOK_SECRET), body)
    conn_headers = {
        "B2BGateway-Sandbox-Signature": signature,
        "Content-Type": "application/json",
    }
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/v1/webhooks/acme/sandbox", body=body, headers=conn_headers)
        return conn.getresponse().status
    finally:
        conn.close()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def test_a_scrape_adds_up_every_process(tmp_path: Path, database_url: str, store: Store) -> None:
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    stale = metrics_dir / f"counter_{DEAD_PID}.db"
    stale.write_bytes(b"")
    env = server_env(tmp_path, database_url, f"metrics_token = {json.dumps(METRICS_TOKEN)}")
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    with running_server(tmp_path, database_url, env) as server:
        assert not stale.exists()  # a previous run's file, of a process that is gone
        assert server.request("GET", "/metrics").status == 401
        _seed_customer(server)
        approved = [_order(server, "tok_approved") for _ in range(4)]
        waiting = [_order(server, "tok_3ds") for _ in range(2)]
        assert {p["status"] for p in approved} == {"succeeded"}
        assert {p["status"] for p in waiting} == {"requires_action"}
        assert _webhook(server, waiting[0]) == 200

        calls = {"processor": "sandbox", "hook": "create_charge", "result": "ok"}
        for _ in range(6):  # fresh connections: both gunicorn workers answer some
            samples = scrape(server)
            assert set(samples.families) >= FAMILIES
            assert samples.get_value(f"{DURATION}_count", **calls) == 6
            card = {"method": "card", "processor": "sandbox"}
            assert samples.get_value("b2bgateway_payments", status="succeeded", **card) == 5
            assert samples.get_value("b2bgateway_payments", status="requires_action", **card) == 1
            assert (
                samples.get_value("b2bgateway_reconciliation_backlog", status="requires_action")
                == 1
            )
            accepted = {"processor": "sandbox", "result": "accepted", "reason": "applied"}
            assert samples.get_value("b2bgateway_webhooks_total", **accepted) == 1
            assert samples.get_value("b2bgateway_database_up") == 1
        # The worker, on the same directory, asks the sandbox about the waiting payment.
        worker = subprocess.run(
            [_executable(), "worker", "--once", "--older-than", "0"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert worker.returncode == 0, worker.stderr.decode()
        samples = scrape(server)
        retrieved = {"processor": "sandbox", "hook": "retrieve_payment", "result": "ok"}
        assert samples.get_value(f"{DURATION}_count", **retrieved) == 1
        assert samples.get_value("b2bgateway_reconciliation_total", result="pending") == 1
        assert samples.families["b2bgateway_reconciliation"] == "counter"

        # A gunicorn worker killed: gunicorn starts another; what the dead one counted stays.
        victim = _children(server.process.pid)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while victim in _children(server.process.pid) or len(_children(server.process.pid)) < 2:
            assert time.monotonic() < deadline, server.log_tail()
            time.sleep(0.1)
        for _ in range(4):
            samples = scrape(server)
            assert samples.get_value(f"{DURATION}_count", **calls) == 6
            assert samples.get_value(f"{DURATION}_count", **retrieved) == 1
    errors = [line for line in server.log_errors() if "was sent SIGKILL" not in line]
    assert not errors, "\n".join(errors)


def test_without_a_directory_serve_uses_a_private_one(
    tmp_path: Path, database_url: str, store: Store
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = server_env(tmp_path, database_url, f"metrics_token = {json.dumps(METRICS_TOKEN)}")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["TMPDIR"] = str(temp)
    with running_server(tmp_path, database_url, env) as server:
        [private] = [p for p in temp.iterdir() if p.name.startswith("b2bgateway-metrics-")]
        _seed_customer(server)
        _order(server, "tok_approved")
        for _ in range(4):
            samples = scrape(server)
            calls = {"processor": "sandbox", "hook": "create_charge", "result": "ok"}
            assert samples.get_value(f"{DURATION}_count", **calls) == 1
        assert any(private.glob("histogram_*.db"))
    assert not private.exists()
