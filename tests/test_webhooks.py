"""The inbound webhook pipeline, through HTTP, with the sandbox processor's signed events."""

import json
import random
import threading
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, text

from b2bgateway import service, webhooks
from b2bgateway.money import Money
from b2bgateway.sandbox.ledger import open_ledger
from b2bgateway.signing import sign
from b2bgateway.store.models import OutboxMessage, Payment, Refund
from b2bgateway.store.models import WebhookEvent as EventRow
from b2bgateway.store.repository import CustomerData, upsert_customer
from tests.conftest import WEBHOOK_SECRET
from tests.support.settings import acme_settings

SECRET = SecretStr(WEBHOOK_SECRET)
HEADER = "B2BGateway-Sandbox-Signature"
URL = "/v1/webhooks/acme/sandbox"


@pytest.fixture
def settings(database_url, tmp_path):
    """acme, with outbound notifications on (so the outbox can be counted)."""
    return acme_settings(
        database_url, tmp_path, others={"globex": {"api_keys": ["sk_test_merchant_b"]}}
    )


@pytest.fixture
def customer(store):
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData(
                name="Cliente", active=True, currency="MXN", credit_limit=Money("0.00", "MXN")
            ),
        )


def checkout(gateway, acme, key, token="tok_3ds", amount="100.00"):
    return service.checkout(
        gateway,
        acme,
        service.CheckoutRequest(
            customer_id="C-1",
            purpose="order",
            idempotency_key=key,
            order_reference=f"PED-{key}",
            order_amount=Money(amount, "MXN"),
            token=token,
        ),
    )


def event_body(
    payment,
    event_type,
    status,
    *,
    event_id=None,
    amount=None,
    refunded="0.00",
    refund=None,
    failure=None,
):
    return json.dumps(
        {
            "id": event_id or f"sbx_evt_{random.getrandbits(64):016x}",
            "type": event_type,
            "created": datetime.now(UTC).isoformat(),
            "data": {
                "charge": payment.processor_reference or "sbx_ch_x",
                "payment_id": payment.id,
                "status": status,
                "amount": amount or str(payment.amount.amount),
                "currency": "MXN",
                "refunded": refunded,
                "failure_code": failure,
                "refund": refund,
            },
        }
    ).encode()


def post(client, body, *, secret=SECRET, timestamp=None, header=HEADER, url=URL):
    headers = {"Content-Type": "application/json"}
    if header:
        headers[header] = sign(secret, body, timestamp=timestamp)
    return client.post(url, data=body, headers=headers)


def status_of(store, payment_id):
    with store.read() as session:
        return session.get(Payment, payment_id).status


def count(store, model, *where):
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_a_real_sandbox_webhook_settles_a_3ds_payment(client, gateway, acme, customer, store):
    payment = checkout(gateway, acme, "k1")
    assert payment.status == "requires_action"
    charge_id = payment.processor_reference
    ledger = open_ledger(acme.processor_settings)
    ledger.complete_charge("acme", charge_id, "approve")
    sent = []
    from b2bgateway.sandbox.delivery import deliver_pending

    deliver_pending(
        acme.processor_settings,
        "acme",
        send=lambda url, body, headers: sent.append((url, body, headers)),
    )
    [(url, body, headers)] = sent
    assert url == "http://127.0.0.1:8000/v1/webhooks/acme/sandbox"
    response = client.post(URL, data=body, headers=dict(headers))
    assert response.status_code == 200
    assert response.json["outcome"] == "applied"
    assert status_of(store, payment.id) == "succeeded"


@pytest.mark.parametrize("tamper", ["body", "secret", "missing", "stale", "future", "garbage"])
def test_unauthentic_notifications_are_400_and_change_nothing(
    client, gateway, acme, customer, store, tamper
):
    payment = checkout(gateway, acme, "k1")
    body = event_body(payment, "charge.succeeded", "succeeded")
    kwargs = {}
    if tamper == "secret":
        kwargs["secret"] = SecretStr("whsec_wrong_secret")
    elif tamper == "missing":
        kwargs["header"] = None
    elif tamper == "stale":
        kwargs["timestamp"] = int(datetime.now(UTC).timestamp()) - 301
    elif tamper == "future":
        kwargs["timestamp"] = int(datetime.now(UTC).timestamp()) + 3600
    if tamper == "garbage":
        response = client.post(URL, data=body, headers={HEADER: "t=1,v1=zz"})
    else:
        signed_for = body
        if tamper == "body":
            response = client.post(
                URL,
                data=body.replace(b"100.00", b"1.00"),
                headers={HEADER: sign(SECRET, signed_for)},
            )
        else:
            response = post(client, body, **kwargs)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "webhook_signature_invalid"
    assert status_of(store, payment.id) == "requires_action"
    assert count(store, EventRow) == 0


def test_unknown_endpoints_are_404(client):
    assert post(client, b"{}", url="/v1/webhooks/nobody/sandbox").status_code == 404
    assert post(client, b"{}", url="/v1/webhooks/acme/nope").status_code == 404
    assert post(client, b"{}", url="/v1/webhooks/acme/stripe").status_code == 404
    assert post(client, b"{}", url="/v1/webhooks/globex/sandbox").status_code == 404


def test_the_same_event_ten_times_is_applied_once(client, gateway, acme, customer, store):
    payment = checkout(gateway, acme, "k1")
    body = event_body(payment, "charge.succeeded", "succeeded", event_id="sbx_evt_same")
    outcomes = [post(client, body).json["outcome"] for _ in range(10)]
    assert outcomes == ["applied"] + ["duplicate"] * 9
    assert status_of(store, payment.id) == "succeeded"
    assert count(store, EventRow) == 1
    assert count(store, OutboxMessage, OutboxMessage.event_type == "payment.succeeded") == 1


def test_the_same_event_delivered_at_once_is_applied_once(gateway, acme, customer, store):
    """Concurrent deliveries of one event: the unique constraint lets one through (on
    PostgreSQL the others wait for it to commit), every other is a duplicate."""
    payment = checkout(gateway, acme, "k1")
    body = event_body(payment, "charge.succeeded", "succeeded", event_id="sbx_evt_same")
    headers = {HEADER: sign(SECRET, body)}
    barrier = threading.Barrier(8)
    outcomes = []

    def deliver():
        barrier.wait()
        outcomes.append(webhooks.receive(gateway, "acme", "sandbox", body, headers, {}).outcome)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 7
    assert status_of(store, payment.id) == "succeeded"
    assert count(store, EventRow) == 1
    assert count(store, OutboxMessage, OutboxMessage.event_type == "payment.succeeded") == 1


def test_a_late_failure_after_success_is_recorded_and_ignored(
    client, gateway, acme, customer, store
):
    payment = checkout(gateway, acme, "k1")
    assert (
        post(client, event_body(payment, "charge.succeeded", "succeeded")).json["outcome"]
        == "applied"
    )
    late = post(client, event_body(payment, "charge.failed", "failed", failure="card_declined"))
    assert late.status_code == 200
    assert late.json["outcome"] == "refused"
    assert status_of(store, payment.id) == "succeeded"


def test_an_amount_mismatch_is_recorded_never_applied(
    client, gateway, acme, customer, store, caplog
):
    payment = checkout(gateway, acme, "k1")
    response = post(client, event_body(payment, "charge.succeeded", "succeeded", amount="1.00"))
    assert response.json["outcome"] == "mismatch"
    assert status_of(store, payment.id) == "requires_action"
    assert "ALERT" in caplog.text
    with store.read() as session:
        assert session.scalar(select(EventRow.outcome)) == "mismatch"


def test_an_event_for_an_unknown_payment_is_acknowledged(client, gateway, acme, customer):
    payment = checkout(gateway, acme, "k1")
    body = (
        event_body(payment, "charge.succeeded", "succeeded")
        .replace(payment.id.encode(), b"pay_000000000000000000000000")
        .replace((payment.processor_reference or "").encode(), b"sbx_ch_unknown")
    )
    assert post(client, body).json["outcome"] == "unknown_payment"


def test_refund_events_record_refunds_made_at_the_processor(client, gateway, acme, customer, store):
    payment = checkout(gateway, acme, "k1", token="tok_approved")
    refund = {"id": "sbx_re_dash1", "refund_id": "re_dashboard", "amount": "40.00"}
    response = post(
        client,
        event_body(payment, "refund.succeeded", "succeeded", refunded="40.00", refund=refund),
    )
    assert response.json["outcome"] == "applied", response.json
    assert status_of(store, payment.id) == "partially_refunded"
    with store.read() as session:
        recorded = session.scalars(select(Refund)).one()
        assert recorded.amount == Money("40.00", "MXN")
        assert recorded.processor_reference == "sbx_re_dash1"


def _final_state(store):
    with store.read() as session:
        payments = {p.id: (p.status, p.refunded_minor) for p in session.scalars(select(Payment))}
        outbound = session.scalar(select(func.count()).select_from(OutboxMessage))
    return payments, outbound


def _corpus(payments, start=0, late_failure=True):
    """For each payment: success, a partial refund, the rest refunded, plus noise (a late
    failure, a duplicate delivery). 1,000 events in all for 100 payments."""
    events = []
    for n, payment in enumerate(payments, start):
        total = payment.amount
        part = Money("30.00", "MXN")
        rest = total - part
        bodies = [
            event_body(payment, "charge.succeeded", "succeeded", event_id=f"e{n}-ok"),
            event_body(
                payment, "charge.failed", "failed", event_id=f"e{n}-late", failure="card_declined"
            ),
            event_body(
                payment,
                "refund.succeeded",
                "succeeded",
                event_id=f"e{n}-r1",
                refunded="30.00",
                refund={"id": f"sbx_re_{n}a", "refund_id": f"ext{n}a", "amount": str(part.amount)},
            ),
            event_body(
                payment,
                "refund.succeeded",
                "succeeded",
                event_id=f"e{n}-r2",
                refunded=str(total.amount),
                refund={"id": f"sbx_re_{n}b", "refund_id": f"ext{n}b", "amount": str(rest.amount)},
            ),
        ]
        if not late_failure:
            bodies[1] = bodies[0]  # a third delivery of the success instead
        events.extend(bodies * 2 + bodies[:2])  # every event twice, some three times
    return events


def test_a_shuffled_corpus_ends_like_an_in_order_pass(
    client, gateway, acme, customer, store, settings, plugins, migrated_store
):
    """Success must come first for refunds to apply, as a processor guarantees per object; across
    payments and with duplicates and late failures mixed in, any order gives the same result."""
    payments = [checkout(gateway, acme, f"k{n}", amount="100.00") for n in range(100)]
    corpus = _corpus(payments)
    assert len(corpus) == 1000
    for body in corpus:
        assert post(client, body).status_code == 200
    in_order = _final_state(store)

    # Again from scratch, interleaving payments randomly but keeping each one's order.
    with store.write() as session:
        for table in ("webhook_events", "outbox", "refunds", "payment_allocations", "payments"):
            session.execute(text(f"DELETE FROM {table}"))
    payments = [checkout(gateway, acme, f"k{n}", amount="100.00") for n in range(100)]
    per_payment = [_corpus([p], n) for n, p in enumerate(payments)]
    rng = random.Random(7)
    shuffled = []
    while any(per_payment):
        queue = rng.choice([q for q in per_payment if q])
        shuffled.append(queue.pop(0))
    for body in shuffled:
        assert post(client, body).status_code == 200
    again = _final_state(store)
    assert sorted(again[0].values()) == sorted(in_order[0].values())
    assert again[1] == in_order[1]
    assert all(status == "refunded" for status, _ in again[0].values())


def test_the_shuffle_without_order_keeps_totals(client, gateway, acme, customer, store):
    """Fully shuffled (a refund may arrive before the success): a refund that comes too early is
    refused with a 409 and not recorded, so the processor's next delivery applies it; nothing is
    lost or doubled. (A processor never reports a terminal failure and a success for one charge,
    so this corpus has no contradictory events.)"""
    payments = [checkout(gateway, acme, f"k{n}", amount="100.00") for n in range(20)]
    corpus = _corpus(payments, late_failure=False)
    random.Random(3).shuffle(corpus)
    answers = [post(client, body) for body in corpus]
    assert {a.status_code for a in answers} <= {200, 409}
    early = [a for a in answers if a.status_code == 409]
    assert all(a.json["code"] == "event_out_of_order" for a in early)
    # The processor delivers again what was refused; in order this time.
    for body in corpus:
        assert post(client, body).status_code == 200
    with store.read() as session:
        for payment in session.scalars(select(Payment)):
            assert payment.refunded_minor == payment.amount_minor
            assert payment.status == "refunded"
        assert session.scalar(select(func.count()).select_from(EventRow)) == 20 * 3
        assert session.scalar(select(func.count()).select_from(Refund)) == 20 * 2


def test_a_webhook_speaks_only_for_its_own_processor(client, gateway, acme, customer, store):
    """A payment taken by another processor cannot be settled by a sandbox-signed event."""
    payment = checkout(gateway, acme, "k1")
    with store.write() as session:
        session.get(Payment, payment.id).processor = "stripe"
    response = post(client, event_body(payment, "charge.succeeded", "succeeded"))
    assert response.json["outcome"] == "unknown_payment"
    assert status_of(store, payment.id) == "requires_action"


@pytest.mark.parametrize("amount", ["9" * 27, "9" * 30 + ".00"])
def test_an_authentic_event_with_an_absurd_amount_is_refused_as_malformed_not_a_5xx(
    client, gateway, acme, customer, store, amount
):
    """A processor retries a 5xx for ever; an amount no Decimal holds is a 400 it can drop."""
    payment = checkout(gateway, acme, "k1")
    response = post(client, event_body(payment, "charge.succeeded", "succeeded", amount=amount))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["code"] == "webhook_malformed"
    assert status_of(store, payment.id) == "requires_action"
