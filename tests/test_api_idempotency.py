"""``Idempotency-Key`` on the POSTs that move money (docs/reference/http.md): required; same key and
same body is the first response again, byte for byte; same key and another body is a 422; same key
while the first request runs is a 409; keys belong to one merchant."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from b2bgateway import idempotency
from b2bgateway.money import Money
from b2bgateway.store.models import IdempotencyRecord, Payment, Refund
from b2bgateway.store.repository import CustomerData, upsert_customer

API_KEY = "sk_test_merchant_a"
OTHER_API_KEY = "sk_test_merchant_b"
CHECKOUTS = "/v1/checkouts"


def _limit(store, value: str) -> None:
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-1",
            CustomerData(
                name="Ferretería", active=True, currency="MXN", credit_limit=Money(value, "MXN")
            ),
        )


def new_key() -> str:
    return f"test-{uuid.uuid4().hex}"


def order_body(
    token: str = "tok_approved", amount: str = "1500.00", reference: str = "PED-77", **extra: Any
):
    return {
        "customer_id": "C-1",
        "purpose": "order",
        "order": {"reference": reference, "amount": amount, "currency": "MXN"},
        "payment_method": {"token": token},
        **extra,
    }


def invoices_body(ids=("F-1", "F-2"), token: str = "tok_approved", **extra: Any):
    return {
        "customer_id": "C-1",
        "purpose": "invoices",
        "invoice_ids": list(ids),
        "payment_method": {"token": token},
        **extra,
    }


def post(client, path: str, body: Any, key: str | None, api_key: str = API_KEY):
    headers = {"Authorization": f"Bearer {api_key}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return client.post(path, json=body, headers=headers)


def refunds_path(payment_id: str) -> str:
    return f"/v1/payments/{payment_id}/refunds"


def count(store, model) -> int:
    with store.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
def payment(client, data) -> dict[str, Any]:
    """A succeeded payment of F-1 and F-2 (2500.00 MXN), to refund."""
    response = post(client, CHECKOUTS, invoices_body(), new_key())
    assert response.status_code == 201
    return response.json


def assert_problem(response, status: int, code: str) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == code


def assert_replayed(first, again) -> None:
    """``again`` is ``first`` once more, byte for byte, marked as a replay."""
    assert again.status_code == first.status_code
    assert again.data == first.data
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers


def assert_not_replayed(response) -> None:
    assert "Idempotent-Replayed" not in response.headers


# -- the header is required ----------------------------------------------------------------------


@pytest.mark.parametrize("key", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_a_checkout_without_a_key_is_400(client, store, data, key):
    assert_problem(post(client, CHECKOUTS, order_body(), key), 400, "idempotency_key_required")
    assert count(store, Payment) == 0


@pytest.mark.parametrize("key", [None, "", "   "], ids=["missing", "empty", "blank"])
def test_a_refund_without_a_key_is_400(client, store, payment, key):
    response = post(client, refunds_path(payment["id"]), {}, key)
    assert_problem(response, 400, "idempotency_key_required")
    assert count(store, Refund) == 0


@pytest.mark.parametrize("length", [256, 1000])
def test_a_key_longer_than_255_is_400(client, store, data, length):
    response = post(client, CHECKOUTS, order_body(), "k" * length)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    assert count(store, Payment) == 0
    assert count(store, IdempotencyRecord) == 0


def test_a_key_of_255_is_accepted_and_replayed(client, store, data):
    key = "k" * 255
    first = post(client, CHECKOUTS, order_body(), key)
    assert first.status_code == 201
    assert_replayed(first, post(client, CHECKOUTS, order_body(), key))
    assert count(store, Payment) == 1


# -- same key, same body: the first response again -----------------------------------------------


@pytest.mark.parametrize("token", ["tok_approved", "tok_declined", "tok_3ds", "tok_timeout"])
@pytest.mark.parametrize("make_body", [order_body, invoices_body], ids=["order", "invoices"])
def test_the_same_checkout_is_answered_with_the_first_response(
    client, store, data, make_body, token
):
    key = new_key()
    first = post(client, CHECKOUTS, make_body(token=token), key)
    assert first.status_code == 201
    for _ in range(2):
        assert_replayed(first, post(client, CHECKOUTS, make_body(token=token), key))
    assert count(store, Payment) == 1
    listed = client.get("/v1/payments", headers={"Authorization": f"Bearer {API_KEY}"})
    assert [p["id"] for p in listed.json["data"]] == [first.json["id"]]


def test_the_same_body_written_differently_is_the_same_request(client, store, data):
    key = new_key()
    first = post(client, CHECKOUTS, order_body(), key)
    assert first.status_code == 201
    reordered = json.dumps(dict(reversed(list(order_body().items()))), indent=2)
    again = client.post(
        CHECKOUTS,
        data=reordered,
        content_type="application/json",
        headers={"Authorization": f"Bearer {API_KEY}", "Idempotency-Key": key},
    )
    assert_replayed(first, again)
    assert count(store, Payment) == 1


def test_a_replay_is_the_first_response_even_after_the_payment_changed(client, store, data):
    key = new_key()
    first = post(client, CHECKOUTS, invoices_body(), key)
    assert first.json["status"] == "succeeded"
    assert post(client, refunds_path(first.json["id"]), {}, new_key()).status_code == 201
    again = post(client, CHECKOUTS, invoices_body(), key)
    assert_replayed(first, again)
    assert again.json["status"] == "succeeded"  # what was answered then, not the refunded state


@pytest.mark.parametrize("body", [{}, {"amount": "10.00", "reason": "parcial"}])
def test_the_same_refund_is_answered_with_the_first_response(client, store, payment, body):
    key = new_key()
    first = post(client, refunds_path(payment["id"]), body, key)
    assert first.status_code == 201
    assert_replayed(first, post(client, refunds_path(payment["id"]), body, key))
    assert count(store, Refund) == 1
    refunded = client.get(
        f"/v1/payments/{payment['id']}", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    assert refunded.json["refunded_amount"] == first.json["amount"]


def test_a_checkout_is_two_write_transactions(client, store, data):
    """The key is claimed in the payment's transaction and answered in the one that records
    the processor's answer: no transaction of its own. Whether the client's address is refused
    (the API key's check) is read in the first, with the customer: nothing runs before it."""
    from sqlalchemy import event

    transactions: list[set[str]] = []

    def begin(connection: Any) -> None:
        transactions.append(set())

    def execute(connection: Any, cursor: Any, statement: str, *args: Any) -> None:
        if transactions:
            transactions[-1].add(statement.lstrip().split(None, 1)[0].upper())

    event.listen(store.engine, "begin", begin)
    event.listen(store.engine, "before_cursor_execute", execute)
    try:
        first = post(client, CHECKOUTS, order_body(), new_key())
    finally:
        event.remove(store.engine, "begin", begin)
        event.remove(store.engine, "before_cursor_execute", execute)
    assert first.status_code == 201
    writing = [t for t in transactions if t & {"INSERT", "UPDATE", "DELETE"}]
    assert len(writing) == 2
    assert len(transactions) == 2, transactions


# -- errors are answers too ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (order_body(amount="1000.00"), 422, "not_payable"),
        (invoices_body(expected_amount="2499.99"), 409, "amount_changed"),
    ],
    ids=["not-payable", "amount-changed"],
)
def test_a_decision_is_replayed_for_the_same_key(client, store, data, body, status, code):
    key = new_key()
    first = post(client, CHECKOUTS, body, key)
    assert_problem(first, status, code)
    assert_replayed(first, post(client, CHECKOUTS, body, key))
    assert count(store, Payment) == 0


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (invoices_body(["F-1", "F-404"]), 404, "not_found"),
        (order_body(amount=1500.0), 422, "validation_error"),
    ],
    ids=["not-found", "validation"],
)
def test_a_request_refused_as_written_does_not_burn_its_key(
    client, store, data, body, status, code
):
    """Issue 16 item 5: refused before anything was decided, it is not the key's answer: the
    same request again is answered afresh, and a corrected one may use the key."""
    key = new_key()
    first = post(client, CHECKOUTS, body, key)
    assert_problem(first, status, code)
    again = post(client, CHECKOUTS, body, key)
    assert_not_replayed(again)
    assert_problem(again, status, code)
    assert post(client, CHECKOUTS, invoices_body(), key).status_code == 201


def test_a_wrong_content_type_or_an_unsynced_customer_does_not_burn_the_key(client, store, data):
    key = new_key()
    raw = json.dumps(order_body(customer_id="C-NEW"))
    wrong = client.post(
        CHECKOUTS,
        data=raw,
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Idempotency-Key": key,
            "Content-Type": "text/plain",
        },
    )
    assert wrong.status_code == 415
    unknown = post(client, CHECKOUTS, order_body(customer_id="C-NEW"), key)
    assert_problem(unknown, 404, "not_found")
    with store.write() as session:  # the ERP syncs the customer a minute later
        upsert_customer(
            session,
            "acme",
            "C-NEW",
            CustomerData(
                name="Nuevo", active=True, currency="MXN", credit_limit=Money("0.00", "MXN")
            ),
        )
    assert post(client, CHECKOUTS, order_body(customer_id="C-NEW"), key).status_code == 201


def test_a_request_refused_as_written_after_its_key_was_answered_gets_that_answer(
    client, store, data
):
    """Refused before the core saw it (here a wrong Content-Type), the key is still looked up:
    the same request's stored answer is replayed, as it was when the key was claimed first."""
    key = new_key()
    first = post(client, CHECKOUTS, order_body(), key)
    assert first.status_code == 201
    again = client.post(
        CHECKOUTS,
        data=json.dumps(order_body()),
        headers={
            "Authorization": f"Bearer {API_KEY}",
            "Idempotency-Key": key,
            "Content-Type": "text/plain",
        },
    )
    assert_replayed(first, again)
    assert count(store, Payment) == 1


def test_a_not_payable_answer_stays_the_answer_for_its_key(client, store, data):
    _limit(store, "2000.00")  # 1500.00 is within the credit limit
    key = new_key()
    not_payable = post(client, CHECKOUTS, order_body(), key)
    assert_problem(not_payable, 422, "not_payable")
    _limit(store, "100.00")  # payable now, but the key already has its answer
    assert_replayed(not_payable, post(client, CHECKOUTS, order_body(), key))
    assert count(store, Payment) == 0
    assert post(client, CHECKOUTS, order_body(), new_key()).status_code == 201


def test_a_refund_refusal_is_replayed_for_the_same_key(client, store, payment):
    key = new_key()
    body = {"amount": "2500.01"}
    first = post(client, refunds_path(payment["id"]), body, key)
    assert_problem(first, 409, "refund_not_allowed")
    assert_replayed(first, post(client, refunds_path(payment["id"]), body, key))
    assert count(store, Refund) == 0


def test_an_unexpected_error_frees_the_key_for_a_retry(client, store, data, monkeypatch):
    """The claim is in the payment's transaction: a failure there rolls both back."""
    from b2bgateway import reservation

    real = reservation.what_to_charge
    calls = []

    def crash_once(*args: Any, **kwargs: Any):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(reservation, "what_to_charge", crash_once)
    key = new_key()
    assert post(client, CHECKOUTS, order_body(), key).status_code == 500
    assert count(store, IdempotencyRecord) == 0
    retry = post(client, CHECKOUTS, order_body(), key)
    assert retry.status_code == 201
    assert_not_replayed(retry)
    assert count(store, Payment) == 1


# -- same key, another request: 422 --------------------------------------------------------------


@pytest.mark.parametrize(
    "other",
    [
        order_body(token="tok_declined"),
        order_body(amount="1500.01"),
        order_body(return_url="https://portal.example/return"),
        invoices_body(),
        {"customer_id": "C-1"},
    ],
    ids=["other-token", "other-amount", "added-field", "other-purpose", "invalid-body"],
)
def test_the_same_key_with_another_checkout_is_422(client, store, data, other):
    key = new_key()
    first = post(client, CHECKOUTS, order_body(), key)
    assert first.status_code == 201
    assert_problem(post(client, CHECKOUTS, other, key), 422, "idempotency_key_reused")
    assert count(store, Payment) == 1
    assert_replayed(first, post(client, CHECKOUTS, order_body(), key))  # still the first answer


def test_a_checkouts_key_cannot_be_used_for_a_refund(client, store, payment):
    key = new_key()
    first = post(client, CHECKOUTS, order_body(), key)
    assert first.status_code == 201
    response = post(client, refunds_path(payment["id"]), {}, key)
    assert_problem(response, 422, "idempotency_key_reused")
    assert count(store, Refund) == 0


@pytest.mark.parametrize("other", [{"amount": "20.00"}, {}, {"amount": "10.00", "reason": "x"}])
def test_the_same_key_with_another_refund_is_422(client, store, payment, other):
    key = new_key()
    assert post(client, refunds_path(payment["id"]), {"amount": "10.00"}, key).status_code == 201
    response = post(client, refunds_path(payment["id"]), other, key)
    assert_problem(response, 422, "idempotency_key_reused")
    assert count(store, Refund) == 1


def test_the_same_key_for_a_refund_of_another_payment_is_422(client, store, payment):
    second = post(client, CHECKOUTS, order_body(), new_key()).json
    key = new_key()
    assert post(client, refunds_path(payment["id"]), {}, key).status_code == 201
    assert_problem(post(client, refunds_path(second["id"]), {}, key), 422, "idempotency_key_reused")
    assert count(store, Refund) == 1


# -- in flight, and abandoned claims -------------------------------------------------------------


def claim(store, key: str, path: str, body: Any) -> None:
    """What a first request with this key does before its work starts (and still runs)."""
    scope = f"POST {path}"
    assert (
        idempotency.begin(store, "acme", key, scope, idempotency.fingerprint(scope, body)) is None
    )


def test_a_checkout_while_the_first_is_running_is_409(client, store, data):
    key = new_key()
    claim(store, key, CHECKOUTS, order_body())
    response = post(client, CHECKOUTS, order_body(), key)
    assert_problem(response, 409, "idempotency_request_in_progress")
    assert count(store, Payment) == 0
    idempotency.release(store, "acme", key)  # the first request gave up: a retry may run
    assert post(client, CHECKOUTS, order_body(), key).status_code == 201


def test_a_refund_while_the_first_is_running_is_409(client, store, payment):
    key = new_key()
    claim(store, key, refunds_path(payment["id"]), {})
    response = post(client, refunds_path(payment["id"]), {}, key)
    assert_problem(response, 409, "idempotency_request_in_progress")
    assert count(store, Refund) == 0


def test_the_running_request_answers_the_retries_when_it_completes(client, store, data):
    key = new_key()
    claim(store, key, CHECKOUTS, order_body())
    assert post(client, CHECKOUTS, order_body(), key).status_code == 409
    idempotency.complete(store, "acme", key, 201, '{"id": "pay_first"}', "application/json")
    again = post(client, CHECKOUTS, order_body(), key)
    assert again.status_code == 201
    assert again.data == b'{"id": "pay_first"}'
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count(store, Payment) == 0


def _expire_by_lock_of_zero(store, monkeypatch) -> None:
    monkeypatch.setattr(idempotency, "LOCK", timedelta(0))


def _expire_by_moving_locked_until(store, monkeypatch) -> None:
    with store.write() as session:
        session.execute(
            update(IdempotencyRecord).values(locked_until=datetime.now(UTC) - timedelta(seconds=1))
        )


@pytest.mark.parametrize(
    "expire",
    [_expire_by_lock_of_zero, _expire_by_moving_locked_until],
    ids=["lock-of-zero", "locked-until-in-the-past"],
)
def test_an_abandoned_claim_is_taken_over_once_its_lock_expires(
    client, store, data, monkeypatch, expire
):
    key = new_key()
    if expire is _expire_by_lock_of_zero:
        expire(store, monkeypatch)
        claim(store, key, CHECKOUTS, order_body())
    else:
        claim(store, key, CHECKOUTS, order_body())
        expire(store, monkeypatch)
    first = post(client, CHECKOUTS, order_body(), key)
    assert first.status_code == 201
    assert_not_replayed(first)
    assert first.json["status"] == "succeeded"
    assert_replayed(first, post(client, CHECKOUTS, order_body(), key))
    assert count(store, Payment) == 1


def test_an_abandoned_claim_for_another_body_is_still_422(client, store, data, monkeypatch):
    monkeypatch.setattr(idempotency, "LOCK", timedelta(0))
    key = new_key()
    claim(store, key, CHECKOUTS, order_body(amount="2000.00"))
    assert_problem(post(client, CHECKOUTS, order_body(), key), 422, "idempotency_key_reused")


# -- keys are per merchant -----------------------------------------------------------------------


def test_keys_are_per_merchant(client, store, data):
    key = new_key()
    acme = post(client, CHECKOUTS, order_body(), key)
    assert acme.status_code == 201
    globex = post(client, CHECKOUTS, order_body(), key, api_key=OTHER_API_KEY)
    assert_not_replayed(globex)
    assert globex.status_code == 404  # globex has no customer C-1: its own answer, not acme's
    assert globex.data != acme.data
    assert_replayed(acme, post(client, CHECKOUTS, order_body(), key))
    # globex's 404 (no such customer) was not an answer to keep: asked again, answered again
    again = post(client, CHECKOUTS, order_body(), key, api_key=OTHER_API_KEY)
    assert_not_replayed(again)
    assert again.status_code == 404
    assert count(store, Payment) == 1


def test_another_merchants_key_does_not_block_or_conflict(client, store, data):
    key = new_key()
    globex = post(client, CHECKOUTS, {"customer_id": "C-9"}, key, api_key=OTHER_API_KEY)
    assert globex.status_code == 422
    acme = post(client, CHECKOUTS, order_body(), key)  # another body, same key: not a conflict
    assert acme.status_code == 201
    assert_not_replayed(acme)
    with store.read() as session:
        merchants = session.scalars(
            select(IdempotencyRecord.merchant_id).where(IdempotencyRecord.key == key)
        )
        assert sorted(merchants) == ["acme"]  # globex's refused request kept no claim


def test_another_merchants_claim_in_flight_does_not_block(client, store, data):
    key = new_key()
    scope = f"POST {CHECKOUTS}"
    assert (
        idempotency.begin(store, "globex", key, scope, idempotency.fingerprint(scope, order_body()))
        is None
    )
    assert post(client, CHECKOUTS, order_body(), key).status_code == 201
