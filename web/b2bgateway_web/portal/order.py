"""The order page: ``/portal/<token>/pedido``, for the order signed into the token
(``POST /v1/portal-sessions`` with ``order``)."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from b2bgateway import service
from b2bgateway.accounts import order_payment
from b2bgateway.errors import GatewayError
from b2bgateway.payability import check_order
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.portal.base import (
    PortalError,
    bp,
    merchant,
    money_text,
    portal_session,
)
from b2bgateway_web.portal.methods import choice_page, chosen, offer
from b2bgateway_web.portal.texts import reason_texts
from b2bgateway_web.portal.views import (
    after_checkout,
    checkout_problem,
    common,
    idempotency_key,
    key_parts,
    new_nonce,
    processor_return_url,
)
from b2bgateway_web.state import gateway
from b2bgateway_web.tokens import PortalOrder


def _signed_order() -> PortalOrder:
    """The order the merchant's portal signed into the link; the page never reads an order's
    amount or reference from the query string or the form."""
    order = portal_session().order
    if order is None:
        raise PortalError(
            400,
            _("Pedido no válido"),
            _(
                "Este enlace no incluye un pedido. Vuelve al portal de tu proveedor y elige "
                "pagar el pedido desde ahí."
            ),
        )
    return order


def _render_order(
    order: PortalOrder, *, message: str | None = None, status: int = 200
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
        no_credit=limit is not None and not limit.is_positive(),
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
    """The signed order; the pay button only when it is payable."""
    current = _signed_order()
    if request.method == "GET":
        return _render_order(current)
    nonce = request.form.get("nonce", "")  # signed and checked before any view runs
    choice = chosen(offer())
    if choice is None:
        return choice_page(
            action=url_for(".order"),
            amount=current.amount,
            what=_("Pedido %(reference)s") % {"reference": current.reference},
            hidden=[],
            nonce=nonce,
            common=common(),
        )
    parts = [current.reference, str(current.amount.amount), *key_parts(choice)]
    request_ = service.CheckoutRequest(
        customer_id=portal_session().customer_id,
        purpose="order",
        idempotency_key=idempotency_key("order", nonce, parts),
        order_reference=current.reference,
        order_amount=current.amount,
        token=None,
        return_url=processor_return_url(),
        payment_method=choice.method,
        installments=choice.installments,
    )
    try:
        payment = service.checkout(gateway(), merchant(), request_)
    except GatewayError as exc:
        message, status = checkout_problem(exc)
        return _render_order(current, message=message, status=status)
    return after_checkout(payment)
