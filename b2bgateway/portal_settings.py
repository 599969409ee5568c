"""The customer payment page's own merchant settings (``[merchants.X.portal]``): who the
supplier is (shown in the page's header and on receipts) and who may frame the page.

Kept apart from :mod:`b2bgateway.settings` (which nests them as ``MerchantSettings.portal``) so
the page's options grow here.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

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


_Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
#: RFC of a persona moral (12) or física (13): letters (Ñ and & included), six digits, homoclave
_RFC = Annotated[str, StringConstraints(pattern=r"^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}$")]
_EMAIL = Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
_PHONE = Annotated[str, StringConstraints(max_length=40, pattern=r"^[0-9 +()-]{7,40}$")]


class PortalSettings(BaseModel):
    """Who the supplier is, as the customer reads it, and how its portals may show the page."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: the supplier's name in the page's header, on receipts and e-mails (default: none shown)
    display_name: _Text | None = None
    legal_name: _Text | None = None  # razón social, on receipts
    rfc: _RFC | None = None
    phone: _PHONE | None = None
    email: _EMAIL | None = None
    #: an https image (PNG, JPEG or SVG), shown in the header and on receipts
    logo_url: Annotated[str, StringConstraints(max_length=500)] | None = None

    #: origins of the merchant's portals allowed to frame the page (CSP ``frame-ancestors``);
    #: empty (the default): no site may frame it
    frame_ancestors: list[str] = Field(default_factory=list, max_length=20)

    @field_validator("rfc", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("logo_url")
    @classmethod
    def _https_image(cls, value: str | None) -> str | None:
        if value is not None and not (value.startswith("https://") and " " not in value):
            raise ValueError("logo_url must be an https URL")
        return value

    @field_validator("frame_ancestors")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(origin(item) for item in value))
