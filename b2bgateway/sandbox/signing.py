"""Signatures of the sandbox: its outgoing webhooks and its approval page's form.

Webhooks use Stripe's scheme. The header is ``t=<unix seconds>,v1=<hex>``, where the hex is
HMAC-SHA256 keyed by the merchant's ``webhook_secret`` over ``f"{t}.{raw body}"``. Signing the
timestamp with the body lets the receiver refuse replays older than :data:`TOLERANCE`; several
``v1`` values may be present (a processor rotating its secret sends one per secret).
"""

from __future__ import annotations

import hmac

from pydantic import SecretStr

from b2bgateway import signing as _signing
from b2bgateway.signing import TOLERANCE, hmac_hex, sign, signature

__all__ = [
    "HEADER",
    "TOLERANCE",
    "check_form_token",
    "form_token",
    "sign",
    "signature",
    "verify",
]

#: The header the sandbox puts on every webhook (``request.headers`` keys it in lower case).
HEADER = "B2BGateway-Sandbox-Signature"


def verify(
    header: str | None,
    body: bytes,
    secret: SecretStr,
    *,
    tolerance: int = TOLERANCE,
    now: float | None = None,
) -> int:
    """Check a sandbox webhook's signature header (see :func:`b2bgateway.signing.verify`)."""
    return _signing.verify(header, body, secret, tolerance=tolerance, now=now, name=HEADER)


def form_token(secret: SecretStr, merchant_id: str, charge_id: str) -> str:
    """The approval page's hidden form field: an HMAC of the charge, keyed by the merchant's
    secret, so only a form this sandbox rendered can approve or decline the charge."""
    # A distinct prefix keeps a form token from ever being valid as a webhook signature.
    return hmac_hex(secret, f"sandbox-page:{merchant_id}:{charge_id}".encode())


def check_form_token(secret: SecretStr, merchant_id: str, charge_id: str, presented: str) -> bool:
    """Whether ``presented`` is :func:`form_token` of this charge (constant time)."""
    expected = form_token(secret, merchant_id, charge_id).encode()
    return hmac.compare_digest(expected, presented.encode("utf-8", "replace"))
