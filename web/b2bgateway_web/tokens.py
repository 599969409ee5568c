"""Links to the customer payment page and the signed tokens in them.

The link is ``{public_url}/portal/{token}``. The token is an ``itsdangerous`` URL-safe, timestamped
signature (the library Flask itself signs sessions with) over ``{merchant, customer, return_url,
locale, order, first issue}``; it is the page's only identity and it is valid for :data:`MAX_AGE`.
An order (reference, amount, currency) named by the merchant's portal is signed into the token:
the page never takes an order's amount or reference from anything the customer can edit.
A token is renewed (re-signed with a new timestamp) for the processor's return trip; every
renewal keeps the time of the first issue, and no token is accepted :data:`MAX_LIFETIME` after
it, however often it was renewed.

Signing keys: the gateway has no application secret setting, so each merchant's key is derived
from its API keys, ``HMAC-SHA256(api_key, "b2bgateway portal session v1")`` (itsdangerous then
derives its own key from that with the salt). The merchant's first API key signs; every one of its
keys verifies, so adding a key keeps links valid and removing the key that signed a link revokes
it. Whoever holds an API key can already act for the merchant, so a link is worth less than a key.

This module is the one place tokens are made and read: the API view
(:mod:`b2bgateway_web.api.portal_sessions`), the page (:mod:`b2bgateway_web.portal`) and
``b2bgateway demo`` all use it. It imports nothing of Flask, so it sits below both areas.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from b2bgateway.errors import GatewayError
from b2bgateway.gateway import Gateway
from b2bgateway.money import MAX_MINOR_UNITS, Money
from b2bgateway.settings import MerchantConfig

__all__ = [
    "LOCALES",
    "MAX_AGE",
    "MAX_LIFETIME",
    "PortalOrder",
    "PortalSession",
    "TokenExpired",
    "TokenInvalid",
    "check_form_nonce",
    "create_link",
    "form_nonce",
    "portal_url",
    "read_token",
    "sign",
]

#: How long a link works after it was made.
MAX_AGE = timedelta(minutes=30)
#: How long after its first issue a session ends, however often it was renewed.
MAX_LIFETIME = timedelta(hours=2)
#: Locales the page speaks (today: Mexican Spanish only).
LOCALES = ("es-MX",)
_SALT = "b2bgateway.portal-session"
_FORM_SALT = "b2bgateway.portal-form"
_DERIVATION = b"b2bgateway portal session v1"

#: Seconds since the epoch; tests replace it to move time.
clock: Callable[[], float] = time.time


class TokenInvalid(Exception):
    """Not a token this gateway made (tampered, truncated, another merchant's key, ...)."""


class TokenExpired(TokenInvalid):
    """An authentic token older than :data:`MAX_AGE`: ``return_url`` is where the customer
    gets a new link (the portal's, as signed in it), when it named one."""

    def __init__(self, message: str, return_url: str | None = None) -> None:
        super().__init__(message)
        self.return_url = return_url


@dataclass(frozen=True, slots=True)
class PortalOrder:
    """An order the merchant's portal asked the customer to pay: signed, never edited."""

    reference: str
    amount: Money


@dataclass(frozen=True, slots=True)
class PortalSession:
    """What a valid token says: whose page it is, where "back" goes, which order it pays (if
    any), when it was made and when the first token of this session was made."""

    merchant_id: str
    customer_id: str
    return_url: str | None = None
    locale: str = "es-MX"
    issued_at: datetime | None = None
    order: PortalOrder | None = None
    first_issued_at: datetime | None = None

    @property
    def expires_at(self) -> datetime:
        issued = self.issued_at or datetime.fromtimestamp(clock(), UTC)
        return min(issued + MAX_AGE, (self.first_issued_at or issued) + MAX_LIFETIME)


class _Signer(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(clock())


def _keys(merchant: MerchantConfig) -> list[bytes]:
    """Derived keys, the signing one (from the first API key) last, as itsdangerous wants."""
    return [
        hmac.new(key.get_secret_value().encode(), _DERIVATION, hashlib.sha256).digest()
        for key in reversed(merchant.settings.api_keys)
    ]


def _serializer(merchant: MerchantConfig, salt: str = _SALT) -> URLSafeTimedSerializer:
    keys = _keys(merchant)
    if not keys:
        raise TokenInvalid(f"merchant {merchant.id!r} has no API key to sign portal links with")
    return URLSafeTimedSerializer(keys, salt=salt, signer=_Signer)


def sign(merchant: MerchantConfig, session: PortalSession) -> str:
    """A fresh token for ``session`` (valid :data:`MAX_AGE` from now)."""
    if session.merchant_id != merchant.id:
        raise ValueError("a session is signed with its own merchant's key")
    payload: dict[str, Any] = {
        "m": session.merchant_id,
        "c": session.customer_id,
        "r": session.return_url,
        "l": session.locale,
        "f": int((session.first_issued_at or session.issued_at or _now()).timestamp()),
    }
    if session.order is not None:
        order = session.order
        payload["o"] = [order.reference, str(order.amount.amount), order.amount.currency]
    token: str = _serializer(merchant).dumps(payload)
    return token


def read_token(gw: Gateway, token: str) -> PortalSession:
    """The session a token names, checked against its merchant's keys and :data:`MAX_AGE`.

    :raises TokenExpired: authentic but too old.
    :raises TokenInvalid: anything else that is not a token this gateway made.
    """
    if not token or len(token) > 4096:
        raise TokenInvalid("no token")
    # The unverified payload only picks the merchant whose keys must then verify it.
    _ok, claimed = URLSafeTimedSerializer(b"-", salt=_SALT).loads_unsafe(token)
    if not isinstance(claimed, dict) or not isinstance(claimed.get("m"), str):
        raise TokenInvalid("not a portal token")
    merchant = gw.merchants.get(claimed["m"])
    if merchant is None:
        raise TokenInvalid("unknown merchant")
    serializer = _serializer(merchant)
    try:
        payload, issued = serializer.loads(
            token, max_age=int(MAX_AGE.total_seconds()), return_timestamp=True
        )
    except SignatureExpired as exc:  # its signature is good: its return URL can be trusted
        raise TokenExpired("the link expired", _return_url(serializer, exc.payload)) from None
    except BadSignature:
        raise TokenInvalid("bad signature") from None
    if not _well_formed(payload) or payload["m"] != merchant.id:
        raise TokenInvalid("not a portal token")
    first = issued if payload.get("f") is None else datetime.fromtimestamp(payload["f"], UTC)
    if _now() - first > MAX_LIFETIME:
        raise TokenExpired("the session reached its lifetime", payload["r"])
    return PortalSession(
        merchant_id=payload["m"],
        customer_id=payload["c"],
        return_url=payload["r"],
        locale=payload["l"],
        issued_at=issued,
        order=_order(payload.get("o")),
        first_issued_at=first,
    )


def _return_url(serializer: URLSafeTimedSerializer, raw: Any) -> str | None:
    try:
        payload = serializer.load_payload(raw)
    except BadSignature:  # BadPayload: not decodable
        return None
    return payload.get("r") if _well_formed(payload) else None


def _now() -> datetime:
    return datetime.fromtimestamp(int(clock()), UTC)


def _well_formed(payload: Any) -> bool:
    return (
        isinstance(payload, dict)
        and isinstance(payload.get("m"), str)
        and isinstance(payload.get("c"), str)
        and (payload.get("r") is None or isinstance(payload.get("r"), str))
        and payload.get("l") in LOCALES
        and (payload.get("f") is None or type(payload.get("f")) is int)
    )


def _order(raw: Any) -> PortalOrder | None:
    """The signed order, checked again (a token is data: a bad one is refused, never a 500)."""
    if raw is None:
        return None
    if not (isinstance(raw, list) and len(raw) == 3 and all(isinstance(x, str) for x in raw)):
        raise TokenInvalid("not a portal token")
    reference, amount, currency = raw
    try:
        money = Money(amount, currency)
    except GatewayError:
        raise TokenInvalid("not a portal token") from None
    if not money.is_positive() or money.to_minor_units() > MAX_MINOR_UNITS:
        raise TokenInvalid("not a portal token")
    return PortalOrder(reference, money)


def portal_url(gw: Gateway, token: str, path: str = "") -> str:
    """``{public_url}/portal/{token}{path}``: the page as browsers reach the gateway."""
    base = str(gw.settings.public_url).rstrip("/")
    return f"{base}/portal/{token}{path}"


def create_link(
    gw: Gateway,
    merchant: MerchantConfig,
    customer_id: str,
    *,
    return_url: str | None = None,
    locale: str = "es-MX",
    order: PortalOrder | None = None,
) -> tuple[str, datetime]:
    """A link to ``customer_id``'s page (to the order's payment view when ``order`` is given)
    and when it stops working. The customer must exist (checked by the caller: the API answers
    404, the demo loads it first)."""
    issued = _now()
    session = PortalSession(
        merchant.id, customer_id, return_url, locale, issued, order, first_issued_at=issued
    )
    path = "" if order is None else "/pedido"
    return portal_url(gw, sign(merchant, session), path), session.expires_at


def refreshed(merchant: MerchantConfig, session: PortalSession) -> str:
    """A new token for the same session, e.g. for the processor's return trip, which may come
    back after the original link expired. It keeps the first issue's time: renewals never
    take a session past :data:`MAX_LIFETIME`."""
    return sign(merchant, replace(session, issued_at=None))


def form_nonce(merchant: MerchantConfig, session: PortalSession) -> str:
    """A fresh nonce for one rendered form: random, signed with the merchant's key and bound to
    the session's customer and first issue, so a form can only be sent back to the page that
    made it (a nonce from another customer's page, or made up, is refused)."""
    first = int((session.first_issued_at or session.issued_at or _now()).timestamp())
    claims = [session.customer_id, first, secrets.token_urlsafe(12)]
    nonce: str = _serializer(merchant, _FORM_SALT).dumps(claims)
    return nonce


def check_form_nonce(merchant: MerchantConfig, session: PortalSession, nonce: str) -> bool:
    """Whether ``nonce`` is one :func:`form_nonce` made for this session, within its lifetime."""
    if not nonce or len(nonce) > 512:
        return False
    try:
        claims = _serializer(merchant, _FORM_SALT).loads(
            nonce, max_age=int(MAX_LIFETIME.total_seconds())
        )
    except (BadSignature, TokenInvalid):
        return False
    first = int((session.first_issued_at or session.issued_at or _now()).timestamp())
    return (
        isinstance(claims, list)
        and len(claims) == 3
        and claims[0] == session.customer_id
        and claims[1] == first
    )
