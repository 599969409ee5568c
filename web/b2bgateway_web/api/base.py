"""What every ``/v1`` view shares: the blueprint, Bearer authentication, request parsing,
``Idempotency-Key`` handling, and the registry the OpenAPI document is generated from."""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from flask import Blueprint, Response, g, request
from pydantic import BaseModel, ValidationError

from b2bgateway import idempotency
from b2bgateway.audit import Actor
from b2bgateway.database import MAYBE_UNAVAILABLE, Store
from b2bgateway.errors import (
    BadRequest,
    GatewayError,
    IdempotencyConflict,
    IdempotencyInProgress,
    InvalidRequest,
    NotFound,
    TooManyFailedAuthentications,
    UnsupportedMediaType,
)
from b2bgateway.settings import MerchantConfig
from b2bgateway_web.api.auth import authenticate, refuse_if_blocked, unchecked_address
from b2bgateway_web.problems import problem, problem_for
from b2bgateway_web.state import gateway

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
F = TypeVar("F", bound=Callable[..., Any])

v1 = Blueprint("v1", __name__, url_prefix="/v1")

v1.before_request(authenticate)


def current_merchant() -> MerchantConfig:
    merchant: MerchantConfig = g.merchant
    return merchant


def api_actor() -> Actor:
    """Who acts, for the audit log: the merchant's API client (``api:<merchant>``), from where."""
    merchant_id = current_merchant().id
    return Actor(merchant_id, f"api:{merchant_id}", request.remote_addr or "unknown")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object whose keys are all different: a proxy that reads the first ``amount`` and a
    gateway that reads the last would disagree about what is charged."""
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise InvalidRequest(
                    f"the key {key!r} appears twice in one object",
                    extra={
                        "errors": [
                            {"loc": ["body", key], "msg": "duplicate key", "type": "duplicate_key"}
                        ]
                    },
                )
            seen.add(key)
    return body


def request_json() -> Any:
    """The request's JSON body, read once: one value per key (``{"amount": "1", "amount": "9"}``
    is a 422, never last-wins) and nesting the parser can follow (a body nested a thousand deep
    is a 422, never a recursion error). A body that is not JSON is ``BadRequest``
    ``invalid_json``."""
    if "request_json" in g:
        return g.request_json
    raw = request.get_data(cache=True) or b"null"
    try:
        g.request_json = json.loads(raw, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise InvalidRequest(
            "the body nests too deeply",
            extra={"errors": [{"loc": ["body"], "msg": "too deep", "type": "too_deep"}]},
        ) from None
    except ValueError:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from None
    return g.request_json


def parse_body(model: type[M]) -> M:
    """Validate the JSON body strictly (unknown fields, numbers for amounts: 422)."""
    raw = request.get_data(cache=True)
    if not request.is_json:
        raise UnsupportedMediaType("send a JSON body with Content-Type: application/json")
    request_json()  # duplicate keys and depth: refused before anything reads the values
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        if any(err["type"] == "json_invalid" for err in exc.errors()):
            raise BadRequest("the body is not valid JSON", code="invalid_json") from None
        raise


def parse_query(model: type[M]) -> M:
    """Validate the query string (each parameter once; unknown parameters: 422)."""
    repeated = sorted(name for name, values in request.args.lists() if len(values) > 1)
    if repeated:  # first-wins would answer a question the client did not ask
        raise InvalidRequest(
            f"{', '.join(repeated)}: give each query parameter once",
            extra={
                "errors": [
                    {"loc": ["query", name], "msg": "repeated", "type": "repeated_parameter"}
                    for name in repeated
                ]
            },
        )
    return model.model_validate(request.args.to_dict())


def json_response(body: Any, status: int = 200) -> Response:
    # orjson: a 10,000-line statement encodes in ~1 ms instead of ~12 (UTF-8, compact). Bodies
    # hold only str, bool, int, None, lists and dicts: money is already a decimal string.
    return Response(orjson.dumps(body), status=status, mimetype="application/json")


def not_found(what: str) -> NotFound:
    return NotFound(f"{what} not found")


# -- Idempotency-Key ---------------------------------------------------------------------------


#: Refusals of a request as it was written (malformed, unknown, not offered), before anything was
#: decided: they leave the key free. A decision (not payable, amount changed, refund not allowed)
#: and every success are the key's answer, replayed for 30 days.
NOT_THE_KEYS_ANSWER = frozenset(
    {
        "bad_request",
        "invalid_json",
        "unsupported_media_type",
        "validation_error",
        "not_found",
        "payment_method_not_available",
        "installments_not_available",
        "required_by_processor",
    }
)


def idempotent(view: F) -> F:
    """Every POST that moves money takes ``Idempotency-Key`` (docs/reference/http.md)."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        key = _idempotency_key()
        merchant = current_merchant()
        store = gateway().store
        scope = f"{request.method} {request.path}"
        replay = idempotency.begin(store, merchant.id, key, scope, _fingerprint(scope))
        if replay is not None:
            return stored_response(replay, replayed=True)
        g.idempotency_key = key
        refused = False
        try:
            response: Response = view(*args, **kwargs)
        except (GatewayError, ValidationError) as exc:
            response = problem_for(exc)
            refused = isinstance(exc, ValidationError) or exc.code in NOT_THE_KEYS_ANSWER
            if response.status_code >= 500:
                _release(store, merchant.id, key)
                raise
        except BaseException:
            _release(store, merchant.id, key)
            raise
        if response.status_code >= 500:
            _release(store, merchant.id, key)
            return response
        if refused:  # not the key's answer: a corrected request, or the same one later, may use it
            idempotency.forget(store, merchant.id, key)
            return response
        try:
            stored = _as_stored(response)
            idempotency.complete(
                store, merchant.id, key, stored.status, stored.body, stored.content_type
            )
        except MAYBE_UNAVAILABLE:
            # The work is done and committed: answer it. The claim keeps its lock, so a retry
            # soon gets 409, and one after the lock ends finds the payment or refund by its key.
            log.warning("could not store an idempotent request's response", exc_info=True)
        return response

    return wrapper  # type: ignore[return-value]


def idempotent_in_core(view: F) -> F:
    """``Idempotency-Key`` for a view that hands the key to the core (checkouts): the view puts
    ``g.idempotency_claim`` in its core request, and the core claims the key in the payment's
    own write transaction and stores the response in the one that records the processor's
    answer (docs/architecture.md). Here, only what the core never saw or rolled back:

    - a request refused as written keeps nothing, but a key already used for another request
      is still a 422, and one already answered for this very request is replayed;
    - a decision (not payable, amount changed) rolled back with its claim is kept as the key's
      answer in a transaction of its own.

    The core also reads the client's refusal (:func:`unchecked_address`); any other answer is
    given only after reading it here: a refused address gets 429, whatever else was wrong."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            key = _idempotency_key()
            scope = f"{request.method} {request.path}"
            claim = idempotency.Claim(current_merchant().id, key, scope, _fingerprint(scope))
            g.idempotency_key = key
            g.idempotency_claim = claim
            response: Response = view(*args, **kwargs)
            return response
        except (GatewayError, ValidationError) as exc:
            address = unchecked_address()
            if address is not None and not isinstance(exc, TooManyFailedAuthentications):
                refuse_if_blocked(address)
            answer: Response = problem_for(exc)
            if (
                answer.status_code >= 500
                or "idempotency_claim" not in g  # no usable key, or a body its hash cannot read
                or isinstance(
                    exc, IdempotencyConflict | IdempotencyInProgress | TooManyFailedAuthentications
                )
            ):
                raise
            store = gateway().store
            if isinstance(exc, ValidationError) or exc.code in NOT_THE_KEYS_ANSWER:
                stored = idempotency.peek(store, g.idempotency_claim)
                return answer if stored is None else stored_response(stored, replayed=True)
            try:
                idempotency.keep_answer(store, g.idempotency_claim, _as_stored(answer))
            except MAYBE_UNAVAILABLE:
                log.warning("could not keep an idempotent request's answer", exc_info=True)
            return answer

    wrapper.address_checked_in_core = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def stored_response(stored: idempotency.Replay, *, replayed: bool) -> Response:
    """A response stored under an ``Idempotency-Key``, as it was stored (byte for byte)."""
    response = Response(stored.body, status=stored.status, content_type=stored.content_type)
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def _as_stored(response: Response) -> idempotency.Replay:
    return idempotency.Replay(
        response.status_code, response.get_data(as_text=True), response.content_type or ""
    )


def _idempotency_key() -> str:
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        raise BadRequest(
            "send an Idempotency-Key header with a unique value per operation",
            code="idempotency_key_required",
        )
    if len(key) > idempotency.MAX_KEY_LENGTH:
        raise BadRequest(
            "the Idempotency-Key is longer than 255 characters", code="idempotency_key_invalid"
        )
    return key


def _fingerprint(scope: str) -> str:
    try:
        payload: Any = request_json()
    except BadRequest:  # not JSON: fingerprinted as it came (parse_body refuses it)
        payload = request.get_data(cache=True).decode("utf-8", "replace")
    return idempotency.fingerprint(scope, payload)


def _release(store: Store, merchant_id: str, key: str) -> None:
    """Let a retry in now; if the database is what failed, the claim's lock ends by itself."""
    try:
        idempotency.release(store, merchant_id, key)
    except MAYBE_UNAVAILABLE:
        log.warning("could not release an idempotency claim; it expires on its own", exc_info=True)


# -- the registry the OpenAPI document is built from -------------------------------------------


@dataclass
class Operation:
    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    responses: dict[int, type[BaseModel] | None] = field(default_factory=dict)
    errors: tuple[int, ...] = ()
    idempotent: bool = False
    authenticated: bool = True
    tags: tuple[str, ...] = ()


def operation(**kwargs: Any) -> Callable[[F], F]:
    """Describe a view for ``/openapi.json`` with the same models the view validates with."""

    def register(view: F) -> F:
        view.openapi = Operation(**kwargs)  # type: ignore[attr-defined]
        return view

    return register


__all__ = [
    "Operation",
    "api_actor",
    "current_merchant",
    "idempotent",
    "idempotent_in_core",
    "json_response",
    "not_found",
    "operation",
    "parse_body",
    "parse_query",
    "problem",
    "stored_response",
    "unchecked_address",
    "v1",
]
