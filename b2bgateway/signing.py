"""Timestamped HMAC-SHA256 signatures (Stripe's scheme) for every webhook signed or checked here.

The header value is ``t=<unix seconds>,v1=<hex>``, where the hex is HMAC-SHA256 keyed by a shared
secret over ``f"{t}.{raw body}"``. Signing the timestamp with the body lets the receiver refuse
replays older than :data:`TOLERANCE`; several ``v1`` values may be present (a sender rotating its
secret sends one per secret). Used by the sandbox's webhooks and the gateway's outbound events.
"""

from __future__ import annotations

import hashlib
import hmac
import time

from pydantic import SecretStr

from b2bgateway.errors import WebhookSignatureInvalid

__all__ = ["SCHEME", "TOLERANCE", "hmac_hex", "sign", "signature", "verify"]

#: Seconds a signature stays valid, either side of now (Stripe's default).
TOLERANCE = 300
SCHEME = "v1"
HEADER = "signature"  # only used in error messages; callers pass their header's name


def hmac_hex(secret: SecretStr, message: bytes) -> str:
    return hmac.new(secret.get_secret_value().encode(), message, hashlib.sha256).hexdigest()


def signature(secret: SecretStr, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``f"{timestamp}.{body}"``: one ``v1`` value."""
    return hmac_hex(secret, str(timestamp).encode() + b"." + body)


def sign(secret: SecretStr, body: bytes, *, timestamp: int | None = None) -> str:
    """The signature header value for ``body`` (``t=...,v1=...``), stamped now unless told."""
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"t={stamp},{SCHEME}={signature(secret, stamp, body)}"


def _parse_header(header: str, name: str) -> tuple[int, list[str]]:
    stamp: int | None = None
    candidates: list[str] = []
    for item in header.split(","):
        key, sep, value = item.strip().partition("=")
        if not sep:
            continue
        if key == "t" and value.isascii() and value.isdigit():
            stamp = int(value)
        elif key == SCHEME:
            candidates.append(value)
    if stamp is None or not candidates:
        raise WebhookSignatureInvalid(f"the {name} header has no timestamp or no {SCHEME}")
    return stamp, candidates


def verify(
    header: str | None,
    body: bytes,
    secret: SecretStr,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
    name: str = HEADER,
) -> int:
    """Check a webhook's signature header against its raw body; return its timestamp.

    Every candidate is compared in constant time. Timestamps more than ``tolerance`` seconds
    away from ``now``, in the past (a replay) or in the future (a skewed or forged clock), are
    refused.

    :raises WebhookSignatureInvalid: missing or malformed header, stale timestamp, or no ``v1``
      value matches. The message never contains the secret or the expected signature.
    """
    if not header:
        raise WebhookSignatureInvalid(f"the {name} header is missing")
    stamp, candidates = _parse_header(header, name)
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        raise WebhookSignatureInvalid("the signature's timestamp is outside the tolerance")
    expected = signature(secret, stamp, body).encode()
    matched = False
    for candidate in candidates:
        # Bytes, not str: compare_digest refuses non-ASCII str, and a header may hold anything.
        matched |= hmac.compare_digest(expected, candidate.encode("utf-8", "replace"))
    if not matched:
        raise WebhookSignatureInvalid("no signature matches the body")
    return stamp
