"""A merchant's ``[merchants.<id>.processors.openpay]`` table, validated at start-up."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["PRODUCTION_URL", "SANDBOX_URL", "OpenpaySettings"]

SANDBOX_URL = "https://sandbox-api.openpay.mx"
PRODUCTION_URL = "https://api.openpay.mx"


class OpenpaySettings(BaseModel):
    """One merchant's Openpay account.

    ``private_key`` authenticates every API call (HTTP Basic, empty password). ``public_key`` is
    not used by the gateway: the portal's browser needs it for openpay.js (tokens and the
    anti-fraud ``device_session_id``); it lives here so the account's keys are configured in
    one place. Openpay signs no webhook, so ``webhook_user``/``webhook_password`` (the Basic
    credentials registered with the webhook) are required: without them anyone could post a
    notification. ``base_url`` overrides the host chosen by ``production`` (a proxy, a fake).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    merchant_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9]+$")
    private_key: SecretStr = Field(min_length=1)
    public_key: str = Field(min_length=1)
    production: bool = False
    country: Literal["mx"] = "mx"  # the hosts below are Openpay Mexico's
    webhook_user: str = Field(min_length=1, max_length=100)
    webhook_password: SecretStr = Field(min_length=8)
    # Seconds to connect (nothing was sent yet if this expires), then to wait for the answer (the
    # charge may have been made if this expires: the outcome is unknown and reconciled later).
    connect_timeout: float = Field(default=5.0, gt=0, le=60)
    read_timeout: float = Field(default=60.0, gt=0, le=300)
    use_3d_secure: bool = False
    # The beneficiary SPEI instructions show (the business name on the Openpay account): Openpay's
    # answer names the bank, CLABE and concept, not who receives. Required to offer SPEI.
    spei_beneficiary: str | None = Field(default=None, min_length=1, max_length=100)
    base_url: str | None = Field(default=None, pattern=r"^https?://[^\s/]+(/[^\s]*)?$")

    @field_validator("webhook_user")
    @classmethod
    def _no_colon(cls, value: str) -> str:
        if ":" in value:  # HTTP Basic splits user and password at the first colon
            raise ValueError("the webhook user cannot contain ':'")
        return value

    @property
    def api_url(self) -> str:
        """The API host: ``base_url`` when set, else production or sandbox."""
        if self.base_url:
            return self.base_url.rstrip("/")
        return PRODUCTION_URL if self.production else SANDBOX_URL
