"""HTTP and OpenAPI conformance (issue 16 item 9), point by point; the schemathesis run in
test_openapi.py keeps the whole API to its document.

- a 405 says what is allowed (``Allow``, RFC 9110);
- dates and date-times in queries are written as the document says, never Unix times;
- path ids carry their pattern in the document, so a refused id is a documented answer;
- ``/v1/invoices/batch`` is the batch endpoint only;
- 414 is documented, and no request the document describes is long enough to get one.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from b2bgateway_web.api.openapi import URI_TOO_LONG
from b2bgateway_web.server import LIMIT_REQUEST_LINE
from tests.support.web import AUTH

METHODS = {"get", "put", "post", "delete", "patch"}


@pytest.fixture
def document(client) -> dict[str, Any]:
    doc: dict[str, Any] = client.get("/openapi.json").json
    return doc


# -- 405 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("DELETE", "/v1/processors", {"GET", "HEAD", "OPTIONS"}),
        ("TRACE", "/v1/payments", {"GET", "HEAD", "OPTIONS"}),
        ("PATCH", "/v1/customers/C-1", {"GET", "HEAD", "OPTIONS", "PUT"}),
        ("GET", "/v1/checkouts", {"POST", "OPTIONS"}),
    ],
)
def test_a_405_lists_the_allowed_methods(client, method, path, allowed):
    response = client.open(path, method=method, headers=AUTH)
    assert response.status_code == 405
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "method_not_allowed"
    assert {m.strip() for m in response.headers["Allow"].split(",")} == allowed


# -- dates in queries ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "as_of",
    [
        "0",
        "1700000000",
        "0.5",
        "2026-01-01T00:00:00",
        "20260101",
        "2026-1-1",
        "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661",
    ],
)
def test_as_of_is_a_date_as_yyyy_mm_dd_nothing_else(client, data, as_of):
    response = client.get(
        "/v1/customers/C-1/statement", query_string={"as_of": as_of}, headers=AUTH
    )
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["loc"] == ["as_of"]


def test_as_of_as_a_date_is_read(client, data):
    response = client.get("/v1/customers/C-1/statement?as_of=2026-01-02", headers=AUTH)
    assert response.status_code == 200
    assert response.json["as_of"] == "2026-01-02"


@pytest.mark.parametrize(
    "since", ["0.5", "0", "1764201600", "2026-11-26", "2026-11-26 00:00:00Z", "2026-11-26T00:00Z"]
)
def test_updated_since_is_an_rfc_3339_date_time_nothing_else(client, since):
    response = client.get("/v1/payments", query_string={"updated_since": since}, headers=AUTH)
    assert response.status_code == 422, response.json
    assert response.json["errors"][0]["loc"] == ["updated_since"]


@pytest.mark.parametrize(
    "since", ["2026-11-26T00:00:00Z", "2026-11-26T00:00:00.123+06:00", "2026-11-26t00:00:00z"]
)
def test_updated_since_as_an_rfc_3339_date_time_is_read(client, since):
    response = client.get("/v1/payments", query_string={"updated_since": since}, headers=AUTH)
    assert response.status_code == 200, response.json


# -- path ids --------------------------------------------------------------------------------------


def _operations(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_every_path_id_has_its_pattern_in_the_document(document):
    checked = 0
    for path, method, op in _operations(document):
        for parameter in op["parameters"]:
            if parameter["in"] != "path" or not parameter["name"].endswith("_id"):
                continue
            schema = parameter["schema"]
            assert schema["maxLength"] == 128 and schema["minLength"] == 1, (method, path)
            assert re.fullmatch(schema["pattern"], "C-1"), (method, path)
            for bad in ("C 1", "C\x001", "C\u00851", "C\ufeff1"):
                assert not re.fullmatch(schema["pattern"], bad), (method, path, bad)
            checked += 1
    assert checked >= 8


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/customers/C%201"),
        ("GET", "/v1/customers/C%C2%851/statement"),
        ("PUT", "/v1/invoices/F%091"),
        ("GET", "/v1/invoices/F%EF%BB%BF1"),
        ("GET", "/v1/payments/pay%201"),
        ("GET", "/v1/payments/pay%201/attempts"),
    ],
)
def test_a_refused_path_id_is_an_answer_the_operation_documents(client, document, method, path):
    response = client.open(path, method=method, headers={**AUTH, "Idempotency-Key": "k"}, json={})
    template = re.sub(r"/v1/(\w+)/[^/]+", r"/v1/\1/{id}", path)
    [op] = [
        op
        for p, m, op in _operations(document)
        if m == method.lower() and re.sub(r"\{[^}]+\}", "{id}", p) == template
    ]
    assert response.status_code in {422, 404}, response.get_data(as_text=True)
    assert str(response.status_code) in op["responses"], (method, path, response.status_code)


# -- /v1/invoices/batch ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_invoices_batch_is_the_batch_endpoint_only(client, data, method):
    body = {
        "customer_id": "C-1",
        "folio": "B-1",
        "document_type": "factura",
        "source": "ventas",
        "issued_on": "2026-01-01",
        "due_on": "2026-02-01",
        "total": "10.00",
        "balance": "10.00",
        "currency": "MXN",
    }
    response = client.open("/v1/invoices/batch", method=method, headers=AUTH, json=body)
    assert response.status_code == 405, response.get_data(as_text=True)
    assert set(response.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    options = client.options("/v1/invoices/batch", headers=AUTH)
    assert set(options.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    # Nothing was written under the name "batch".
    assert client.get("/v1/invoices/F-1", headers=AUTH).status_code == 200


def test_batch_is_not_an_invoice_id(client, data, document):
    item = {
        "invoice_id": "batch",
        "customer_id": "C-1",
        "folio": "B-1",
        "document_type": "factura",
        "source": "ventas",
        "issued_on": "2026-01-01",
        "due_on": "2026-02-01",
        "total": "10.00",
        "balance": "10.00",
        "currency": "MXN",
    }
    response = client.post("/v1/invoices/batch", json={"invoices": [item]}, headers=AUTH)
    assert response.status_code == 422
    assert response.json["errors"][0]["loc"] == ["invoices", 0, "invoice_id"]
    for path in ("/v1/invoices/{invoice_id}",):
        for op in document["paths"][path].values():
            [parameter] = [p for p in op["parameters"] if p["name"] == "invoice_id"]
            assert parameter["schema"]["not"] == {"const": "batch"}


# -- 414 -------------------------------------------------------------------------------------------

#: The most bytes one character can take in a URL: four UTF-8 bytes, each %XX.
WORST_CHARACTER = 12
FORMATS = {"date": 10, "date-time": 40}


def _longest(schema: dict[str, Any]) -> int:
    """The longest a value of ``schema`` can be in a URL, percent-encoded."""
    options = schema.get("anyOf", [schema])
    longest = 0
    for option in options:
        if option.get("type") == "null":
            continue
        if "enum" in option:
            longest = max(longest, max(len(str(v)) for v in option["enum"]))
        elif option.get("type") == "integer":
            longest = max(longest, len(str(option.get("maximum", 10**20))))
        elif option.get("format") in FORMATS:
            longest = max(longest, FORMATS[option["format"]] * 3)
        elif "$ref" in option or "const" in option:
            longest = max(longest, 64)
        else:
            assert "maxLength" in option, f"unbounded in a URL: {option}"
            ascii_only = option.get("pattern", "").startswith("^[A-Za-z0-9")
            longest = max(longest, option["maxLength"] * (1 if ascii_only else WORST_CHARACTER))
    return longest


def _resolve(document, schema):
    if "$ref" in schema:
        return document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_no_documented_request_is_long_enough_for_a_414(document):
    """gunicorn answers 414 itself for a request line over its limit; every operation says so,
    and the longest request line any operation describes stays well under it."""
    longest = 0
    for path, method, op in _operations(document):
        assert op["responses"]["414"] == URI_TOO_LONG, (method, path)
        line = len(f"{method.upper()} {path}? HTTP/1.1")
        for parameter in op["parameters"]:
            if parameter["in"] not in {"path", "query"}:
                continue
            schema = _resolve(document, parameter["schema"])
            line += len(parameter["name"]) + 2 + _longest(schema)
        longest = max(longest, line)
    assert 1000 < longest < LIMIT_REQUEST_LINE
