"""A payment's status page, where the processor sends the customer back, and its polling;
"Cancelar" for a payment the customer abandoned."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from b2bgateway.accounts import Payment, customer_payment, invoice_folios
from b2bgateway.database import Session
from b2bgateway.interface import PaymentStatus
from b2bgateway.payment_actions import Canceled, ask_processor, can_cancel, cancel_payment
from b2bgateway_web.i18n import N_, ngettext
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import (
    ID,
    PortalError,
    bp,
    datetime_text,
    merchant,
    money_text,
    portal_session,
)
from b2bgateway_web.portal.instructions import (
    Challenge,
    Instructions,
    challenge_for,
    instructions_for,
)
from b2bgateway_web.portal.texts import (
    CHALLENGE,
    CONFIRMING,
    FINAL,
    ORDER_PAID,
    failure_text,
    status_texts,
)
from b2bgateway_web.portal.views import common, new_nonce
from b2bgateway_web.state import gateway


def own_payment(db: Session, payment_id: str) -> Payment:
    found = None
    if ID.match(payment_id):
        found = customer_payment(db, merchant().id, portal_session().customer_id, payment_id)
    if found is None:
        raise PortalError(404, _("Pago no encontrado"), _("No encontramos ese pago en tu cuenta."))
    return found


#: Back from the processor's page, a payment still open reads "Confirmando tu pago…" this long
#: (its webhook usually arrives within seconds); then it is a pending payment again.
CONFIRMING_FOR = 20
OPEN = (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING)


@bp.get("/<token>/pagos")
def returned() -> ResponseReturnValue:
    """Where the processor sends the customer back (``?payment_id=``): the gateway asks the
    processor first, so the page shows what the customer just did."""
    payment_id = request.args.get("payment_id", "")
    if not ID.match(payment_id):
        return redirect(url_for(".home"), code=303)
    with gateway().store.read() as db:
        own_payment(db, payment_id)
    ask_processor(gateway(), payment_id)
    since = int(time.time())
    return redirect(url_for(".payment", payment_id=payment_id, vuelta=since), code=303)


#: What "Cancelar" came to, as the status page tells it (``?aviso=``).
NOTICES = {
    Canceled.CANCELED.value: N_("Cancelaste el pago. Tus facturas quedaron libres para pagarlas."),
    Canceled.PAID.value: N_("Este pago ya se había completado: no se canceló."),
    Canceled.NOT_OPEN.value: N_("Este pago ya no se puede cancelar."),
    Canceled.CANNOT.value: N_(
        "El procesador no permite cancelar este pago: vencerá solo si no lo completas."
    ),
    Canceled.UNAVAILABLE.value: N_(
        "No pudimos cancelar el pago en este momento. Intenta de nuevo en unos minutos."
    ),
}


@bp.post("/<token>/pagos/<payment_id>/cancelar")
def cancel(payment_id: str) -> ResponseReturnValue:
    """Cancel an open payment at the processor and here: its invoices are free at once."""
    with gateway().store.read() as db:
        own_payment(db, payment_id)
    outcome = cancel_payment(gateway(), payment_id)
    return redirect(url_for(".payment", payment_id=payment_id, aviso=outcome.value), code=303)


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
    cancelable: bool = False
    confirming: bool = False
    notice: str | None = None
    instructions: Instructions | None = None
    challenge: Challenge | None = None


def _confirming(found: Payment) -> bool:
    """Just back from the processor's page and still open: its answer is being confirmed."""
    since = request.args.get("vuelta", "")
    if not since.isdigit() or found.status not in OPEN:
        return False
    return 0 <= time.time() - int(since) < CONFIRMING_FOR


def _view(found: Payment, folios: list[str]) -> _PaymentView:
    status = PaymentStatus(found.status)
    confirming = _confirming(found)
    title, explanation = status_texts(found.status)
    if confirming:
        title, explanation = _(CONFIRMING[0]), _(CONFIRMING[1])
    if found.purpose == "order" and status is PaymentStatus.SUCCEEDED:
        explanation = _(ORDER_PAID)
    instructions = instructions_for(found)
    if instructions is not None:
        title, explanation = instructions.title, instructions.lead
    challenge = None if confirming else challenge_for(found)
    if challenge is not None:
        title, explanation = _(CHALLENGE[0]), _(CHALLENGE[1])
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
        and not confirming
        and isinstance(url, str)
        and url.startswith(("https://", "http://"))
        else None,
        folios=folios,
        cancelable=can_cancel(found) and not confirming,
        confirming=confirming,
        notice=_notice(),
        instructions=instructions,
        challenge=challenge,
    )


def _notice() -> str | None:
    known = NOTICES.get(request.args.get("aviso", ""))
    return None if known is None else _(known)


@bp.get("/<token>/pagos/<payment_id>")
def payment(payment_id: str) -> ResponseReturnValue:
    """The payment's status; it follows the payment (refresh / polling) until it is final."""
    with gateway().store.read() as db:
        found = own_payment(db, payment_id)
        ids = sorted(a.invoice_id for a in found.allocations)
        names = invoice_folios(db, found.merchant_id, ids)
        view = _view(found, [names.get(i, i) for i in ids])
    return render_template("portal/payment.html", payment=view, nonce=new_nonce(), **common())


@bp.get("/<token>/pagos/<payment_id>/estado")
def payment_status(payment_id: str) -> ResponseReturnValue:
    """``{status, final}`` for the status page's polling script."""
    with gateway().store.read() as db:
        found = own_payment(db, payment_id)
        status = PaymentStatus(found.status)
    return {"status": status.value, "final": status in FINAL}
