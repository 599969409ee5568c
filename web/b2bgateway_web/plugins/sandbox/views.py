"""What the sandbox's pages show: their words (through the catalog) and the rendered pages.

The tables hold the Spanish source text, marked with ``N_`` for extraction and translated when a
page is rendered (:mod:`b2bgateway_web.i18n`).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

from babel.dates import format_datetime
from flask import render_template, url_for

from b2bgateway.money import Money
from b2bgateway.sandbox.ledger import Charge, Completion, LedgerRefusal
from b2bgateway.sandbox.mapping import BANK
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.sandbox.signing import form_token
from b2bgateway_web.i18n import N_
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.state import gateway

__all__ = [
    "ACTIONS",
    "NOTICES",
    "REFUSALS",
    "STATUS_LABELS",
    "charge_page",
    "done_page",
    "format_money",
    "refusal_text",
    "voucher_page",
    "with_payment_id",
]

#: The buttons of each card flow that needs a person: (what it does, its label). A decline is
#: one failed attempt: the page stays, so the person can try another card.
ACTIONS: dict[str, tuple[tuple[Completion, str], ...]] = {
    "three_d_secure": (
        ("approve", N_("Autorizar")),
        ("decline", N_("Rechazar")),
        ("cancel", N_("Cancelar")),
    ),
    "hosted": (
        ("approve", N_("Pagar")),
        ("decline", N_("Rechazar tarjeta")),
        ("cancel", N_("Cancelar")),
    ),
}
STATUS_LABELS = {
    "requires_action": N_("Pendiente"),
    "succeeded": N_("Pago aprobado"),
    "failed": N_("Pago rechazado"),
    "canceled": N_("Pago cancelado"),
    "expired": N_("Vencido"),
}
#: What a page says after a button sent the person back to it (``?aviso=``).
NOTICES = {
    "tarjeta_rechazada": N_("La tarjeta fue rechazada. Puedes intentar con otra."),
    "transferencia_parcial": N_("Transferencia recibida; todavía falta una parte del importe."),
    "pagado": N_("Pago recibido."),
}
#: Why the sandbox refused a simulated payment, by :class:`LedgerRefusal` code.
REFUSALS = {
    "charge_expired": N_("La referencia venció: ya no se puede pagar."),
    "charge_not_pending": N_("Este cargo ya no espera pagos."),
    "invalid_amount": N_("El importe debe ser mayor que cero."),
    "amount_mismatch": N_("En la tienda se paga el importe exacto de la ficha."),
}
UNKNOWN_REFUSAL = N_("El sandbox rechazó la operación.")
#: The page's title by payment method (a card's by flow).
TITLES = {
    "bank_transfer": N_("Transferencia SPEI"),
    "cash": N_("Pago en efectivo"),
    "three_d_secure": N_("Verificación 3-D Secure"),
    "hosted": N_("Pago"),
}


def format_money(money: Money) -> str:
    """``Money("1234.5", "MXN")`` as ``"$1,234.50 MXN"``."""
    return f"${money.amount:,} {money.currency}"


def format_moment(moment: datetime | None, zone: str) -> str | None:
    """``moment`` in the merchant's time zone, as ``7 dic 2026, 17:39``."""
    if moment is None:
        return None
    return str(format_datetime(moment.astimezone(ZoneInfo(zone)), "d MMM y, HH:mm", locale="es_MX"))


def with_payment_id(url: str, payment_id: str) -> str:
    """``url`` with the query parameter ``payment_id`` set (others kept), for the return trip."""
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "payment_id"]
    query.append(("payment_id", payment_id))
    return urlunsplit(parts._replace(query=urlencode(query)))


def refusal_text(refusal: LedgerRefusal) -> str:
    """The refusal in the person's words."""
    return _(REFUSALS.get(refusal.code, UNKNOWN_REFUSAL))


def _zone(merchant_id: str) -> str:
    merchant = gateway().merchants.get(merchant_id)
    return merchant.settings.timezone if merchant is not None else "America/Mexico_City"


def _owed(charge: Charge) -> Money | None:
    """What a transfer or voucher still waits for (None: a card)."""
    if charge.received is None:
        return None
    owed = charge.amount - charge.received
    return owed if owed.is_positive() else Money.zero(owed.currency)


def _details(charge: Charge, zone: str) -> dict[str, object]:
    """The amounts and instructions the templates show for a transfer or a voucher."""
    owed = _owed(charge)
    return dict(
        bank=BANK,
        expires=format_moment(charge.expires_at, zone),
        received=None if charge.received is None else format_money(charge.received),
        owed=None if owed is None else format_money(owed),
        owed_amount=None if owed is None else f"{owed.amount}",
        barcode_url=url_for(".voucher_barcode", charge_id=charge.id),
        voucher_url=url_for(".voucher_page", charge_id=charge.id),
    )


def charge_page(
    settings: SandboxSettings,
    charge: Charge,
    *,
    notice: str | None = None,
    error: str | None = None,
    typed: str | None = None,
) -> str:
    """The charge's page: buttons, instructions or voucher while it waits, its state after.

    :param notice: a key of :data:`NOTICES`; ``error``: a message already translated;
      ``typed``: the amount the person typed (shown again with the error).
    """
    pending = charge.status == "requires_action"
    details = _details(charge, _zone(charge.merchant_id))
    if typed is not None:
        details["owed_amount"] = typed
    return render_template(
        "sandbox/charge.html",
        charge=charge,
        pending=pending,
        title=_(TITLES.get(charge.method if charge.method != "card" else charge.flow, "Pago")),
        amount=format_money(charge.amount),
        three_d_secure=charge.flow == "three_d_secure",
        actions=[(c, _(label)) for c, label in ACTIONS.get(charge.flow, ())] if pending else [],
        form_token=form_token(settings.webhook_secret, charge.merchant_id, charge.id),
        status_label=_(STATUS_LABELS.get(charge.status, charge.status)),
        notice=_(NOTICES[notice]) if notice else None,
        error=error,
        return_url=with_payment_id(charge.return_url, charge.payment_id)
        if charge.return_url and not pending
        else None,
        **details,
    )


def done_page(charge: Charge) -> str:
    """What a person sees after finishing a charge that has no way back to the portal."""
    return render_template(
        "sandbox/done.html",
        charge=charge,
        amount=format_money(charge.amount),
        status_label=_(STATUS_LABELS.get(charge.status, charge.status)),
    )


def voucher_page(charge: Charge, zone: str) -> str:
    """The printable cash voucher."""
    return render_template(
        "sandbox/voucher.html",
        charge=charge,
        pending=charge.status == "requires_action",
        amount=format_money(charge.amount),
        status_label=_(STATUS_LABELS.get(charge.status, charge.status)),
        **_details(charge, zone),
    )
