"""A small client for the handful of Openpay (Mexico) endpoints the plugin uses, on ``requests``.

It knows Openpay and nothing of b2bgateway's types: it sends JSON, reads JSON (numbers as
``Decimal``) and sorts every way a call can go wrong into three exceptions, which
:mod:`b2bgateway_openpay.mapping` turns into the gateway's answers:

- :class:`NotSent`: Openpay never got the request (DNS, connection refused, connect timeout, TLS
  handshake), so nothing happened there and retrying is safe;
- :class:`NoAnswer`: the request was sent but no complete answer came back (read timeout, the
  connection dropped): Openpay may or may not have acted;
- :class:`ApiError`: Openpay answered with an error (``http_status``, ``error_code`` ...).

One :class:`OpenpayClient` per merchant settings (:func:`for_merchant`), one ``requests.Session``
per client and thread; no module-level configuration (unlike the ``openpay`` SDK's globals).
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import requests
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from b2bgateway_openpay.settings import OpenpaySettings

__all__ = [
    "ApiError",
    "NoAnswer",
    "NotSent",
    "OpenpayClient",
    "OpenpayError",
    "dumps",
    "for_merchant",
]

USER_AGENT = "b2bgateway-openpay/0.1"
Charge = dict[str, Any]


class OpenpayError(Exception):
    """Base of the client's errors."""


class NotSent(OpenpayError):
    """Openpay never received the request: nothing happened there, retrying is safe."""


class NoAnswer(OpenpayError):
    """The request was sent but its answer was lost: Openpay may or may not have acted."""


class ApiError(OpenpayError):
    """Openpay's error object (``{"category", "description", "http_code", "error_code",
    "request_id"}``), or what could be read of a non-JSON error answer."""

    def __init__(
        self,
        http_status: int,
        error_code: int | None,
        description: str,
        *,
        category: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(f"HTTP {http_status}, error {error_code}: {description}")
        self.http_status = http_status
        self.error_code = error_code
        self.description = description
        self.category = category
        self.request_id = request_id

    @classmethod
    def from_answer(cls, http_status: int, payload: object) -> ApiError:
        if not isinstance(payload, Mapping):
            return cls(http_status, None, "an answer that is not Openpay's error object")
        code = payload.get("error_code")
        return cls(
            http_status,
            int(code) if isinstance(code, int | str) and str(code).isdigit() else None,
            str(payload.get("description") or "")[:500],
            category=payload.get("category"),
            request_id=payload.get("request_id"),
        )


def dumps(value: Any) -> str:
    """JSON text where a ``Decimal`` is written as exactly the number it is.

    ``json.dumps`` cannot write a ``Decimal`` without going through ``float``; Openpay wants
    amounts as JSON numbers in major units (``100.50``), so they are written from the decimal's
    own digits. Floats are refused: money never is one.
    """
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a number")
        return format(value, "f")
    if isinstance(value, float):
        raise TypeError("floats are not sent to Openpay: use Decimal")
    if isinstance(value, Mapping):
        items = (f"{json.dumps(str(k))}: {dumps(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(dumps(v) for v in value) + "]"
    return json.dumps(value)


def _nothing_sent(exc: requests.ConnectionError) -> bool:
    """True when the connection failed before any byte of the request left."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # NameResolutionError and "connection refused" are NewConnectionErrors (a subclass of
    # ConnectTimeoutError in urllib3 2). A dropped connection is a ProtocolError: sent.
    return isinstance(reason, NewConnectionError | ConnectTimeoutError)


class OpenpayClient:
    """The merchant-level Openpay API of one merchant account."""

    def __init__(
        self,
        merchant_id: str,
        private_key: str,
        *,
        base_url: str,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        self.merchant_id = merchant_id
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)
        self._auth = (private_key, "")  # Basic auth: the private key, an empty password
        self._local = threading.local()

    def __repr__(self) -> str:
        return f"OpenpayClient({self.merchant_id!r}, base_url={self.base_url!r})"

    @property
    def session(self) -> requests.Session:
        """This thread's session (keep-alive connections to Openpay are reused)."""
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.auth = self._auth
            session.headers.update({"Accept": "application/json", "User-Agent": USER_AGENT})
            self._local.session = session
        return session

    # -- the endpoints --------------------------------------------------------------------
    def create_charge(self, body: Mapping[str, Any]) -> Charge:
        """``POST /v1/{merchant_id}/charges``: the charge (transaction) object."""
        return self._object(self.request("POST", "/charges", body=body))

    def get_charge(self, charge_id: str) -> Charge | None:
        """``GET /v1/{merchant_id}/charges/{id}``; None when Openpay has no such charge."""
        try:
            return self._object(self.request("GET", f"/charges/{quote(charge_id, safe='')}"))
        except ApiError as exc:
            if exc.http_status == 404:
                return None
            raise

    def find_charge(self, order_id: str) -> Charge | None:
        """``GET /v1/{merchant_id}/charges?order_id=...``: the charge made with our order id."""
        found = self.request("GET", "/charges", params={"order_id": order_id})
        if not isinstance(found, list):
            raise NoAnswer("Openpay's charge search did not answer a list")
        charges = [c for c in found if isinstance(c, dict) and c.get("order_id") == order_id]
        return charges[0] if charges else None

    def refund(self, charge_id: str, *, description: str, amount: Decimal | None) -> Charge:
        """``POST /v1/{merchant_id}/charges/{id}/refund``: the charge, its ``refund`` nested.

        Without ``amount`` Openpay refunds the whole charge.
        """
        body: dict[str, Any] = {"description": description}
        if amount is not None:
            body["amount"] = amount
        path = f"/charges/{quote(charge_id, safe='')}/refund"
        return self._object(self.request("POST", path, body=body))

    # -- transport ------------------------------------------------------------------------
    def request(
        self,
        method: str,
        path: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        """One call to ``{base_url}/v1/{merchant_id}{path}``: its JSON, numbers as Decimal."""
        url = f"{self.base_url}/v1/{self.merchant_id}{path}"
        headers = {} if body is None else {"Content-Type": "application/json"}
        try:
            answer = self.session.request(
                method,
                url,
                data=None if body is None else dumps(body).encode(),
                params=params,
                headers=headers,
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.ConnectionError as exc:
            if _nothing_sent(exc):
                raise NotSent(f"Openpay could not be reached ({type(exc).__name__})") from exc
            raise NoAnswer(f"the connection to Openpay broke ({type(exc).__name__})") from exc
        except requests.RequestException as exc:  # ReadTimeout, an answer cut short, ...
            raise NoAnswer(f"no answer from Openpay ({type(exc).__name__})") from exc
        try:
            payload = json.loads(answer.content, parse_float=Decimal) if answer.content else None
        except ValueError:
            payload = None
        if not 200 <= answer.status_code < 300:
            raise ApiError.from_answer(answer.status_code, payload)
        if payload is None:
            raise NoAnswer(f"Openpay's HTTP {answer.status_code} answer could not be read")
        return payload

    @staticmethod
    def _object(payload: Any) -> Charge:
        if not isinstance(payload, dict):
            raise NoAnswer("Openpay did not answer an object")
        return payload


@functools.lru_cache(maxsize=256)
def for_merchant(settings: OpenpaySettings) -> OpenpayClient:
    """The client of one merchant's settings (settings are frozen, hence a cache key)."""
    return OpenpayClient(
        settings.merchant_id,
        settings.private_key.get_secret_value(),
        base_url=settings.api_url,
        connect_timeout=settings.connect_timeout,
        read_timeout=settings.read_timeout,
    )
