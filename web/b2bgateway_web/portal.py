"""The customer payment page (es-MX): ``/portal/<token>``.

What a portal embeds or links (after ``POST /v1/portal-sessions``): the customer's balances with
pay buttons, the invoice list with a checkbox per payable invoice and the reason, in Spanish, for
the others, an order view for an amount the portal passes, and each payment's status page. It
pays through the configured processor's hosted or redirect flow, so card data never touches it.

Server-rendered; the JavaScript (``static/portal/portal.js``) only adds the live sum of the
selected invoices and status polling: without it, "Calcular total" shows the sum and the status
page refreshes itself. The signed token in the path is the only identity; amounts are always
computed here (the gateway's ``checkout``), never taken from the form. Errors are pages in
Spanish, never JSON or a traceback.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency
from flask import Blueprint, Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from b2bgateway import service
from b2bgateway.errors import (
    AmountChanged,
    DatabaseUnavailable,
    GatewayError,
    NotFound,
    NotPayable,
    UnsupportedRequest,
)
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import MAX_MINOR_UNITS, Money
from b2bgateway.payability import check_invoices, check_order, statement
from b2bgateway.rules import Reason
from b2bgateway.settings import MerchantConfig
from b2bgateway.store.models import Invoice, Payment
from b2bgateway.store.repository import get_customer
from b2bgateway_web.app import gateway
from b2bgateway_web.portal_sessions import (
    PortalSession,
    TokenExpired,
    TokenInvalid,
    portal_url,
    read_token,
    refreshed,
)

log = logging.getLogger(__name__)

bp = Blueprint("portal", __name__, url_prefix="/portal", template_folder="templates")

#: Every reason code of :class:`b2bgateway.rules.Reason`, in the customer's words.
REASONS: dict[str, str] = {
    Reason.PROCESSOR_NOT_CONFIGURED: "Los pagos en línea no están disponibles",
    Reason.CURRENCY_NOT_SUPPORTED: "No se puede pagar en línea en esta moneda",
    Reason.CUSTOMER_INACTIVE: "Tu cuenta está inactiva",
    Reason.ORDERS_MODULE_HIDDEN: "Los pedidos no están disponibles en el portal",
    Reason.ORDER_PAYMENTS_DISABLED: "El pago de pedidos en línea no está activado",
    Reason.CREDIT_LIMIT_NOT_ASSIGNED: "No tienes un límite de crédito asignado",
    Reason.WITHIN_CREDIT_LIMIT: "El pedido está dentro de tu límite de crédito",
    Reason.CURRENCY_MISMATCH: "El pedido está en una moneda distinta a la de tu crédito",
    Reason.INVOICES_MODULE_HIDDEN: "Las facturas no están disponibles en el portal",
    Reason.INVOICE_PAYMENTS_DISABLED: "El pago de facturas en línea no está activado",
    Reason.NOT_AN_INVOICE: "No es una factura",
    Reason.UNSUPPORTED_SOURCE: "Documento de otro módulo",
    Reason.NO_BALANCE: "Sin saldo",
    Reason.PAYMENT_REGISTERED: "Ya tiene un pago registrado",
    Reason.PAYMENT_PENDING: "Tiene un pago pendiente (transferencia o depósito)",
    Reason.MIXED_CURRENCIES: "Las facturas están en monedas distintas",
}
#: A code a plugin added that this page does not know.
UNKNOWN_REASON = "No se puede pagar en línea"

DOCUMENT_TYPES = {
    "factura": "Factura",
    "nota_credito": "Nota de crédito",
    "cargo": "Cargo",
}

#: status -> (title, explanation)
STATUSES: dict[str, tuple[str, str]] = {
    PaymentStatus.REQUIRES_ACTION: (
        "Esperando tu confirmación",
        "Completa el pago en la página del procesador. Esta página se actualiza sola.",
    ),
    PaymentStatus.PROCESSING: (
        "Procesando el pago",
        "Estamos confirmando el pago con el procesador. Esta página se actualiza sola.",
    ),
    PaymentStatus.SUCCEEDED: (
        "Pago aprobado",
        "Gracias. Tu pago quedó registrado. El saldo de tus facturas se actualizará cuando tu "
        "proveedor lo aplique.",
    ),
    PaymentStatus.FAILED: ("Pago no realizado", "No se hizo ningún cargo."),
    PaymentStatus.CANCELED: ("Pago cancelado", "No se hizo ningún cargo."),
    PaymentStatus.PARTIALLY_REFUNDED: (
        "Pago reembolsado parcialmente",
        "Tu proveedor devolvió parte de este pago.",
    ),
    PaymentStatus.REFUNDED: ("Pago reembolsado", "Tu proveedor devolvió este pago."),
}
FINAL = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.CANCELED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.REFUNDED,
    }
)
FAILURES = {
    "card_declined": "Tu banco rechazó la tarjeta.",
    "insufficient_funds": "La tarjeta no tiene fondos suficientes.",
    "canceled": "Cancelaste el pago en la página del procesador.",
    "expired": "El pago no se completó a tiempo.",
    "processor_unavailable": "El procesador de pagos no respondió. Intenta de nuevo más tarde.",
    "processor_not_reached": "El pago no llegó al procesador.",
    "processor_misconfigured": "El pago en línea no está disponible por ahora.",
}
UNKNOWN_FAILURE = "El procesador no aprobó el pago."

_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_ID = re.compile(r"^[^\s/?#\x00-\x1f\x7f]{1,128}$")
_DECIMAL = re.compile(r"^[0-9]{1,15}(\.[0-9]{1,4})?$")
MAX_SELECTED = 500  # as the API's invoice_ids


class PortalError(Exception):
    """A page that explains what went wrong, with its HTTP status."""

    def __init__(self, status: int, title: str, message: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


def reason_texts(codes: Iterable[str]) -> list[str]:
    return [REASONS.get(code, UNKNOWN_REASON) for code in dict.fromkeys(codes)]


# -- identity: the token in the path ---------------------------------------------------------------


@bp.url_value_preprocessor
def _pull_token(endpoint: str | None, values: dict[str, Any] | None) -> None:
    g.portal_token = (values or {}).pop("token", "")


@bp.url_defaults
def _add_token(endpoint: str, values: dict[str, Any]) -> None:
    if endpoint.startswith("portal.") and "token" not in values and g.get("portal_token"):
        values["token"] = g.portal_token


@bp.before_request
def _identify() -> None:
    """The token names the merchant and the customer; nothing else is identity here."""
    gw = gateway()
    try:
        session = read_token(gw, g.portal_token)
    except TokenExpired:
        raise PortalError(
            410,
            "El enlace venció",
            "Por seguridad, los enlaces de pago duran 30 minutos. Vuelve a entrar desde el "
            "portal de tu proveedor para obtener uno nuevo.",
        ) from None
    except TokenInvalid:
        raise PortalError(
            403,
            "Enlace no válido",
            "Este enlace de pago no es válido. Vuelve a entrar desde el portal de tu proveedor.",
        ) from None
    merchant = gw.merchants[session.merchant_id]
    with gw.store.read() as db:
        customer = get_customer(db, merchant.id, session.customer_id)
        if customer is None:
            raise PortalError(
                403, "Enlace no válido", "No encontramos tu cuenta. Pide ayuda a tu proveedor."
            )
        g.portal_customer = _CustomerView(
            customer.customer_id, customer.name, customer.active, customer.currency
        )
    g.portal = session
    g.merchant = merchant  # the logs name the merchant, as for the API


@bp.after_request
def _headers(response: Response) -> Response:
    # The token is in the URL: never send it on as a Referer (the processor's page, links), never
    # keep the page (balances) in a shared cache.
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'"
    )
    return response


@dataclass(frozen=True, slots=True)
class _CustomerView:
    customer_id: str
    name: str
    active: bool
    currency: str


def _session() -> PortalSession:
    session: PortalSession = g.portal
    return session


def _merchant() -> MerchantConfig:
    merchant: MerchantConfig = g.merchant
    return merchant


def _customer() -> _CustomerView:
    customer: _CustomerView = g.portal_customer
    return customer


# -- formatting ------------------------------------------------------------------------------------


def _locale() -> str:
    return _session().locale.replace("-", "_")


def money_text(money: Money) -> str:
    """``$1,234.50`` (babel, the session's locale)."""
    return str(format_currency(money.amount, money.currency, locale=_locale()))


def date_text(day: date) -> str:
    return str(format_date(day, "d MMM y", locale=_locale()))


def datetime_text(moment: datetime) -> str:
    local = moment.astimezone(_merchant().zone)
    return str(format_datetime(local, "d MMM y, HH:mm", locale=_locale()))


# -- the account: balances and documents -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Row:
    invoice_id: str
    folio: str
    document: str
    due: str
    balance: Money
    balance_text: str
    overdue: bool
    payable: bool
    reasons: tuple[str, ...]  # in Spanish

    @property
    def minor(self) -> int:
        return self.balance.to_minor_units()


@dataclass(frozen=True, slots=True)
class Group:
    """One balance ("Saldo vencido"...) and the payable invoices behind it."""

    key: str
    label: str
    button: str
    amount: Money
    payable: tuple[Row, ...]

    @property
    def payable_amount(self) -> Money:
        total = Money.zero(self.amount.currency)
        for row in self.payable:
            total = total + row.balance
        return total

    @property
    def partial(self) -> bool:
        return bool(self.payable) and self.payable_amount != self.amount

    @property
    def too_many(self) -> bool:
        """More invoices than one payment takes: choose them in the list instead."""
        return len(self.payable) > MAX_SELECTED


@dataclass(frozen=True, slots=True)
class Account:
    currency: str
    groups: tuple[Group, ...]
    other_balances: tuple[tuple[str, str, str], ...]  # (currency, total, overdue) texts
    invoices: tuple[Row, ...]
    others: tuple[Row, ...]  # documents that are not facturas: never in the balances
    visible: bool  # customers_see_invoices

    @property
    def awaiting_erp(self) -> bool:
        """Some invoice has a payment registered: its balance stays until the ERP applies it."""
        registered = REASONS[Reason.PAYMENT_REGISTERED]
        return any(registered in row.reasons for row in self.invoices)


def _other_documents(
    db: Session, merchant: MerchantConfig, customer_id: str, day: date
) -> list[Row]:
    """The customer's open documents that are not facturas (cargos, notas de crédito, ...): shown
    disabled with the reason, as the statement's balances leave them out."""
    found = list(
        db.scalars(
            select(Invoice)
            .where(
                Invoice.merchant_id == merchant.id,
                Invoice.customer_id == customer_id,
                Invoice.document_type != "factura",
                Invoice.balance_minor > 0,
            )
            .order_by(Invoice.due_on, Invoice.invoice_id)
            .limit(200)
        )
    )
    if not found:
        return []
    decided = check_invoices(
        gateway().plugins, db, merchant, customer_id, [i.invoice_id for i in found], day
    )
    reasons = {facts.invoice_id: d.reasons for facts, d in decided.invoices}
    return [
        Row(
            invoice_id=invoice.invoice_id,
            folio=invoice.folio,
            document=DOCUMENT_TYPES.get(invoice.document_type, invoice.document_type),
            due=date_text(invoice.due_on),
            balance=invoice.balance,
            balance_text=money_text(invoice.balance),
            overdue=invoice.due_on < day,
            payable=False,  # the rules never let a non-factura be paid; shown, never selectable
            reasons=tuple(reason_texts(reasons.get(invoice.invoice_id, ())) or [UNKNOWN_REASON]),
        )
        for invoice in found
    ]


def load_account(merchant: MerchantConfig, customer_id: str) -> Account:
    gw = gateway()
    with gw.store.read() as db:
        result = statement(gw.plugins, db, merchant, customer_id)
        rows = tuple(
            Row(
                invoice_id=line.invoice.invoice_id,
                folio=line.invoice.folio,
                document="Factura",
                due=date_text(line.invoice.due_on),
                balance=line.invoice.balance,
                balance_text=money_text(line.invoice.balance),
                overdue=line.overdue,
                payable=line.decision.payable,
                reasons=tuple(reason_texts(line.decision.reasons)),
            )
            for line in result.lines
        )
        others = tuple(_other_documents(db, merchant, customer_id, result.as_of))
    own = tuple(row for row in rows if row.payable and row.balance.currency == result.currency)
    b = result.balances
    groups = (
        Group("total", "Saldo total", "Pagar total", b.total, own),
        Group(
            "vencido",
            "Saldo vencido",
            "Pagar vencido",
            b.overdue,
            tuple(r for r in own if r.overdue),
        ),
        Group(
            "por_vencer",
            "Saldo por vencer",
            "Pagar por vencer",
            b.upcoming,
            tuple(r for r in own if not r.overdue),
        ),
    )
    return Account(
        currency=result.currency,
        groups=groups,
        other_balances=tuple(
            (o.currency, money_text(o.total), money_text(o.overdue))
            for o in result.other_currencies
        ),
        invoices=rows,
        others=others,
        visible=merchant.settings.customers_see_invoices,
    )


@dataclass(frozen=True, slots=True)
class Selection:
    ids: tuple[str, ...]
    rows: tuple[Row, ...]
    total: Money | None  # None: nothing selected, or several currencies

    @property
    def text(self) -> str:
        if not self.rows:
            return "Ninguna factura seleccionada"
        if self.total is None:
            return "Las facturas seleccionadas están en monedas distintas"
        count = len(self.rows)
        noun = "factura" if count == 1 else "facturas"
        return f"Total seleccionado: {money_text(self.total)} ({count} {noun})"

    @property
    def button(self) -> str:
        return "Pagar" if self.total is None else f"Pagar {money_text(self.total)}"


def _selection(account: Account, ids: Sequence[str]) -> Selection:
    wanted = set(ids)
    rows = tuple(row for row in account.invoices if row.payable and row.invoice_id in wanted)
    total: Money | None = None
    currencies = {row.balance.currency for row in rows}
    if len(currencies) == 1:
        total = Money.zero(currencies.pop())
        for row in rows:
            total = total + row.balance
    return Selection(tuple(row.invoice_id for row in rows), rows, total)


# -- views -----------------------------------------------------------------------------------------


def _new_nonce() -> str:
    return secrets.token_urlsafe(16)


def _idempotency_key(purpose: str, nonce: str, parts: Iterable[str]) -> str:
    """One payment per rendered form and what it pays: a second click (or a retry after a
    timeout) finds the first payment; another selection from the same page is another key."""
    material = "\x1f".join([purpose, _session().customer_id, nonce, *parts])
    return "portal:" + hashlib.sha256(material.encode()).hexdigest()


def _render_home(
    *,
    selected: Sequence[str] = (),
    message: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    account = load_account(_merchant(), _session().customer_id)
    selection = _selection(account, selected)
    html = render_template(
        "portal/home.html",
        account=account,
        saldos={row.invoice_id: str(row.balance.amount) for row in account.invoices if row.payable},
        selection=selection,
        selected=set(selection.ids),
        message=message,
        nonce=_new_nonce(),
        **_common(),
    )
    return html, status


def _common() -> dict[str, Any]:
    return {
        "customer": _customer(),
        "return_url": _session().return_url,
        "money": money_text,
        "max_selected": MAX_SELECTED,
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
    return _render_home(message="No entendimos esa acción. Vuelve a intentarlo.", status=400)


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
        if not isinstance(value, str) or not _DECIMAL.match(value):
            return None
        try:
            total += Decimal(value)
        except InvalidOperation:
            return None
    return str(total)


def _pay_invoices(selected: Sequence[str]) -> ResponseReturnValue:
    nonce = request.form.get("nonce", "")
    if not _NONCE.match(nonce):
        return _render_home(
            selected=selected,
            message="El formulario no es válido. Vuelve a seleccionar y a pagar.",
            status=400,
        )
    ids = list(dict.fromkeys(value for value in selected if _ID.match(value)))
    if not ids:
        return _render_home(message="Selecciona al menos una factura para pagar.", status=422)
    if len(ids) > MAX_SELECTED:
        return _render_home(
            message=f"Puedes pagar hasta {MAX_SELECTED} facturas a la vez.", status=422
        )
    expected = _shown_amount(ids)
    if expected is None:
        return _render_home(
            selected=ids,
            message="La página cambió mientras pagabas. Revisa tu selección y vuelve a pagar.",
            status=409,
        )
    request_ = service.CheckoutRequest(
        customer_id=_session().customer_id,
        purpose="invoices",
        idempotency_key=_idempotency_key("invoices", nonce, sorted(ids)),
        invoice_ids=ids,
        expected_amount=expected,
        token=None,  # the processor's hosted / redirect flow: no card data on this page
        return_url=_return_url(),
    )
    try:
        payment = service.checkout(gateway(), _merchant(), request_)
    except GatewayError as exc:
        message, status = _checkout_problem(exc)
        return _render_home(selected=ids, message=message, status=status)
    return _after_checkout(payment)


def _checkout_problem(exc: GatewayError) -> tuple[str, int]:
    """What the customer reads when a checkout is refused (the page is shown again)."""
    if isinstance(exc, NotPayable):
        return "No se puede pagar en línea: " + "; ".join(reason_texts(exc.reasons)) + ".", 422
    if isinstance(exc, AmountChanged):
        amount = exc.extra.get("amount")
        currency = exc.extra.get("currency")
        now = ""
        if isinstance(amount, str) and isinstance(currency, str):
            now = f" Ahora suman {money_text(Money(amount, currency))}."
        return (
            "El saldo de las facturas seleccionadas cambió." + now + " Revisa y vuelve a pagar.",
            409,
        )
    if isinstance(exc, NotFound):
        return "Alguno de los documentos ya no está disponible. Revisa tu selección.", 404
    if isinstance(exc, UnsupportedRequest):
        return "El procesador de pagos de tu proveedor no permite pagar desde esta página.", 422
    if isinstance(exc, DatabaseUnavailable):  # sent to the processor; its answer is pending
        return (
            "Tu pago está en proceso. Revisa su estado en unos minutos antes de volver a pagar.",
            503,
        )
    log.error("portal checkout failed: %s: %s", exc.code, exc.detail)
    return "No pudimos iniciar el pago. Intenta de nuevo en unos minutos.", 502


def _return_url() -> str:
    """Where the processor sends the customer back: the status page (``?payment_id=`` is added
    by the processor), with a fresh token, as the hosted page may take a while."""
    return portal_url(gateway(), refreshed(_merchant(), _session()), "/pagos")


def _after_checkout(payment: Payment) -> ResponseReturnValue:
    action = payment.next_action or {}
    url = action.get("url") if action.get("type") == "redirect" else None
    if (
        payment.status == PaymentStatus.REQUIRES_ACTION
        and isinstance(url, str)
        and url.startswith(("https://", "http://"))
    ):
        return redirect(url, code=303)  # the processor's hosted page
    return redirect(url_for(".payment", payment_id=payment.id), code=303)


# -- an order --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Order:
    reference: str
    amount: Money


def _parse_order(reference: str, amount: str) -> Order:
    currency = _customer().currency
    if not _ID.match(reference):
        raise PortalError(400, "Pedido no válido", "Al enlace le falta la referencia del pedido.")
    try:
        if not _DECIMAL.match(amount):
            raise ValueError(amount)
        money = Money(amount, currency)
    except (ValueError, GatewayError):
        raise PortalError(
            400, "Pedido no válido", "El importe del pedido no es válido. Vuelve al portal."
        ) from None
    if not money.is_positive() or abs(money.to_minor_units()) > MAX_MINOR_UNITS:
        raise PortalError(
            400, "Pedido no válido", "El importe del pedido no es válido. Vuelve al portal."
        )
    return Order(reference, money)


def _registered_order_payment(db: Session, order: Order) -> Payment | None:
    """This customer's payment that already holds this order, if any."""
    payments = db.scalars(
        select(Payment).where(
            Payment.merchant_id == _merchant().id,
            Payment.customer_id == _session().customer_id,
            Payment.purpose == "order",
            Payment.order_reference == order.reference,
        )
    )
    for payment in payments:
        if PaymentStatus(payment.status).registers_invoices:
            return payment
    return None


def _render_order(
    order: Order, *, message: str | None = None, status: int = 200
) -> ResponseReturnValue:
    gw = gateway()
    with gw.store.read() as db:
        check = check_order(gw.plugins, db, _merchant(), _session().customer_id, order.amount)
        existing = _registered_order_payment(db, order)
        existing_id = None if existing is None else existing.id
    limit = check.credit_limit
    html = render_template(
        "portal/order.html",
        order=order,
        amount_text=money_text(order.amount),
        limit_text=None if limit is None else money_text(limit),
        payable=check.decision.payable and existing_id is None,
        reasons=reason_texts(check.decision.reasons),
        existing_id=existing_id,
        message=message,
        nonce=_new_nonce(),
        **_common(),
    )
    return html, status


@bp.route("/<token>/pedido", methods=["GET", "POST"])
def order() -> ResponseReturnValue:
    """``?importe=15000.00&referencia=PED-77``: the pay button only when the order is payable."""
    if request.method == "GET":
        return _render_order(
            _parse_order(request.args.get("referencia", ""), request.args.get("importe", ""))
        )
    current = _parse_order(request.form.get("referencia", ""), request.form.get("importe", ""))
    nonce = request.form.get("nonce", "")
    if not _NONCE.match(nonce):
        return _render_order(
            current, message="El formulario no es válido. Vuelve a intentarlo.", status=400
        )
    request_ = service.CheckoutRequest(
        customer_id=_session().customer_id,
        purpose="order",
        idempotency_key=_idempotency_key(
            "order", nonce, [current.reference, str(current.amount.amount)]
        ),
        order_reference=current.reference,
        order_amount=current.amount,
        token=None,
        return_url=_return_url(),
    )
    try:
        payment = service.checkout(gateway(), _merchant(), request_)
    except GatewayError as exc:
        message, status = _checkout_problem(exc)
        return _render_order(current, message=message, status=status)
    return _after_checkout(payment)


# -- a payment -------------------------------------------------------------------------------------


def _own_payment(db: Session, payment_id: str) -> Payment:
    payment = db.get(Payment, payment_id) if _ID.match(payment_id) else None
    if (
        payment is None
        or payment.merchant_id != _merchant().id
        or payment.customer_id != _session().customer_id
    ):
        raise PortalError(404, "Pago no encontrado", "No encontramos ese pago en tu cuenta.")
    return payment


@bp.get("/<token>/pagos")
def returned() -> ResponseReturnValue:
    """Where the processor sends the customer back (``?payment_id=``)."""
    payment_id = request.args.get("payment_id", "")
    if _ID.match(payment_id):
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


@bp.get("/<token>/pagos/<payment_id>")
def payment(payment_id: str) -> ResponseReturnValue:
    """The payment's status; it follows the payment (refresh / polling) until it is final."""
    with gateway().store.read() as db:
        found = _own_payment(db, payment_id)
        folios: list[str] = []
        ids = sorted(a.invoice_id for a in found.allocations)
        if ids:
            names = dict(
                db.execute(
                    select(Invoice.invoice_id, Invoice.folio).where(
                        Invoice.merchant_id == found.merchant_id, Invoice.invoice_id.in_(ids)
                    )
                ).all()
            )
            folios = [names.get(i, i) for i in ids]
        status = PaymentStatus(found.status)
        title, explanation = STATUSES.get(status, (found.status, ""))
        action = found.next_action or {}
        url = action.get("url") if action.get("type") == "redirect" else None
        failure = None
        if status in (PaymentStatus.FAILED, PaymentStatus.CANCELED) and found.failure_code:
            failure = FAILURES.get(found.failure_code, UNKNOWN_FAILURE)
        what = (
            f"Pedido {found.order_reference}"
            if found.purpose == "order"
            else ("Factura " if len(folios) == 1 else "Facturas ") + ", ".join(folios)
        )
        view = _PaymentView(
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
    return render_template("portal/payment.html", payment=view, **_common())


@bp.get("/<token>/pagos/<payment_id>/estado")
def payment_status(payment_id: str) -> ResponseReturnValue:
    """``{status, final}`` for the status page's polling script."""
    with gateway().store.read() as db:
        found = _own_payment(db, payment_id)
        status = PaymentStatus(found.status)
    return {"status": status.value, "final": status in FINAL}


@bp.route("/<token>/<path:rest>", methods=["GET", "POST"])
def unknown(rest: str) -> ResponseReturnValue:
    raise PortalError(404, "Página no encontrada", "Esta página no existe.")


# -- errors: pages in Spanish ----------------------------------------------------------------------


def _error_page(status: int, title: str, message: str) -> ResponseReturnValue:
    session = g.get("portal")
    home_url = url_for(".home") if session is not None else None
    html = render_template(
        "portal/error.html",
        title=title,
        message=message,
        home_url=home_url,
        return_url=None if session is None else session.return_url,
    )
    return html, status


@bp.errorhandler(PortalError)
def _portal_error(exc: PortalError) -> ResponseReturnValue:
    return _error_page(exc.status, exc.title, exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if status == 404:
        return _error_page(404, "Página no encontrada", "Esta página no existe.")
    if status == 405:
        return _error_page(405, "Acción no permitida", "Esta página no acepta esa acción.")
    if status == 413:
        return _error_page(413, "Solicitud demasiado grande", "Selecciona menos facturas.")
    if status < 500:
        return _error_page(status, "Solicitud no válida", "Vuelve a intentarlo desde el inicio.")
    return _unexpected(exc)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> ResponseReturnValue:
    if isinstance(exc, GatewayError) and exc.status == 404:
        return _error_page(404, "No encontrado", "No encontramos lo que buscas en tu cuenta.")
    log.error("portal page failed", exc_info=exc)
    return _error_page(
        500,
        "Algo salió mal",
        "No pudimos mostrar esta página. Intenta de nuevo en unos minutos.",
    )


__all__ = ["FAILURES", "REASONS", "STATUSES", "bp", "money_text", "reason_texts"]
