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
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from b2bgateway import service
from b2bgateway.errors import NotPayable
from b2bgateway.money import Money
from b2bgateway.reconcile import reconcile
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.settings import Settings
from b2bgateway.store.models import IdempotencyRecord, Payment, PaymentAllocation, utcnow
from b2bgateway.store.repository import CustomerData, InvoiceData, upsert_customer, upsert_invoices
from tests.support.faulty_processor import KILL_AFTER_PENDING, gateway_with_faults

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


KILL_PENDING = """
import sys
from dataclasses import replace
from b2bgateway import service
from b2bgateway.store import Store
from tests.support.faulty_processor import KILL_AFTER_PENDING, gateway_with_faults
from tests.test_faults import faulty_settings, request
url, ledger, n, method = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
settings = faulty_settings(url, ledger)
acme = settings.merchants["acme"].model_copy(update={"payment_methods": [method, "card"]})
settings = settings.model_copy(update={"merchants": {"acme": acme}})
gw = gateway_with_faults(settings, Store(url))
service.checkout(gw, gw.merchants["acme"], replace(request(n, None), payment_method=method))
print("not killed")
"""

KILLER = """
import sys
from b2bgateway import service
from b2bgateway.store import Store
from tests.support.faulty_processor import KILL_AFTER_PENDING, gateway_with_faults
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


# -- transfers and vouchers in the mix -----------------------------------------------------------

MIXED = 300


def test_transfers_and_vouchers_in_the_mix_lose_nothing(store, database_url, tmp_path):
    """Cards (some answers lost), SPEI transfers and OXXO vouchers on one merchant. Customers pay
    some transfers and vouchers days later, some only in part, some never; no webhook reaches
    the gateway (the worst case): reconciliation alone must settle every one. Then the
    unpaid ones expire. Every charge the processor completed is exactly one succeeded payment,
    no invoice is paid twice, nothing is left processing, and a transfer paid short is never
    taken as paid."""
    ledger_path = tmp_path / "ledger.db"
    settings = faulty_settings(database_url, ledger_path)
    acme = settings.merchants["acme"].model_copy(
        update={"payment_methods": ["card", "bank_transfer", "cash"]}
    )
    settings = settings.model_copy(update={"merchants": {"acme": acme}})
    gw = gateway_with_faults(settings, store)
    merchant = gw.merchants["acme"]
    seed(store)
    rng = random.Random(1414)
    # Two processes die after the processor made a transfer and a voucher, before recording them.
    env = {**os.environ, "PYTHONPATH": str(ROOT), KILL_AFTER_PENDING: "1"}
    killed = []
    for n, method in ((MIXED, "bank_transfer"), (MIXED + 1, "cash")):
        done = subprocess.run(
            [sys.executable, "-c", KILL_PENDING, database_url, str(ledger_path), str(n), method],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == -signal.SIGKILL, done.stderr
        killed.append(n)
    with store.read() as session:
        lost = session.scalars(select(Payment).where(Payment.status == "processing")).all()
        assert {p.payment_method for p in lost} == {"bank_transfer", "cash"}
    methods = Counter()
    for n in range(MIXED):
        roll = rng.random()
        method, token = (
            ("card", "tok_approved")
            if roll < 0.2
            else ("card", "fault_timeout")
            if roll < 0.3
            else ("bank_transfer", None)
            if roll < 0.65
            else ("cash", None)
        )
        methods[method, token] += 1
        req = request(n, token)
        payment = service.checkout(gw, merchant, replace(req, payment_method=method))
        if method != "card":
            assert payment.status == "requires_action", payment.status
            assert payment.next_action["type"].startswith("display_")
    assert min(methods.values()) > 20, methods

    ledger = open_ledger(merchant.processor_settings)
    # Reconciliation finds the killed ones' instructions at the processor (the customer could
    # not see them, so they will expire unpaid).
    found = reconcile(gw, now=utcnow() + timedelta(minutes=10), limit=10_000)
    assert found.errors == 0
    with store.read() as session:
        for payment in session.scalars(select(Payment).where(Payment.status == "processing")):
            raise AssertionError(f"{payment.id} still processing")
        waiting = session.scalars(
            select(Payment).where(Payment.status == "requires_action").order_by(Payment.id)
        ).all()
    short, paid = set(), set()
    for payment in waiting:
        if payment.allocations[0].invoice_id in {f"F-{n}" for n in killed}:
            continue  # its customer never saw the instructions
        roll = rng.random()
        if roll < 0.5:  # paid in full, days later
            ledger.pay("acme", payment.id)
            paid.add(payment.id)
        elif roll < 0.65 and payment.payment_method == "bank_transfer":  # paid short
            ledger.pay("acme", payment.id, Money("1.00", "MXN"))
            short.add(payment.id)
    assert len(paid) > 50 and len(short) > 5

    later = utcnow() + timedelta(days=1)
    first = reconcile(gw, now=later, limit=10_000)
    assert first.errors == 0
    with store.read() as session:
        for payment_id in paid:
            assert session.get(Payment, payment_id).status == "succeeded"
        for payment_id in short:
            held = session.get(Payment, payment_id)
            assert held.status == "requires_action"  # never taken as paid
            assert held.received_minor == 100
    # Four days on, what was not paid in full expires (canceled at the processor first).
    expired = reconcile(gw, now=later + timedelta(days=4), limit=10_000)
    assert expired.errors == 0
    assert expired.expired == len(waiting) - len(paid)

    with store.read() as session:
        payments = {p.id: p for p in session.scalars(select(Payment))}
        statuses = Counter(p.status for p in payments.values())
        assert statuses["processing"] == statuses["requires_action"] == 0, statuses
        charged = set()
        for payment in payments.values():
            charge = ledger.find_charge("acme", payment.id)
            if charge is not None and charge.status == "succeeded":
                charged.add(payment.id)
        assert charged == {pid for pid, p in payments.items() if p.status == "succeeded"}
        paid_invoices = Counter(
            a.invoice_id
            for a in session.scalars(select(PaymentAllocation))
            if payments[a.payment_id].status == "succeeded"
        )
        assert max(paid_invoices.values()) == 1
        forms = {
            p.payment_method: p.method_details["forma_pago"]
            for p in payments.values()
            if p.status == "succeeded" and p.payment_method != "card"
        }
        assert forms == {"bank_transfer": "03", "cash": "01"}
    print(json.dumps({"statuses": statuses, "methods": {f"{k}": v for k, v in methods.items()}}))


KILL_KEYED = """
import sys
from dataclasses import replace
from b2bgateway import idempotency, service
from b2bgateway.store import Store
from tests.support.faulty_processor import gateway_with_faults
from tests.test_faults import faulty_settings, request
url, ledger = sys.argv[1], sys.argv[2]
gw = gateway_with_faults(faulty_settings(url, ledger), Store(url))
claim = idempotency.Claim("acme", "key-7", "POST /v1/checkouts", "digest-7")
service.checkout_with_key(gw, gw.merchants["acme"], replace(request(7, "fault_kill"), claim=claim))
print("not killed")
"""


def test_a_crash_between_the_two_transactions_leaves_a_key_that_replays(
    store, database_url, tmp_path
):
    """The claim is committed with the payment and the response with the processor's answer:
    a worker killed between the two leaves a processing payment, which reconciliation settles,
    and a claim that answers 409 until its lock ends, then that payment, then its replay."""
    from b2bgateway import idempotency
    from b2bgateway.errors import IdempotencyInProgress

    ledger_path = tmp_path / "ledger.db"
    gw = gateway_with_faults(faulty_settings(database_url, ledger_path), store)
    merchant = gw.merchants["acme"]
    seed(store)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", KILL_KEYED, database_url, str(ledger_path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    claim = idempotency.Claim("acme", "key-7", "POST /v1/checkouts", "digest-7")
    keyed = replace(request(7, "fault_kill"), claim=claim)
    with pytest.raises(IdempotencyInProgress):
        service.checkout_with_key(gw, merchant, keyed)
    with store.read() as session:
        (payment,) = session.scalars(select(Payment)).all()
        assert payment.status == "processing"
    assert reconcile(gw, now=utcnow() + timedelta(minutes=10), limit=100).errors == 0

    with store.write() as session:  # the claim's lock ends (five minutes later)
        session.execute(
            update(IdempotencyRecord).values(locked_until=utcnow() - timedelta(seconds=1))
        )
    taken_over = service.checkout_with_key(gw, merchant, keyed)
    assert not taken_over.replayed
    body = json.loads(taken_over.response.body)
    assert (body["id"], body["status"]) == (payment.id, "succeeded")
    again = service.checkout_with_key(gw, merchant, keyed)
    assert again.replayed and again.response == taken_over.response
    with store.read() as session:
        assert session.scalar(select(func.count()).select_from(Payment)) == 1
