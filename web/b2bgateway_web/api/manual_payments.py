"""Manual payments: money received outside the gateway, recorded so its invoices are paid."""

from __future__ import annotations

from flask import Blueprint, Response, g

from b2bgateway.manual import ManualPaymentRequest, record_manual_payment
from b2bgateway.representation import payment_json
from b2bgateway_web.api.base import (
    api_actor,
    current_merchant,
    idempotent,
    json_response,
    operation,
    parse_body,
)
from b2bgateway_web.api.responses import PaymentOut
from b2bgateway_web.api.schemas import ManualPaymentIn, money
from b2bgateway_web.state import gateway

bp = Blueprint("manual_payments", __name__, url_prefix="/manual-payments")


@bp.post("")
@operation(
    summary="Record money received outside the gateway (cash, transfer, cheque)",
    body=ManualPaymentIn,
    responses={201: PaymentOut},
    errors=(400, 404, 409, 422),
    idempotent=True,
    tags=("payments",),
)
@idempotent
def create_manual_payment() -> Response:
    """201 with a ``succeeded`` payment whose ``processor`` is ``manual``: it registers its
    invoices (or order) as an online payment does, so they are no longer payable online
    (``payment_registered``). ``POST /v1/payments/{id}/void`` opens them again."""
    data = parse_body(ManualPaymentIn)
    amount = None
    if data.order is not None:
        amount = money(data.order.amount, data.order.currency, "order.amount")
    elif data.amount is not None and data.currency is not None:
        amount = money(data.amount, data.currency, "amount")
    request = ManualPaymentRequest(
        customer_id=data.customer_id,
        purpose=data.purpose,
        idempotency_key=g.idempotency_key,
        method=data.method,
        received_on=data.received_on,
        reference=data.reference,
        amount=amount,
        invoice_ids=list(dict.fromkeys(data.invoice_ids or [])),
        order_reference=None if data.order is None else data.order.reference,
        note=data.note,
    )
    payment = record_manual_payment(gateway(), current_merchant(), request, api_actor())
    return json_response(payment_json(payment), 201)
