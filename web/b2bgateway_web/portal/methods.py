"""How the customer pays: the methods and MSI the merchant offers (and its processor can
charge), the "¿Cómo quieres pagar?" page shown before the checkout when there is a choice, and
reading the choice back from the form (never trusted: checked against what is offered)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from flask import render_template, request
from flask.typing import ResponseReturnValue

from b2bgateway.interface import PaymentMethodType
from b2bgateway.money import Money
from b2bgateway_web.i18n import N_
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import merchant, money_text

__all__ = ["Choice", "Offer", "choice_page", "chosen", "offer"]

#: method -> (label, what happens next), the customer's words
METHODS: dict[str, tuple[str, str]] = {
    PaymentMethodType.CARD.value: (
        N_("Tarjeta de crédito o débito"),
        N_("Pagas ahora en la página segura del procesador de pagos."),
    ),
    PaymentMethodType.BANK_TRANSFER.value: (
        N_("Transferencia SPEI"),
        N_("Te damos una CLABE y una referencia para transferir el importe exacto desde tu banco."),
    ),
    PaymentMethodType.CASH.value: (
        N_("Efectivo en OXXO y otras tiendas"),
        N_("Te damos una ficha con código de barras para pagar en la tienda antes de que venza."),
    ),
}


@dataclass(frozen=True, slots=True)
class Offer:
    """What this merchant offers its customers, within what its processor can charge."""

    methods: tuple[str, ...]
    installments: tuple[int, ...]

    @property
    def needs_choice(self) -> bool:
        return len(self.methods) > 1 or bool(self.installments)


@dataclass(frozen=True, slots=True)
class Choice:
    method: str
    installments: int | None


def offer() -> Offer:
    current = merchant()
    processor = current.processor
    if processor is None:
        return Offer(("card",), ())
    caps = processor.info.capabilities
    methods = tuple(m for m in current.settings.payment_methods if m in caps.payment_methods)
    counts = tuple(n for n in current.settings.installments if n in caps.installments)
    card = PaymentMethodType.CARD.value in methods
    return Offer(methods or ("card",), counts if card else ())


def chosen(available: Offer) -> Choice | None:
    """The method (and MSI) the form names, if the form names one the merchant offers; None when
    the form names none (the choice page comes first). A method or a count that is not offered
    is read as "none", so the customer chooses again."""
    method = request.form.get("metodo")
    if method is None:
        return None if available.needs_choice else Choice(available.methods[0], None)
    if method not in available.methods:
        return None
    count = request.form.get("msi", "")
    if method != PaymentMethodType.CARD.value or count in ("", "1"):
        return Choice(method, None)
    if not count.isdigit() or int(count) not in available.installments:
        return None
    return Choice(method, int(count))


def choice_page(
    *,
    action: str,
    amount: Money,
    what: str,
    hidden: Sequence[tuple[str, str]],
    nonce: str,
    common: dict[str, object],
) -> ResponseReturnValue:
    """ "¿Cómo quieres pagar?": what will be charged, the methods, MSI, and the pay button."""
    available = offer()
    options = [
        (method, _(METHODS[method][0]), _(METHODS[method][1])) for method in available.methods
    ]
    html = render_template(
        "portal/pay.html",
        action=action,
        amount_text=money_text(amount),
        what=what,
        hidden=hidden,
        options=options,
        installments=available.installments,
        selected=request.form.get("metodo") or available.methods[0],
        nonce=nonce,
        **common,
    )
    return html, 200
