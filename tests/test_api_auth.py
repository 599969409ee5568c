"""Authentication and isolation over HTTP (docs/reference/http.md).

Every ``/v1`` route but the webhooks needs ``Authorization: Bearer <api key>``; the key decides the
merchant, and another merchant's customer, invoice or payment is a 404 (never a 403, which would
say it exists). The route lists come from ``app.url_map``, so a route added later is checked
without anyone remembering to add it here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from b2bgateway.settings import MerchantSettings, Settings
from b2bgateway.throttle import FailedAuthSettings

API_KEY = "sk_test_merchant_a"  # acme: sandbox processor, order and invoice payments on
OTHER_API_KEY = "sk_test_merchant_b"  # globex: no processor
THIRD_API_KEY = "sk_test_merchant_c"  # initech (this file only): like acme, its own sandbox
OTHER_MERCHANTS = [
    pytest.param(OTHER_API_KEY, id="globex"),
    pytest.param(THIRD_API_KEY, id="initech"),
]
IGNORED_METHODS = {"HEAD", "OPTIONS"}
UNAUTHENTICATED_PREFIXES = ("/v1/webhooks/",)  # each processor's own scheme authenticates

# -- helpers -------------------------------------------------------------------------------------


def v1_routes(app) -> Iterator[tuple[str, str, list[str]]]:
    """``(method, rule, id parameters)`` of every authenticated /v1 route."""
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith("/v1") or rule.rule.startswith(UNAUTHENTICATED_PREFIXES):
            continue
        for method in sorted(rule.methods - IGNORED_METHODS):
            yield method, rule.rule, sorted(rule.arguments)


def fill(rule: str, values: dict[str, str]) -> str:
    """The rule's path with each ``<name>`` (or ``<converter:name>``) replaced by its value."""
    path = rule
    for name, value in values.items():
        path = re.sub(rf"<(?:\w+:)?{name}>", value, path)
    assert "<" not in path, f"{rule}: no value for a parameter; add it to the table"
    return path


def headers(key: str | None = API_KEY, **extra: str) -> dict[str, str]:
    base = {} if key is None else {"Authorization": f"Bearer {key}"}
    return {**base, "Idempotency-Key": str(uuid.uuid4()), **extra}


def send(client, method: str, path: str, *, key: str | None = API_KEY, json: Any = None, **kw):
    if method in {"GET", "DELETE"}:
        return client.open(path, method=method, headers=headers(key, **kw))
    return client.open(path, method=method, headers=headers(key, **kw), json=json or {})


def customer_body(**overrides: Any) -> dict[str, Any]:
    return {
        "name": "Cliente",
        "active": True,
        "credit_limit": "0.00",
        "currency": "MXN",
    } | overrides


def invoice_body(customer_id: str = "C-1", **overrides: Any) -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "folio": "A-1",
        "document_type": "factura",
        "source": "ventas",
        "issued_on": "2026-01-01",
        "due_on": "2026-02-01",
        "total": "100.00",
        "balance": "100.00",
        "currency": "MXN",
    } | overrides


def order_checkout(customer_id: str = "C-1") -> dict[str, Any]:
    return {
        "customer_id": customer_id,
        "purpose": "order",
        "order": {"reference": "PED-1", "amount": "100.00", "currency": "MXN"},
        "payment_method": {"token": "tok_approved"},
    }


def invoices_checkout(customer_id: str = "C-1", invoice_ids: tuple[str, ...] = ("F-1",)):
    return {
        "customer_id": customer_id,
        "purpose": "invoices",
        "invoice_ids": list(invoice_ids),
        "payment_method": {"token": "tok_approved"},
    }


def describe(response) -> str:
    return f"{response.status_code} {response.get_data(as_text=True)[:200]}"


@pytest.fixture
def settings(settings: Settings, tmp_path) -> Settings:
    """conftest's merchants plus initech, which has a processor and payments on, so the
    isolation checks also run where nothing else (no processor) could answer first."""
    initech = MerchantSettings(
        api_keys=[THIRD_API_KEY],
        processor="sandbox",
        order_payments=True,
        invoice_payments=True,
        processors={
            "sandbox": {
                "webhook_secret": "whsec_initech_secret",
                "ledger_path": str(tmp_path / "initech-ledger.db"),
            }
        },
    )
    # Each test here sends many wrong keys from one address: throttling has its own tests.
    return settings.model_copy(
        update={
            "merchants": {**settings.merchants, "initech": initech},
            "failed_auth": FailedAuthSettings(limit=1000),
        }
    )


@pytest.fixture
def acme(client) -> dict[str, str]:
    """acme's objects: customers C-1 and C-2, invoices F-1 (C-1's) and F-9 (C-2's), and a
    succeeded payment of an order of C-1's. Returns the value of each path parameter."""
    for customer_id in ("C-1", "C-2"):
        response = send(client, "PUT", f"/v1/customers/{customer_id}", json=customer_body())
        assert response.status_code == 201, describe(response)
    for invoice_id, customer_id in (("F-1", "C-1"), ("F-9", "C-2")):
        response = send(client, "PUT", f"/v1/invoices/{invoice_id}", json=invoice_body(customer_id))
        assert response.status_code == 201, describe(response)
    response = send(client, "POST", "/v1/checkouts", json=order_checkout())
    assert response.status_code == 201, describe(response)
    payment = response.get_json()
    assert payment["status"] == "succeeded"
    return {"customer_id": "C-1", "invoice_id": "F-1", "payment_id": payment["id"]}


def snapshot(client, objects: dict[str, str]) -> dict[str, Any]:
    """acme's objects as acme sees them."""
    return {
        "customer": send(client, "GET", f"/v1/customers/{objects['customer_id']}").get_json(),
        "invoice": send(client, "GET", f"/v1/invoices/{objects['invoice_id']}").get_json(),
        "payment": send(client, "GET", f"/v1/payments/{objects['payment_id']}").get_json(),
        "payments": send(client, "GET", "/v1/payments").get_json(),
    }


# -- 401 -----------------------------------------------------------------------------------------

BAD_AUTHORIZATION = {
    "missing": None,
    "empty": "",
    "scheme-only": "Bearer",
    "scheme-and-space": "Bearer ",
    "garbage-key": "Bearer sk_not_a_real_key",
    "key-without-scheme": API_KEY,
    "basic-scheme": f"Basic {API_KEY}",
    "token-scheme": f"Token {API_KEY}",
    "key-prefix": f"Bearer {API_KEY[:-1]}",
    "key-with-suffix": f"Bearer {API_KEY}x",
    "two-keys": f"Bearer {API_KEY} {OTHER_API_KEY}",
}


@pytest.mark.parametrize("authorization", BAD_AUTHORIZATION.values(), ids=BAD_AUTHORIZATION.keys())
def test_every_v1_route_is_401_without_a_valid_key(app, client, authorization):
    values = {"customer_id": "C-1", "invoice_id": "F-1", "payment_id": "pay_1"}
    extra = {} if authorization is None else {"Authorization": authorization}
    wrong = []
    checked = 0
    for method, rule, _ in v1_routes(app):
        response = send(client, method, fill(rule, values), key=None, **extra)
        checked += 1
        body = response.get_json(silent=True) or {}
        if (
            response.status_code != 401
            or response.mimetype != "application/problem+json"
            or body.get("code") != "unauthorized"
            or body.get("status") != 401
        ):
            wrong.append(f"{method} {rule}: {describe(response)}")
    assert checked >= 10
    assert wrong == []


def test_401_writes_nothing(client):
    send(client, "PUT", "/v1/customers/C-1", key="sk_wrong_key", json=customer_body())
    response = send(client, "GET", "/v1/customers/C-1")
    assert response.status_code == 404


def test_401_says_how_to_authenticate(client):
    """RFC 9110 §11.6.1: a 401 carries a WWW-Authenticate challenge (here: Bearer)."""
    response = send(client, "GET", "/v1/processors", key=None)
    assert response.status_code == 401
    assert response.headers.get("WWW-Authenticate", "").startswith("Bearer")


def test_webhooks_do_not_use_api_keys(client):
    """The webhook endpoint authenticates with the processor's signature instead: no key, no 401."""
    response = client.post("/v1/webhooks/acme/sandbox", data=b"{}")
    assert response.status_code != 401


@pytest.mark.parametrize(
    "authorization", [f"Bearer {API_KEY}", f"bearer {API_KEY}", f"Bearer   {API_KEY}  "]
)
def test_a_valid_key_is_accepted(client, authorization):
    response = client.get("/v1/processors", headers={"Authorization": authorization})
    assert response.status_code == 200
    assert response.get_json()["processor"] == "sandbox"


# -- another merchant's objects are a 404 ----------------------------------------------------------

# Bodies that are valid for globex, so that only the ownership of the id can fail.
BODIES: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("PUT", "/v1/customers/<customer_id>"): [customer_body(name="Globex")],
    ("PUT", "/v1/invoices/<invoice_id>"): [invoice_body(balance="1.00", total="1.00")],
    ("POST", "/v1/payments/<payment_id>/refunds"): [{}, {"amount": "1.00", "reason": "x"}],
    ("POST", "/v1/payments/<payment_id>/void"): [{"reason": "x"}],
}
# Routes without an id in the path, and how they meet another merchant's objects.
CUSTOMER_IN_BODY: dict[tuple[str, str], list[dict[str, Any]]] = {
    ("POST", "/v1/payability/order"): [
        {"customer_id": "C-1", "amount": "100.00", "currency": "MXN"}
    ],
    ("POST", "/v1/payability/invoices"): [{"customer_id": "C-1", "invoice_ids": ["F-1"]}],
    ("POST", "/v1/checkouts"): [order_checkout(), invoices_checkout()],
    ("POST", "/v1/portal-sessions"): [{"customer_id": "C-1"}],
    ("POST", "/v1/manual-payments"): [
        {
            "customer_id": "C-1",
            "purpose": "invoices",
            "invoice_ids": ["F-1"],
            "method": "cash",
            "received_on": "2026-11-30",
        }
    ],
}
NO_OBJECT = {
    ("GET", "/v1/payments"),  # globex's own (empty) feed: see test_the_feed_is_per_merchant
    ("GET", "/v1/processors"),
    ("POST", "/v1/invoices/batch"),  # see test_batch_for_another_merchants_customer_is_422
}


def test_every_v1_route_is_classified(app):
    """A new route must say how it is checked: an id in the path (the generic 404 check below
    covers it), a customer in the body, or no object of a merchant at all."""
    unclassified = [
        (method, rule)
        for method, rule, params in v1_routes(app)
        if not params and (method, rule) not in set(CUSTOMER_IN_BODY) | NO_OBJECT
    ]
    assert unclassified == []


@pytest.mark.parametrize("other", OTHER_MERCHANTS)
def test_every_route_with_an_id_is_404_for_another_merchant(app, client, acme, other):
    """Each id parameter holds an object of acme's; the other merchant must get a 404 for it, on
    every route (PUT is an upsert: it may create the other's own object, never touch acme's)."""
    before = snapshot(client, acme)
    wrong = []
    checked = 0
    # upserts last: a PUT may create the other merchant's own object with that id
    for method, rule, params in sorted(v1_routes(app), key=lambda route: route[0] == "PUT"):
        if not params:
            continue
        unknown = set(params) - set(acme)
        assert not unknown, f"{method} {rule}: add an acme object for {unknown} to the fixture"
        path = fill(rule, acme)
        for body in BODIES.get((method, rule), [{}]):
            response = send(client, method, path, key=other, json=body)
            checked += 1
            # PUT: its own object was created (201) or refused (422); 200 = it found acme's
            acceptable = {201, 422} if method == "PUT" else {404}
            if response.status_code not in acceptable or (
                response.status_code == 404 and response.get_json().get("code") != "not_found"
            ):
                wrong.append(f"{method} {path} {body}: {describe(response)}")
    assert checked >= 7
    assert wrong == []
    after = snapshot(client, acme)
    assert after == before


def test_put_with_another_merchants_id_creates_its_own(client, acme):
    response = send(
        client, "PUT", "/v1/customers/C-1", key=OTHER_API_KEY, json=customer_body(name="Globex")
    )
    assert response.status_code == 201
    assert send(client, "GET", "/v1/customers/C-1").get_json()["name"] == "Cliente"
    assert (
        send(client, "GET", "/v1/customers/C-1", key=OTHER_API_KEY).get_json()["name"] == "Globex"
    )


def test_invoice_for_another_merchants_customer_is_422(client, acme):
    response = send(client, "PUT", "/v1/invoices/F-1", key=OTHER_API_KEY, json=invoice_body())
    assert response.status_code == 422
    assert [e["loc"] for e in response.get_json()["errors"]] == [["customer_id"]]
    assert send(client, "GET", "/v1/invoices/F-1", key=OTHER_API_KEY).status_code == 404


def test_batch_for_another_merchants_customer_is_422(client, acme):
    body = {"invoices": [{"invoice_id": "F-1", **invoice_body(balance="1.00", total="1.00")}]}
    response = send(client, "POST", "/v1/invoices/batch", key=OTHER_API_KEY, json=body)
    assert response.status_code == 422
    assert [e["loc"] for e in response.get_json()["errors"]] == [["invoices", 0, "customer_id"]]
    assert send(client, "GET", "/v1/invoices/F-1").get_json()["balance"] == "100.00"


CUSTOMER_IN_BODY_CASES = [
    pytest.param(method, rule, body, id=f"{rule}-{index}")
    for (method, rule), bodies in CUSTOMER_IN_BODY.items()
    for index, body in enumerate(bodies)
]


@pytest.mark.parametrize("other", OTHER_MERCHANTS)
@pytest.mark.parametrize(("method", "rule", "body"), CUSTOMER_IN_BODY_CASES)
def test_another_merchants_customer_in_the_body_is_404(client, acme, method, rule, body, other):
    before = snapshot(client, acme)
    response = send(client, method, rule, key=other, json=body)
    assert response.status_code == 404, describe(response)
    assert response.get_json()["code"] == "not_found"
    assert snapshot(client, acme) == before


def test_the_feed_is_per_merchant(client, acme):
    for query in ("", "?customer_id=C-1", "?customer_id=C-1&status=succeeded&limit=500"):
        response = send(client, "GET", f"/v1/payments{query}", key=OTHER_API_KEY)
        assert response.status_code == 200
        assert response.get_json() == {"data": [], "next_cursor": None}


# -- another customer's invoice is a 404 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "body"),
    [
        pytest.param(
            "/v1/payability/invoices",
            {"customer_id": "C-1", "invoice_ids": ["F-9"]},
            id="payability",
        ),
        pytest.param(
            "/v1/payability/invoices",
            {"customer_id": "C-1", "invoice_ids": ["F-1", "F-9"]},
            id="payability-with-own",
        ),
        pytest.param("/v1/checkouts", invoices_checkout("C-1", ("F-9",)), id="checkout"),
        pytest.param(
            "/v1/checkouts", invoices_checkout("C-1", ("F-1", "F-9")), id="checkout-with-own"
        ),
    ],
)
def test_another_customers_invoice_is_404(client, acme, rule, body):
    before = snapshot(client, acme)
    response = send(client, "POST", rule, json=body)
    assert response.status_code == 404, describe(response)
    problem = response.get_json()
    assert problem["code"] == "not_found"
    assert problem["invoice_ids"] == ["F-9"]
    assert "F-9" in problem["detail"]
    assert snapshot(client, acme) == before  # no payment was created
    # F-9 is fine for its own customer
    assert send(
        client, "POST", rule, json={**body, "customer_id": "C-2", "invoice_ids": ["F-9"]}
    ).status_code in (200, 201)
