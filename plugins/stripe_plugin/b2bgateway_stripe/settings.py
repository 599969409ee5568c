"""A merchant's ``[merchants.<id>.processors.stripe]`` table, validated at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["API_VERSION", "StripeSettings"]

#: The Stripe API version this plugin's requests and cassettes follow (the one stripe-python 16.1
#: was generated for). Sent as ``Stripe-Version`` unless a merchant pins another, so that an SDK
#: upgrade cannot silently change what Stripe answers.
API_VERSION = "2026-10-28.endive"


class StripeSettings(BaseModel):
    """One merchant's Stripe account.

    ``secret_key`` (``sk_...`` or a restricted ``rk_...``) authenticates every API call.
    ``publishable_key`` is not used by the gateway itself: the portal's browser needs it for
    Stripe.js, so it is handed to the browser with a ``client_secret`` next action.
    ``webhook_secret`` (``whsec_...``) is the signing secret of the webhook endpoint registered
    for this merchant; it is required, since an unsigned notification is never trusted.
    ``api_version`` pins ``Stripe-Version`` (default :data:`API_VERSION`, the one the plugin is
    tested with). ``api_base`` replaces
    ``https://api.stripe.com`` (a local stub in tests); never set it in production.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    secret_key: SecretStr
    publishable_key: str = Field(pattern=r"^pk_(test|live)_\S+$")
    webhook_secret: SecretStr
    api_version: str = Field(default=API_VERSION, pattern=r"^\d{4}-\d{2}-\d{2}(\.\w+)?$")
    # Seconds to connect (nothing was sent yet if this expires: safe to retry), then to wait for
    # the answer (the charge may have been made if this expires: unknown, reconciled later).
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    read_timeout: float = Field(default=40.0, gt=0, le=300)
    # The SDK's own retries (connection errors, 409, 5xx), always with the same idempotency key.
    # Above 0, a connection failure can no longer prove that nothing was sent, so it is then
    # reported as an unknown outcome instead of "processor unavailable".
    max_network_retries: int = Field(default=0, ge=0, le=5)
    api_base: str | None = Field(default=None, pattern=r"^https?://[^\s/]+/?$")

    @field_validator("secret_key")
    @classmethod
    def _secret_key_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith(
            ("sk_test_", "sk_live_", "rk_test_", "rk_live_")
        ):
            raise ValueError("must be a Stripe secret key (sk_test_..., sk_live_... or rk_...)")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _webhook_secret_shape(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().startswith("whsec_"):
            raise ValueError("must be the endpoint's signing secret (whsec_...)")
        return value

    @model_validator(mode="after")
    def _same_mode(self) -> StripeSettings:
        if self.live != self.publishable_key.startswith("pk_live_"):
            raise ValueError("secret_key and publishable_key are not of the same mode (test/live)")
        return self

    @property
    def live(self) -> bool:
        """True for a live-mode key (real money)."""
        return self.secret_key.get_secret_value()[2:8] == "_live_"
