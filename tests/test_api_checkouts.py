"""POST /v1/checkouts, GET /v1/payments/{id} and the payments feed, over HTTP."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from b2bgateway.money import Money
from b2bgateway.store.models import Payment
from b2bgateway.store.repository import CustomerData, InvoiceData, upsert_customer, upsert_invoices

API_KEY = "sk_test_merchant_a"
OTHER_API_KEY = "sk_test_merchant_b"
TODAY = date.today()

PAYMENT_FIELDS = {
    "id",
    "status",
    "purpose",
    "customer_id",
    "amount",
    "currency",
    "processor",
    "processor_reference",
    "allocations",
    "order_reference",
    "next_action",
    "failure",
    "refunded_amount",
    "created_at",
    "updated_at",
    # v1.1 additions
    "payment_method",
    "expires_at",
    "received_amount",
    "flags",
    "dispute",
    "method_details",
}

# -- seeding and request helpers -----------------------------------------------------------------


def _customer(customer_id: str, *, active: bool = True, limit: str | None = "1000.00"):
    credit_limit = None if limit is None else Money(limit, "MXN")
    return customer_id, CustomerData(
        name=f"Cliente {customer_id}", active=active, currency="MXN", credit_limit=credit_limit
    )


def _invoice(
    invoice_id: str,
    balance: str,
    *,
    customer_id: str = "C-1",
    currency: str = "MXN",
    document_type: str = "factura",
    source: str = "ventas",
    due_in: int = 5,
) -> InvoiceData:
    return InvoiceData(
        invoice_id=invoice_id,
        customer_id=customer_id,
        folio=invoice_id,
        document_type=document_type,
        source=source,
        issued_on=TODAY - timedelta(days=30),
        due_on=TODAY + timedelta(days=due_in),
        total=Money(balance if balance != "0.00" else "10.00", currency),
        balance=Money(balance, currency),
    )


@pytest.fixture
def data(store):
    """acme's customers and invoices: C-1 and C-2 pay online, the others show each reason."""
    customers = [
        _customer("C-1"),
        _customer("C-2"),
        _customer("C-INACTIVE", active=False),
        _customer("C-NOLIMIT", limit=None),
    ]
    invoices = [
        _invoice("F-1", "100.10", due_in=-5),
        _invoice("F-2", "2399.90"),
        _invoice("F-3", "50.00"),
        _invoice("F-USD", "20.00", currency="USD"),
        _invoice("NC-1", "30.00", document_type="nota_credito"),
        _invoice("CXC-1", "40.00", source="cuentas_por_cobrar"),
        _invoice("PAID-1", "0.00"),
        _invoice("G-1", "700.00", customer_id="C-2"),
    ]
    with store.write() as session:
        for customer_id, customer in customers:
            upsert_customer(session, "acme", customer_id, customer)
        upsert_invoices(session, "acme", invoices)


def headers(key: str | None = None, api_key: str = API_KEY) -> dict[str, str]:
    result = {"Authorization": f"Bearer {api_key}"}
    if key is not None:
        result["Idempotency-Key"] = key
    return result


def new_key() -> str:
    return f"test-{uuid.uuid4().hex}"


def order_body(
    token: str | None = "tok_approved",
    amount: str = "1500.00",
    reference: str = "PED-77",
    customer_id: str = "C-1",
    currency: str = "MXN",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "purpose": "order",
        "order": {"reference": reference, "amount": amount, "currency": currency},
        "return_url": "https://portal.example/return",
        **extra,
    }
    if token is not None:
        body["payment_method"] = {"token": token}
    return body


def invoices_body(
    ids: tuple[str, ...] = ("F-1", "F-2"),
    token: str | None = "tok_approved",
    customer_id: str = "C-1",
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "customer_id": customer_id,
        "purpose": "invoices",
        "invoice_ids": list(ids),
        **extra,
    }
    if token is not None:
        body["payment_method"] = {"token": token}
    return body


def checkout(client, body: dict[str, Any], key: str | None = None):
    return client.post("/v1/checkouts", json=body, headers=headers(key or new_key()))


def paid(client, body: dict[str, Any]) -> dict[str, Any]:
    """Check out and insist on a 201; the payment JSON."""
    response = checkout(client, body)
    assert response.status_code == 201, response.json
    return response.json


def list_payments(client, **params: Any):
    return client.get("/v1/payments", query_string=params, headers=headers())


def all_payments(client) -> list[dict[str, Any]]:
    response = list_payments(client, limit=500)
    assert response.status_code == 200
    return response.json["data"]


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.json
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    return body


def parse_timestamp(value: str) -> datetime:
    assert value.endswith("Z"), value
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0)
    return parsed


def assert_payment_shape(payment: dict[str, Any]) -> None:
    assert set(payment) == PAYMENT_FIELDS
    assert isinstance(payment["amount"], str)
    assert isinstance(payment["refunded_amount"], str)
    for allocation in payment["allocations"]:
        assert set(allocation) == {"invoice_id", "amount"}
        assert isinstance(allocation["amount"], str)
    parse_timestamp(payment["created_at"])
    parse_timestamp(payment["updated_at"])


# -- the payment JSON ----------------------------------------------------------------------------


def test_order_checkout_is_201_with_the_payment(client, data):
    response = checkout(client, order_body(amount="1500.5"))
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    payment = response.json
    assert_payment_shape(payment)
    assert payment["id"].startswith("pay_")
    assert payment["status"] == "succeeded"
    assert payment["purpose"] == "order"
    assert payment["customer_id"] == "C-1"
    assert payment["amount"] == "1500.50"  # the currency's decimals, as a string
    assert payment["currency"] == "MXN"
    assert payment["processor"] == "sandbox"
    assert payment["processor_reference"].startswith("sbx_ch_")
    assert payment["allocations"] == []
    assert payment["order_reference"] == "PED-77"
    assert payment["next_action"] is None
    assert payment["failure"] is None
    assert payment["refunded_amount"] == "0.00"


def test_invoices_checkout_computes_the_amount_and_allocates(client, data):
    response = checkout(client, invoices_body(("F-2", "F-1"), expected_amount="2500.00"))
    assert response.status_code == 201
    payment = response.json
    assert_payment_shape(payment)
    assert payment["status"] == "succeeded"
    assert payment["purpose"] == "invoices"
    assert payment["amount"] == "2500.00"
    assert payment["currency"] == "MXN"
    assert payment["order_reference"] is None
    assert payment["allocations"] == [
        {"invoice_id": "F-1", "amount": "100.10"},
        {"invoice_id": "F-2", "amount": "2399.90"},
    ]


def test_a_repeated_invoice_id_is_charged_once(client, data):
    payment = paid(client, invoices_body(("F-3", "F-3")))
    assert payment["amount"] == "50.00"
    assert payment["allocations"] == [{"invoice_id": "F-3", "amount": "50.00"}]


# -- sandbox tokens ------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", ["order", "invoices"])
@pytest.mark.parametrize(
    ("token", "status", "failure_code"),
    [
        ("tok_approved", "succeeded", None),
        ("tok_declined", "failed", "card_declined"),
        ("tok_insufficient_funds", "failed", "insufficient_funds"),
        ("tok_3ds", "requires_action", None),
        ("tok_timeout", "processing", None),
        (None, "requires_action", None),  # no payment_method: the hosted redirect flow
    ],
)
def test_sandbox_tokens_decide_the_outcome(client, data, purpose, token, status, failure_code):
    body = order_body(token) if purpose == "order" else invoices_body(token=token)
    response = checkout(client, body)
    assert response.status_code == 201  # a decline or a timeout is still a created payment
    payment = response.json
    assert_payment_shape(payment)
    assert payment["status"] == status
    if failure_code is None:
        assert payment["failure"] is None
    else:
        assert set(payment["failure"]) == {"code", "message"}
        assert payment["failure"]["code"] == failure_code
        assert isinstance(payment["failure"]["message"], str)
        assert payment["failure"]["message"]
    if status == "requires_action":
        action = payment["next_action"]
        assert action["type"] == "redirect"
        assert action["url"].startswith("http")
        assert set(action) == {"type", "url"}
    else:
        assert payment["next_action"] is None


# -- not payable ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reasons"),
    [
        (order_body(amount="1000.00"), ["within_credit_limit"]),
        (order_body(amount="999.99"), ["within_credit_limit"]),
        (order_body(customer_id="C-NOLIMIT"), ["credit_limit_not_assigned"]),
        (order_body(customer_id="C-INACTIVE"), ["customer_inactive"]),
        (order_body(currency="USD"), ["currency_mismatch"]),
    ],
    ids=["at-limit", "below-limit", "no-limit", "inactive", "currency-mismatch"],
)
def test_an_order_that_is_not_payable_is_422_and_creates_nothing(client, data, body, reasons):
    problem = assert_problem(checkout(client, body), 422, "not_payable")
    assert problem["reasons"] == reasons
    assert all_payments(client) == []


@pytest.mark.parametrize(
    ("ids", "reasons", "per_invoice"),
    [
        (("NC-1",), ["not_an_invoice"], {"NC-1": ["not_an_invoice"]}),
        (("CXC-1",), ["unsupported_source"], {"CXC-1": ["unsupported_source"]}),
        (("PAID-1",), ["no_balance"], {"PAID-1": ["no_balance"]}),
        (
            ("F-1", "NC-1", "PAID-1"),
            ["not_an_invoice", "no_balance"],
            {"F-1": [], "NC-1": ["not_an_invoice"], "PAID-1": ["no_balance"]},
        ),
        (("F-1", "F-USD"), ["mixed_currencies"], {"F-1": [], "F-USD": []}),
    ],
    ids=["credit-note", "source", "no-balance", "several", "mixed-currencies"],
)
def test_invoices_that_are_not_payable_are_422_with_each_ones_reasons(
    client, data, ids, reasons, per_invoice
):
    problem = assert_problem(checkout(client, invoices_body(ids)), 422, "not_payable")
    assert problem["reasons"] == reasons
    assert {inv["invoice_id"]: inv["reasons"] for inv in problem["invoices"]} == per_invoice
    assert all_payments(client) == []


def test_an_inactive_customers_invoices_are_not_payable(client, store, data):
    with store.write() as session:
        upsert_invoices(session, "acme", [_invoice("I-1", "10.00", customer_id="C-INACTIVE")])
    body = invoices_body(("I-1",), customer_id="C-INACTIVE")
    problem = assert_problem(checkout(client, body), 422, "not_payable")
    assert problem["reasons"] == ["customer_inactive"]
    assert problem["invoices"] == [{"invoice_id": "I-1", "reasons": ["customer_inactive"]}]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (invoices_body(("F-1", "F-404")), "F-404"),
        (invoices_body(("G-1",)), "G-1"),  # C-2's invoice, not C-1's
        (order_body(customer_id="C-404"), "C-404"),
    ],
    ids=["unknown-invoice", "another-customers-invoice", "unknown-customer"],
)
def test_unknown_invoices_and_customers_are_404_naming_them(client, data, body, named):
    problem = assert_problem(checkout(client, body), 404, "not_found")
    assert named in problem["detail"]
    assert all_payments(client) == []


@pytest.mark.parametrize("expected", ["2499.99", "2500.01", "100.10"])
def test_an_expected_amount_that_differs_is_409_amount_changed(client, data, expected):
    response = checkout(client, invoices_body(expected_amount=expected))
    problem = assert_problem(response, 409, "amount_changed")
    assert problem["amount"] == "2500.00"
    assert problem["currency"] == "MXN"
    assert all_payments(client) == []


@pytest.mark.parametrize("first_token", ["tok_approved", "tok_3ds", "tok_timeout", None])
def test_a_registered_invoice_cannot_be_checked_out_again(client, data, first_token):
    first = paid(client, invoices_body(("F-1",), token=first_token))
    problem = assert_problem(checkout(client, invoices_body(("F-1", "F-3"))), 422, "not_payable")
    assert problem["reasons"] == ["payment_registered"]
    assert problem["invoices"] == [
        {"invoice_id": "F-1", "reasons": ["payment_registered"]},
        {"invoice_id": "F-3", "reasons": []},
    ]
    assert [p["id"] for p in all_payments(client)] == [first["id"]]


def test_an_order_reference_is_paid_once(client, data):
    paid(client, order_body(token="tok_3ds"))
    problem = assert_problem(checkout(client, order_body()), 422, "not_payable")
    assert problem["reasons"] == ["payment_registered"]
    assert len(all_payments(client)) == 1


@pytest.mark.parametrize("token", ["tok_declined", "tok_insufficient_funds"])
def test_a_failed_payment_frees_its_invoices(client, data, token):
    failed = paid(client, invoices_body(("F-1",), token=token))
    assert failed["status"] == "failed"
    again = paid(client, invoices_body(("F-1",)))
    assert again["status"] == "succeeded"
    assert again["id"] != failed["id"]


def test_a_merchant_without_a_processor_cannot_check_out(client):
    customer = {"name": "Cliente", "active": True, "credit_limit": "0.00", "currency": "MXN"}
    created = client.put(
        "/v1/customers/C-1", json=customer, headers={"Authorization": f"Bearer {OTHER_API_KEY}"}
    )
    assert created.status_code == 201
    response = client.post(
        "/v1/checkouts", json=order_body(), headers=headers(new_key(), OTHER_API_KEY)
    )
    assert response.status_code == 422
    assert response.json["code"] == "not_payable"
    assert response.json["reasons"] == ["processor_not_configured"]


# -- validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        order_body(amount=1500.5),
        order_body(amount=1500),
        order_body(amount="1500.001"),
        order_body(amount="0.00"),
        order_body(amount="-1500.00"),
        order_body(currency="mxn"),
        invoices_body(expected_amount=2500.0),
        order_body(amount_extra=True),
        {**order_body(), "amount": "1.00"},
        order_body(status="succeeded"),
        order_body(processor="sandbox"),
        invoices_body(amount="2500.00"),
        {**order_body(), "order": {**order_body()["order"], "status": "paid"}},
        {**order_body(), "payment_method": {"token": "tok_approved", "number": "4242"}},
        order_body(invoice_ids=["F-1"]),
        order_body(expected_amount="1500.00"),
        invoices_body(order={"reference": "P", "amount": "1.00", "currency": "MXN"}),
        invoices_body(()),
        {"customer_id": "C-1", "purpose": "order"},
        {"customer_id": "C-1", "purpose": "invoices"},
        invoices_body(purpose="refund"),
        order_body(return_url="not a url"),
        {"purpose": "order", "order": order_body()["order"]},
    ],
    ids=[
        "float-amount",
        "integer-amount",
        "three-decimals",
        "zero",
        "negative",
        "lowercase-currency",
        "float-expected-amount",
        "unknown-field",
        "amount-field",
        "status-field",
        "processor-field",
        "amount-on-invoices",
        "unknown-field-in-order",
        "card-number",
        "order-with-invoice-ids",
        "order-with-expected-amount",
        "invoices-with-order",
        "no-invoice-ids",
        "order-without-order",
        "invoices-without-ids",
        "unknown-purpose",
        "bad-return-url",
        "no-customer",
    ],
)
def test_invalid_bodies_are_422_and_create_nothing(client, data, body):
    problem = assert_problem(checkout(client, body), 422, "validation_error")
    assert problem["errors"]
    assert all_payments(client) == []


def test_a_body_that_is_not_json_is_refused(client, data):
    response = client.post(
        "/v1/checkouts",
        data="customer_id=C-1",
        content_type="application/x-www-form-urlencoded",
        headers=headers(new_key()),
    )
    assert 400 <= response.status_code < 500
    assert all_payments(client) == []


def test_checkouts_need_the_api_key(client, data):
    response = client.post("/v1/checkouts", json=order_body(), headers={"Idempotency-Key": "k"})
    assert_problem(response, 401, "unauthorized")


# -- GET /v1/payments/{id} -----------------------------------------------------------------------


@pytest.mark.parametrize("token", ["tok_approved", "tok_declined", "tok_3ds", "tok_timeout"])
def test_a_payment_reads_as_the_checkout_answered(client, data, token):
    created = paid(client, invoices_body(token=token))
    response = client.get(f"/v1/payments/{created['id']}", headers=headers())
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert_payment_shape(response.json)
    assert response.json == created


def test_another_merchants_or_an_unknown_payment_is_404(client, data):
    created = paid(client, order_body())
    other = client.get(f"/v1/payments/{created['id']}", headers=headers(api_key=OTHER_API_KEY))
    assert_problem(other, 404, "not_found")
    assert_problem(client.get("/v1/payments/pay_nope", headers=headers()), 404, "not_found")


# -- GET /v1/payments: the feed ------------------------------------------------------------------


@pytest.fixture
def feed(client, data) -> dict[str, dict[str, Any]]:
    """Seven payments of two customers, both purposes, several statuses; by name."""
    bodies = {
        "order-ok": order_body(reference="PED-1"),
        "order-declined": order_body("tok_declined", reference="PED-2"),
        "order-3ds": order_body("tok_3ds", reference="PED-3"),
        "c2-order-ok": order_body(reference="PED-4", customer_id="C-2"),
        "invoices-ok": invoices_body(("F-1",)),
        "invoices-timeout": invoices_body(("F-2",), token="tok_timeout"),
        "c2-invoices-ok": invoices_body(("G-1",), customer_id="C-2"),
    }
    return {name: paid(client, body) for name, body in bodies.items()}


def feed_order(payments: list[dict[str, Any]]) -> list[str]:
    ordered = sorted(payments, key=lambda p: (parse_timestamp(p["updated_at"]), p["id"]))
    return [p["id"] for p in ordered]


def test_the_feed_lists_every_payment_in_updated_order(client, feed):
    response = list_payments(client)
    assert response.status_code == 200
    body = response.json
    assert set(body) == {"data", "next_cursor"}
    assert body["next_cursor"] is None
    for payment in body["data"]:
        assert_payment_shape(payment)
    ids = [p["id"] for p in body["data"]]
    assert sorted(ids) == sorted(p["id"] for p in feed.values())
    assert ids == feed_order(body["data"])


@pytest.mark.parametrize(
    ("params", "names"),
    [
        ({"customer_id": "C-2"}, {"c2-order-ok", "c2-invoices-ok"}),
        ({"customer_id": "C-404"}, set()),
        ({"status": "succeeded"}, {"order-ok", "c2-order-ok", "invoices-ok", "c2-invoices-ok"}),
        ({"status": "failed"}, {"order-declined"}),
        ({"status": "requires_action"}, {"order-3ds"}),
        ({"status": "processing"}, {"invoices-timeout"}),
        ({"status": "refunded"}, set()),
        ({"purpose": "order"}, {"order-ok", "order-declined", "order-3ds", "c2-order-ok"}),
        ({"purpose": "invoices"}, {"invoices-ok", "invoices-timeout", "c2-invoices-ok"}),
        ({"customer_id": "C-1", "purpose": "invoices"}, {"invoices-ok", "invoices-timeout"}),
        ({"customer_id": "C-2", "status": "succeeded", "purpose": "order"}, {"c2-order-ok"}),
    ],
)
def test_the_feed_filters(client, feed, params, names):
    response = list_payments(client, **params)
    assert response.status_code == 200
    assert {p["id"] for p in response.json["data"]} == {feed[name]["id"] for name in names}


def _set_updated_at(store, payment_id: str, when: datetime) -> None:
    with store.write() as session:
        session.execute(update(Payment).where(Payment.id == payment_id).values(updated_at=when))


def test_the_feed_filters_by_updated_since(client, store, feed):
    old = ["order-ok", "order-declined", "invoices-ok"]
    for days, name in enumerate(old, start=10):
        _set_updated_at(store, feed[name]["id"], datetime(2020, 1, days, 12, tzinfo=UTC))

    def since(value: str) -> set[str]:
        response = list_payments(client, updated_since=value)
        assert response.status_code == 200, response.json
        return {p["id"] for p in response.json["data"]}

    everything = {p["id"] for p in feed.values()}
    assert since("2020-01-01T00:00:00Z") == everything
    assert since("2020-01-11T12:00:00Z") == everything - {feed["order-ok"]["id"]}  # inclusive
    assert since("2020-01-11T12:00:00.000001Z") == everything - {
        feed["order-ok"]["id"],
        feed["order-declined"]["id"],
    }
    assert since("2020-01-12T07:00:00-06:00") == everything - {  # = 13:00Z
        feed[name]["id"] for name in old
    }
    assert since((datetime.now(UTC) + timedelta(hours=1)).isoformat()) == set()
    response = list_payments(client, updated_since="2020-01-12T12:00:00Z")
    assert response.json["data"][0]["updated_at"] == "2020-01-12T12:00:00Z"


def _walk(client, limit: int, **params: Any) -> list[list[str]]:
    """Follow next_cursor to the end; the ids of each page."""
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {"limit": limit, **params}
        if cursor is not None:
            query["cursor"] = cursor
        response = list_payments(client, **query)
        assert response.status_code == 200, response.json
        pages.append([p["id"] for p in response.json["data"]])
        cursor = response.json["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) <= 20, "the cursor does not advance"


@pytest.mark.parametrize("same_timestamp", [False, True], ids=["distinct", "tied"])
@pytest.mark.parametrize("limit", [1, 2, 3, 6, 7, 500])
def test_pagination_covers_every_payment_once_in_order(client, store, feed, limit, same_timestamp):
    if same_timestamp:  # ties on updated_at are broken by id, also across pages
        with store.write() as session:
            session.execute(update(Payment).values(updated_at=datetime(2026, 1, 1, tzinfo=UTC)))
    expected = feed_order(all_payments(client))
    assert len(expected) == len(feed)
    pages = _walk(client, limit)
    assert [len(page) for page in pages[:-1]] == [limit] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= limit
    assert [i for page in pages for i in page] == expected


def test_pagination_with_filters(client, feed):
    pages = _walk(client, 1, purpose="order", status="succeeded")
    assert sorted(i for page in pages for i in page) == sorted(
        [feed["order-ok"]["id"], feed["c2-order-ok"]["id"]]
    )


def test_a_payment_that_changes_moves_to_the_end_of_the_feed(client, feed):
    first_page = list_payments(client, limit=3).json
    payment_id = feed["order-ok"]["id"]
    assert payment_id in [p["id"] for p in first_page["data"]]
    refund = client.post(f"/v1/payments/{payment_id}/refunds", json={}, headers=headers(new_key()))
    assert refund.status_code == 201
    rest = _walk(client, 3, cursor=first_page["next_cursor"])
    assert [i for page in rest for i in page][-1] == payment_id


def test_the_feed_is_empty_and_per_merchant(client, feed):
    response = client.get("/v1/payments", headers=headers(api_key=OTHER_API_KEY))
    assert response.status_code == 200
    assert response.json == {"data": [], "next_cursor": None}


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "!!!",
        _b64(b"not json"),
        _b64(json.dumps({"updated_at": "2026-01-01T00:00:00Z"}).encode()),
        _b64(json.dumps(["yesterday", "pay_x"]).encode()),
        _b64(json.dumps([1, 2]).encode()),
        _b64(json.dumps([None, "pay_x"]).encode()),
        _b64(json.dumps(["2026-01-01T00:00:00", "pay_x"]).encode()),  # no time zone
        "x" * 201,
    ],
    ids=[
        "garbage",
        "not-base64",
        "not-json",
        "object",
        "bad-timestamp",
        "numbers",
        "null",
        "naive-timestamp",
        "too-long",
    ],
)
def test_an_invalid_cursor_is_422(client, feed, cursor):
    response = list_payments(client, cursor=cursor)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] in {"invalid_cursor", "validation_error"}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": -1},
        {"limit": "ten"},
        {"status": "paid"},
        {"purpose": "refund"},
        {"updated_since": "2026-01-01T00:00:00"},  # RFC 3339 needs an offset
        {"updated_since": "yesterday"},
        {"page": 2},
    ],
    ids=[
        "limit-0",
        "limit-501",
        "negative-limit",
        "limit-not-a-number",
        "unknown-status",
        "unknown-purpose",
        "naive-updated-since",
        "bad-updated-since",
        "unknown-parameter",
    ],
)
def test_invalid_feed_parameters_are_422(client, data, params):
    problem = assert_problem(list_payments(client, **params), 422, "validation_error")
    assert problem["errors"]


@pytest.mark.parametrize("limit", [1, 500])
def test_limit_bounds_are_accepted(client, feed, limit):
    response = list_payments(client, limit=limit)
    assert response.status_code == 200
    assert len(response.json["data"]) == min(limit, len(feed))


def test_an_order_reference_is_one_customers_not_the_merchants(client, data, store):
    """Customer C-2 paying an order "PED-77" neither blocks nor reveals C-1's "PED-77"
    (issue 16 item 2): the reference is unique per customer."""
    with store.write() as session:
        upsert_customer(
            session,
            "acme",
            "C-2",
            CustomerData(
                name="Otro", active=True, currency="MXN", credit_limit=Money("0.00", "MXN")
            ),
        )
    first = paid(client, order_body())
    other = {**order_body(), "customer_id": "C-2"}
    second = paid(client, other)
    assert first["order_reference"] == second["order_reference"]
    assert first["customer_id"] != second["customer_id"]
    # and one customer still cannot pay its own order twice
    again = client.post("/v1/checkouts", json=order_body(), headers=headers(new_key()))
    assert_problem(again, 422, "not_payable")
