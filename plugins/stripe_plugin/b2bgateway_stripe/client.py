"""A thin wrapper over the ``stripe`` SDK: one ``StripeClient`` per merchant's settings.

Nothing here knows b2bgateway: the calls take the SDK's typed parameters, return the objects'
data as plain dicts (``StripeObject.to_dict()``: which fields an object carries depends on the API
version, and a dict says so with ``.get``) and raise the SDK's own exceptions, which ``mapping``
translates. What this module adds to the SDK:

- no global state: every merchant has its own ``StripeClient`` (its key, API version, timeouts,
  base URL), cached by its settings; ``stripe.api_key`` is never set;
- no telemetry: the SDK would otherwise write ``~/.config/stripe/telemetry_id`` on the first
  request and send the previous request's id and timing with the next one;
- explicit retries: the SDK's ``max_network_retries`` comes from the settings (default 0), and our
  own small policy re-sends a request Stripe refused with 429 (it did nothing), with the same
  idempotency key, after :data:`RATE_LIMIT_DELAYS`.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from typing import Any

import stripe
from stripe.params import (
    CustomerCreateParams,
    PaymentIntentCancelParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
    RefundListParams,
)
from stripe.params.checkout import SessionCreateParams

from b2bgateway_stripe.settings import StripeSettings

__all__ = ["RATE_LIMIT_DELAYS", "Data", "StripeApi", "for_merchant"]

# Process-wide in the SDK (there is no per-client switch): off for every Stripe call in this
# process, which is what a server that must not write to the home directory wants anyway.
stripe.enable_telemetry = False

#: Seconds to wait before each re-send of a request refused with 429 (one entry per retry).
RATE_LIMIT_DELAYS: tuple[float, ...] = (0.5, 1.5)
#: The PaymentIntent's charge, so ``amount_refunded`` comes with it.
_EXPAND_INTENT = ["latest_charge"]
#: The Checkout Session's PaymentIntent and its charge.
_EXPAND_SESSION = ["payment_intent", "payment_intent.latest_charge"]

#: A Stripe object's data (``to_dict()``): nested objects are dicts too.
Data = dict[str, Any]


def _rate_limited(call: Callable[[], stripe.StripeObject]) -> Data:
    """``call()``, re-sent after each delay of :data:`RATE_LIMIT_DELAYS` while Stripe answers 429.

    A 429 means Stripe refused the request before doing anything, and a re-send carries the same
    idempotency key, so this never does anything twice. The last 429 is raised.
    """
    for delay in RATE_LIMIT_DELAYS:
        try:
            return call().to_dict()
        except stripe.RateLimitError:
            time.sleep(delay)
    return call().to_dict()


def _metadata_is(key: str, value: str) -> str:
    """A search clause: ``metadata[key]`` is exactly ``value`` (quotes and backslashes escaped)."""
    quoted = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"metadata['{key}']:'{quoted}'"


class StripeApi:
    """One merchant's Stripe account: the handful of calls the plugin makes."""

    def __init__(self, settings: StripeSettings) -> None:
        base = {"api": settings.api_base.rstrip("/")} if settings.api_base else None
        self.sdk_retries = settings.max_network_retries
        self.sdk = stripe.StripeClient(
            settings.secret_key.get_secret_value(),
            stripe_version=settings.api_version,
            base_addresses=base,  # type: ignore[arg-type]  # a partial BaseAddresses is allowed
            max_network_retries=settings.max_network_retries,
            http_client=stripe.RequestsClient(
                timeout=(settings.connect_timeout, settings.read_timeout)
            ),
        )

    # -- PaymentIntents ---------------------------------------------------------------------
    def create_payment_intent(
        self, params: PaymentIntentCreateParams, idempotency_key: str
    ) -> Data:
        """``POST /v1/payment_intents`` (with ``confirm=true`` in ``params``, it charges)."""
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
        return _rate_limited(lambda: self.sdk.v1.payment_intents.create(params, options))

    def retrieve_payment_intent(self, intent_id: str) -> Data:
        """``GET /v1/payment_intents/{id}``, with its latest charge expanded."""
        return _rate_limited(
            lambda: self.sdk.v1.payment_intents.retrieve(intent_id, {"expand": _EXPAND_INTENT})
        )

    def find_payment_intents(self, metadata_key: str, value: str) -> list[Data]:
        """PaymentIntents whose ``metadata[metadata_key]`` is ``value`` (search API).

        Search is eventually consistent: a PaymentIntent created less than about a minute ago
        may not be found yet.
        """
        query = _metadata_is(metadata_key, value)
        found = _rate_limited(
            lambda: self.sdk.v1.payment_intents.search(
                {"query": query, "expand": ["data.latest_charge"]}
            )
        )
        return [intent for intent in found.get("data") or [] if isinstance(intent, dict)]

    def cancel_payment_intent(self, intent_id: str, idempotency_key: str) -> Data:
        """``POST /v1/payment_intents/{id}/cancel`` as abandoned."""
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
        params: PaymentIntentCancelParams = {
            "cancellation_reason": "abandoned",
            "expand": _EXPAND_INTENT,
        }
        return _rate_limited(lambda: self.sdk.v1.payment_intents.cancel(intent_id, params, options))

    # -- Checkout Sessions ------------------------------------------------------------------
    def create_checkout_session(self, params: SessionCreateParams, idempotency_key: str) -> Data:
        """``POST /v1/checkout/sessions``: the hosted payment page."""
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
        return _rate_limited(lambda: self.sdk.v1.checkout.sessions.create(params, options))

    def retrieve_checkout_session(self, session_id: str) -> Data:
        """``GET /v1/checkout/sessions/{id}``, with its PaymentIntent and charge expanded."""
        return _rate_limited(
            lambda: self.sdk.v1.checkout.sessions.retrieve(session_id, {"expand": _EXPAND_SESSION})
        )

    def expire_checkout_session(self, session_id: str, idempotency_key: str) -> Data:
        """``POST /v1/checkout/sessions/{id}/expire``: the page can no longer be paid."""
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
        return _rate_limited(
            lambda: self.sdk.v1.checkout.sessions.expire(
                session_id, {"expand": _EXPAND_SESSION}, options
            )
        )

    # -- Customers --------------------------------------------------------------------------
    def find_customers(self, metadata: dict[str, str]) -> list[Data]:
        """Customers whose ``metadata`` has every one of these keys and values (search API,
        eventually consistent as :meth:`find_payment_intents`)."""
        query = " AND ".join(_metadata_is(key, value) for key, value in metadata.items())
        found = _rate_limited(lambda: self.sdk.v1.customers.search({"query": query}))
        return [customer for customer in found.get("data") or [] if isinstance(customer, dict)]

    def create_customer(self, params: CustomerCreateParams, idempotency_key: str) -> Data:
        """``POST /v1/customers``: who receives SPEI transfers (``customer_balance``)."""
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
        return _rate_limited(lambda: self.sdk.v1.customers.create(params, options))

    # -- Refunds ----------------------------------------------------------------------------
    def create_refund(self, params: RefundCreateParams, idempotency_key: str) -> Data:
        """``POST /v1/refunds`` (without ``amount``: everything that is left)."""
        options: stripe.RequestOptions = {"idempotency_key": idempotency_key}
        return _rate_limited(lambda: self.sdk.v1.refunds.create(params, options))

    def refunds_of(self, intent_id: str) -> Iterator[Data]:
        """Every refund of a PaymentIntent, newest first (pages are fetched as needed)."""
        params: RefundListParams = {"payment_intent": intent_id, "limit": 100}
        while True:
            page = _rate_limited(functools.partial(self.sdk.v1.refunds.list, params))
            refunds = [refund for refund in page.get("data") or [] if isinstance(refund, dict)]
            yield from refunds
            if not page.get("has_more") or not refunds:
                return
            params = {**params, "starting_after": str(refunds[-1]["id"])}

    # -- Webhooks ---------------------------------------------------------------------------
    def construct_event(
        self, payload: bytes, signature: str | None, secret: str, tolerance: int
    ) -> Data:
        """Verify ``Stripe-Signature`` over the raw body, then parse it (no request is made).

        :raises stripe.SignatureVerificationError: not signed with ``secret``, or too old.
        """
        return self.sdk.construct_event(payload, signature, secret, tolerance).to_dict()


@functools.lru_cache(maxsize=256)
def for_merchant(settings: StripeSettings) -> StripeApi:
    """The merchant's client, made once per (frozen, hashable) settings and then reused."""
    return StripeApi(settings)
