"""Whether the portal should show a pay button: for an order, and for a set of invoices."""

from __future__ import annotations

from flask import Blueprint, Response

from b2bgateway.payability import check_invoices, check_order
from b2bgateway_web.api.base import current_merchant, json_response, operation, parse_body
from b2bgateway_web.api.responses import InvoicesPayabilityOut, OrderPayabilityOut
from b2bgateway_web.api.schemas import InvoicesPayabilityIn, OrderPayabilityIn, money
from b2bgateway_web.state import gateway

bp = Blueprint("payability", __name__, url_prefix="/payability")


@bp.post("/order")
@operation(
    summary="Can this order be paid online? (it must exceed the credit limit)",
    body=OrderPayabilityIn,
    responses={200: OrderPayabilityOut},
    errors=(404, 422),
    tags=("payability",),
)
def order() -> Response:
    data = parse_body(OrderPayabilityIn)
    gw = gateway()
    with gw.store.read() as session:
        check = check_order(
            gw.plugins,
            session,
            current_merchant(),
            data.customer_id,
            money(data.amount, data.currency, "amount"),
        )
    limit = check.credit_limit
    return json_response(
        {
            "payable": check.decision.payable,
            "reasons": list(check.decision.reasons),
            "credit_limit": None if limit is None else str(limit.amount),
        }
    )


@bp.post("/invoices")
@operation(
    summary="Can these invoices be paid together online? The amount is their sum",
    body=InvoicesPayabilityIn,
    responses={200: InvoicesPayabilityOut},
    errors=(404, 422),
    tags=("payability",),
)
def invoices() -> Response:
    data = parse_body(InvoicesPayabilityIn)
    gw = gateway()
    with gw.store.read() as session:
        result = check_invoices(
            gw.plugins, session, current_merchant(), data.customer_id, data.invoice_ids
        )
    return json_response(
        {
            "payable": result.payable,
            "reasons": list(result.reasons),
            "amount": None if result.amount is None else str(result.amount.amount),
            "currency": None if result.amount is None else result.amount.currency,
            "invoices": [
                {
                    "invoice_id": inv.invoice_id,
                    "balance": str(inv.balance.amount),
                    "payable": d.payable,
                    "reasons": list(d.reasons),
                }
                for inv, d in result.invoices
            ],
        }
    )
