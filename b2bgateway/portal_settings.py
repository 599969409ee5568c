"""The customer payment page's own merchant settings (``[merchants.X.portal]``).

Kept apart from :mod:`b2bgateway.settings` (which nests them as ``MerchantSettings.portal``) so
the page's options grow here.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["PortalSettings", "origin"]

_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(:[0-9]{1,5})?$")
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def origin(value: str) -> str:
    """``https://portal.example.com[:port]`` in lower case: a scheme and a host, nothing else (no
    path, no wildcard, no quote or space that would change a Content-Security-Policy); plain
    ``http`` only for loopback.

    :raises ValueError: anything else.
    """
    normal = value.strip().lower().rstrip("/")
    found = _ORIGIN.match(normal)
    if found is None:
        raise ValueError(
            "each origin is a scheme and a host with an optional port, e.g. "
            "https://portal.example.com (no path, no wildcard)"
        )
    if found.group(1) == "http" and found.group(2) not in _LOOPBACK:
        raise ValueError("an origin allowed to frame the payment page must use https")
    return normal


class PortalSettings(BaseModel):
    """How the merchant's portals may show the customer payment page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: origins of the merchant's portals allowed to frame the page (CSP ``frame-ancestors``);
    #: empty (the default): no site may frame it
    frame_ancestors: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("frame_ancestors")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(origin(item) for item in value))
