"""``[merchants.X.expiry]``: how long a payment waits for the customer, per method."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, field_validator

__all__ = ["ExpirySettings"]


class ExpirySettings(BaseModel):
    """How long a payment waits for the customer, per method (``[merchants.X.expiry]``).

    Durations as seconds or ISO 8601 (``"PT1H"``, ``"P3D"``). A processor's own, shorter expiry
    wins. ``grace`` is how long after a processor that cannot cancel has let its charge expire
    the gateway still waits before it releases the invoices (a payment made in that window is
    still recorded, and flagged if the invoices were paid again meanwhile).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    card: timedelta = timedelta(hours=1)  # a 3-D Secure challenge or a hosted page
    bank_transfer: timedelta = timedelta(hours=72)  # SPEI: can arrive the next business day
    cash: timedelta = timedelta(hours=72)  # an OXXO voucher
    grace: timedelta = timedelta(hours=24)

    @field_validator("card", "bank_transfer", "cash", "grace")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > timedelta(days=30):
            raise ValueError("must be more than 0 and at most 30 days")
        return value

    def for_method(self, method: str) -> timedelta:
        value: timedelta = getattr(self, method, self.card)
        return value
