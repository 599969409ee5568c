"""The other ways a payment is made, through the checkout's harness (``bench/checkout.py``).

Against a real ``b2bgateway serve`` (gunicorn, 2 gthread workers x 64 threads), the sandbox at
0 ms, one merchant offering ``card``, ``bank_transfer`` and ``cash``:

- ``card``: ``POST /v1/checkouts`` with ``tok_approved`` (the reference: the same run's card);
- ``bank_transfer``: ``POST /v1/checkouts`` with ``{"type": "bank_transfer"}``: the sandbox
  issues a CLABE and a reference, the payment waits (``requires_action``,
  ``display_bank_transfer_instructions``);
- ``cash``: the same with ``{"type": "cash"}``: a voucher (``display_cash_voucher``);
- ``manual``: ``POST /v1/manual-payments`` (money received outside the gateway: ``transfer``,
  ``succeeded`` at once, no processor call).

Each flow: one request checked for what it must answer (status, ``next_action``), then p50/p99
at concurrency 1 and requests/s at concurrency 16, every answer a 201 (else counted as an
error); the concurrency-16 rate is divided by a bare Flask JSON endpoint's under the same
gunicorn settings in the same run (the checkout's ratio). Orders (a new reference each time), so
no invoice runs out. On SQLite and PostgreSQL (when reachable). Prints the figures and writes
``bench/results/flows.json``.

    python bench/flows.py [--postgres URL] [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import sys
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from checkout import KEY, bare_flask_c16, free_port, gateway_server, load, order, seed
from common import POSTGRES, fresh_schema, machine, on_both_databases, with_schema
from sqlalchemy import text

from b2bgateway.store import Store, upgrade

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "flows.json"
TARGETS = {  # the checkout's (issue 22), applied to every way of paying
    "p50_ms_c1": 3,
    "p99_ms_c1": 15,
    "throughput_ratio_c16": 0.25,
    "errors": 0,
}
RECEIVED_ON = datetime.now(UTC).date().isoformat()


def checkout_body(method: str) -> Callable[[int], dict[str, Any]]:
    def body(n: int) -> dict[str, Any]:
        payload = order(n)
        payload["order"]["reference"] = f"{method}-{n}"
        if method != "card":
            payload["payment_method"] = {"type": method}
        return payload

    return body


def manual_body(n: int) -> dict[str, Any]:
    return {
        "customer_id": "C-1",
        "purpose": "order",
        "order": {"reference": f"manual-{n}", "amount": "1500.00", "currency": "MXN"},
        "method": "transfer",
        "reference": f"SPEI {n:07d}",
        "received_on": RECEIVED_ON,
    }


# name: (path, request body for request n, status and next_action.type a 201 must carry)
FLOWS: dict[str, tuple[str, Callable[[int], dict[str, Any]], str, str | None]] = {
    "card": ("/v1/checkouts", checkout_body("card"), "succeeded", None),
    "bank_transfer": (
        "/v1/checkouts",
        checkout_body("bank_transfer"),
        "requires_action",
        "display_bank_transfer_instructions",
    ),
    "cash": ("/v1/checkouts", checkout_body("cash"), "requires_action", "display_cash_voucher"),
    "manual": ("/v1/manual-payments", manual_body, "succeeded", None),
}


def probe(port: int, name: str) -> dict[str, Any]:
    """One request of the flow, its answer checked: the bench measures what it claims to."""
    path, body_for, status, action = FLOWS[name]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(
        "POST",
        path,
        body=json.dumps(body_for(9 * 10**8)),
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {KEY}",
            "Idempotency-Key": f"probe-{name}",
        },
    )
    response = conn.getresponse()
    payment = json.loads(response.read())
    conn.close()
    next_action = (payment.get("next_action") or {}).get("type")
    if response.status != 201 or payment.get("status") != status or next_action != action:
        raise RuntimeError(f"{name}: {response.status} {json.dumps(payment)[:500]}")
    shown = payment.get("next_action") or {}
    return {
        "status": payment["status"],
        "processor": payment["processor"],
        "next_action": next_action,
        # what the customer is given (CLABE, voucher reference), to show it was issued
        "issued": sorted(k for k, v in shown.items() if v and k != "type"),
    }


def measure(port: int, name: str, base: int, scale: int) -> dict[str, Any]:
    """One flow: its answer checked, then concurrency 1 and 16 (request numbers from ``base``)."""
    path, body_for, _, _ = FLOWS[name]
    flow: dict[str, Any] = {"path": path, "answer": probe(port, name)}
    # warm: both gunicorn workers past this flow's first requests
    load(port, path, lambda n: body_for(base + 10**6 + n), 16, 64, f"w-{name}")
    flow["c1"] = load(port, path, lambda n: body_for(base + n), 1, 1000 // scale, f"1-{name}")
    flow["c16"] = load(
        port, path, lambda n: body_for(base + 2 * 10**6 + n), 16, 3000 // scale, f"16-{name}"
    )
    return flow


def outcomes(url: str) -> list[dict[str, Any]]:
    """How the payments the run made ended, by method: a 201 can carry a failed payment (the
    sandbox's ledger busy: ``processor_unavailable``), which the HTTP status alone would hide."""
    store = Store(url)
    try:
        with store.read() as session:
            rows = session.execute(
                text(
                    "SELECT payment_method, status, failure_code, count(*) FROM payments "
                    "GROUP BY payment_method, status, failure_code "
                    "ORDER BY payment_method, status"
                )
            ).all()
    finally:
        store.dispose()
    return [
        {"method": method, "status": status, "failure_code": code, "payments": n}
        for method, status, code, n in rows
    ]


def run(url: str, quick: bool) -> dict[str, Any]:
    fresh_schema(url)
    store = Store(url)
    upgrade(store)
    store.dispose()
    figures: dict[str, Any] = {"database": url.split(":")[0].split("+")[0], "flows": {}}
    scale = 4 if quick else 1
    merchant = {"payment_methods": ["card", "bank_transfer", "cash"]}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        port = free_port()
        server = gateway_server(url, tmp, 0, port, merchant=merchant)
        try:
            seed(port)
            for offset, name in enumerate(FLOWS):
                figures["flows"][name] = measure(port, name, (offset + 1) * 10**7, scale)
                show(figures["database"], name, figures["flows"][name])
        finally:
            server.stop()
        figures["bare_flask_c16"] = bare_flask_c16(tmp, scale)
    figures["outcomes"] = outcomes(url)
    bare_rate = figures["bare_flask_c16"]["per_second"]
    for flow in figures["flows"].values():
        flow["throughput_ratio_c16"] = round(flow["c16"]["per_second"] / bare_rate, 3)
    return figures


def show(database: str, name: str, flow: dict[str, Any]) -> None:
    c1, c16 = flow["c1"], flow["c16"]
    print(
        f"{database:10} {name:14} c1 p50 {c1['p50_ms']:>7} ms p99 {c1['p99_ms']:>7} ms  "
        f"c16 {c16['per_second']:>7} /s  errors {c1['errors'] + c16['errors']}  "
        f"({flow['answer']['status']}, {flow['answer']['next_action']})",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        default=with_schema(POSTGRES, "b2bgateway_bench_flows"),
        help="PostgreSQL URL ('' to skip)",
    )
    parser.add_argument("--quick", action="store_true", help="a quarter of the requests")
    args = parser.parse_args()
    results: dict[str, Any] = {"machine": machine(), "quick": args.quick, "targets": TARGETS}
    results["runs"] = on_both_databases(lambda url: run(url, args.quick), args.postgres)
    for figures in results["runs"]:
        print(f"\n{figures['database']}: bare Flask {figures['bare_flask_c16']['per_second']} /s")
        for name, flow in figures["flows"].items():
            print(f"  {name:14} checkouts/s / bare Flask req/s {flow['throughput_ratio_c16']}")
        for row in figures["outcomes"]:
            print(f"  payments {row}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwritten to {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
