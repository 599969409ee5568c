"""Checkouts, payments (one, and the feed an ERP sync reads) and refunds."""

from __future__ import annotations

from flask import Blueprint, Response, g

from b2bgateway import history, refunds, service
from b2bgateway.feed import FeedQuery, payments_page
from b2bgateway.manual import void_payment
from b2bgateway.money import Money
from b2bgateway.representation import attempt_json, payment_json, refund_json
from b2bgateway_web.api.base import (
    api_actor,
    current_merchant,
    idempotent,
    idempotent_in_core,
    json_response,
    operation,
    parse_body,
    parse_query,
    stored_response,
    unchecked_address,
)
from b2bgateway_web.api.responses import (
    AttemptListOut,
    PaymentListOut,
    PaymentOut,
    RefundOut,
    StatusChangeListOut,
)
from b2bgateway_web.api.schemas import CheckoutIn, PaymentsQuery, RefundIn, VoidIn, money
from b2bgateway_web.state import gateway

checkouts = Blueprint("checkouts", __name__, url_prefix="/checkouts")
payments = Blueprint("payments", __name__, url_prefix="/payments")


@checkouts.post("")
@operation(
    summary="Pay an order or invoices",
    body=CheckoutIn,
    responses={201: PaymentOut},
    errors=(400, 404, 409, 422),
    idempotent=True,
    tags=("payments",),
)
@idempotent_in_core
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
        claim=g.idempotency_claim,
        client_address=unchecked_address(),
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
        payment_method="card" if data.payment_method is None else data.payment_method.type,
        installments=None if data.payment_method is None else data.payment_method.installments,
    )
    answer = service.checkout_with_key(gateway(), merchant, request)
    return stored_response(answer.response, replayed=answer.replayed)


@payments.get("/<payment_id>")
@operation(summary="A payment", responses={200: PaymentOut}, errors=(404,), tags=("payments",))
def get_payment(payment_id: str) -> Response:
    with gateway().store.read() as session:
        payment = service.get_payment(session, current_merchant().id, payment_id)
        return json_response(payment_json(payment))


@payments.get("/<payment_id>/attempts")
@operation(
    summary="A payment's tries at the processor (a hosted page lets the customer try again)",
    responses={200: AttemptListOut},
    errors=(404,),
    tags=("payments",),
)
def list_attempts(payment_id: str) -> Response:
    with gateway().store.read() as session:
        payment = service.get_payment(session, current_merchant().id, payment_id)
        return json_response({"data": [attempt_json(a) for a in payment.attempts]})


@payments.get("/<payment_id>/history")
@operation(
    summary="A payment's status changes, oldest first, each with its cause",
    responses={200: StatusChangeListOut},
    errors=(404,),
    tags=("payments",),
)
def list_history(payment_id: str) -> Response:
    with gateway().store.read() as session:
        payment = service.get_payment(session, current_merchant().id, payment_id)
        found = history.changes(session, payment.id)
        return json_response({"data": [history.change_json(c) for c in found]})


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
    feed = FeedQuery(
        limit=query.limit,
        customer_id=query.customer_id,
        status=None if query.status is None else query.status.value,
        purpose=query.purpose,
        updated_since=query.updated_since,
        cursor=query.cursor,
    )
    with gateway().store.read() as session:
        page = payments_page(session, current_merchant().id, feed)
        return json_response(
            {
                "data": [payment_json(p) for p in page.payments],
                "next_cursor": page.next_cursor,
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
    record = refunds.refund(
        gw, merchant, payment_id, amount, data.reason, g.idempotency_key, api_actor()
    )
    return json_response(refund_json(record), 201)


@payments.post("/<payment_id>/void")
@operation(
    summary="Void a manual payment: its invoices (or order) are payable again",
    body=VoidIn,
    responses={200: PaymentOut},
    errors=(404, 409, 422),
    tags=("payments",),
)
def void(payment_id: str) -> Response:
    """200 with the payment, now ``canceled`` with ``failure.code`` ``voided`` and the reason.
    Voiding it again answers the same; an online payment is a 409 ``void_not_allowed``
    (refund it instead)."""
    data = parse_body(VoidIn)
    payment = void_payment(
        gateway(), current_merchant(), payment_id, data.reason, None, api_actor()
    )
    return json_response(payment_json(payment))
