"""What a customer must do to finish a payment (:class:`NextAction`), and the instructions some
actions carry: a SPEI transfer's (:class:`BankTransferInstructions`) and a cash voucher's
(:class:`CashVoucher`). Part of the plugin contract, re-exported by :mod:`b2bgateway.interface`;
plain frozen dataclasses, as the rest of it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from urllib.parse import urlsplit

from b2bgateway.money import Money

__all__ = ["BankTransferInstructions", "CashVoucher", "NextAction", "web_origin"]

#: What a URL's authority may be: a DNS name or IPv4 address and a port. No userinfo, no IPv6
#: literal, nothing a Content-Security-Policy would read as another source or directive.
_AUTHORITY = re.compile(r"[A-Za-z0-9.-]{1,253}(?::[0-9]{1,5})?")
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?:{_LABEL}\.)*{_LABEL}")


def web_origin(url: str, schemes: tuple[str, ...] = ("https",)) -> str:
    """The origin of ``url`` (``scheme://host[:port]``), rebuilt from its host name and port, as
    the customer's page puts it in its Content-Security-Policy.

    :raises ValueError: another scheme, whitespace or control characters anywhere (``urlsplit``
      would silently drop some), userinfo, or an authority that is not a plain host and port
      (``;``, ``,``, spaces or quotes would inject a source or a directive into the policy)."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError("a url without whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in schemes:
        raise ValueError(f"an {' or '.join(schemes)} url")
    if not _AUTHORITY.fullmatch(parts.netloc):
        raise ValueError("a url whose authority is a host name and a port only")
    host = parts.hostname or ""
    if not _HOST.fullmatch(host):
        raise ValueError("a url with a valid host name")
    try:
        port = parts.port
    except ValueError:  # out of range
        raise ValueError("a url with a valid port") from None
    return f"{parts.scheme}://{host}" + ("" if port is None else f":{port}")


@dataclass(frozen=True, slots=True)
class BankTransferInstructions:
    """Where the customer sends a SPEI transfer: the CLABE (18 digits), its bank, the
    beneficiary's name, the reference to quote, the exact amount and until when.

    A processor that gives only a hosted page with the instructions (Mercado Pago) sends
    ``clabe``, ``bank`` and ``beneficiary`` as None and ``hosted_instructions_url`` (https): the
    customer reads the CLABE there. One or the other, never neither."""

    clabe: str | None
    bank: str | None
    beneficiary: str | None
    amount: Money
    reference: str | None = None
    expires_at: datetime | None = None
    hosted_instructions_url: str | None = None

    def __post_init__(self) -> None:
        if self.clabe is None:
            url = self.hosted_instructions_url or ""
            if not url.startswith("https://"):
                raise ValueError("without a CLABE, the instructions need an https hosted page")
        elif len(self.clabe) != 18 or not self.clabe.isdigit():
            raise ValueError("a CLABE has 18 digits")
        elif not self.bank or not self.beneficiary:
            raise ValueError("a CLABE needs its bank and the beneficiary")


@dataclass(frozen=True, slots=True)
class CashVoucher:
    """What the customer takes to the store (OXXO and others): the reference to pay, the barcode
    (as an image URL), the printable voucher and until when it can be paid."""

    reference: str
    amount: Money
    barcode_url: str | None = None
    voucher_url: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NextAction:
    """What the customer must do to finish: follow a redirect, let the browser SDK confirm,
    post a form to the processor or the card's issuer (``post_form``: ``url`` is the form's
    action, ``data`` its fields, as for a 3-D Secure challenge), send a bank transfer
    (``display_bank_transfer_instructions`` with ``bank_transfer``) or pay a cash voucher at a
    store (``display_cash_voucher`` with ``cash_voucher``)."""

    type: Literal[
        "redirect",
        "client_secret",
        "post_form",
        "display_bank_transfer_instructions",
        "display_cash_voucher",
    ]
    url: str | None = None
    client_secret: str | None = None
    data: Mapping[str, str] = field(default_factory=dict)
    bank_transfer: BankTransferInstructions | None = None
    cash_voucher: CashVoucher | None = None

    def __post_init__(self) -> None:
        if self.type == "redirect" and not self.url:
            raise ValueError("a redirect next action needs a url")
        if self.type == "post_form":
            try:
                web_origin(self.url or "")
            except ValueError as exc:
                raise ValueError(
                    f"a post_form next action (the form's action) needs {exc}"
                ) from None
        if self.type == "client_secret" and not self.client_secret:
            raise ValueError("a client_secret next action needs the client secret")
        if self.type == "display_bank_transfer_instructions" and self.bank_transfer is None:
            raise ValueError("bank transfer instructions need bank_transfer")
        if self.type == "display_cash_voucher" and self.cash_voucher is None:
            raise ValueError("a cash voucher next action needs cash_voucher")
