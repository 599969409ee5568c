"""POST /v1/payments/{id}/refunds over HTTP: full, partial, never more than what is left."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

API_KEY = "sk_test_merchant_a"
OTHER_API_KEY = "sk_test_merchant_b"

REFUND_FIELDS = {
    "id",
    "payment_id",
    "amount",
    "currency",
    "status",
    "reason",
    "processor_reference",
    "failure",
    "created_at",
    "updated_at",
}


def headers(key: str | None = None, api_key: str = API_KEY) -> dict[str, str]:
    result = {"Authorization": f"Bearer {api_key}"}
    if key is not None:
        result["Idempotency-Key"] = key
    return result


def new_key() -> str:
    return f"test-{uuid.uuid4().hex}"


def pay_invoices(client, token: str | None = "tok_approved") -> dict[str, Any]:
    """A 201 checkout of F-1 and F-2 (2500.00 MXN); the payment JSON."""
    body: dict[str, Any] = {
        "customer_id": "C-1",
        "purpose": "invoices",
        "invoice_ids": ["F-1", "F-2"],
    }
    if token is not None:
        body["payment_method"] = {"token": token}
    response = client.post("/v1/checkouts", json=body, headers=headers(new_key()))
    assert response.status_code == 201, response.json
    return response.json


@pytest.fixture
def payment(client, data) -> dict[str, Any]:
    payment = pay_invoices(client)
    assert payment["status"] == "succeeded"
    return payment


def refund(client, payment_id: str, body: dict[str, Any] | None = None, key: str | None = None):
    return client.post(
        f"/v1/payments/{payment_id}/refunds", json=body or {}, headers=headers(key or new_key())
    )


def get_payment(client, payment_id: str) -> dict[str, Any]:
    response = client.get(f"/v1/payments/{payment_id}", headers=headers())
    assert response.status_code == 200
    return response.json


def invoices_payability(client, ids: tuple[str, ...] = ("F-1", "F-2")) -> dict[str, Any]:
    response = client.post(
        "/v1/payability/invoices",
        json={"customer_id": "C-1", "invoice_ids": list(ids)},
        headers=headers(),
    )
    assert response.status_code == 200
    return response.json


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status
    assert body["code"] == code
    return body


def assert_refund(body: dict[str, Any], payment_id: str, amount: str) -> None:
    assert set(body) == REFUND_FIELDS
    assert body["id"].startswith("re_")
    assert body["payment_id"] == payment_id
    assert body["amount"] == amount
    assert body["currency"] == "MXN"
    assert body["status"] == "succeeded"
    assert body["processor_reference"].startswith("sbx_re_")
    assert body["failure"] is None
    assert body["created_at"].endswith("Z")
    assert body["updated_at"].endswith("Z")


# -- full and partial ----------------------------------------------------------------------------


def test_a_paid_invoice_is_not_payable_before_any_refund(client, payment):
    answer = invoices_payability(client)
    assert answer["payable"] is False
    assert answer["reasons"] == ["payment_registered"]


@pytest.mark.parametrize("body", [{}, {"reason": "devolución"}, {"amount": None}])
def test_a_full_refund_refunds_everything_and_frees_the_invoices(client, payment, body):
    response = refund(client, payment["id"], body)
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    assert_refund(response.json, payment["id"], "2500.00")
    assert response.json["reason"] == body.get("reason")
    after = get_payment(client, payment["id"])
    assert after["status"] == "refunded"
    assert after["refunded_amount"] == "2500.00"
    answer = invoices_payability(client)
    assert answer["payable"] is True
    assert answer["reasons"] == []
    assert answer["amount"] == "2500.00"
    assert [inv["payable"] for inv in answer["invoices"]] == [True, True]


def test_a_refunded_invoice_can_be_paid_again(client, payment):
    assert refund(client, payment["id"]).status_code == 201
    again = pay_invoices(client)
    assert again["status"] == "succeeded"
    assert again["id"] != payment["id"]


@pytest.mark.parametrize(
    ("amount", "shown"), [("500.00", "500.00"), ("0.5", "0.50"), ("7", "7.00")]
)
def test_a_partial_refund_keeps_the_invoices_registered(client, payment, amount, shown):
    response = refund(client, payment["id"], {"amount": amount, "reason": "parcial"})
    assert response.status_code == 201
    assert_refund(response.json, payment["id"], shown)
    assert response.json["reason"] == "parcial"
    after = get_payment(client, payment["id"])
    assert after["status"] == "partially_refunded"
    assert after["refunded_amount"] == shown
    answer = invoices_payability(client)
    assert answer["payable"] is False
    assert answer["reasons"] == ["payment_registered"]


def test_partial_refunds_add_up_and_the_rest_completes_the_refund(client, payment):
    assert refund(client, payment["id"], {"amount": "500.00"}).status_code == 201
    assert refund(client, payment["id"], {"amount": "499.99"}).status_code == 201
    middle = get_payment(client, payment["id"])
    assert (middle["status"], middle["refunded_amount"]) == ("partially_refunded", "999.99")
    rest = refund(client, payment["id"])
    assert rest.status_code == 201
    assert rest.json["amount"] == "1500.01"
    after = get_payment(client, payment["id"])
    assert (after["status"], after["refunded_amount"]) == ("refunded", "2500.00")
    assert invoices_payability(client)["payable"] is True


def test_a_partial_refund_of_exactly_what_is_left_is_a_full_refund(client, payment):
    assert refund(client, payment["id"], {"amount": "2500.00"}).status_code == 201
    assert get_payment(client, payment["id"])["status"] == "refunded"


# -- not allowed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "asked", "refundable"),
    [
        (None, "2500.01", "2500.00"),
        ("500.00", "2000.01", "2000.00"),
        ("2499.99", "0.02", "0.01"),
    ],
)
def test_more_than_what_is_left_is_409_with_the_refundable_amount(
    client, payment, first, asked, refundable
):
    if first is not None:
        assert refund(client, payment["id"], {"amount": first}).status_code == 201
    problem = assert_problem(
        refund(client, payment["id"], {"amount": asked}), 409, "refund_not_allowed"
    )
    assert problem["refundable"] == refundable
    assert get_payment(client, payment["id"])["refunded_amount"] == (first or "0.00")


@pytest.mark.parametrize("body", [{}, {"amount": "0.01"}])
def test_a_refunded_payment_cannot_be_refunded_again(client, payment, body):
    assert refund(client, payment["id"]).status_code == 201
    assert_problem(refund(client, payment["id"], body), 409, "refund_not_allowed")


@pytest.mark.parametrize(
    ("token", "status"),
    [
        ("tok_declined", "failed"),
        ("tok_insufficient_funds", "failed"),
        ("tok_3ds", "requires_action"),
        ("tok_timeout", "processing"),
        (None, "requires_action"),
    ],
)
@pytest.mark.parametrize("body", [{}, {"amount": "1.00"}], ids=["full", "partial"])
def test_only_succeeded_payments_can_be_refunded(client, data, token, status, body):
    unpaid = pay_invoices(client, token)
    assert unpaid["status"] == status
    assert_problem(refund(client, unpaid["id"], body), 409, "refund_not_allowed")
    assert get_payment(client, unpaid["id"])["status"] == status


def test_a_zero_refund_is_refused(client, payment):
    response = refund(client, payment["id"], {"amount": "0.00"})
    assert response.status_code in (409, 422)
    assert get_payment(client, payment["id"])["status"] == "succeeded"


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "10.001"},
        {"amount": "10.0000"},
        {"amount": 10.5},
        {"amount": 10},
        {"amount": "ten"},
        {"amount": "10.00", "currency": "USD"},
        {"amount": "10.00", "status": "refunded"},
        {"reason": 5},
        {"reason": "x" * 501},
    ],
    ids=[
        "three-decimals",
        "four-decimals",
        "float",
        "integer",
        "not-a-number",
        "unknown-field",
        "status-field",
        "reason-not-a-string",
        "reason-too-long",
    ],
)
def test_invalid_refund_bodies_are_422_and_refund_nothing(client, payment, body):
    response = refund(client, payment["id"], body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    after = get_payment(client, payment["id"])
    assert (after["status"], after["refunded_amount"]) == ("succeeded", "0.00")


def test_refunds_require_an_idempotency_key(client, payment):
    response = client.post(f"/v1/payments/{payment['id']}/refunds", json={}, headers=headers())
    assert_problem(response, 400, "idempotency_key_required")
    assert get_payment(client, payment["id"])["status"] == "succeeded"


def test_an_unknown_or_another_merchants_payment_is_404(client, payment):
    assert_problem(refund(client, "pay_nope"), 404, "not_found")
    other = client.post(
        f"/v1/payments/{payment['id']}/refunds",
        json={},
        headers=headers(new_key(), OTHER_API_KEY),
    )
    assert_problem(other, 404, "not_found")
    assert get_payment(client, payment["id"])["status"] == "succeeded"
