"""Invoices (accounts-receivable documents synced from the ERP): single and batch upsert."""

from __future__ import annotations

from flask import Blueprint, Response
from flask.blueprints import BlueprintSetupState
from werkzeug.routing import BaseConverter

from b2bgateway import sync
from b2bgateway.database import Session
from b2bgateway.errors import InvalidRequest
from b2bgateway.payability import check_invoices
from b2bgateway.representation import invoice_json
from b2bgateway.sync import InvoiceData, get_invoice, missing_customers
from b2bgateway_web.api.base import (
    current_merchant,
    json_response,
    not_found,
    operation,
    parse_body,
)
from b2bgateway_web.api.responses import BatchOut, InvoiceOut
from b2bgateway_web.api.schemas import InvoiceBatchIn, InvoiceIn, money
from b2bgateway_web.state import gateway

bp = Blueprint("invoices", __name__, url_prefix="/invoices")


class InvoiceIdConverter(BaseConverter):
    """``<invoice_id:...>``: any path segment but ``batch`` (see ``schemas.InvoiceId``), so that
    /invoices/batch is the batch endpoint's alone: GET and PUT on it are a 405 whose ``Allow``
    says POST, not an invoice named "batch". In the regex (not only in ``to_python``): the router
    lists a rule's methods in ``Allow`` before it converts."""

    regex = r"(?!batch\Z)[^/]+"
    part_isolating = True


@bp.record_once
def _register_converter(state: BlueprintSetupState) -> None:  # before the rules below
    state.app.url_map.converters["invoice_id"] = InvoiceIdConverter


def _data(invoice_id: str, item: InvoiceIn) -> InvoiceData:
    return InvoiceData(
        invoice_id=invoice_id,
        customer_id=item.customer_id,
        folio=item.folio,
        document_type=item.document_type,
        source=item.source,
        issued_on=item.issued_on,
        due_on=item.due_on,
        total=money(item.total, item.currency, "total"),
        balance=money(item.balance, item.currency, "balance"),
    )


def _check_customers(session: Session, merchant_id: str, items: list[tuple[int, str]]) -> None:
    """Every invoice's customer must exist (this merchant's): 422 naming the items that don't."""
    bad = missing_customers(session, merchant_id, items)
    if bad:
        raise InvalidRequest(
            "invoices refer to customers that do not exist; send the customers first",
            extra={
                "errors": [
                    {
                        "loc": ["invoices", index, "customer_id"]
                        if index >= 0
                        else ["customer_id"],
                        "msg": f"customer {cid!r} not found",
                        "type": "customer_not_found",
                    }
                    for index, cid in bad
                ]
            },
        )


@bp.put("/<invoice_id:invoice_id>")
@operation(
    summary="Create or update an invoice",
    body=InvoiceIn,
    responses={200: InvoiceOut, 201: InvoiceOut},
    errors=(405, 422),
    tags=("sync",),
)
def put_invoice(invoice_id: str) -> Response:
    item = parse_body(InvoiceIn)
    merchant = current_merchant()
    with gateway().store.write() as session:
        _check_customers(session, merchant.id, [(-1, item.customer_id)])
        invoice, created = sync.put_invoice(session, merchant.id, _data(invoice_id, item))
        body = invoice_json(invoice)
    return json_response(body, 201 if created else 200)


@bp.post("/batch")
@operation(
    summary="Create or update up to 10,000 invoices, all or nothing",
    body=InvoiceBatchIn,
    responses={200: BatchOut},
    errors=(422,),
    tags=("sync",),
)
def batch() -> Response:
    """All or nothing: one bad item and nothing is written (422 lists the bad items by index)."""
    payload = parse_body(InvoiceBatchIn)
    merchant = current_merchant()
    seen: dict[str, int] = {}
    duplicates = []
    for index, item in enumerate(payload.invoices):
        if item.invoice_id in seen:
            duplicates.append(index)
        seen.setdefault(item.invoice_id, index)
    if duplicates:
        raise InvalidRequest(
            "an invoice_id appears more than once in the batch",
            extra={
                "errors": [
                    {
                        "loc": ["invoices", i, "invoice_id"],
                        "msg": "duplicate invoice_id",
                        "type": "duplicate",
                    }
                    for i in duplicates
                ]
            },
        )
    with gateway().store.write() as session:
        _check_customers(
            session, merchant.id, [(i, item.customer_id) for i, item in enumerate(payload.invoices)]
        )
        created, updated = sync.put_invoices(
            session, merchant.id, [_data(item.invoice_id, item) for item in payload.invoices]
        )
    return json_response({"created": created, "updated": updated})


@bp.get("/<invoice_id:invoice_id>")
@operation(
    summary="An invoice, with whether it can be paid online and why not",
    responses={200: InvoiceOut},
    errors=(404, 405, 422),
    tags=("sync",),
)
def get_invoice_view(invoice_id: str) -> Response:
    gw = gateway()
    merchant = current_merchant()
    with gw.store.read() as session:
        invoice = get_invoice(session, merchant.id, invoice_id)
        if invoice is None:
            raise not_found(f"invoice {invoice_id!r}")
        decision = check_invoices(gw.plugins, session, merchant, invoice.customer_id, [invoice_id])
        [(_, verdict)] = decision.invoices
        return json_response(invoice_json(invoice, verdict))
