"""What a customer must do to finish a payment (:class:`NextAction`), and the instructions some
actions carry: a SPEI transfer's (:class:`BankTransferInstructions`) and a cash voucher's
(:class:`CashVoucher`). Part of the plugin contract, re-exported by :mod:`b2bgateway.interface`;
plain frozen dataclasses, as the rest of it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from b2bgateway.money import Money

__all__ = ["BankTransferInstructions", "CashVoucher", "NextAction"]


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
        if self.type == "post_form" and not (self.url or "").startswith("https://"):
            raise ValueError("a post_form next action needs an https url (the form's action)")
        if self.type == "client_secret" and not self.client_secret:
            raise ValueError("a client_secret next action needs the client secret")
        if self.type == "display_bank_transfer_instructions" and self.bank_transfer is None:
            raise ValueError("bank transfer instructions need bank_transfer")
        if self.type == "display_cash_voucher" and self.cash_voucher is None:
            raise ValueError("a cash voucher next action needs cash_voucher")
