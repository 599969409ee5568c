"""Mercado Pago's ``x-signature`` on Webhooks notifications.

The header is ``ts=<timestamp>,v1=<hex>``; ``v1`` is HMAC-SHA256, keyed with the application's
secret signature, of the manifest ``id:{data.id};request-id:{x-request-id};ts:{ts};`` where
- ``data.id`` comes from the query string (not the body) and is lower-cased when alphanumeric
  (Orders ids such as ``ORD01J...``; numeric payment ids are unaffected);
- a pair whose value is absent is left out, trailing ``;`` included.

The SDK's ``WebhookSignatureValidator`` does neither lower-case the id nor read a millisecond
``ts`` right (the documentation shows both units), so the check is done here: ``ts`` above
10**11 is taken as milliseconds.

How old ``ts`` may be is not a few minutes: Mercado Pago redelivers a notification it could not
deliver about every 15 minutes with the same signed ``ts``, so a short window would refuse every
genuine redelivery for ever. The plugin re-fetches what a notification is about before anything
counts, so an old (or replayed) notification can only make it ask Mercado Pago again: ``ts`` may
be up to ``max_age_seconds`` old, and at most ``tolerance_seconds`` ahead of our clock.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime

from b2bgateway import WebhookSignatureInvalid

__all__ = ["manifest", "sign", "verify"]

_MILLISECONDS = 10**11  # a seconds timestamp passes this in the year 5138


def manifest(data_id: str | None, request_id: str | None, ts: str | None) -> str:
    """The signed text, with absent pairs dropped."""
    if data_id and data_id.isascii() and data_id.isalnum():
        data_id = data_id.lower()
    pairs = (("id", data_id), ("request-id", request_id), ("ts", ts))
    return "".join(f"{key}:{value};" for key, value in pairs if value)


def sign(secret: str, data_id: str | None, request_id: str | None, ts: str) -> str:
    """The ``x-signature`` header Mercado Pago would send (for tests and local tools)."""
    digest = hmac.new(
        secret.encode(), manifest(data_id, request_id, ts).encode(), hashlib.sha256
    ).hexdigest()
    return f"ts={ts},v1={digest}"


def _parts(header: str) -> tuple[str | None, list[str]]:
    ts: str | None = None
    v1: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.strip() == "ts":
            ts = value.strip()
        elif key.strip() == "v1":
            v1.append(value.strip().lower())
    return ts, v1


def verify(
    headers: Mapping[str, str],
    query: Mapping[str, str],
    secret: str,
    *,
    tolerance_seconds: int,
    max_age_seconds: int,
    now: datetime | None = None,
) -> None:
    """Raise :class:`WebhookSignatureInvalid` unless the notification is Mercado Pago's, now."""
    header = headers.get("x-signature")
    if not header:
        raise WebhookSignatureInvalid("the notification has no x-signature header")
    ts, presented = _parts(header)
    if not ts or not (ts.isascii() and ts.isdigit()) or not presented:
        raise WebhookSignatureInvalid("x-signature has no ts or no v1")
    expected = hmac.new(
        secret.encode(),
        manifest(query.get("data.id"), headers.get("x-request-id"), ts).encode(),
        hashlib.sha256,
    ).hexdigest()
    # Constant time, and every v1 compared (no early exit on the first match).
    matches = [hmac.compare_digest(expected.encode(), v1.encode()) for v1 in presented]
    if not any(matches):
        raise WebhookSignatureInvalid("x-signature does not match the notification")
    signed = int(ts) / 1000 if int(ts) > _MILLISECONDS else int(ts)
    now = now or datetime.now(UTC)
    moment = (now if now.tzinfo else now.replace(tzinfo=UTC)).timestamp()
    if signed - moment > tolerance_seconds:
        raise WebhookSignatureInvalid("x-signature is from the future (check our clock)")
    if moment - signed > max_age_seconds:
        raise WebhookSignatureInvalid("x-signature is too old")
