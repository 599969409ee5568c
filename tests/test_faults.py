"""Faults between the processor's charge and our commit: nothing lost, nothing doubled.

1,000 checkouts of 1,000 invoices against a processor that, by token, times out after charging
(10 %), answers 500 after charging or without charging (5 %), and a few worker processes killed
with SIGKILL between the charge and the commit. After at most two reconciliation passes every
processor-side charge maps to exactly one succeeded payment, no invoice is paid twice, no payment
is left in processing, and nothing was charged that the gateway did not record.
"""

import json
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from b2bgateway import service
from b2bgateway.errors import NotPayable
from b2bgateway.money import Money
from b2bgateway.reconcile import reconcile
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.settings import Settings
from b2bgateway.store.models import Payment, PaymentAllocation, utcnow
from b2bgateway.store.repository import CustomerData, InvoiceData, upsert_customer, upsert_invoices
from tests.support.faulty_processor import gateway_with_faults

ROOT = Path(__file__).resolve().parents[1]
INVOICES = 1000
KILLED = 4


def faulty_settings(database_url, ledger):
    return Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": ["sk_faulty_merchant"],
                "processor": "faulty",
                "invoice_payments": True,
                "processors": {
                    "faulty": {"webhook_secret": "whsec_faulty_1", "ledger_path": str(ledger)}
                },
            }
        },
    )


def seed(store):
    today = utcnow().date()
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData(
                name="Cliente", active=True, currency="MXN", credit_limit=Money("0.00", "MXN")
            ),
        )
        upsert_invoices(
            session,
            "acme",
            [
                InvoiceData(
                    invoice_id=f"F-{n}",
                    customer_id="C-1",
                    folio=str(n),
                    document_type="factura",
                    source="ventas",
                    issued_on=today,
                    due_on=today,
                    total=Money("10.00", "MXN"),
                    balance=Money(f"{10 + n % 90}.{n % 100:02d}", "MXN"),
                )
                for n in range(INVOICES)
            ],
        )


def request(n, token, key=None):
    return service.CheckoutRequest(
        customer_id="C-1",
        purpose="invoices",
        idempotency_key=key or f"key-{n}",
        invoice_ids=[f"F-{n}"],
        token=token,
    )


KILLER = """
import sys
from b2bgateway import service
from b2bgateway.store import Store
from tests.support.faulty_processor import gateway_with_faults
from tests.test_faults import faulty_settings, request
url, ledger, start, stop = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
gw = gateway_with_faults(faulty_settings(url, ledger), Store(url))
for n in range(start, stop):
    service.checkout(gw, gw.merchants["acme"], request(n, "tok_approved"))
service.checkout(gw, gw.merchants["acme"], request(stop, "fault_kill"))
print("not killed")
"""


def test_no_charge_is_lost_or_doubled(store, database_url, tmp_path):
    ledger_path = tmp_path / "ledger.db"
    gw = gateway_with_faults(faulty_settings(database_url, ledger_path), store)
    merchant = gw.merchants["acme"]
    seed(store)
    rng = random.Random(2026)

    # Worker processes that die between the processor's charge and our commit.
    killed_at = []
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for k in range(KILLED):
        start, stop = 900 + k * 20, 900 + k * 20 + 10
        done = subprocess.run(
            [sys.executable, "-c", KILLER, database_url, str(ledger_path), str(start), str(stop)],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == -signal.SIGKILL, done.stderr
        killed_at.append(stop)

    # The rest in this process, with faults drawn at random.
    done_by_workers = {n for k in range(KILLED) for n in range(900 + k * 20, 900 + k * 20 + 11)}
    tokens = Counter()
    for n in range(INVOICES):
        if n in done_by_workers:
            continue
        roll = rng.random()
        token = (
            "fault_timeout"
            if roll < 0.10
            else "fault_5xx_charged"
            if roll < 0.125
            else "fault_5xx"
            if roll < 0.15
            else "tok_approved"
        )
        tokens[token] += 1
        payment = service.checkout(gw, merchant, request(n, token))
        if rng.random() < 0.05:  # a double click: the same key again
            assert service.checkout(gw, merchant, request(n, token)).id == payment.id
    assert tokens["fault_timeout"] > 50 and tokens["fault_5xx"] > 10

    # A portal retrying an invoice whose payment is still processing cannot pay it twice.
    with store.read() as session:
        stuck = session.scalars(select(Payment).where(Payment.status == "processing")).all()
    assert len(stuck) >= tokens["fault_timeout"] + KILLED
    for payment in stuck[:20]:
        invoice = payment.allocations[0].invoice_id
        with pytest.raises(NotPayable):
            service.checkout(
                gw, merchant, request(int(invoice[2:]), "tok_approved", "retry-" + invoice)
            )

    later = utcnow() + timedelta(minutes=10)
    first = reconcile(gw, now=later, limit=10_000)
    second = reconcile(gw, now=later + timedelta(minutes=10), limit=10_000)
    assert first.errors == 0 and second.errors == 0

    ledger = open_ledger(merchant.processor_settings)
    with store.read() as session:
        payments = {p.id: p for p in session.scalars(select(Payment))}
        statuses = Counter(p.status for p in payments.values())
        assert statuses["processing"] == 0, statuses
        # every processor-side charge maps to exactly one succeeded payment
        charged = {}
        for payment in payments.values():
            charge = ledger.find_charge("acme", payment.id)
            if charge is not None and charge.status == "succeeded":
                charged[payment.id] = charge
        succeeded = {pid for pid, p in payments.items() if p.status == "succeeded"}
        assert set(charged) == succeeded
        # nothing charged that we did not record: the ledger's payment ids are all ours
        assert {c.payment_id for c in charged.values()} <= set(payments)
        # no invoice paid twice
        paid = Counter(
            a.invoice_id
            for a in session.scalars(select(PaymentAllocation))
            if payments[a.payment_id].status == "succeeded"
        )
        assert paid and max(paid.values()) == 1
        assert session.scalar(select(func.count()).select_from(Payment)) == INVOICES
    # the 5xx-without-charge payments failed and freed their invoices
    assert statuses["failed"] == tokens["fault_5xx"]
    print(json.dumps({"statuses": statuses, "tokens": tokens, "killed": killed_at}))
