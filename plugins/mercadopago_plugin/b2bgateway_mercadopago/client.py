"""A thin wrapper over the ``mercadopago`` SDK (3.x). It knows Mercado Pago, not b2bgateway.

The SDK never raises on an HTTP error: it returns ``{"status": ..., "response": ...}``. Every
call here checks that status and raises :class:`ApiError` for anything but 2xx. Transport
failures are told apart by whether the request can have reached Mercado Pago: :class:`NotSent`
(safe to retry) or :class:`NoAnswer` (it may have taken effect).

The SDK's own HTTP client is replaced by :class:`_Transport`, which
- applies our (connect, read) timeouts instead of the SDK's single 60 s one;
- does not retry: the SDK's urllib3 retries would resend writes after a 5xx, and the gateway
  reconciles instead;
- parses JSON numbers as ``Decimal`` (no float ever reaches the plugin);
- can point at another base URL (tests, local fakes), which the SDK has hard-coded.

Amounts go in as ``Decimal``; :func:`sdk_json` turns them into JSON numbers at the last moment,
because the SDK encodes bodies with the standard ``JSONEncoder``, which refuses ``Decimal``.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

import mercadopago
import requests
import urllib3.exceptions
from mercadopago.config import RequestOptions
from mercadopago.core import MPBase
from mercadopago.http import HttpClient

__all__ = ["API_BASE_URL", "ApiError", "MercadoPago", "NoAnswer", "NotSent", "for_credentials"]

API_BASE_URL = "https://api.mercadopago.com"


class NotSent(Exception):
    """The request never reached Mercado Pago (DNS, connection refused, TLS): retrying is safe."""


class NoAnswer(Exception):
    """The request was (or may have been) sent, and no answer came back (read timeout, reset)."""


class ApiError(Exception):
    """Mercado Pago answered with a non-2xx status. Keeps its own error code and message."""

    def __init__(self, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        causes = self.body.get("cause") or []
        first = causes[0] if isinstance(causes, list) and causes else {}
        first = first if isinstance(first, dict) else {}
        self.error = str(self.body.get("error") or "")
        self.code = str(first.get("code") or self.error or status)
        self.message = str(first.get("description") or self.body.get("message") or "")
        super().__init__(f"HTTP {status} {self.error}: {self.message}".strip(": "))


_NOT_SENT = (
    requests.exceptions.ConnectTimeout,
    requests.exceptions.SSLError,
    requests.exceptions.ProxyError,
    requests.exceptions.InvalidURL,
    requests.exceptions.MissingSchema,
    requests.exceptions.InvalidSchema,
    requests.exceptions.InvalidHeader,
)


def _never_sent(exc: requests.exceptions.RequestException) -> bool:
    if isinstance(exc, _NOT_SENT):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        # "Connection refused" / DNS: urllib3 failed to open the connection (inside MaxRetryError).
        # Other connection errors (a reset or a closed connection) may come after sending.
        reason = exc.args[0] if exc.args else None
        reason = getattr(reason, "reason", reason)
        return isinstance(
            reason, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError
        )
    return False


class _Transport(HttpClient):  # type: ignore[misc]  # the SDK is untyped
    """The SDK's HTTP client, with our timeouts, no retries, Decimal numbers and base URL."""

    def __init__(self, base_url: str, connect_timeout: float, read_timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = (connect_timeout, read_timeout)

    def request(  # the SDK's signature; its retry arguments are ignored on purpose
        self,
        method: str,
        url: str,
        maxretries: int | None = None,
        retry_on: list[int] | None = None,
        backoff_factor: float | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        if url.startswith(API_BASE_URL):
            url = self.base_url + url[len(API_BASE_URL) :]
        kwargs["timeout"] = self.timeout
        try:
            with requests.Session() as session:
                answer = session.request(method, url, **kwargs)
        except requests.exceptions.RequestException as exc:
            if _never_sent(exc):
                raise NotSent(f"{method} {url}: {type(exc).__name__}") from exc
            raise NoAnswer(f"{method} {url}: {type(exc).__name__}") from exc
        body = None
        if answer.status_code != 204 and answer.content:
            try:
                body = answer.json(parse_float=Decimal)
            except ValueError:  # an HTML error page from a proxy: keep the status only
                body = None
        return {"status": answer.status_code, "response": body}


def _number(amount: Decimal) -> int | float:
    """A ``Decimal`` as the JSON number the SDK can encode, refusing any that would change."""
    if amount == amount.to_integral_value():
        return int(amount)
    number = float(amount)  # the SDK boundary: its JSONEncoder takes no Decimal
    if Decimal(repr(number)) != amount:
        raise ValueError(f"{amount} cannot be sent exactly as a JSON number")
    return number


def sdk_json(value: Any) -> Any:
    """``value`` with every ``Decimal`` turned into an exact JSON number, for the SDK."""
    if isinstance(value, Decimal):
        return _number(value)
    if isinstance(value, Mapping):
        return {key: sdk_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [sdk_json(item) for item in value]
    return value


def _idempotency_key(key: str) -> str:
    # Mercado Pago (and the SDK) take 1 to 64 characters: longer keys are hashed, stably.
    return key if 1 <= len(key) <= 64 else hashlib.sha256(key.encode()).hexdigest()


def _checked(response: Mapping[str, Any]) -> Any:
    status = int(response.get("status") or 0)
    if not 200 <= status < 300:
        raise ApiError(status, response.get("response"))
    return response.get("response")


class _Claims(MPBase):  # type: ignore[misc]  # the SDK is untyped
    """``/post-purchase/v1/claims`` (Mercado Pago's Claims API, "Get claim details"), which the
    Python SDK has no resource for: its base class and HTTP client, as its own resources do."""

    def get(self, claim_id: str, request_options: RequestOptions) -> Any:
        return self._get(
            uri="/post-purchase/v1/claims/" + self._path_param(claim_id),
            request_options=request_options,
        )


class MercadoPago:
    """One merchant's account: one SDK instance, shared by every call (each call is stateless)."""

    def __init__(
        self, access_token: str, *, base_url: str, connect_timeout: float, read_timeout: float
    ) -> None:
        self._token = access_token
        self.sdk = mercadopago.SDK(
            access_token, http_client=_Transport(base_url, connect_timeout, read_timeout)
        )

    def _options(
        self, idempotency_key: str | None = None, session_id: str | None = None
    ) -> RequestOptions:
        # A fresh RequestOptions per call: the SDK mutates the one it is given, and its default
        # sends a new random idempotency key on every request (a retry would charge twice).
        headers: dict[str, str] = {}
        if idempotency_key is not None:
            headers["x-idempotency-key"] = _idempotency_key(idempotency_key)
        if session_id:
            headers["x-meli-session-id"] = session_id
        return RequestOptions(
            access_token=self._token, custom_headers=headers or None, max_retries=0
        )

    def create_payment(
        self, body: Mapping[str, Any], idempotency_key: str, session_id: str | None = None
    ) -> dict[str, Any]:
        """``POST /v1/payments``. A declined card is a 201 with ``status: rejected``.
        ``session_id`` is the browser's device id (MercadoPago.js), sent as
        ``X-meli-session-id`` for Mercado Pago's fraud prevention."""
        options = self._options(idempotency_key, session_id)
        return _checked(self.sdk.payment().create(sdk_json(body), request_options=options))  # type: ignore[no-any-return]

    def get_payment(self, payment_id: str) -> dict[str, Any]:
        """``GET /v1/payments/{id}``."""
        return _checked(self.sdk.payment().get(payment_id, request_options=self._options()))  # type: ignore[no-any-return]

    def search_payments(self, external_reference: str) -> list[dict[str, Any]]:
        """``GET /v1/payments/search`` by our reference, newest first."""
        filters = {
            "external_reference": external_reference,
            "sort": "date_created",
            "criteria": "desc",
        }
        found = _checked(self.sdk.payment().search(filters, request_options=self._options()))
        results = (found or {}).get("results") or []
        return [item for item in results if isinstance(item, dict)]

    def cancel_payment(self, payment_id: str, idempotency_key: str) -> dict[str, Any]:
        """``PUT /v1/payments/{id}`` with ``status: cancelled`` (pending / in_process only)."""
        options = self._options(idempotency_key)
        answer = self.sdk.payment().update(payment_id, {"status": "cancelled"}, options)
        return _checked(answer)  # type: ignore[no-any-return]

    def create_refund(
        self, payment_id: str, amount: Decimal, idempotency_key: str
    ) -> dict[str, Any]:
        """``POST /v1/payments/{id}/refunds`` with the amount, always: a body without one refunds
        whatever Mercado Pago thinks is left, which may not be what we think is left. Sent again
        with the same key, it answers the refund that key made (or makes it, if none was), for
        as long as Mercado Pago remembers the key (it documents no lifetime)."""
        body = sdk_json({"amount": amount})
        options = self._options(idempotency_key)
        return _checked(self.sdk.refund().create(payment_id, body, request_options=options))  # type: ignore[no-any-return]

    def list_refunds(self, payment_id: str) -> list[dict[str, Any]]:
        """``GET /v1/payments/{id}/refunds``: every refund of the payment, as refund objects."""
        answer = self.sdk.refund().list_all(payment_id, request_options=self._options())
        found = _checked(answer)
        return [item for item in found or [] if isinstance(item, dict)]

    def get_chargeback(self, chargeback_id: str) -> dict[str, Any]:
        """``GET /v1/chargebacks/{id}``."""
        answer = self.sdk.chargeback().get(chargeback_id, request_options=self._options())
        return _checked(answer)  # type: ignore[no-any-return]

    def get_claim(self, claim_id: str) -> dict[str, Any]:
        """``GET /post-purchase/v1/claims/{claim_id}``."""
        claims = _Claims(self.sdk.request_options, self.sdk.http_client)
        return _checked(claims.get(claim_id, self._options()))  # type: ignore[no-any-return]

    def create_preference(self, body: Mapping[str, Any], idempotency_key: str) -> dict[str, Any]:
        """``POST /checkout/preferences`` (Checkout Pro): the buyer pays at its ``init_point``."""
        options = self._options(idempotency_key)
        return _checked(self.sdk.preference().create(sdk_json(body), request_options=options))  # type: ignore[no-any-return]

    def get_preference(self, preference_id: str) -> dict[str, Any]:
        """``GET /checkout/preferences/{id}``."""
        answer = self.sdk.preference().get(preference_id, request_options=self._options())
        return _checked(answer)  # type: ignore[no-any-return]

    def search_preferences(self, external_reference: str) -> list[dict[str, Any]]:
        """``GET /checkout/preferences/search`` by our reference."""
        filters = {"external_reference": external_reference}
        found = _checked(self.sdk.preference().search(filters, request_options=self._options()))
        elements = (found or {}).get("elements") or []
        return [item for item in elements if isinstance(item, dict)]

    def expire_preference(self, preference_id: str, at: datetime) -> dict[str, Any]:
        """``PUT /checkout/preferences/{id}``: no payment can start on it after ``at``."""
        body = {"expires": True, "expiration_date_to": mp_datetime(at)}
        answer = self.sdk.preference().update(preference_id, body, self._options())
        return _checked(answer)  # type: ignore[no-any-return]


def mp_datetime(moment: datetime) -> str:
    """Mercado Pago's date format: ``2024-01-10T12:00:00.000-04:00``."""
    return moment.isoformat(timespec="milliseconds")


@functools.lru_cache(maxsize=256)
def for_credentials(
    access_token: str, base_url: str, connect_timeout: float, read_timeout: float
) -> MercadoPago:
    """The one client of these credentials (cached: settings are validated once, at start-up)."""
    return MercadoPago(
        access_token,
        base_url=base_url,
        connect_timeout=connect_timeout,
        read_timeout=read_timeout,
    )
