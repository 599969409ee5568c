"""What a customer paying by SPEI transfer or in cash needs to finish: the processor's
instructions (``next_action``: ``display_bank_transfer_instructions`` or
``display_cash_voucher``), in the customer's words, each value ready to copy, the cash voucher
printable with its barcode."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g

from b2bgateway.accounts import Payment
from b2bgateway.errors import GatewayError
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import datetime_text, money_text

__all__ = ["Field", "Instructions", "instructions_for"]


@dataclass(frozen=True, slots=True)
class Field:
    label: str
    value: str
    copy: str | None = None  # the copy button's name, for values one types at the bank
    raw: str | None = None  # what the copy button copies (the amount without "$" and commas)


@dataclass(frozen=True, slots=True)
class Instructions:
    kind: str  # "bank_transfer" | "cash"
    title: str
    lead: str
    fields: tuple[Field, ...]
    barcode_url: str | None = None
    voucher_url: str | None = None
    hosted_url: str | None = None


def _web(url: object) -> str | None:
    return url if isinstance(url, str) and url.startswith(("https://", "http://")) else None


def _expires(action: dict[str, Any]) -> str | None:
    raw = action.get("expires_at")
    if not isinstance(raw, str):
        return None
    try:
        return datetime_text(datetime.fromisoformat(raw.replace("Z", "+00:00")))
    except ValueError:
        return None


def _amount(action: dict[str, Any], payment: Payment) -> Money:
    try:
        return Money(str(action.get("amount")), str(action.get("currency") or payment.currency))
    except GatewayError:
        return payment.amount


def _allow_image(url: str | None) -> None:
    """The barcode may come from the processor's own host: the page's policy lets it in."""
    if url is not None:
        g.portal_img_src = url


def instructions_for(payment: Payment) -> Instructions | None:
    """The instructions of a payment that still waits for the customer's transfer or cash."""
    action = payment.next_action or {}
    if payment.status not in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING):
        return None
    amount = _amount(action, payment)
    exact = Field(_("Importe exacto"), money_text(amount), _("Copiar importe"), str(amount.amount))
    expires = _expires(action)
    deadline = () if expires is None else (Field(_("Fecha límite"), expires),)
    reference = action.get("reference")
    if action.get("type") == "display_bank_transfer_instructions":
        fields = [
            Field(_("CLABE"), str(action.get("clabe", "")), _("Copiar CLABE")),
            Field(_("Banco"), str(action.get("bank", ""))),
            Field(_("Beneficiario"), str(action.get("beneficiary", ""))),
        ]
        if isinstance(reference, str) and reference:
            fields.append(Field(_("Referencia"), reference, _("Copiar referencia")))
        return Instructions(
            kind="bank_transfer",
            title=_("Esperando tu transferencia"),
            lead=_(
                "Haz una transferencia SPEI desde tu banco con estos datos, por el importe exacto. "
                "El pago se confirma solo cuando llega, y esta página se actualiza."
            ),
            fields=(*fields, exact, *deadline),
            hosted_url=_web(action.get("hosted_instructions_url")),
        )
    if action.get("type") == "display_cash_voucher":
        barcode = _web(action.get("barcode_url"))
        _allow_image(barcode)
        return Instructions(
            kind="cash",
            title=_("Esperando tu pago en tienda"),
            lead=_(
                "Paga en efectivo en OXXO o en otra tienda participante con esta ficha, antes de "
                "la fecha límite. Muestra el código de barras o dicta la referencia."
            ),
            fields=(
                Field(_("Referencia"), str(reference or ""), _("Copiar referencia")),
                exact,
                *deadline,
            ),
            barcode_url=barcode,
            voucher_url=_web(action.get("voucher_url")),
        )
    return None
