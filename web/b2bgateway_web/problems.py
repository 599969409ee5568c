"""One place that turns errors into ``application/problem+json`` (RFC 9457) with a stable ``code``.

Anything unexpected becomes a bare 500 whose body says nothing about internals; the log has the
traceback (no request bodies, so no secrets).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, json
from pydantic import ValidationError
from werkzeug import exceptions as http
from werkzeug.exceptions import HTTPException

from b2bgateway.database import MAYBE_UNAVAILABLE, is_unavailable
from b2bgateway.errors import (
    DatabaseUnavailable,
    GatewayError,
    TooManyFailedAuthentications,
    error_codes,
)

log = logging.getLogger(__name__)
bp = Blueprint("problems", __name__)

PROBLEM_TYPE_BASE = "https://b2bgateway.dev/problems/"
RETRY_AFTER_SECONDS = "2"  # for 503s: the database or the processor is briefly unavailable
INTERNAL_ERROR = "internal_error"
#: Codes a web module writes itself with :func:`problem` (not a core error): ``/readyz``'s.
WEB_CODES: dict[str, int] = {"not_ready": 503}
#: What Flask itself refuses before a view runs (an unknown path, a method the path does not
#: offer, a body over MAX_CONTENT_LENGTH), and the ``abort(400)`` of plugin pages.
HTTP_ERRORS: tuple[type[HTTPException], ...] = (
    http.BadRequest,
    http.Forbidden,
    http.NotFound,
    http.MethodNotAllowed,
    http.RequestEntityTooLarge,
)


def http_code(exc: HTTPException) -> str:
    """The problem ``code`` of a werkzeug HTTP error: its name in snake case."""
    return (exc.name or "error").lower().replace(" ", "_")


def all_error_codes() -> dict[str, int]:
    """Every problem ``code`` this app answers with, and its status: the core's errors, the
    HTTP errors above and ``internal_error`` (docs/reference/errors.md lists each one)."""
    codes = error_codes()
    for error in HTTP_ERRORS:
        exc = error()
        codes.setdefault(http_code(exc), exc.code or 500)
    codes[INTERNAL_ERROR] = 500
    codes.update(WEB_CODES)
    return dict(sorted(codes.items()))


def problem(status: int, code: str, title: str, detail: str, **extra: Any) -> Response:
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return Response(json.dumps(body), status=status, mimetype="application/problem+json")


def problem_for(exc: BaseException) -> Response:
    """The problem document of any exception: the one mapping from errors to responses, used
    by the handlers below and by ``api.base.idempotent`` (which stores what a client got)."""
    if isinstance(exc, GatewayError):
        return _gateway_problem(exc)
    if isinstance(exc, ValidationError):
        return validation_problem(exc)
    if isinstance(exc, HTTPException):
        response = problem(
            exc.code or 500, http_code(exc), exc.name or "Error", exc.description or ""
        )
        for name, value in exc.get_headers():  # a 405's Allow (RFC 9110)
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
    if isinstance(exc, MAYBE_UNAVAILABLE) and is_unavailable(exc):
        # Out of connections, restarting, unreachable: nothing of the failed transaction was
        # committed, so the client may retry (with the same Idempotency-Key where it sent one).
        return _gateway_problem(DatabaseUnavailable("the database is unavailable; retry shortly"))
    return problem(
        500,
        INTERNAL_ERROR,
        "Internal server error",
        "an unexpected error occurred; it has been logged",
    )


def _gateway_problem(exc: GatewayError) -> Response:
    response = problem(exc.status, exc.code, exc.title, exc.detail, **exc.extra)
    if exc.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="b2bgateway"'
    if exc.status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(exc, TooManyFailedAuthentications):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


def validation_problem(exc: ValidationError) -> Response:
    """422 ``validation_error`` listing each bad field by location; input values are not echoed."""
    errors = [
        {"loc": list(err["loc"]), "msg": err["msg"], "type": err["type"]}
        for err in exc.errors(include_input=False, include_url=False, include_context=False)
    ]
    return problem(
        422, "validation_error", "Invalid request", "the request is not valid", errors=errors
    )


# -- the handlers: they log, and answer with problem_for -----------------------------------------


@bp.app_errorhandler(GatewayError)
def _gateway_error(exc: GatewayError) -> Response:
    if exc.status >= 500:
        log.error("%s: %s", exc.code, exc.detail, exc_info=exc)
    return problem_for(exc)


@bp.app_errorhandler(ValidationError)
@bp.app_errorhandler(HTTPException)
def _expected(exc: Exception) -> Response:
    return problem_for(exc)


def _database_unavailable(exc: Exception) -> Response:
    if not is_unavailable(exc):
        return _unexpected(exc)  # a lasting fault (schema, disk): not something to retry
    log.error("database unavailable: %s", type(exc).__name__, exc_info=exc)
    return problem_for(exc)


for _unavailable in MAYBE_UNAVAILABLE:  # OperationalError, the pool's TimeoutError
    bp.app_errorhandler(_unavailable)(_database_unavailable)


@bp.app_errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error")
    return problem_for(exc)
