"""The sandbox's settings: the ``[merchants.X.processors.sandbox]`` table, validated at start-up."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from b2bgateway.money import currencies as iso_currencies

__all__ = ["SandboxSettings"]


class SandboxSettings(BaseModel):
    """One merchant's sandbox configuration.

    ``webhook_secret`` signs the webhooks the sandbox sends and the approval page's form; it is a
    ``SecretStr`` so it never shows up in a repr, a log line or a validation error.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    webhook_secret: SecretStr = Field(min_length=8)
    # The sandbox's own books: a separate system from the gateway's database, like a real
    # processor's, so reconciliation is exercised for real.
    ledger_path: str = Field(default="b2bgateway-sandbox.db", min_length=1)
    # Simulated processor latency before answering charge/retrieve/refund (benchmarks).
    latency_ms: int = Field(default=0, ge=0, le=60_000)
    currencies: list[str] = Field(default_factory=lambda: ["MXN", "USD"])
    # The account holder shown with the CLABE of a SPEI transfer.
    beneficiary: str = Field(default="Sandbox B2B SA de CV", min_length=1, max_length=120)
    # False: the sandbox answers "cannot cancel" (as Openpay does), to try the core's path for it.
    can_cancel: bool = True
    # The longest a charge waits for the customer, whatever expiry the gateway asks for: the
    # hosted page and 3-D Secure, a SPEI transfer, a cash voucher.
    card_expiry_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)
    bank_transfer_expiry_hours: int = Field(default=72, ge=1, le=30 * 24)
    cash_expiry_hours: int = Field(default=72, ge=1, le=30 * 24)

    @field_validator("currencies")
    @classmethod
    def _iso_codes(cls, value: list[str]) -> list[str]:
        unknown = [code for code in value if code not in iso_currencies()]
        if unknown:
            raise ValueError(f"not ISO 4217 currency codes: {', '.join(unknown)}")
        return value
