"""Payability over HTTP: may this order / these invoices be paid online, and why not.

acme uses the sandbox processor (MXN and USD) with order and invoice payments on; globex has no
processor and the defaults (payments off).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

API_KEY = "sk_test_merchant_a"
OTHER_API_KEY = "sk_test_merchant_b"
MONEY = re.compile(r"^-?\d+\.\d{2}$")

# -- helpers -------------------------------------------------------------------------------------


def call(client, method: str, path: str, *, key: str = API_KEY, **kwargs: Any):
    return client.open(path, method=method, headers={"Authorization": f"Bearer {key}"}, **kwargs)


def put_customer(
    client,
    customer_id: str = "C-1",
    *,
    key: str = API_KEY,
    limit: str | None = "1000.00",
    active: bool = True,
    currency: str = "MXN",
) -> None:
    body = {"name": customer_id, "active": active, "credit_limit": limit, "currency": currency}
    response = call(client, "PUT", f"/v1/customers/{customer_id}", key=key, json=body)
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def put_invoice(
    client,
    invoice_id: str,
    balance: str,
    *,
    customer_id: str = "C-1",
    key: str = API_KEY,
    currency: str = "MXN",
    document_type: str = "factura",
    source: str = "ventas",
) -> None:
    body = {
        "customer_id": customer_id,
        "folio": invoice_id,
        "document_type": document_type,
        "source": source,
        "issued_on": "2026-01-01",
        "due_on": "2026-02-01",
        "total": balance,
        "balance": balance,
        "currency": currency,
    }
    response = call(client, "PUT", f"/v1/invoices/{invoice_id}", key=key, json=body)
    assert response.status_code in (200, 201), response.get_data(as_text=True)


def order(client, amount: Any, *, customer_id: str = "C-1", currency: str = "MXN", **kwargs: Any):
    body = {"customer_id": customer_id, "amount": amount, "currency": currency}
    return call(client, "POST", "/v1/payability/order", json=body, **kwargs)


def invoices(client, invoice_ids: list[str], *, customer_id: str = "C-1", **kwargs: Any):
    body = {"customer_id": customer_id, "invoice_ids": invoice_ids}
    return call(client, "POST", "/v1/payability/invoices", json=body, **kwargs)


def ok(response) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    return response.get_json()


def assert_problem(response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert (body["status"], body["code"]) == (status, code)
    return body


# -- orders --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "payable", "reasons"),
    [
        pytest.param("1000.01", True, [], id="above"),
        pytest.param("250000", True, [], id="well-above"),
        pytest.param("1000.00", False, ["within_credit_limit"], id="equal"),
        pytest.param("1000", False, ["within_credit_limit"], id="equal-no-decimals"),
        pytest.param("999.99", False, ["within_credit_limit"], id="below"),
        pytest.param("0.01", False, ["within_credit_limit"], id="tiny"),
    ],
)
def test_order_against_the_credit_limit(client, amount, payable, reasons):
    put_customer(client, limit="1000.00")
    assert ok(order(client, amount)) == {
        "payable": payable,
        "reasons": reasons,
        "credit_limit": "1000.00",
    }


@pytest.mark.parametrize("amount", ["0.01", "1", "999999.99"])
def test_order_with_limit_zero_is_always_payable(client, amount):
    put_customer(client, limit="0.00")
    assert ok(order(client, amount)) == {"payable": True, "reasons": [], "credit_limit": "0.00"}


def test_order_without_a_credit_limit(client):
    put_customer(client, limit=None)
    assert ok(order(client, "5000.00")) == {
        "payable": False,
        "reasons": ["credit_limit_not_assigned"],
        "credit_limit": None,
    }


def test_order_of_an_inactive_customer(client):
    put_customer(client, active=False)
    body = ok(order(client, "5000.00"))
    assert (body["payable"], body["reasons"]) == (False, ["customer_inactive"])


def test_order_in_another_currency_than_the_limit(client):
    put_customer(client, limit="1000.00")
    body = ok(order(client, "5000.00", currency="USD"))  # the sandbox charges USD
    assert (body["payable"], body["reasons"]) == (False, ["currency_mismatch"])


def test_order_in_a_currency_the_processor_cannot_charge(client):
    put_customer(client, limit="0.00", currency="EUR")
    body = ok(order(client, "5000.00", currency="EUR"))
    assert (body["payable"], body["reasons"]) == (False, ["currency_not_supported"])


def test_all_reasons_at_once(client):
    put_customer(client, limit=None, active=False)
    body = ok(order(client, "5000.00", currency="EUR"))
    assert set(body["reasons"]) == {
        "currency_not_supported",
        "customer_inactive",
        "currency_mismatch",
        "credit_limit_not_assigned",
    }


def test_merchant_without_processor_or_order_payments(client):
    put_customer(client, key=OTHER_API_KEY, limit="0.00")
    body = ok(order(client, "5000.00", key=OTHER_API_KEY))
    assert body["payable"] is False
    assert set(body["reasons"]) == {"processor_not_configured", "order_payments_disabled"}


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(5000, id="integer"),
        pytest.param(5000.5, id="float"),
        pytest.param("0.00", id="zero"),
        pytest.param("0", id="zero-no-decimals"),
        pytest.param("-5.00", id="negative"),
        pytest.param("5000.001", id="three-decimals"),
        pytest.param("5,000.00", id="thousands-separator"),
        pytest.param("", id="empty"),
        pytest.param(None, id="null"),
    ],
)
def test_invalid_order_amount_is_422(client, amount):
    put_customer(client)
    problem = assert_problem(order(client, amount), 422, "validation_error")
    assert problem["errors"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"customer_id": "C-1", "amount": "5.00"}, id="no-currency"),
        pytest.param({"customer_id": "C-1", "currency": "MXN"}, id="no-amount"),
        pytest.param({"amount": "5.00", "currency": "MXN"}, id="no-customer"),
        pytest.param(
            {"customer_id": "C-1", "amount": "5.00", "currency": "mxn"}, id="lower-currency"
        ),
        pytest.param(
            {"customer_id": "C-1", "amount": "5.00", "currency": "MXN", "payable": True},
            id="unknown-field",
        ),
    ],
)
def test_invalid_order_body_is_422(client, body):
    put_customer(client)
    response = call(client, "POST", "/v1/payability/order", json=body)
    assert_problem(response, 422, "validation_error")


def test_order_of_unknown_customer_is_404(client):
    problem = assert_problem(order(client, "5000.00", customer_id="C-404"), 404, "not_found")
    assert "C-404" in problem["detail"]


def test_order_of_another_merchants_customer_is_404(client):
    put_customer(client, "C-GLOBEX", key=OTHER_API_KEY)
    assert_problem(order(client, "5000.00", customer_id="C-GLOBEX"), 404, "not_found")


# -- invoices ------------------------------------------------------------------------------------


@pytest.fixture
def receivables(client) -> None:
    """C-1's documents: three payable facturas (MXN), and one of each reason; C-2's factura."""
    put_customer(client, "C-1")
    put_customer(client, "C-2")
    put_invoice(client, "F-1", "1160.00")
    put_invoice(client, "F-2", "339.50")
    put_invoice(client, "F-3", "0.50", source="punto_de_venta")
    put_invoice(client, "F-USD", "100.00", currency="USD")
    put_invoice(client, "F-EUR", "100.00", currency="EUR")
    put_invoice(client, "NC-1", "50.00", document_type="nota_credito")
    put_invoice(client, "F-CXC", "50.00", source="cuentas_por_cobrar")
    put_invoice(client, "F-PAID", "0.00")
    put_invoice(client, "F-9", "77.00", customer_id="C-2")


def test_invoices_amount_is_the_sum_of_balances(client, receivables):
    body = ok(invoices(client, ["F-1", "F-2", "F-3"]))
    assert body == {
        "payable": True,
        "reasons": [],
        "amount": "1500.00",
        "currency": "MXN",
        "invoices": [
            {"invoice_id": "F-1", "balance": "1160.00", "payable": True, "reasons": []},
            {"invoice_id": "F-2", "balance": "339.50", "payable": True, "reasons": []},
            {"invoice_id": "F-3", "balance": "0.50", "payable": True, "reasons": []},
        ],
    }


def test_a_repeated_invoice_id_counts_once(client, receivables):
    body = ok(invoices(client, ["F-1", "F-2", "F-1"]))
    assert body["amount"] == "1499.50"
    assert [line["invoice_id"] for line in body["invoices"]] == ["F-1", "F-2"]


def test_invoices_in_another_currency(client, receivables):
    body = ok(invoices(client, ["F-USD"]))
    assert (body["payable"], body["amount"], body["currency"]) == (True, "100.00", "USD")


def test_mixed_currencies(client, receivables):
    body = ok(invoices(client, ["F-1", "F-USD"]))
    assert body["payable"] is False
    assert body["reasons"] == ["mixed_currencies"]
    assert (body["amount"], body["currency"]) == (None, None)
    assert [(line["invoice_id"], line["payable"]) for line in body["invoices"]] == [
        ("F-1", True),
        ("F-USD", True),
    ]


@pytest.mark.parametrize(
    ("invoice_id", "reasons"),
    [
        ("NC-1", ["not_an_invoice"]),
        ("F-CXC", ["unsupported_source"]),
        ("F-PAID", ["no_balance"]),
    ],
)
def test_one_unpayable_invoice_blocks_the_set(client, receivables, invoice_id, reasons):
    body = ok(invoices(client, ["F-1", invoice_id]))
    assert body["payable"] is False
    assert body["reasons"] == reasons
    lines = {line["invoice_id"]: line for line in body["invoices"]}
    assert (lines["F-1"]["payable"], lines["F-1"]["reasons"]) == (True, [])
    assert (lines[invoice_id]["payable"], lines[invoice_id]["reasons"]) == (False, reasons)


def test_invoice_in_a_currency_the_processor_cannot_charge(client, receivables):
    body = ok(invoices(client, ["F-EUR"]))
    assert (body["payable"], body["reasons"]) == (False, ["currency_not_supported"])
    assert (body["amount"], body["currency"]) == ("100.00", "EUR")


def test_nota_credito_is_not_an_invoice(client, receivables):
    body = ok(invoices(client, ["NC-1"]))
    assert (body["payable"], body["reasons"]) == (False, ["not_an_invoice"])
    assert body["amount"] == "50.00"


def test_invoices_of_an_inactive_customer(client, receivables):
    put_customer(client, "C-1", active=False)
    body = ok(invoices(client, ["F-1"]))
    assert (body["payable"], body["reasons"]) == (False, ["customer_inactive"])


def test_invoices_of_merchant_without_processor(client):
    put_customer(client, "C-1", key=OTHER_API_KEY)
    put_invoice(client, "F-1", "10.00", key=OTHER_API_KEY)
    body = ok(invoices(client, ["F-1"], key=OTHER_API_KEY))
    assert set(body["reasons"]) == {"processor_not_configured", "invoice_payments_disabled"}


@pytest.mark.parametrize(
    "invoice_ids",
    [["F-404"], ["F-1", "F-404"], ["F-404", "F-1", "F-405"]],
)
def test_unknown_invoice_is_404_naming_it(client, receivables, invoice_ids):
    problem = assert_problem(invoices(client, invoice_ids), 404, "not_found")
    missing = [i for i in invoice_ids if i != "F-1"]
    assert problem["invoice_ids"] == missing
    assert all(invoice_id in problem["detail"] for invoice_id in missing)
    assert "F-1" not in problem["invoice_ids"]


def test_invoice_of_another_customer_is_404(client, receivables):
    problem = assert_problem(invoices(client, ["F-1", "F-9"]), 404, "not_found")
    assert problem["invoice_ids"] == ["F-9"]
    # and it is payable for its own customer
    assert ok(invoices(client, ["F-9"], customer_id="C-2"))["amount"] == "77.00"


def test_invoices_of_unknown_customer_is_404(client, receivables):
    assert_problem(invoices(client, ["F-1"], customer_id="C-404"), 404, "not_found")


def test_invoice_of_another_merchant_is_404(client, receivables):
    put_customer(client, "C-1", key=OTHER_API_KEY)
    problem = assert_problem(invoices(client, ["F-1"], key=OTHER_API_KEY), 404, "not_found")
    assert problem["invoice_ids"] == ["F-1"]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({"customer_id": "C-1", "invoice_ids": []}, id="empty-list"),
        pytest.param({"customer_id": "C-1", "invoice_ids": "F-1"}, id="string"),
        pytest.param({"customer_id": "C-1", "invoice_ids": [1]}, id="number-id"),
        pytest.param({"customer_id": "C-1", "invoice_ids": [""]}, id="empty-id"),
        pytest.param({"invoice_ids": ["F-1"]}, id="no-customer"),
        pytest.param(
            {"customer_id": "C-1", "invoice_ids": ["F-1"], "amount": "1.00"}, id="unknown-field"
        ),
        pytest.param(
            {"customer_id": "C-1", "invoice_ids": [f"F-{n}" for n in range(501)]}, id="over-500"
        ),
    ],
)
def test_invalid_invoices_body_is_422(client, receivables, body):
    response = call(client, "POST", "/v1/payability/invoices", json=body)
    assert_problem(response, 422, "validation_error")


def test_amounts_are_strings_with_two_decimals(client, receivables):
    body = ok(invoices(client, ["F-1", "F-2", "F-3", "NC-1", "F-PAID"]))
    amounts = [body["amount"]] + [line["balance"] for line in body["invoices"]]
    assert all(isinstance(a, str) and MONEY.match(a) for a in amounts), amounts
    assert ok(order(client, "7"))["credit_limit"] == "1000.00"


# -- processors ----------------------------------------------------------------------------------


def test_processors_of_a_merchant_with_the_sandbox(client):
    body = ok(call(client, "GET", "/v1/processors"))
    assert body["processor"] == "sandbox"
    sandbox = next(p for p in body["data"] if p["name"] == "sandbox")
    assert sandbox["configured"] is True
    assert set(sandbox) == {"name", "display_name", "version", "capabilities", "configured"}
    caps = sandbox["capabilities"]
    assert set(caps) == {
        "currencies",
        "token_charge",
        "hosted_checkout",
        "partial_refund",
        "three_d_secure",
        "payment_methods",
        "installments",
        "required",
        "installments_need_token",
        "method_currencies",
    }
    assert caps["currencies"] == ["MXN", "USD"]
    assert caps["method_currencies"] == {}  # every method in every currency it charges
    assert caps["required"] == {}  # the sandbox charges without a device session or an email
    lists = ("currencies", "payment_methods", "installments", "required", "method_currencies")
    assert all(isinstance(caps[k], bool) for k in caps if k not in lists)
    assert sum(p["configured"] for p in body["data"]) == 1


def test_processors_of_a_merchant_without_one(client):
    body = ok(call(client, "GET", "/v1/processors", key=OTHER_API_KEY))
    assert body["processor"] is None
    assert "sandbox" in [p["name"] for p in body["data"]]
    assert not any(p["configured"] for p in body["data"])
