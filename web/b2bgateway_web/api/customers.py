"""Customers (synced from the ERP) and their account statements."""

from __future__ import annotations

from flask import Blueprint, Response

from b2bgateway import sync
from b2bgateway.payability import statement
from b2bgateway.representation import customer_json, statement_json
from b2bgateway.sync import CustomerData, get_customer
from b2bgateway_web.api.base import (
    current_merchant,
    json_response,
    not_found,
    operation,
    parse_body,
    parse_query,
)
from b2bgateway_web.api.responses import CustomerOut, StatementOut
from b2bgateway_web.api.schemas import CustomerIn, StatementQuery, money
from b2bgateway_web.state import gateway

bp = Blueprint("customers", __name__, url_prefix="/customers")


@bp.put("/<customer_id>")
@operation(
    summary="Create or update a customer",
    body=CustomerIn,
    responses={200: CustomerOut, 201: CustomerOut},
    errors=(422,),
    tags=("sync",),
)
def put_customer(customer_id: str) -> Response:
    """Upsert a customer from the ERP: 201 when created, 200 when updated."""
    data = parse_body(CustomerIn)
    merchant = current_merchant()
    limit = None if data.credit_limit is None else money(data.credit_limit, data.currency, "")
    with gateway().store.write() as session:
        customer, created = sync.put_customer(
            session,
            merchant.id,
            customer_id,
            CustomerData(
                name=data.name,
                email=data.email,
                active=data.active,
                currency=data.currency,
                credit_limit=limit,
            ),
        )
        body = customer_json(customer)
    return json_response(body, 201 if created else 200)


@bp.get("/<customer_id>")
@operation(summary="A customer", responses={200: CustomerOut}, errors=(404, 422), tags=("sync",))
def get_customer_view(customer_id: str) -> Response:
    with gateway().store.read() as session:
        customer = get_customer(session, current_merchant().id, customer_id)
        if customer is None:
            raise not_found(f"customer {customer_id!r}")
        return json_response(customer_json(customer))


@bp.get("/<customer_id>/statement")
@operation(
    summary="Account statement: total, overdue and upcoming balances, open invoices",
    query=StatementQuery,
    responses={200: StatementOut},
    errors=(404, 422),
    tags=("statement",),
)
def get_statement(customer_id: str) -> Response:
    """Balances as of ``as_of`` (default: the merchant's local today) and each open factura."""
    query = parse_query(StatementQuery)
    gw = gateway()
    with gw.store.read() as session:
        result = statement(gw.plugins, session, current_merchant(), customer_id, query.as_of)
        return json_response(statement_json(result))
