"""Checkouts, payments (one, and the feed an ERP sync reads) and refunds."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime

from flask import Blueprint, Response, g
from sqlalchemy import and_, or_, select

from b2bgateway import service
from b2bgateway.errors import GatewayError
from b2bgateway.money import Money
from b2bgateway.representation import payment_json, refund_json, timestamp
from b2bgateway.store.models import Payment
from b2bgateway_web.api import (
    current_merchant,
    idempotent,
    json_response,
    operation,
    parse_body,
    parse_query,
)
from b2bgateway_web.app import gateway
from b2bgateway_web.schemas import (
    CheckoutIn,
    PaymentListOut,
    PaymentOut,
    PaymentsQuery,
    RefundIn,
    RefundOut,
    money,
)

checkouts = Blueprint("checkouts", __name__, url_prefix="/checkouts")
payments = Blueprint("payments", __name__, url_prefix="/payments")


class InvalidCursor(GatewayError):
    code = "invalid_cursor"
    status = 422
    title = "Invalid cursor"


@checkouts.post("")
@operation(
    summary="Pay an order or invoices",
    body=CheckoutIn,
    responses={201: PaymentOut},
    errors=(400, 404, 409, 422),
    idempotent=True,
    tags=("payments",),
)
@idempotent
def create_checkout() -> Response:
    """201 with the payment: ``succeeded``, ``failed`` (a declined card), ``requires_action``
    (follow ``next_action``) or ``processing`` (settled later by webhook or reconciliation)."""
    data = parse_body(CheckoutIn)
    merchant = current_merchant()
    order_amount = None
    if data.order is not None:
        order_amount = money(data.order.amount, data.order.currency, "order.amount")
    request = service.CheckoutRequest(
        customer_id=data.customer_id,
        purpose=data.purpose,
        idempotency_key=g.idempotency_key,
        order_reference=None if data.order is None else data.order.reference,
        order_amount=order_amount,
        invoice_ids=list(dict.fromkeys(data.invoice_ids or [])),
        expected_amount=data.expected_amount,
        token=None if data.payment_method is None else data.payment_method.token,
        device_session_id=(
            None if data.payment_method is None else data.payment_method.device_session_id
        ),
        payment_details=(
            {} if data.payment_method is None else dict(data.payment_method.details or {})
        ),
        return_url=None if data.return_url is None else str(data.return_url),
    )
    payment = service.checkout(gateway(), merchant, request)
    return json_response(payment_json(payment), 201)


@payments.get("/<payment_id>")
@operation(summary="A payment", responses={200: PaymentOut}, errors=(404,), tags=("payments",))
def get_payment(payment_id: str) -> Response:
    with gateway().store.read() as session:
        payment = service.get_payment(session, current_merchant().id, payment_id)
        return json_response(payment_json(payment))


def _cursor(payment: Payment) -> str:
    raw = json.dumps([timestamp(payment.updated_at), payment.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    """The position a cursor names; anything this API did not give out is a 422."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
        if (
            isinstance(decoded, list)
            and len(decoded) == 2
            and all(isinstance(part, str) for part in decoded)
        ):
            updated = datetime.fromisoformat(decoded[0].replace("Z", "+00:00"))
            if updated.tzinfo is not None:
                return updated, decoded[1]
    except (ValueError, TypeError, binascii.Error):
        pass
    raise InvalidCursor("the cursor is not one this API gave out")


@payments.get("")
@operation(
    summary="Payments, oldest change first: the feed an ERP sync reads",
    query=PaymentsQuery,
    responses={200: PaymentListOut},
    errors=(422,),
    tags=("payments",),
)
def list_payments() -> Response:
    """Ordered by (updated_at, id); follow ``next_cursor`` until it is null. To sync, keep the
    last ``updated_at`` you saw and ask again with ``updated_since`` a little before it."""
    query = parse_query(PaymentsQuery)
    merchant = current_merchant()
    stmt = select(Payment).where(Payment.merchant_id == merchant.id)
    if query.customer_id is not None:
        stmt = stmt.where(Payment.customer_id == query.customer_id)
    if query.status is not None:
        stmt = stmt.where(Payment.status == query.status.value)
    if query.purpose is not None:
        stmt = stmt.where(Payment.purpose == query.purpose)
    if query.updated_since is not None:
        stmt = stmt.where(Payment.updated_at >= query.updated_since)
    if query.cursor is not None:
        after, after_id = _decode_cursor(query.cursor)
        stmt = stmt.where(
            or_(
                Payment.updated_at > after, and_(Payment.updated_at == after, Payment.id > after_id)
            )
        )
    stmt = stmt.order_by(Payment.updated_at, Payment.id).limit(query.limit + 1)
    with gateway().store.read() as session:
        rows = list(session.scalars(stmt))
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        return json_response(
            {
                "data": [payment_json(p) for p in rows],
                "next_cursor": _cursor(rows[-1]) if more else None,
            }
        )


@payments.post("/<payment_id>/refunds")
@operation(
    summary="Refund a payment, all that is left or part of it",
    body=RefundIn,
    responses={201: RefundOut},
    errors=(400, 404, 409, 422),
    idempotent=True,
    tags=("payments",),
)
@idempotent
def create_refund(payment_id: str) -> Response:
    data = parse_body(RefundIn)
    merchant = current_merchant()
    gw = gateway()
    amount = None
    if data.amount is not None:
        with gw.store.read() as session:
            currency = service.get_payment(session, merchant.id, payment_id).currency
        amount = Money(data.amount, currency)  # too many decimals for it: 422
    record = service.refund(gw, merchant, payment_id, amount, data.reason, g.idempotency_key)
    return json_response(refund_json(record), 201)
