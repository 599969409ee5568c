"""The customer's e-mails (``b2bgateway.mail``), rendered when the worker sends them, with the
customer page's own templates, words and formatting: "Comprobante de pago" (the receipt's body,
and its PDF attached), the SPEI or cash instructions, and a payment link sent from the payments
module. Plain text and HTML, in Spanish (es-MX), dates in the merchant's time zone.

The worker has no request: :func:`renderer` makes a small Flask app (templates and
translations only, no routes) and renders each e-mail in a request context of its own holding
what the page's helpers read (``g.merchant``, ``g.portal``, ``g.portal_customer``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, render_template

from b2bgateway import service
from b2bgateway.accounts import invoice_folios
from b2bgateway.errors import GatewayError
from b2bgateway.gateway import Gateway
from b2bgateway.mail_delivery import Outgoing, Rendered, Renderer, deliver_due
from b2bgateway.sync import get_customer
from b2bgateway_web import i18n, state
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import CustomerView, datetime_text
from b2bgateway_web.portal.history import entry_of, receipt_pdf_bytes
from b2bgateway_web.portal.instructions import instructions_for
from b2bgateway_web.tokens import PortalSession

__all__ = ["render", "renderer", "send_due"]

log = logging.getLogger(__name__)

LOCALE = "es-MX"


def renderer(gw: Gateway) -> Renderer:
    """A renderer for :func:`b2bgateway.mail_delivery.deliver_due`, for the worker's process."""
    app = Flask(__name__)  # its templates are the customer page's (portal/templates)
    state.init_app(app, gw)
    i18n.init_app(app)

    def render_one(outgoing: Outgoing) -> Rendered | None:
        with app.test_request_context("/"):
            return render(outgoing)

    return render_one


def send_due(gw: Gateway, render_one: Renderer, limit: int) -> int:
    """One pass of the worker: send the e-mails that are due; how many were handled."""
    done = deliver_due(gw.store, gw.merchants, render_one, limit=limit)
    handled = done.sent + done.retried + done.dead + done.skipped
    if handled:
        log.info(
            "customers' e-mails: %d sent, %d to retry, %d dead, %d skipped",
            done.sent,
            done.retried,
            done.dead,
            done.skipped,
        )
    return handled


def _context(outgoing: Outgoing) -> dict[str, Any] | None:
    """Read the payment and its customer; set what the page's helpers read."""
    merchant = outgoing.merchant
    with state.gateway().store.read() as db:
        try:
            payment = service.get_payment(db, merchant.id, outgoing.payment_id)
        except GatewayError:
            return None
        found = get_customer(db, merchant.id, payment.customer_id)
        if found is None:
            return None
        buyer = CustomerView(found.customer_id, found.name, found.active, found.currency)
        g.merchant, g.portal_customer = merchant, buyer
        g.portal = PortalSession(merchant.id, buyer.customer_id, locale=LOCALE)
        g.locale = LOCALE.replace("-", "_")
        folios = invoice_folios(db, merchant.id, [a.invoice_id for a in payment.allocations])
        return {
            "entry": entry_of(payment, folios),
            "instructions": instructions_for(payment),
            "buyer": buyer,
            "supplier": merchant.settings.portal,
            "merchant_id": merchant.id,
            "supplier_name": merchant.settings.portal.display_name or merchant.id,
        }


def render(outgoing: Outgoing) -> Rendered | None:
    """The e-mail ``outgoing`` names, or None when it no longer says something true (the
    payment is gone, the instructions were paid or ended, the link expired)."""
    context = _context(outgoing)
    if context is None:
        return None
    entry, supplier = context["entry"], context["supplier_name"]
    if outgoing.kind == "receipt":
        if not entry.paid:
            return None
        subject = _("Comprobante de pago por %(amount)s a %(supplier)s") % {
            "amount": entry.amount,
            "supplier": supplier,
        }
        pdf = (f"comprobante-{entry.id}.pdf", "application/pdf", receipt_pdf_bytes(entry))
        return _rendered("receipt", subject, context, (pdf,))
    if outgoing.kind == "instructions":
        instructions = context["instructions"]
        if instructions is None:
            return None
        if instructions.kind == "bank_transfer":
            subject = _("Datos para tu transferencia SPEI a %(supplier)s")
        else:
            subject = _("Tu ficha para pagar en efectivo a %(supplier)s")
        return _rendered("instructions", subject % {"supplier": supplier}, context)
    if outgoing.kind == "pay_link":
        if "url" not in outgoing.data:  # cleared when it was skipped or dead (then replayed)
            return None
        expires = datetime.fromisoformat(str(outgoing.data["expires_at"]))
        if expires <= datetime.now(UTC):
            return None
        context |= {"link": outgoing.data["url"], "expires": datetime_text(expires)}
        subject = _("Tu enlace para pagar a %(supplier)s") % {"supplier": supplier}
        return _rendered("pay_link", subject, context)
    raise ValueError(f"unknown e-mail kind {outgoing.kind!r}")


def _rendered(
    kind: str,
    subject: str,
    context: dict[str, Any],
    attachments: tuple[tuple[str, str, bytes], ...] = (),
) -> Rendered:
    context = {**context, "subject": subject}
    return Rendered(
        subject=subject,
        text=render_template(f"portal/email/{kind}.txt", **context),
        html=render_template(f"portal/email/{kind}.html", **context),
        attachments=attachments,
    )
