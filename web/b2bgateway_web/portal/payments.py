"""A payment's status page, where the processor sends the customer back, and its polling."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from b2bgateway.accounts import Payment, customer_payment, invoice_folios
from b2bgateway.database import Session
from b2bgateway.interface import PaymentStatus
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.i18n import ngettext
from b2bgateway_web.portal.base import (
    ID,
    PortalError,
    bp,
    datetime_text,
    merchant,
    money_text,
    portal_session,
)
from b2bgateway_web.portal.texts import FINAL, failure_text, status_texts
from b2bgateway_web.portal.views import common
from b2bgateway_web.state import gateway


def _own_payment(db: Session, payment_id: str) -> Payment:
    found = None
    if ID.match(payment_id):
        found = customer_payment(db, merchant().id, portal_session().customer_id, payment_id)
    if found is None:
        raise PortalError(404, _("Pago no encontrado"), _("No encontramos ese pago en tu cuenta."))
    return found


@bp.get("/<token>/pagos")
def returned() -> ResponseReturnValue:
    """Where the processor sends the customer back (``?payment_id=``)."""
    payment_id = request.args.get("payment_id", "")
    if ID.match(payment_id):
        return redirect(url_for(".payment", payment_id=payment_id), code=303)
    return redirect(url_for(".home"), code=303)


@dataclass
class _PaymentView:
    id: str
    status: str
    title: str
    explanation: str
    final: bool
    amount: str
    created: str
    what: str
    failure: str | None
    continue_url: str | None
    folios: list[str] = field(default_factory=list)


def _view(found: Payment, folios: list[str]) -> _PaymentView:
    status = PaymentStatus(found.status)
    title, explanation = status_texts(found.status)
    action = found.next_action or {}
    url = action.get("url") if action.get("type") == "redirect" else None
    failure = None
    if status in (PaymentStatus.FAILED, PaymentStatus.CANCELED) and found.failure_code:
        failure = failure_text(found.failure_code)
    what = (
        _("Pedido %(reference)s") % {"reference": found.order_reference}
        if found.purpose == "order"
        else ngettext("Factura %(folios)s", "Facturas %(folios)s", len(folios))
        % {"folios": ", ".join(folios)}
    )
    return _PaymentView(
        id=found.id,
        status=found.status,
        title=title,
        explanation=explanation,
        final=status in FINAL,
        amount=money_text(found.amount),
        created=datetime_text(found.created_at),
        what=what,
        failure=failure,
        continue_url=url
        if status == PaymentStatus.REQUIRES_ACTION
        and isinstance(url, str)
        and url.startswith(("https://", "http://"))
        else None,
        folios=folios,
    )


@bp.get("/<token>/pagos/<payment_id>")
def payment(payment_id: str) -> ResponseReturnValue:
    """The payment's status; it follows the payment (refresh / polling) until it is final."""
    with gateway().store.read() as db:
        found = _own_payment(db, payment_id)
        ids = sorted(a.invoice_id for a in found.allocations)
        names = invoice_folios(db, found.merchant_id, ids)
        view = _view(found, [names.get(i, i) for i in ids])
    return render_template("portal/payment.html", payment=view, **common())


@bp.get("/<token>/pagos/<payment_id>/estado")
def payment_status(payment_id: str) -> ResponseReturnValue:
    """``{status, final}`` for the status page's polling script."""
    with gateway().store.read() as db:
        found = _own_payment(db, payment_id)
        status = PaymentStatus(found.status)
    return {"status": status.value, "final": status in FINAL}
