"""The ERP sync over HTTP: customers, invoices (single and batch) and the statement.

Every response that goes through :func:`call` is checked for the money convention: each amount is
a JSON string with exactly the currency's decimals (two for MXN and USD), never a number.
"""

from __future__ import annotations

import re
import time
from datetime import date, timedelta
from typing import Any

import pytest

API_KEY = "sk_test_merchant_a"
OTHER_API_KEY = "sk_test_merchant_b"

AS_OF = date(2026, 3, 15)
MONEY = re.compile(r"^-?\d+\.\d{2}$")
MONEY_KEYS = frozenset(
    {
        "amount",
        "balance",
        "credit_limit",
        "overdue_balance",
        "refunded_amount",
        "total",
        "total_balance",
        "upcoming_balance",
    }
)
CUSTOMER_FIELDS = {
    "customer_id",
    "name",
    "email",
    "active",
    "credit_limit",
    "currency",
    "created_at",
    "updated_at",
}
INVOICE_FIELDS = {
    "invoice_id",
    "customer_id",
    "folio",
    "document_type",
    "source",
    "issued_on",
    "due_on",
    "total",
    "balance",
    "currency",
    "created_at",
    "updated_at",
}

# -- helpers -------------------------------------------------------------------------------------


def money_strings(body: Any, path: str = "$") -> list[str]:
    """Every place in ``body`` where an amount is not a two-decimal string (empty: all good)."""
    bad: list[str] = []
    if isinstance(body, dict):
        for key, value in body.items():
            here = f"{path}.{key}"
            if key in MONEY_KEYS and value is not None:
                if not (isinstance(value, str) and MONEY.match(value)):
                    bad.append(f"{here}={value!r}")
            else:
                bad.extend(money_strings(value, here))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            bad.extend(money_strings(value, f"{path}[{index}]"))
    return bad


def call(client, method: str, path: str, *, key: str = API_KEY, **kwargs: Any):
    """One authenticated request; its JSON body (if any) must follow the money convention."""
    headers = {"Authorization": f"Bearer {key}", **kwargs.pop("headers", {})}
    response = client.open(path, method=method, headers=headers, **kwargs)
    if response.is_json:
        assert money_strings(response.get_json()) == [], response.get_json()
    return response


def customer_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "Ferretería El Tornillo",
        "email": "pagos@tornillo.example",
        "active": True,
        "credit_limit": "1000.00",
        "currency": "MXN",
    }
    body.update(overrides)
    return body


def invoice_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "customer_id": "C-1",
        "folio": "A-100",
        "document_type": "factura",
        "source": "ventas",
        "issued_on": "2026-02-01",
        "due_on": "2026-03-31",
        "total": "1160.00",
        "balance": "1160.00",
        "currency": "MXN",
    }
    body.update(overrides)
    return body


def batch_item(invoice_id: str, **overrides: Any) -> dict[str, Any]:
    return {"invoice_id": invoice_id, **invoice_body(folio=invoice_id, **overrides)}


def put_customer(client, customer_id: str = "C-1", *, key: str = API_KEY, **fields: Any):
    return call(
        client, "PUT", f"/v1/customers/{customer_id}", key=key, json=customer_body(**fields)
    )


def put_invoice(client, invoice_id: str = "F-1", *, key: str = API_KEY, **fields: Any):
    return call(client, "PUT", f"/v1/invoices/{invoice_id}", key=key, json=invoice_body(**fields))


def post_batch(client, items: list[dict[str, Any]]):
    return call(client, "POST", "/v1/invoices/batch", json={"invoices": items})


def get_statement(client, customer_id: str = "C-1", as_of: date | str | None = AS_OF):
    query = "" if as_of is None else f"?as_of={as_of}"
    return call(client, "GET", f"/v1/customers/{customer_id}/statement{query}")


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status
    assert body["code"] == code
    assert {"type", "title", "detail"} <= set(body)
    return body


def error_locs(body: dict[str, Any]) -> list[list[Any]]:
    return [error["loc"] for error in body["errors"]]


@pytest.fixture
def customer(client) -> dict[str, Any]:
    response = put_customer(client)
    assert response.status_code == 201
    return response.get_json()


# -- customers -----------------------------------------------------------------------------------


def test_put_customer_creates_then_updates(client):
    created = put_customer(client, credit_limit="1500.5")
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) == CUSTOMER_FIELDS
    assert body["customer_id"] == "C-1"
    assert body["credit_limit"] == "1500.50"
    assert body["created_at"].endswith("Z")

    updated = put_customer(client, name="Tornillos SA", credit_limit="2000", active=False)
    assert updated.status_code == 200
    assert updated.get_json()["name"] == "Tornillos SA"
    assert updated.get_json()["credit_limit"] == "2000.00"
    assert updated.get_json()["active"] is False

    fetched = call(client, "GET", "/v1/customers/C-1")
    assert fetched.status_code == 200
    assert fetched.get_json()["name"] == "Tornillos SA"
    assert fetched.get_json()["credit_limit"] == "2000.00"
    assert fetched.get_json()["created_at"] == body["created_at"]


@pytest.mark.parametrize(
    ("limit", "shown"),
    [(None, None), ("0", "0.00"), ("0.00", "0.00"), ("99999999.99", "99999999.99")],
)
def test_credit_limit_round_trips(client, limit, shown):
    assert put_customer(client, credit_limit=limit).get_json()["credit_limit"] == shown
    assert call(client, "GET", "/v1/customers/C-1").get_json()["credit_limit"] == shown


def test_email_is_optional(client):
    body = customer_body()
    del body["email"]
    response = call(client, "PUT", "/v1/customers/C-1", json=body)
    assert response.status_code == 201
    assert response.get_json()["email"] is None


def test_unknown_customer_is_404(client):
    assert_problem(call(client, "GET", "/v1/customers/NOPE"), 404, "not_found")


def _without(field: str) -> dict[str, Any]:
    body = customer_body()
    del body[field]
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param(customer_body(credit_limit=1000.5), "credit_limit", id="float-limit"),
        pytest.param(customer_body(credit_limit=1000), "credit_limit", id="integer-limit"),
        pytest.param(customer_body(credit_limit="12.345"), None, id="three-decimals"),
        pytest.param(customer_body(credit_limit="-1.00"), None, id="negative-limit"),
        pytest.param(customer_body(credit_limit="1e3"), "credit_limit", id="exponent-limit"),
        pytest.param(customer_body(currency="mxn"), "currency", id="lower-case-currency"),
        pytest.param(customer_body(currency="XYZ"), "currency", id="unknown-currency"),
        pytest.param(customer_body(status="vip"), "status", id="unknown-field"),
        pytest.param(customer_body(amount="1.00"), "amount", id="unknown-field-amount"),
        pytest.param(customer_body(active="yes"), "active", id="string-boolean"),
        pytest.param(customer_body(name=""), "name", id="empty-name"),
        pytest.param(_without("name"), "name", id="missing-name"),
        pytest.param(_without("active"), "active", id="missing-active"),
        pytest.param(_without("currency"), "currency", id="missing-currency"),
        pytest.param(_without("credit_limit"), "credit_limit", id="missing-limit"),
    ],
)
def test_invalid_customer_is_422(client, body, field):
    problem = assert_problem(
        call(client, "PUT", "/v1/customers/C-1", json=body), 422, "validation_error"
    )
    assert problem["errors"]
    if field is not None:
        assert [field] in error_locs(problem)
    # nothing was written
    assert call(client, "GET", "/v1/customers/C-1").status_code == 404


def test_invalid_customer_update_keeps_the_old_one(client, customer):
    response = put_customer(client, credit_limit="1.001")
    assert_problem(response, 422, "validation_error")
    assert call(client, "GET", "/v1/customers/C-1").get_json() == customer


def test_non_json_body_is_400(client):
    response = call(
        client,
        "PUT",
        "/v1/customers/C-1",
        data=b'{"name": "x",',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "invalid_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client, content_type):
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = call(client, "PUT", "/v1/customers/C-1", data=b'{"name": "x"}', headers=headers)
    assert_problem(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/v1/customers/" + "C" * 129, id="customer-id-too-long"),
        pytest.param("/v1/customers/C%201", id="customer-id-with-space"),
        pytest.param("/v1/invoices/" + "F" * 129, id="invoice-id-too-long"),
        pytest.param("/v1/invoices/F%201", id="invoice-id-with-space"),
    ],
)
def test_path_ids_follow_the_rules_of_body_ids(client, customer, path):
    """An id in the path is held to the same rules as one in a body (1-128 characters, no
    whitespace): otherwise it could not be named later in payability or checkouts, and on
    PostgreSQL a 129-character id overflows the column (a 500)."""
    body = invoice_body() if path.startswith("/v1/invoices/") else customer_body()
    response = call(client, "PUT", path, json=body)
    assert_problem(response, 422, "validation_error")


def test_amount_beyond_what_can_be_stored_is_422(client):
    """CLF has 4 decimals: the largest amount the schema accepts is 10**19 minor units, more than a
    64-bit column holds. It must be refused as invalid, not fail on write (a 500)."""
    response = put_customer(client, credit_limit="999999999999999.9999", currency="CLF")
    assert_problem(response, 422, "validation_error")


def test_statement_of_very_large_balances(client, customer):
    """100 invoices at the largest amount the API accepts (10^13 minor units): the sum must not
    overflow the database's SUM; one cent more is refused."""
    big = "100000000000.00"
    too_big = "100000000000.01"
    refused = post_batch(client, [batch_item("F-x", balance=too_big, total=too_big)])
    assert refused.status_code == 422
    items = [batch_item(f"F-{n}", balance=big, total=big, due_on="2026-01-01") for n in range(100)]
    assert post_batch(client, items).status_code == 200
    response = get_statement(client)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["total_balance"] == "10000000000000.00"


def test_customers_are_per_merchant(client, customer):
    other = put_customer(client, key=OTHER_API_KEY, name="Otro", credit_limit=None)
    assert other.status_code == 201  # the same id is a different customer for another merchant
    assert call(client, "GET", "/v1/customers/C-1").get_json() == customer
    assert call(client, "GET", "/v1/customers/C-1", key=OTHER_API_KEY).get_json()["name"] == "Otro"


# -- invoices ------------------------------------------------------------------------------------


def test_put_invoice_creates_then_updates(client, customer):
    created = put_invoice(client, total="1160.5", balance="1160.5")
    assert created.status_code == 201
    body = created.get_json()
    assert set(body) >= INVOICE_FIELDS
    assert (body["total"], body["balance"], body["due_on"]) == ("1160.50", "1160.50", "2026-03-31")

    updated = put_invoice(client, balance="160.00")
    assert updated.status_code == 200
    assert updated.get_json()["balance"] == "160.00"

    fetched = call(client, "GET", "/v1/invoices/F-1")
    assert fetched.status_code == 200
    body = fetched.get_json()
    assert body["balance"] == "160.00"
    assert body["payable"] is True
    assert body["reasons"] == []


@pytest.mark.parametrize(
    ("fields", "reasons"),
    [
        ({"document_type": "nota_credito"}, ["not_an_invoice"]),
        ({"source": "cuentas_por_cobrar"}, ["unsupported_source"]),
        ({"balance": "0.00"}, ["no_balance"]),
        ({"currency": "EUR"}, ["currency_not_supported"]),
    ],
)
def test_get_invoice_says_why_it_is_not_payable(client, customer, fields, reasons):
    assert put_invoice(client, **fields).status_code == 201
    body = call(client, "GET", "/v1/invoices/F-1").get_json()
    assert body["payable"] is False
    assert body["reasons"] == reasons


def test_get_invoice_of_an_inactive_customer(client):
    put_customer(client, active=False)
    put_invoice(client)
    body = call(client, "GET", "/v1/invoices/F-1").get_json()
    assert (body["payable"], body["reasons"]) == (False, ["customer_inactive"])


def test_unknown_invoice_is_404(client):
    assert_problem(call(client, "GET", "/v1/invoices/NOPE"), 404, "not_found")


def test_invoice_of_unknown_customer_is_422_naming_customer_id(client):
    problem = assert_problem(put_invoice(client, customer_id="C-404"), 422, "validation_error")
    assert error_locs(problem) == [["customer_id"]]
    assert "C-404" in problem["errors"][0]["msg"]
    assert call(client, "GET", "/v1/invoices/F-1").status_code == 404


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"total": 1160.0}, "total"),
        ({"balance": "1.001"}, None),
        ({"currency": "mxn"}, "currency"),
        ({"due_on": "31/03/2026"}, "due_on"),
        ({"document_type": "Factura"}, "document_type"),
        ({"status": "paid"}, "status"),
        ({"invoice_id": "F-2"}, "invoice_id"),
    ],
)
def test_invalid_invoice_is_422(client, customer, fields, field):
    response = call(client, "PUT", "/v1/invoices/F-1", json=invoice_body(**fields))
    problem = assert_problem(response, 422, "validation_error")
    if field is not None:
        assert [field] in error_locs(problem)
    assert call(client, "GET", "/v1/invoices/F-1").status_code == 404


def test_negative_balance_is_a_money_string(client, customer):
    body = put_invoice(client, document_type="nota_credito", total="-50", balance="-50").get_json()
    assert (body["total"], body["balance"]) == ("-50.00", "-50.00")


# -- batch ---------------------------------------------------------------------------------------


def test_batch_creates_then_updates(client, customer):
    items = [batch_item(f"F-{n}") for n in range(1, 4)]
    first = post_batch(client, items)
    assert first.status_code == 200
    assert first.get_json() == {"created": 3, "updated": 0}

    items[0]["balance"] = "100.00"
    items.append(batch_item("F-4"))
    second = post_batch(client, items)
    assert second.get_json() == {"created": 1, "updated": 3}
    assert call(client, "GET", "/v1/invoices/F-1").get_json()["balance"] == "100.00"
    assert call(client, "GET", "/v1/invoices/F-4").status_code == 200


@pytest.mark.parametrize(
    ("bad", "loc"),
    [
        pytest.param({"total": 1160}, ["invoices", 2, "total"], id="number-amount"),
        pytest.param({"balance": "1.001"}, ["invoices", 2], id="three-decimals"),
        pytest.param({"currency": "mxn"}, ["invoices", 2, "currency"], id="lower-currency"),
        pytest.param({"paid": True}, ["invoices", 2, "paid"], id="unknown-field"),
        pytest.param(
            {"customer_id": "C-404"}, ["invoices", 2, "customer_id"], id="unknown-customer"
        ),
    ],
)
def test_batch_is_all_or_nothing(client, customer, bad, loc):
    put_invoice(client, "F-0", balance="10.00")  # an existing invoice the batch would update
    items = [batch_item(f"F-{n}") for n in range(5)]
    items[2].update(bad)
    problem = assert_problem(post_batch(client, items), 422, "validation_error")
    locs = error_locs(problem)
    assert all(found[:2] == ["invoices", 2] for found in locs), locs
    assert any(found[: len(loc)] == loc for found in locs), locs
    # nothing written: the new ones don't exist and the existing one kept its balance
    for n in range(1, 5):
        assert call(client, "GET", f"/v1/invoices/F-{n}").status_code == 404
    assert call(client, "GET", "/v1/invoices/F-0").get_json()["balance"] == "10.00"


def test_batch_lists_every_bad_item(client, customer):
    items = [batch_item(f"F-{n}") for n in range(6)]
    items[1]["customer_id"] = "C-404"
    items[4]["customer_id"] = "C-405"
    problem = assert_problem(post_batch(client, items), 422, "validation_error")
    assert error_locs(problem) == [["invoices", 1, "customer_id"], ["invoices", 4, "customer_id"]]


def test_batch_with_a_duplicate_invoice_id_is_422(client, customer):
    items = [batch_item("F-1"), batch_item("F-2"), batch_item("F-1", balance="1.00")]
    problem = assert_problem(post_batch(client, items), 422, "validation_error")
    assert ["invoices", 2, "invoice_id"] in error_locs(problem)
    assert call(client, "GET", "/v1/invoices/F-1").status_code == 404
    assert call(client, "GET", "/v1/invoices/F-2").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"invoices": []}, id="empty"),
        pytest.param({}, id="no-invoices"),
        pytest.param({"invoices": [invoice_body()]}, id="item-without-invoice_id"),
    ],
)
def test_batch_shape_is_validated(client, customer, body):
    assert_problem(call(client, "POST", "/v1/invoices/batch", json=body), 422, "validation_error")


def test_batch_over_10000_is_422(client, customer):
    items = [batch_item(f"F-{n}") for n in range(10_001)]
    assert_problem(post_batch(client, items), 422, "validation_error")


def test_batch_of_10000_invoices(client, customer):
    put_customer(client, "C-2")
    items = [
        batch_item(
            f"F-{n:05d}",
            customer_id="C-1" if n % 2 else "C-2",
            balance="1.50",
            total="1.50",
            due_on=str(AS_OF - timedelta(days=1) if n % 4 == 1 else AS_OF),
        )
        for n in range(10_000)
    ]
    started = time.monotonic()
    first = post_batch(client, items)
    assert first.status_code == 200, first.get_data(as_text=True)[:500]
    assert first.get_json() == {"created": 10_000, "updated": 0}
    second = post_batch(client, items)
    assert second.get_json() == {"created": 0, "updated": 10_000}
    assert time.monotonic() - started < 60

    # 5,000 of C-1's: half due yesterday (overdue), half today (upcoming), 1.50 each
    statement = get_statement(client, "C-1").get_json()
    assert len(statement["invoices"]) == 5_000
    assert statement["total_balance"] == "7500.00"
    assert statement["overdue_balance"] == "3750.00"
    assert statement["upcoming_balance"] == "3750.00"
    assert get_statement(client, "C-2").get_json()["total_balance"] == "7500.00"


# -- statement -----------------------------------------------------------------------------------


@pytest.fixture
def ledger(client, customer) -> None:
    """C-1's documents around AS_OF: two overdue, one due that day, one later, and noise."""
    items = [
        batch_item("F-OLD", due_on="2026-01-31", balance="100.10", total="200.00"),
        batch_item("F-LATE", due_on="2026-03-14", balance="0.90", total="0.90"),
        batch_item("F-TODAY", due_on="2026-03-15", balance="1000", total="1000"),
        batch_item("F-LATER", due_on="2026-04-30", balance="25.5", total="25.5"),
        # not counted: paid off, a credit note, another customer's
        batch_item("F-PAID", due_on="2026-01-01", balance="0.00", total="50.00"),
        batch_item("NC-1", document_type="nota_credito", balance="-30.00", total="-30.00"),
        batch_item("F-C2", customer_id="C-2", balance="999.99", total="999.99"),
    ]
    put_customer(client, "C-2")
    assert post_batch(client, items).get_json() == {"created": 7, "updated": 0}


def test_statement_splits_overdue_and_upcoming(client, ledger):
    response = get_statement(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["customer_id"] == "C-1"
    assert body["currency"] == "MXN"
    assert body["as_of"] == "2026-03-15"
    assert body["total_balance"] == "1126.50"
    assert body["overdue_balance"] == "101.00"
    assert body["upcoming_balance"] == "1025.50"
    lines = {line["invoice_id"]: line for line in body["invoices"]}
    assert list(lines) == ["F-OLD", "F-LATE", "F-TODAY", "F-LATER"]  # oldest due date first
    assert {k: v["state"] for k, v in lines.items()} == {
        "F-OLD": "overdue",
        "F-LATE": "overdue",
        "F-TODAY": "upcoming",  # due on as_of is not overdue yet
        "F-LATER": "upcoming",
    }
    assert lines["F-OLD"] == {
        "invoice_id": "F-OLD",
        "folio": "F-OLD",
        "due_on": "2026-01-31",
        "balance": "100.10",
        "currency": "MXN",
        "state": "overdue",
        "payable": True,
        "reasons": [],
    }
    assert "other_currencies" not in body


@pytest.mark.parametrize(
    ("as_of", "overdue", "upcoming"),
    [
        ("2026-01-01", "0.00", "1126.50"),
        ("2026-03-16", "1101.00", "25.50"),
        ("2026-12-31", "1126.50", "0.00"),
    ],
)
def test_statement_depends_on_as_of(client, ledger, as_of, overdue, upcoming):
    body = get_statement(client, as_of=as_of).get_json()
    assert body["as_of"] == as_of
    assert (body["total_balance"], body["overdue_balance"], body["upcoming_balance"]) == (
        "1126.50",
        overdue,
        upcoming,
    )


def test_statement_defaults_to_today(client, ledger):
    body = get_statement(client, as_of=None).get_json()
    assert abs(date.fromisoformat(body["as_of"]) - date.today()) <= timedelta(days=1)


def test_empty_statement_is_zeros(client, customer):
    body = get_statement(client).get_json()
    assert (body["total_balance"], body["overdue_balance"], body["upcoming_balance"]) == (
        "0.00",
        "0.00",
        "0.00",
    )
    assert body["invoices"] == []


def test_statement_keeps_other_currencies_apart(client, ledger):
    post_batch(client, [batch_item("F-USD", currency="USD", balance="10.00", total="10.00")])
    body = get_statement(client).get_json()
    assert body["total_balance"] == "1126.50"
    assert body["other_currencies"] == [
        {
            "currency": "USD",
            "total_balance": "10.00",
            "overdue_balance": "0.00",
            "upcoming_balance": "10.00",
        }
    ]


@pytest.mark.parametrize("as_of", ["2026-02-30", "15/03/2026", "yesterday", ""])
def test_statement_with_invalid_as_of_is_422(client, customer, as_of):
    response = call(client, "GET", f"/v1/customers/C-1/statement?as_of={as_of}")
    problem = assert_problem(response, 422, "validation_error")
    assert ["as_of"] in error_locs(problem)


def test_statement_with_unknown_query_parameter_is_422(client, customer):
    response = call(client, "GET", "/v1/customers/C-1/statement?as_off=2026-03-15")
    assert_problem(response, 422, "validation_error")


def test_statement_of_unknown_customer_is_404(client):
    assert_problem(get_statement(client, "C-404"), 404, "not_found")


def test_statement_of_another_merchants_customer_is_404(client, ledger):
    response = call(client, "GET", "/v1/customers/C-1/statement", key=OTHER_API_KEY)
    assert_problem(response, 404, "not_found")


# -- the money convention, across every kind of response ------------------------------------------


def test_money_helper_catches_bad_amounts():
    assert money_strings({"total": "1.00", "x": [{"balance": None}]}) == []
    assert money_strings({"a": [{"balance": 1.5}]}) == ["$.a[0].balance=1.5"]
    assert money_strings({"amount": "1.5"}) == ["$.amount='1.5'"]
    assert money_strings({"credit_limit": "1.000"}) == ["$.credit_limit='1.000'"]


def test_every_amount_is_a_two_decimal_string(client, ledger):
    """Amounts sent with 0, 1 and 2 decimals all come back with exactly 2 (call() checks)."""
    responses = [
        put_customer(client, "C-3", credit_limit="7"),
        put_customer(client, "C-3", credit_limit="7.5"),
        call(client, "GET", "/v1/customers/C-3"),
        put_invoice(client, "F-5", total="3", balance="3.3"),
        call(client, "GET", "/v1/invoices/F-5"),
        call(client, "GET", "/v1/invoices/F-OLD"),
        get_statement(client),
        call(
            client,
            "POST",
            "/v1/payability/order",
            json={"customer_id": "C-1", "amount": "5000", "currency": "MXN"},
        ),
        call(
            client,
            "POST",
            "/v1/payability/invoices",
            json={"customer_id": "C-1", "invoice_ids": ["F-OLD", "F-TODAY", "F-5"]},
        ),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 201, 200, 200, 200, 200, 200]
    assert responses[-1].get_json()["amount"] == "1103.40"
