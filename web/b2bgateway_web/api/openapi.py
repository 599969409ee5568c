"""``/openapi.json`` (OpenAPI 3.1), generated from the app's routes and the pydantic models the
views validate with (``api.operation``), and ``/docs``, a browsable Swagger UI over it."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, Response, current_app
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import models_json_schema

from b2bgateway_web.api.base import Operation, json_response
from b2bgateway_web.api.responses import Problem
from b2bgateway_web.api.schemas import Id, InvoiceId

bp = Blueprint("openapi", __name__)

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    400: "Bad request",
    401: "Unauthorized",
    404: "Not found",
    405: "Method not allowed (/v1/invoices/batch takes POST only)",
    409: "Conflict",
    415: "Unsupported media type",
    422: "Unprocessable",
    503: "Unavailable",
}


def _path(rule: str) -> tuple[str, list[str]]:
    names = re.findall(r"<(?:[^:<>]+:)?([^<>]+)>", rule)
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule), names


def _problem_response(status: int) -> dict[str, Any]:
    return {
        "description": _STATUS_TEXT.get(status, "Error"),
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }


def _operations(app: Flask) -> list[tuple[str, str, str, Operation]]:
    """(rule, method, endpoint, operation) of every view described with ``api.operation``."""
    operations: list[tuple[str, str, str, Operation]] = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions.get(rule.endpoint)
        op = getattr(view, "openapi", None)
        if op is None:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            operations.append((rule.rule, method.lower(), rule.endpoint, op))
    return operations


def _components(operations: list[tuple[str, str, str, Operation]]) -> dict[str, Any]:
    """The JSON schemas of every model the operations name, and ``Problem``."""
    models: set[type[BaseModel]] = {Problem}
    for *_, op in operations:
        models.update(m for m in (op.body, op.query) if m is not None)
        models.update(m for m in op.responses.values() if m is not None)
    _, schema = models_json_schema(
        [
            (m, "validation" if m in {o.body for *_, o in operations} else "serialization")
            for m in sorted(models, key=lambda m: m.__name__)
        ],
        ref_template="#/components/schemas/{model}",
    )
    components: dict[str, Any] = schema.get("$defs", {})
    return components


#: The schema of each path parameter: an id follows the rule of ids in bodies (a path id the
#: rule refuses is a 422 or, for a payment, a 404: both documented), an invoice id is not "batch".
_PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "invoice_id": TypeAdapter(InvoiceId).json_schema(),
    "*_id": TypeAdapter(Id).json_schema(),
    "processor": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": "^[A-Za-z0-9_.-]+$",
    },
}


def _path_schema(name: str) -> dict[str, Any]:
    if name in _PATH_SCHEMAS:
        return _PATH_SCHEMAS[name]
    return _PATH_SCHEMAS["*_id"] if name.endswith("_id") else {"type": "string", "minLength": 1}


def _parameters(names: list[str], op: Operation, components: dict[str, Any]) -> list[Any]:
    parameters: list[Any] = [
        {"name": n, "in": "path", "required": True, "schema": _path_schema(n)} for n in names
    ]
    if op.query is not None:
        for name, field in op.query.model_fields.items():
            parameters.append(
                {
                    "name": name,
                    "in": "query",
                    "required": field.is_required(),
                    "schema": components.get(op.query.__name__, {})
                    .get("properties", {})
                    .get(name, {"type": "string"}),
                }
            )
    if op.idempotent:
        parameters.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": True,
                "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "Same key and body: the first response again; other body: 422",
            }
        )
    return parameters


def _responses(op: Operation) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status, model in sorted(op.responses.items()):
        responses[str(status)] = {"description": _STATUS_TEXT.get(status, "OK")}
        if model is not None:
            responses[str(status)]["content"] = {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            }
    errors = set(op.errors) | ({401} if op.authenticated else set())
    if op.body is not None:
        errors |= {400, 415, 422}
    for status in sorted(errors):
        responses[str(status)] = _problem_response(status)
    responses["414"] = URI_TOO_LONG
    return responses


#: gunicorn refuses a request line over ``limit_request_line`` (4,094 bytes) itself, in HTML:
#: longer than any request this document describes (its ids, cursors and dates are bounded).
URI_TOO_LONG: dict[str, Any] = {
    "description": "The request line is longer than 4,094 bytes (no documented request is): "
    "the server refuses it before the API reads it",
    "content": {"text/html": {"schema": {"type": "string"}}},
}


def _item(endpoint: str, names: list[str], op: Operation, components: dict[str, Any]) -> Any:
    item: dict[str, Any] = {
        "operationId": endpoint.replace(".", "_"),
        "summary": op.summary,
        "tags": list(op.tags),
        "parameters": _parameters(names, op, components),
        "responses": {},
    }
    if op.body is not None:
        item["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}
            },
        }
    item["responses"] = _responses(op)
    if op.authenticated:
        item["security"] = [{"bearer": []}]
    return item


def build(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of ``app``'s described views."""
    operations = _operations(app)
    components = _components(operations)
    paths: dict[str, dict[str, Any]] = {}
    for rule, method, endpoint, op in operations:
        path, names = _path(rule)
        paths.setdefault(path, {})[method] = _item(endpoint, names, op, components)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "b2bgateway",
            "version": "1",
            "description": "Payments for B2B customer portals: statements, payability, "
            "checkouts, payments and refunds. Money is a decimal string.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    document = current_app.extensions.get("b2bgateway.openapi")
    if document is None:
        document = current_app.extensions["b2bgateway.openapi"] = build(current_app)
    return json_response(document)
