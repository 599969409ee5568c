"""The order page: ``/portal/<token>/pedido?importe=15000.00&referencia=PED-77``."""

from __future__ import annotations

from dataclasses import dataclass

from flask import render_template, request
from flask.typing import ResponseReturnValue

from b2bgateway import service
from b2bgateway.accounts import order_payment
from b2bgateway.errors import GatewayError
from b2bgateway.money import MAX_MINOR_UNITS, Money
from b2bgateway.payability import check_order
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import (
    DECIMAL,
    ID,
    NONCE,
    PortalError,
    bp,
    customer,
    merchant,
    money_text,
    portal_session,
)
from b2bgateway_web.portal.texts import reason_texts
from b2bgateway_web.portal.views import (
    after_checkout,
    checkout_problem,
    common,
    idempotency_key,
    new_nonce,
    processor_return_url,
)
from b2bgateway_web.state import gateway


@dataclass(frozen=True, slots=True)
class Order:
    reference: str
    amount: Money


def _parse_order(reference: str, amount: str) -> Order:
    currency = customer().currency
    if not ID.match(reference):
        raise PortalError(
            400, _("Pedido no válido"), _("Al enlace le falta la referencia del pedido.")
        )
    try:
        if not DECIMAL.match(amount):
            raise ValueError(amount)
        money = Money(amount, currency)
    except (ValueError, GatewayError):
        raise PortalError(
            400, _("Pedido no válido"), _("El importe del pedido no es válido. Vuelve al portal.")
        ) from None
    if not money.is_positive() or abs(money.to_minor_units()) > MAX_MINOR_UNITS:
        raise PortalError(
            400, _("Pedido no válido"), _("El importe del pedido no es válido. Vuelve al portal.")
        )
    return Order(reference, money)


def _render_order(
    order: Order, *, message: str | None = None, status: int = 200
) -> ResponseReturnValue:
    gw = gateway()
    with gw.store.read() as db:
        check = check_order(gw.plugins, db, merchant(), portal_session().customer_id, order.amount)
        existing = order_payment(db, merchant().id, portal_session().customer_id, order.reference)
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
        nonce=new_nonce(),
        **common(),
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
    if not NONCE.match(nonce):
        return _render_order(
            current, message=_("El formulario no es válido. Vuelve a intentarlo."), status=400
        )
    request_ = service.CheckoutRequest(
        customer_id=portal_session().customer_id,
        purpose="order",
        idempotency_key=idempotency_key(
            "order", nonce, [current.reference, str(current.amount.amount)]
        ),
        order_reference=current.reference,
        order_amount=current.amount,
        token=None,
        return_url=processor_return_url(),
    )
    try:
        payment = service.checkout(gateway(), merchant(), request_)
    except GatewayError as exc:
        message, status = checkout_problem(exc)
        return _render_order(current, message=message, status=status)
    return after_checkout(payment)
