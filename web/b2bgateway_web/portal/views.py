"""The home page: balances and invoices, "Calcular total", and paying a selection.

Server-rendered; the JavaScript (``static/portal/portal.js``) only adds the live sum of the
selected invoices and status polling: without it, "Calcular total" shows the sum and the status
page refreshes itself. Amounts are always computed by the gateway (``service.checkout``), never
taken from the form.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from b2bgateway import service
from b2bgateway.accounts import Payment
from b2bgateway.errors import (
    AmountChanged,
    DatabaseUnavailable,
    GatewayError,
    NotFound,
    NotPayable,
    RequiredByProcessor,
    UnsupportedRequest,
)
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.i18n import ngettext
from b2bgateway_web.portal.account import load_account, make_selection
from b2bgateway_web.portal.base import (
    DECIMAL,
    ID,
    MAX_SELECTED,
    bp,
    customer,
    merchant,
    money_text,
    portal_session,
)
from b2bgateway_web.portal.methods import Choice, choice_page, chosen, offer
from b2bgateway_web.portal.texts import reason_texts
from b2bgateway_web.state import gateway
from b2bgateway_web.tokens import form_nonce, portal_url, refreshed

log = logging.getLogger(__name__)

#: With more invoices than this, the list offers search by folio and sorting (with JavaScript).
LONG_LIST = 10


def new_nonce() -> str:
    """The signed nonce of one rendered form (checked on every POST by ``base``)."""
    return form_nonce(merchant(), portal_session())


def idempotency_key(purpose: str, nonce: str, parts: Iterable[str]) -> str:
    """One payment per rendered form and what it pays: a second click (or a retry after a
    timeout) finds the first payment; another selection from the same page is another key."""
    material = "\x1f".join([purpose, portal_session().customer_id, nonce, *parts])
    return "portal:" + hashlib.sha256(material.encode()).hexdigest()


def _render_home(
    *,
    selected: Sequence[str] = (),
    message: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    account = load_account(merchant(), portal_session().customer_id)
    selection = make_selection(account, selected)
    html = render_template(
        "portal/home.html",
        account=account,
        saldos={row.invoice_id: str(row.balance.amount) for row in account.invoices if row.payable},
        selection=selection,
        selected=set(selection.ids),
        message=message,
        nonce=new_nonce(),
        **common(),
    )
    return html, status


def common() -> dict[str, Any]:
    return {
        "supplier": merchant().settings.portal,
        "customer": customer(),
        "return_url": portal_session().return_url,
        "money": money_text,
        "max_selected": MAX_SELECTED,
        "long_list": LONG_LIST,
    }


@bp.route("/", defaults={"token": ""})
@bp.route("/<token>", methods=["GET", "POST"])
def home() -> ResponseReturnValue:
    """The balances and the invoice list; POST: "Calcular total" or pay the selected ones (or a
    balance's: ``facturas`` and ``importe``, the invoices and the sum that button showed)."""
    if request.method == "GET":
        return _render_home()
    selected = [value for value in request.form.getlist("factura") if value]
    selected += request.form.get("facturas", "").split()
    action = request.form.get("accion", "")
    if action == "calcular":
        return _render_home(selected=selected)
    if action == "pagar":
        return _pay_invoices(selected)
    return _render_home(message=_("No entendimos esa acción. Vuelve a intentarlo."), status=400)


def _shown_amount(ids: Sequence[str]) -> str | None:
    """The sum the page showed for ``ids``: a balance button's ``importe``, or the invoice list's
    balances (one hidden ``saldos`` field, JSON ``{invoice_id: balance}``, so a long list stays
    a few form fields). The checkout refuses it if the balances changed since."""
    values: list[object] = []
    if "importe" in request.form:
        values = [request.form.get("importe", "")]
    else:
        try:
            shown = json.loads(request.form.get("saldos", "") or "{}")
        except ValueError:
            return None
        if not isinstance(shown, dict):
            return None
        values = [shown.get(invoice_id) for invoice_id in ids]
    total = Decimal(0)
    for value in values:
        if not isinstance(value, str) or not DECIMAL.match(value):
            return None
        try:
            total += Decimal(value)
        except InvalidOperation:
            return None
    return str(total)


def _pay_invoices(selected: Sequence[str]) -> ResponseReturnValue:
    nonce = request.form.get("nonce", "")  # signed and checked before any view runs
    ids = list(dict.fromkeys(value for value in selected if ID.match(value)))
    if not ids:
        return _render_home(message=_("Selecciona al menos una factura para pagar."), status=422)
    if len(ids) > MAX_SELECTED:
        return _render_home(
            message=_("Puedes pagar hasta %(count)d facturas a la vez.") % {"count": MAX_SELECTED},
            status=422,
        )
    expected = _shown_amount(ids)
    if expected is None:
        return _render_home(
            selected=ids,
            message=_("La página cambió mientras pagabas. Revisa tu selección y vuelve a pagar."),
            status=409,
        )
    choice = chosen(offer())
    # Without JavaScript the list's button cannot show the sum of what is ticked now: such a
    # payment is confirmed on the next page, with the amount computed when it is sent.
    confirmed = "importe" in request.form or request.form.get("vivo") == "1"
    if choice is None or not confirmed:
        return _confirm_invoices(ids, nonce)
    request_ = service.CheckoutRequest(
        customer_id=portal_session().customer_id,
        purpose="invoices",
        idempotency_key=idempotency_key("invoices", nonce, [*sorted(ids), *key_parts(choice)]),
        invoice_ids=ids,
        expected_amount=expected,
        token=None,  # the processor's hosted / redirect flow: no card data on this page
        return_url=processor_return_url(),
        payment_method=choice.method,
        installments=choice.installments,
    )
    try:
        payment = service.checkout(gateway(), merchant(), request_)
    except GatewayError as exc:
        message, status = checkout_problem(exc)
        return _render_home(selected=ids, message=message, status=status)
    return after_checkout(payment)


def key_parts(choice: Choice) -> list[str]:
    """The method and MSI are part of what a form pays: another choice is another payment."""
    return [choice.method, str(choice.installments or 1)]


def _confirm_invoices(ids: Sequence[str], nonce: str) -> ResponseReturnValue:
    """ "¿Cómo quieres pagar?" for these invoices, with their sum as it is now."""
    selection = make_selection(load_account(merchant(), portal_session().customer_id), ids)
    if selection.total is None:
        message = _("Selecciona al menos una factura que se pueda pagar en línea.")
        return _render_home(selected=ids, message=message, status=422)
    folios = [row.folio for row in selection.rows]
    what = ngettext("Factura %(folios)s", "Facturas %(folios)s", len(folios)) % {
        "folios": ", ".join(folios)
    }
    hidden = [("facturas", " ".join(selection.ids)), ("importe", str(selection.total.amount))]
    return choice_page(
        action=url_for(".home"),
        amount=selection.total,
        what=what,
        hidden=hidden,
        nonce=nonce,
        common=common(),
    )


def checkout_problem(exc: GatewayError) -> tuple[str, int]:
    """What the customer reads when a checkout is refused (the page is shown again)."""
    if isinstance(exc, NotPayable):
        return _("No se puede pagar en línea: %(reasons)s.") % {"reasons": _named(exc)}, 422
    if isinstance(exc, AmountChanged):
        amount = exc.extra.get("amount")
        currency = exc.extra.get("currency")
        now = ""
        if isinstance(amount, str) and isinstance(currency, str):
            now = " " + _("Ahora suman %(amount)s.") % {
                "amount": money_text(Money(amount, currency))
            }
        return (
            _("El saldo de las facturas seleccionadas cambió.")
            + now
            + " "
            + _("Revisa y vuelve a pagar."),
            409,
        )
    if isinstance(exc, NotFound):
        return _("Alguno de los documentos ya no está disponible. Revisa tu selección."), 404
    if isinstance(exc, RequiredByProcessor) and "customer.email" in exc.extra["missing"]:
        return (
            _(
                "Para pagar en línea, tu proveedor debe tener registrado tu correo electrónico."
                " Pídele que lo agregue."
            ),
            422,
        )
    if isinstance(exc, UnsupportedRequest | RequiredByProcessor):
        return _("El procesador de pagos de tu proveedor no permite pagar desde esta página."), 422
    if isinstance(exc, DatabaseUnavailable):  # sent to the processor; its answer is pending
        return (
            _("Tu pago está en proceso. Revisa su estado en unos minutos antes de volver a pagar."),
            503,
        )
    log.error("portal checkout failed: %s: %s", exc.code, exc.detail)
    return _("No pudimos iniciar el pago. Intenta de nuevo en unos minutos."), 502


def _named(exc: NotPayable) -> str:
    """The reasons, each with the folios it concerns (``A-1001: Ya tiene un pago registrado``)."""
    items = exc.extra.get("invoices")
    if not isinstance(items, list) or not items:
        return "; ".join(reason_texts(exc.reasons))
    folios = {
        row.invoice_id: row.folio
        for row in load_account(merchant(), customer().customer_id).invoices
    }
    parts = []
    for item in items:
        if isinstance(item, dict) and item.get("reasons"):
            name = folios.get(str(item.get("invoice_id")), str(item.get("invoice_id")))
            parts.append(f"{name}: " + ", ".join(reason_texts(item["reasons"])))
    return "; ".join(parts) or "; ".join(reason_texts(exc.reasons))


def processor_return_url() -> str:
    """Where the processor sends the customer back: the status page (``?payment_id=`` is added
    by the processor), with a fresh token, as the hosted page may take a while."""
    return portal_url(gateway(), refreshed(merchant(), portal_session()), "/pagos")


def after_checkout(payment: Payment) -> ResponseReturnValue:
    action = payment.next_action or {}
    url = action.get("url") if action.get("type") == "redirect" else None
    if (
        payment.status == PaymentStatus.REQUIRES_ACTION
        and isinstance(url, str)
        and url.startswith(("https://", "http://"))
    ):
        return redirect(url, code=303)  # the processor's hosted page
    return redirect(url_for(".payment", payment_id=payment.id), code=303)
