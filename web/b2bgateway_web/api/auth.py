"""Who calls ``/v1``: the Bearer API key decides the merchant, and a client that sent too many
wrong keys is refused for a while (:mod:`b2bgateway.throttle`). Registered on the ``v1`` blueprint
by :mod:`b2bgateway_web.api.base`."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app, g, request

from b2bgateway import history, throttle
from b2bgateway.errors import InvalidRequest, NotFound, TooManyFailedAuthentications, Unauthorized
from b2bgateway_web.api.schemas import ID_MAX_LENGTH, ID_PATTERN
from b2bgateway_web.causes import set_cause
from b2bgateway_web.state import gateway

__all__ = ["NETWORK_FACTOR", "authenticate", "refuse_if_blocked", "unchecked_address"]

#: Wrong keys from one IPv6 /64 (any of its addresses) before it is refused: this many times
#: ``[failed_auth] limit`` (one address alone is refused at ``limit``).
NETWORK_FACTOR = 10


def authenticate() -> None:
    """``Authorization: Bearer <key>``: the key decides the merchant. Missing or wrong: 401.
    A client that sent too many wrong keys is refused, key or not, for a while: 429 with
    ``Retry-After``. Counted per full address at ``limit``, and for IPv6 also per /64 at
    :data:`NETWORK_FACTOR` times ``limit``: a neighbour on a shared /64 does not get the
    merchant's ERP refused, and rotating through a /64's addresses still ends. With a right key,
    a view marked ``address_checked_in_core`` (a checkout) leaves the address's read to the
    core's first statement and makes it itself before any other answer
    (:func:`~b2bgateway_web.api.base.idempotent_in_core`)."""
    gw = gateway()
    remote = request.remote_addr or "unknown"
    address, network = throttle.client_address(remote), throttle.client_prefix(remote)
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    bearer = scheme.lower() == "bearer" and bool(key.strip())
    found = gw.api_key(key.strip()) if bearer else None
    view = current_app.view_functions.get(request.endpoint or "")
    in_core = found is not None and getattr(view, "address_checked_in_core", False) is True
    if not in_core:
        refuse_if_blocked(address)
    if network != address:  # an IPv6 client's /64
        refuse_if_blocked(network)
    if not bearer:
        raise Unauthorized("send Authorization: Bearer <your API key>")
    if found is None:
        policy = gw.settings.failed_auth
        throttle.record_failure(gw.store, address, policy)
        if network != address:
            wider = policy.model_copy(update={"limit": policy.limit * NETWORK_FACTOR})
            throttle.record_failure(gw.store, network, wider)
        raise Unauthorized("the API key is not valid")
    merchant, number = found
    g.merchant = merchant
    if in_core:
        g.unchecked_address = address
    # The payments this request changes were changed by this key (named by its number).
    set_cause(history.Cause("api", f"api:{merchant.id}", str(number)))
    check_path_ids(request.view_args)


def refuse_if_blocked(address: str) -> None:
    wait = throttle.blocked_for(gateway().store, address)
    if wait is not None:
        raise TooManyFailedAuthentications(wait)


def unchecked_address() -> str | None:
    """The client's address whose refusal the core is to read (see :func:`authenticate`)."""
    return g.get("unchecked_address")  # type: ignore[no-any-return]


_ID = re.compile(ID_PATTERN)


def check_path_ids(values: dict[str, Any] | None) -> None:
    """Ids in the path follow the rules of ids in bodies (1-128 characters, no spaces)."""
    for name, value in (values or {}).items():
        text = str(value)
        if name.endswith("_id") and not (len(text) <= ID_MAX_LENGTH and _ID.fullmatch(text)):
            if name == "payment_id":
                raise NotFound(f"payment {value!r} not found")
            raise InvalidRequest(
                f"{name} must be 1 to 128 characters without spaces",
                extra={
                    "errors": [
                        {
                            "loc": ["path", name],
                            "msg": "invalid id",
                            "type": "string_pattern_mismatch",
                        }
                    ]
                },
            )
