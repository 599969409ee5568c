""" "Mis pagos" (the customer's payments) and "Comprobante de pago" (a receipt for each approved
payment), as a printable page and as a PDF (xhtml2pdf: HTML to PDF in pure Python, no system
libraries; the receipt's PDF template loads nothing from anywhere)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

from flask import Response, render_template
from flask.typing import ResponseReturnValue
from xhtml2pdf import pisa

from b2bgateway.accounts import Payment, customer_payments, invoice_folios
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway_web.i18n import N_
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import (
    PortalError,
    bp,
    customer,
    datetime_text,
    merchant,
    money_text,
    portal_session,
)
from b2bgateway_web.portal.payments import own_payment
from b2bgateway_web.portal.texts import status_texts
from b2bgateway_web.portal.views import common
from b2bgateway_web.state import gateway

#: A receipt exists once the money was received (refunds and disputes come after it).
PAID = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
        PaymentStatus.DISPUTED,
    }
)
METHOD_NAMES = {
    "card": N_("Tarjeta"),
    "bank_transfer": N_("Transferencia SPEI"),
    "cash": N_("Efectivo en tienda"),
    "manual": N_("Pago registrado por tu proveedor"),
}
FUNDING = {"credit": N_("crédito"), "debit": N_("débito"), "prepaid": N_("prepago")}


@dataclass(frozen=True, slots=True)
class Line:
    folio: str
    amount: str


@dataclass(frozen=True, slots=True)
class Entry:
    """One payment as "Mis pagos" and its receipt show it."""

    id: str
    status: str
    status_text: str
    date: str
    what: str
    amount: str
    method: str
    paid: bool
    lines: tuple[Line, ...]
    details: tuple[tuple[str, str], ...]  # (label, value) of the method: brand, last 4, ...
    refunded: str | None


def _method(payment: Payment) -> str:
    return _(METHOD_NAMES.get(payment.payment_method, payment.payment_method))


def _details(payment: Payment) -> tuple[tuple[str, str], ...]:
    raw: dict[str, Any] = payment.method_details or {}
    found: list[tuple[str, str]] = [(_("Forma de pago"), _method(payment))]
    if raw.get("brand") or raw.get("last4"):
        card = " ".join(str(raw[k]).upper() for k in ("brand",) if raw.get(k))
        if raw.get("last4"):
            card += " " + _("terminación %(last4)s") % {"last4": raw["last4"]}
        if raw.get("funding") in FUNDING:
            card += f" ({_(FUNDING[raw['funding']])})"
        found.append((_("Tarjeta"), card.strip()))
    for key, label in (
        ("authorization_code", N_("Autorización")),
        ("tracking_key", N_("Clave de rastreo SPEI")),
        ("payer_bank", N_("Banco ordenante")),
    ):
        if raw.get(key):
            found.append((_(label), str(raw[key])))
    if raw.get("installments"):
        months = int(raw["installments"])
        found.append((_("Meses sin intereses"), _("%(count)d meses") % {"count": months}))
    return tuple(found)


def entry_of(payment: Payment, folios: dict[str, str]) -> Entry:
    """The payment as "Mis pagos", its receipt and its e-mail show it."""
    status = PaymentStatus(payment.status)
    lines = tuple(
        Line(folios.get(a.invoice_id, a.invoice_id), money_text(a.amount))
        for a in sorted(payment.allocations, key=lambda a: folios.get(a.invoice_id, a.invoice_id))
    )
    what = (
        _("Pedido %(reference)s") % {"reference": payment.order_reference}
        if payment.purpose == "order"
        else ", ".join(line.folio for line in lines)
    )
    when = payment.paid_at if status in PAID and payment.paid_at else payment.created_at
    refunded = None
    if payment.refunded_minor:
        refunded = money_text(Money.from_minor_units(payment.refunded_minor, payment.currency))
    return Entry(
        id=payment.id,
        status=payment.status,
        status_text=status_texts(payment.status)[0],
        date=datetime_text(when),
        what=what,
        amount=money_text(payment.amount),
        method=_method(payment),
        paid=status in PAID,
        lines=lines,
        details=_details(payment),
        refunded=refunded,
    )


@bp.get("/<token>/mis-pagos")
def history() -> ResponseReturnValue:
    """The customer's payments, newest first, each with its status and, once paid, its
    receipt."""
    with gateway().store.read() as db:
        found = customer_payments(db, merchant().id, portal_session().customer_id)
        ids = sorted({a.invoice_id for p in found for a in p.allocations})
        folios = invoice_folios(db, merchant().id, ids)
        entries = [entry_of(payment, folios) for payment in found]
    return render_template("portal/history.html", entries=entries, **common())


def _receipt(payment_id: str) -> Entry:
    with gateway().store.read() as db:
        found = own_payment(db, payment_id)
        folios = invoice_folios(db, merchant().id, [a.invoice_id for a in found.allocations])
        entry = entry_of(found, folios)
    if not entry.paid:
        raise PortalError(
            404,
            _("Sin comprobante"),
            _("Este pago no se ha completado: su comprobante estará aquí cuando se apruebe."),
        )
    return entry


def _receipt_context(entry: Entry) -> dict[str, Any]:
    return {"entry": entry, "merchant_id": merchant().id, "buyer": customer()}


@bp.get("/<token>/pagos/<payment_id>/comprobante")
def receipt(payment_id: str) -> ResponseReturnValue:
    """The receipt of an approved payment, as a page to print."""
    entry = _receipt(payment_id)
    return render_template("portal/receipt.html", **_receipt_context(entry), **common())


@bp.get("/<token>/pagos/<payment_id>/comprobante.pdf")
def receipt_pdf(payment_id: str) -> ResponseReturnValue:
    """The same receipt as a PDF."""
    entry = _receipt(payment_id)
    name = f"comprobante-{entry.id}.pdf"
    return Response(
        receipt_pdf_bytes(entry),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def receipt_pdf_bytes(entry: Entry) -> bytes:
    """The receipt as a PDF (the page's and the e-mail's attachment), for the current merchant
    and customer."""
    supplier = merchant().settings.portal
    html = render_template("portal/receipt_pdf.html", supplier=supplier, **_receipt_context(entry))
    out = io.BytesIO()
    result = pisa.CreatePDF(html, dest=out, encoding="utf-8", link_callback=_no_resources)
    if result.err:
        raise RuntimeError(f"the receipt's PDF could not be made ({result.err} errors)")
    return out.getvalue()


def _no_resources(uri: str, rel: str) -> str:
    """The PDF's template references nothing; anything else is never fetched."""
    raise PortalError(500, _("Algo salió mal"), _("No pudimos preparar el comprobante."))
