"""``/openapi.json``: a valid OpenAPI 3.1 document that describes every ``/v1`` route with the
pydantic models the views validate with, and that the API keeps to (schemathesis against the WSGI
app: no 5xx, every documented response matches its schema)."""

from __future__ import annotations

import importlib.util
import json
import os
import re
from typing import Any

import jsonschema_rs
import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from b2bgateway.throttle import FailedAuthSettings
from b2bgateway_web.api.schemas import ID_PATTERN
from tests.support.web import API_KEY, AUTH

CUSTOMER = "C-1"
INVOICE = "F-1"
PAID_INVOICE = "F-2"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture
def settings(settings):
    """schemathesis tries wrong keys on purpose (ignored_auth): no throttling here, it has its
    own tests (test_api_keys.py)."""
    return settings.model_copy(update={"failed_auth": FailedAuthSettings(limit=10_000)})


@pytest.fixture
def document(client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    doc: dict[str, Any] = response.json
    return doc


def _v1_routes(app) -> dict[str, set[str]]:
    """Every ``/v1`` rule of the app as an OpenAPI path, with its methods (no HEAD/OPTIONS)."""
    from b2bgateway_web.api.openapi import _path

    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        path, _ = _path(rule.rule)
        methods = {m.lower() for m in (rule.methods or set())} - {"head", "options"}
        routes.setdefault(path, set()).update(methods)
    return routes


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref}: only local references are expected"
    node: Any = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        for value in node.values():
            found.extend(_refs(value))
        return found
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


# -- the document --------------------------------------------------------------------------------


def test_openapi_json_is_a_valid_openapi_3_1_document(document):
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["title"] and document["info"]["version"]
    # The official OpenAPI 3.1 meta-schema, as shipped with schemathesis (and
    # openapi-spec-validator's, when that is installed too).
    schemathesis.openapi.from_dict(document).validate()
    if importlib.util.find_spec("openapi_spec_validator") is not None:  # pragma: no cover
        from openapi_spec_validator import validate

        validate(document)


def test_openapi_json_needs_no_api_key(app):
    response = app.test_client().get("/openapi.json")
    assert response.status_code == 200


def test_every_v1_route_is_documented_with_its_methods(app, document):
    routes = _v1_routes(app)
    assert routes, "no /v1 routes?"
    documented = {
        path: {m for m in item if m in METHODS}
        for path, item in document["paths"].items()
        if path.startswith("/v1/")
    }
    missing = {
        path: sorted(methods - documented.get(path, set()))
        for path, methods in routes.items()
        if methods - documented.get(path, set())
    }
    assert missing == {}, f"routes missing from /openapi.json: {missing}"
    extra = {
        path: sorted(methods - routes.get(path, set()))
        for path, methods in documented.items()
        if methods - routes.get(path, set())
    }
    assert extra == {}, f"documented operations the app does not serve: {extra}"


def test_operations_are_well_formed(document):
    seen_ids = set()
    for path, method, op in _operations(document):
        label = f"{method.upper()} {path}"
        assert op["operationId"] not in seen_ids, label
        seen_ids.add(op["operationId"])
        assert op.get("summary"), label
        assert op["responses"], label
        declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        templated = {part[1:-1] for part in path.split("/") if part.startswith("{")}
        assert declared == templated, label
        for status, response in op["responses"].items():
            assert status.isdigit(), (label, status)
            assert response.get("description"), (label, status)
        if path.startswith("/v1/") and "/webhooks/" not in path:
            assert op.get("security") == [{"bearer": []}], label
            assert "401" in op["responses"], label
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
    }


def test_every_ref_resolves(document):
    refs = _refs(document)
    assert refs
    for ref in refs:
        assert isinstance(_resolve(document, ref), dict), ref


def test_request_bodies_and_responses_are_the_views_models(app, document):
    """What the document says each view accepts and returns is the pydantic model it uses."""
    from b2bgateway_web.api.openapi import _path

    components = document["components"]["schemas"]
    checked = 0
    for rule in app.url_map.iter_rules():
        op = getattr(app.view_functions.get(rule.endpoint), "openapi", None)
        if op is None:
            continue
        path, _ = _path(rule.rule)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            item = document["paths"][path][method.lower()]
            label = f"{method} {path}"
            if op.body is None:
                assert "requestBody" not in item, label
            else:
                body = item["requestBody"]
                assert body["required"] is True, label
                schema = body["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{op.body.__name__}"}, label
                expected = op.body.model_json_schema(
                    ref_template="#/components/schemas/{model}", mode="validation"
                )
                expected.pop("$defs", None)
                assert components[op.body.__name__] == expected, label
                checked += 1
            for status, model in op.responses.items():
                response = item["responses"][str(status)]
                if model is None:
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema == {"$ref": f"#/components/schemas/{model.__name__}"}, label
            if op.query is not None:
                query = {p["name"] for p in item["parameters"] if p["in"] == "query"}
                assert query == set(op.query.model_fields), label
            if op.idempotent:
                headers = {p["name"]: p for p in item["parameters"] if p["in"] == "header"}
                assert headers["Idempotency-Key"]["required"] is True, label
            for status, response in item["responses"].items():
                if int(status) >= 400 and status != "414":  # gunicorn's, before the app
                    assert response["content"] == {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    }, (label, status)
    assert checked >= 7  # customers, invoices, batch, payability x2, checkouts, refunds


def test_component_schemas_are_valid_json_schema_2020_12(document):
    for name, schema in document["components"]["schemas"].items():
        candidate = {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}
        assert jsonschema_rs.meta.is_valid(candidate), name


# -- the API keeps to it (schemathesis) ----------------------------------------------------------


def _seed(client) -> str:
    """A customer, a payable invoice and a paid one: ids the generated requests sometimes use."""
    customer = {
        "name": "Ferretería Uno",
        "email": "pagos@uno.example",
        "active": True,
        "credit_limit": "1000.00",
        "currency": "MXN",
    }
    assert client.put(f"/v1/customers/{CUSTOMER}", json=customer, headers=AUTH).status_code == 201
    for invoice_id, balance in ((INVOICE, "1500.00"), (PAID_INVOICE, "250.50")):
        invoice = {
            "customer_id": CUSTOMER,
            "folio": invoice_id,
            "document_type": "factura",
            "source": "ventas",
            "issued_on": "2025-01-10",
            "due_on": "2025-02-10",
            "total": balance,
            "balance": balance,
            "currency": "MXN",
        }
        response = client.put(f"/v1/invoices/{invoice_id}", json=invoice, headers=AUTH)
        assert response.status_code == 201, response.json
    response = client.post(
        "/v1/checkouts",
        json={
            "customer_id": CUSTOMER,
            "purpose": "invoices",
            "invoice_ids": [PAID_INVOICE],
            "payment_method": {"token": "tok_approved"},
        },
        headers={**AUTH, "Idempotency-Key": "seed-checkout"},
    )
    assert response.status_code == 201, response.json
    assert response.json["status"] == "succeeded"
    payment_id: str = response.json["id"]
    return payment_id


def test_a_refund_amount_with_more_decimals_than_the_currency_allows_is_a_422(app, client):
    """Found by the schemathesis run below: the refund's amount is checked against the payment's
    currency in the view, outside the pydantic model; its ValueError used to escape as a 500."""
    app.testing = False
    payment_id = _seed(client)
    response = client.post(
        f"/v1/payments/{payment_id}/refunds",
        json={"amount": "10.005"},
        headers={**AUTH, "Idempotency-Key": "refund-three-decimals"},
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"


NUL_REQUESTS = [
    ("GET", "/v1/customers/C%00", None),
    ("GET", "/v1/customers/C%00/statement", None),
    ("GET", "/v1/invoices/F%00", None),
    ("GET", "/v1/payments/pay%00", None),
    ("GET", "/v1/payments?customer_id=C%00", None),
    (
        "PUT",
        "/v1/customers/C-1",
        {"name": "Uno\x00", "active": True, "credit_limit": None, "currency": "MXN"},
    ),
    ("POST", "/v1/payability/order", {"customer_id": "C\x00", "amount": "1.00", "currency": "MXN"}),
    ("POST", "/v1/payability/invoices", {"customer_id": "C\x00", "invoice_ids": ["F-1"]}),
    (
        "POST",
        "/v1/checkouts",
        {"customer_id": "C\x00", "purpose": "invoices", "invoice_ids": ["F-1"]},
    ),
]


@pytest.mark.parametrize(("method", "path", "body"), NUL_REQUESTS)
def test_a_nul_character_in_an_id_or_text_is_a_4xx_not_a_500(app, client, method, path, body):
    """Found by the schemathesis run below on PostgreSQL, whose text columns cannot hold NUL
    (psycopg.DataError, a 500 from every endpoint that reaches the database with one); SQLite
    stores it. JSON allows ``\\u0000`` and Werkzeug decodes ``%00`` in paths and queries."""
    app.testing = False
    headers = {**AUTH, "Idempotency-Key": "nul-request"}
    response = client.open(path, method=method, json=body, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.status_code < 300 or response.mimetype == "application/problem+json"


def _app_document() -> dict[str, Any]:
    """The document the app serves, built once at import so schemathesis can make one test per
    operation (its fixture-based lazy loader does not work with this pytest)."""
    from b2bgateway.plugins import Plugins, get_plugin_manager
    from b2bgateway.settings import Settings
    from b2bgateway_web import create_app
    from b2bgateway_web.api.openapi import build

    app = create_app(
        Settings(database_url="sqlite://", merchants={}),
        Plugins(get_plugin_manager(load_entrypoints=False)),
    )
    try:
        return build(app)
    finally:
        app.extensions["b2bgateway"].store.dispose()


DOCUMENT = _app_document()
#: ids seeded for the running test (see ``seeded``); generated ids are now and then replaced by
#: these so that requests reach real customers, invoices and payments.
REAL: dict[str, str] = {}

#: What a request the document allows may still be answered: 422 for what no JSON schema can
#: state (a customer not synced yet, a cursor this API did not give out, a currency's decimals,
#: which fields go together); ``no_schema_error_for_valid_data`` below keeps those 422s honest.
#: A webhook without its processor's signature is a 400 (the signature cannot be generated).
POSITIVE_STATUSES = ["2xx", "404", "409", "422"]
schema = schemathesis.openapi.from_dict(
    DOCUMENT,
    config=schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"bearer": {"bearer": API_KEY}}},
            "generation": {"max-examples": 25, "database": "none"},
            "checks": {"positive_data_acceptance": {"expected-statuses": POSITIVE_STATUSES}},
            "operations": [
                {
                    "include-path-regex": "^/v1/webhooks/",
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": [*POSITIVE_STATUSES, "400"]
                        }
                    },
                }
            ],
        }
    ),
)

#: ``validation_error`` entries a request the document allows may get: a model's own rules
#: (``value_error``: decimals of the currency, fields that go together) and facts of the
#: database (a customer not synced yet, an invoice twice in one batch).
DECISIONS = {"value_error", "customer_not_found", "duplicate"}


def no_schema_error_for_valid_data(ctx, response, case) -> None:
    """A request generated from the document (positive mode) is never refused for what the
    document could have said: a 400 (but a webhook's signature) or 415, or a 422 naming a field
    constraint (pattern, length, type, enum, unknown or missing field)."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    status = response.status_code
    webhook = case.path.startswith("/v1/webhooks/")
    if status == 415 or (status == 400 and not webhook):
        raise AssertionError(f"{case.method} {case.path}: {status} for data the document allows")
    if status != 422:
        return
    body = json.loads(response.content or b"{}")
    if body.get("code") != "validation_error":  # a decision: not_payable, idempotency_key_reused,
        return  # invalid_cursor, payment_method_not_available, too_many_decimals, ...
    undocumented = [e for e in body["errors"] if e["type"] not in DECISIONS]
    if not undocumented:
        return
    raise AssertionError(
        f"{case.method} {case.path}: 422 for data the document allows: {undocumented}"
    )


def _an_id(value: Any) -> bool:
    """Only a valid id is replaced by a real one: a generated invalid one (a negative case) must
    stay invalid, or the request the check expects refused would be a valid one."""
    return (
        isinstance(value, str) and len(value) <= 128 and re.fullmatch(ID_PATTERN, value) is not None
    )


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not isinstance(path_parameters, dict) or not REAL:
        return st.just(path_parameters)
    if not all(_an_id(v) for k, v in path_parameters.items() if k in REAL):
        return st.just(path_parameters)
    seeded = {k: REAL.get(k, v) for k, v in path_parameters.items()}
    return st.sampled_from([path_parameters, seeded])


@schema.hook
def flatmap_body(context, body):
    if not isinstance(body, dict) or not _an_id(body.get("customer_id")) or not REAL:
        return st.just(body)
    seeded = {**body, "customer_id": REAL["customer_id"]}
    invoice_ids = body.get("invoice_ids")
    if isinstance(invoice_ids, list):
        if not invoice_ids or not all(_an_id(i) for i in invoice_ids) or len(invoice_ids) > 500:
            return st.just(body)
        seeded["invoice_ids"] = [REAL["invoice_id"]]
    return st.sampled_from([body, seeded])


@pytest.fixture
def seeded(app, client):
    app.testing = False  # an unexpected exception is a 500, as in production
    payment_id = _seed(client)
    REAL.update(
        customer_id=CUSTOMER,
        invoice_id=INVOICE,
        payment_id=payment_id,
        merchant_id="acme",
        processor="sandbox",
    )
    yield
    REAL.clear()


def test_the_served_document_is_the_one_schemathesis_tests(document):
    assert document == DOCUMENT


@schema.parametrize()
@hypothesis_settings(
    max_examples=25,
    deadline=None,
    database=None,
    # The same examples on every run (B2BGATEWAY_EXPLORE=1 draws new ones, to look for more).
    derandomize=not os.environ.get("B2BGATEWAY_EXPLORE"),
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.function_scoped_fixture,
    ],
)
def test_the_api_keeps_to_its_openapi_document(case, app, seeded):
    """Every check schemathesis has, on every operation, against the database the suite runs
    on (SQLite, then PostgreSQL): no 5xx, every response documented and matching its schema
    (status, content type, headers, body), invalid data refused, valid data accepted (but for
    ``POSITIVE_STATUSES``), authentication enforced, ``Allow`` on 405 and OPTIONS exact; and
    ``no_schema_error_for_valid_data``. Each operation is its own test: the database is
    emptied and seeded again for each."""
    case.operation.schema.app = app  # the checks' own probes (ignored_auth) go to it too
    case.call_and_validate(app=app, additional_checks=[no_schema_error_for_valid_data])
