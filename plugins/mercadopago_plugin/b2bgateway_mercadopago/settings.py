"""A merchant's ``[merchants.<id>.processors.mercadopago]`` table, validated at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from b2bgateway_mercadopago.client import API_BASE_URL

__all__ = ["MERCADOPAGO_CURRENCIES", "MercadoPagoSettings"]

#: The currency of the Mercado Pago site this plugin serves: Mercado Pago México (MLM) charges
#: MXN only (an account charges only its own site's currency; cash and SPEI are Mexican).
MERCADOPAGO_CURRENCIES = frozenset({"MXN"})


class MercadoPagoSettings(BaseModel):
    """One merchant's Mercado Pago account ("Your integrations" > the application > Credentials).

    ``access_token`` and ``webhook_secret`` are ``SecretStr``: they never show in a repr, a log
    line or a validation error. Use the application's *test* credentials (``TEST-...``) with test
    users until the merchant goes live.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    access_token: SecretStr = Field(min_length=1)
    # The secret signature of the application's Webhooks ("Your integrations" > Webhooks):
    # every notification is checked against it, so it is required.
    webhook_secret: SecretStr = Field(min_length=8)
    # For the portal's MercadoPago.js / Card Payment Brick, which makes the card tokens; the
    # server never uses it.
    public_key: str = ""
    # The account's currency (its site's): a charge in another one fails before anything is sent.
    currency: str = "MXN"
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    read_timeout: float = Field(default=30.0, gt=0, le=120)
    # What the card statement shows (Mercado Pago's ``statement_descriptor``).
    statement_descriptor: str | None = Field(default=None, min_length=1, max_length=22)
    # Approved or rejected at once, never ``in_process`` (no manual review).
    binary_mode: bool = False
    # Send our webhook URL as each payment's / preference's ``notification_url``. Notifications
    # must still be signed: configure Webhooks (and so the secret) in "Your integrations".
    send_notification_url: bool = True
    # A Checkout Pro preference stops accepting payments after this many minutes (None: never).
    checkout_expiration_minutes: int | None = Field(default=None, ge=5, le=60 * 24 * 30)
    # Redirect to ``sandbox_init_point`` instead of ``init_point`` (older test accounts).
    use_sandbox_init_point: bool = False
    # How far ahead of our clock a notification's signed ``ts`` may be (clock skew).
    signature_tolerance_seconds: int = Field(default=300, ge=30, le=3600)
    # How old a notification's signed ``ts`` may be. Mercado Pago redelivers an unacknowledged
    # notification about every 15 minutes with the *same* signed ``ts``, and every notification
    # is re-fetched from Mercado Pago before it counts, so a replay can only make us ask again:
    # the default (3 days) accepts genuine redeliveries after an outage of our endpoint.
    signature_max_age_seconds: int = Field(default=3 * 24 * 3600, ge=300, le=30 * 24 * 3600)
    # A refund whose answer was lost and that Mercado Pago does not list is sent again (with the
    # same X-Idempotency-Key) only this many minutes after it was first asked. Mercado Pago
    # makes the key mandatory but documents no lifetime for it: once forgotten, a second POST
    # would refund again. Later, the refund stays pending with an ALERT, for a person to check.
    refund_resend_minutes: int = Field(default=60, ge=5, le=24 * 60)
    # Mercado Pago's ``three_d_secure_mode`` on card token payments: ``not_supported`` (its
    # default: no challenge, approved or rejected at once) or ``optional`` (the issuer may ask
    # for a 3-D Secure challenge, which the portal shows: a ``post_form`` next action).
    three_d_secure_mode: Literal["not_supported", "optional"] = "not_supported"
    # Only for tests and local fakes: the SDK's base URL is hard-coded.
    api_base_url: str = Field(default=API_BASE_URL, pattern=r"^https?://[^\s/?#]+(:\d+)?$")

    @field_validator("currency")
    @classmethod
    def _site_currency(cls, value: str) -> str:
        if value not in MERCADOPAGO_CURRENCIES:
            known = ", ".join(sorted(MERCADOPAGO_CURRENCIES))
            raise ValueError(f"this plugin serves Mercado Pago México: its accounts charge {known}")
        return value
