"""What a customer paying by SPEI transfer or in cash needs to finish: the processor's
instructions (``next_action``: ``display_bank_transfer_instructions`` or
``display_cash_voucher``), in the customer's words, each value ready to copy, the cash voucher
printable with its barcode; and a form the customer's browser posts to the card's issuer
(``post_form``: a 3-D Secure challenge), shown in a frame on the payment's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import g

from b2bgateway.accounts import Payment
from b2bgateway.errors import GatewayError
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.next_actions import web_origin
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import datetime_text, money_text, origin_of

__all__ = ["Challenge", "Field", "Instructions", "challenge_for", "instructions_for"]


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
    hosted_only: bool = False  # no CLABE here: the processor's page has the instructions


@dataclass(frozen=True, slots=True)
class Challenge:
    """A form to post to the card's issuer (3-D Secure): its action and hidden fields."""

    url: str
    fields: tuple[tuple[str, str], ...]


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


def _allow_image(url: str | None) -> str | None:
    """The barcode may come from the processor's own host: the page's policy lets it in. A URL
    whose origin cannot be written into the policy as such is not shown (None)."""
    if url is None or origin_of(url) is None:
        return None
    g.portal_img_src = url
    return url


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
        hosted = _web(action.get("hosted_instructions_url"))
        fields = []
        if action.get("clabe"):
            fields = [
                Field(_("CLABE"), str(action.get("clabe", "")), _("Copiar CLABE")),
                Field(_("Banco"), str(action.get("bank", ""))),
                Field(_("Beneficiario"), str(action.get("beneficiary", ""))),
            ]
        if isinstance(reference, str) and reference:
            fields.append(Field(_("Referencia"), reference, _("Copiar referencia")))
        lead = _(
            "Haz una transferencia SPEI desde tu banco con estos datos, por el importe exacto. "
            "El pago se confirma solo cuando llega, y esta página se actualiza."
        )
        if not action.get("clabe"):
            lead = _(
                "Abre las instrucciones del procesador para ver la CLABE y haz una "
                "transferencia SPEI desde tu banco por el importe exacto. El pago se confirma "
                "solo cuando llega, y esta página se actualiza."
            )
        return Instructions(
            kind="bank_transfer",
            title=_("Esperando tu transferencia"),
            lead=lead,
            fields=(*fields, exact, *deadline),
            hosted_url=hosted,
            hosted_only=not action.get("clabe"),
        )
    if action.get("type") == "display_cash_voucher":
        barcode = _allow_image(_web(action.get("barcode_url")))
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


def _allow_frames() -> None:
    """The challenge's frame loads the issuer's page, and whatever it goes on to: the page's
    policy lets https frames in (``base.CHALLENGE_FRAMES``)."""
    g.portal_challenge = True


def challenge_for(payment: Payment) -> Challenge | None:
    """The form of a payment that waits for the customer at the card's issuer (``post_form``)."""
    action = payment.next_action or {}
    if payment.status != PaymentStatus.REQUIRES_ACTION or action.get("type") != "post_form":
        return None
    url = action.get("url")
    data = action.get("data")
    if not isinstance(url, str) or not isinstance(data, dict):
        return None
    try:
        web_origin(url)  # as NextAction checks it: a row stored before is checked again
    except ValueError:
        return None
    _allow_frames()
    return Challenge(url=url, fields=tuple((str(k), str(v)) for k, v in sorted(data.items())))
