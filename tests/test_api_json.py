"""How the API reads a JSON body: one value per key, and nesting it can follow (issue 16 items 3
and 6). Neither a duplicate key nor a body nested a thousand deep ever reaches a view."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from b2bgateway.store.models import Payment
from tests.conftest import API_KEY

AUTH = {"Authorization": f"Bearer {API_KEY}"}
CHECKOUT = (
    '{"customer_id": "C-1", "purpose": "order", "order": {"reference": "PED-1", '
    '"currency": "MXN", "amount": "1500.00"%s}, "payment_method": {"token": "tok_approved"}}'
)


def payments(store: Any) -> int:
    with store.read() as session:
        return session.scalar(select(func.count()).select_from(Payment))


def post(client: Any, body: str | bytes, content_type: str = "application/json") -> Any:
    headers = {**AUTH, "Idempotency-Key": "k-json", "Content-Type": content_type}
    return client.post("/v1/checkouts", data=body, headers=headers)


def test_a_duplicate_key_is_refused_never_last_wins(client: Any, data: None, store: Any) -> None:
    """`{"amount": "1500.00", ..., "amount": "100000.00"}`: a proxy reading the first value and
    the gateway the last would disagree about what is charged."""
    response = post(client, CHECKOUT % ', "amount": "100000.00"')
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.json
    assert body["code"] == "validation_error"
    assert body["errors"] == [
        {"loc": ["body", "amount"], "msg": "duplicate key", "type": "duplicate_key"}
    ]
    assert payments(store) == 0
    # the same key with a sound body goes through: the refused one is not the key's answer
    sound = client.post(
        "/v1/checkouts",
        data=CHECKOUT % "",
        headers={**AUTH, "Idempotency-Key": "k-json-2", "Content-Type": "application/json"},
    )
    assert sound.status_code == 201, sound.get_data(as_text=True)


def test_a_duplicate_key_outside_money_is_refused_too(client: Any) -> None:
    response = client.put(
        "/v1/customers/C-9",
        data='{"name": "A", "name": "B", "active": true, "credit_limit": null, "currency": "MXN"}',
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json["errors"][0]["type"] == "duplicate_key"


@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_a_body_nested_a_thousand_deep_is_refused_not_a_crash(
    client: Any, data: None, store: Any, content_type: str
) -> None:
    deep = "[" * 5000 + "]" * 5000
    response = post(client, deep, content_type)
    assert response.status_code in (415, 422), response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert payments(store) == 0


def test_bodies_that_are_not_json_are_still_invalid_json(client: Any, data: None) -> None:
    response = post(client, "{not json")
    assert response.status_code == 400
    assert response.json["code"] == "invalid_json"


def test_a_repeated_query_parameter_is_refused_not_first_wins(client: Any, data: None) -> None:
    response = client.get("/v1/payments?status=succeeded&status=failed&limit=5", headers=AUTH)
    assert response.status_code == 422
    assert response.json["errors"] == [
        {"loc": ["query", "status"], "msg": "repeated", "type": "repeated_parameter"}
    ]
    assert client.get("/v1/payments?status=succeeded&limit=5", headers=AUTH).status_code == 200
