"""Buscar y visualizar pagos: the filtered list (newest first, keyset pages, the filtered total),
the failed payments, and one payment's detail with its timeline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote
from zoneinfo import ZoneInfo

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from b2bgateway import service
from b2bgateway.errors import InvalidCursor
from b2bgateway.search import (
    PaymentRow,
    Total,
    filtered_total,
    invoice_folios,
    resolve,
    search_page,
)
from b2bgateway.sync import get_customer
from b2bgateway.timeline import timeline
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import texts
from b2bgateway_web.panel.base import bp, merchant, require, user
from b2bgateway_web.panel.filters import FAILED, filter_from, make_form, query_args
from b2bgateway_web.panel.formats import datetime_formatter, money_formatter
from b2bgateway_web.state import gateway

PAGE_SIZE = 50
#: What Werkzeug's string converter leaves unquoted in a path segment.
PATH_SAFE = "!$&'()*+,/:;=@"


@dataclass(frozen=True, slots=True)
class Line:
    """One payment of the list with every cell already written: the template only places them
    (a page of 50 rows made Jinja call a dozen helpers per row)."""

    id: str
    url: str
    when: str
    customer_name: str
    customer_id: str
    customer_email: str | None
    paying: str  # the folios it pays, else the order
    method: str
    status: str
    status_text: str
    amount: str
    failure: str
    failure_code: str | None
    failure_message: str | None
    pay_link_url: str | None


def _link(endpoint: str) -> tuple[str, str]:
    """The URL of ``endpoint`` for a payment, as the text around its id (built once a page;
    the id is then quoted as Werkzeug's default converter quotes it, :data:`PATH_SAFE`)."""
    marker = "PAYMENTID"
    before, _sep, after = url_for(endpoint, payment_id=marker).partition(marker)
    return before, after


def _lines(rows: Sequence[PaymentRow], zone: ZoneInfo, *, pay_links: bool) -> list[Line]:
    when = datetime_formatter()
    statuses: dict[str, str] = {}
    methods: dict[str, str] = {}
    failures: dict[str | None, str] = {}
    detail = _link("panel.payment")
    link = _link("panel.pay_link") if pay_links else None
    lines = []
    for row in rows:
        quoted = quote(row.id, safe=PATH_SAFE)
        if row.status not in statuses:
            statuses[row.status] = texts.status(row.status)
        if row.payment_method not in methods:
            methods[row.payment_method] = texts.method(row.payment_method)
        if row.failure_code not in failures:
            failures[row.failure_code] = texts.failure(row.failure_code)
        lines.append(
            Line(
                id=row.id,
                url=detail[0] + quoted + detail[1],
                when=when(row.created_at.astimezone(zone)),
                customer_name=row.customer_name,
                customer_id=row.customer_id,
                customer_email=row.customer_email,
                paying=", ".join(row.folios) or row.order_reference or "",
                method=methods[row.payment_method],
                status=row.status,
                status_text=statuses[row.status],
                amount=money_formatter(row.currency)(row.amount_minor),
                failure=failures[row.failure_code],
                failure_code=row.failure_code,
                failure_message=row.failure_message,
                pay_link_url=None if link is None else link[0] + quoted + link[1],
            )
        )
    return lines


def _list(template: str, statuses: tuple[str, ...], title: str) -> ResponseReturnValue:
    form = make_form()
    shop = merchant()
    wanted = filter_from(form, shop, statuses)
    with gateway().store.read() as db:
        matches = resolve(db, shop.id, wanted)  # customers and folios looked up once
        cursor = request.args.get("despues")
        try:
            page = search_page(db, shop.id, matches, cursor=cursor, limit=PAGE_SIZE)
        except InvalidCursor:
            cursor = None
            page = search_page(db, shop.id, matches, limit=PAGE_SIZE)
        if cursor is None and page.next_cursor is None:
            # The first page holds every match: the total is its own (no second pass over
            # the index, which for a filter matching nothing is a walk of all its entries).
            total = Total(len(page.rows), sum(row.amount_minor for row in page.rows), False)
        else:
            total = filtered_total(db, shop.id, matches)
    lines = _lines(page.rows, shop.zone, pay_links=bool(statuses) and user().can("pay_link"))
    args = query_args()
    next_url = None
    if page.next_cursor is not None:
        next_url = url_for(request.endpoint or "panel.payments", despues=page.next_cursor, **args)
    first_url = None
    if "despues" in request.args:
        first_url = url_for(request.endpoint or "panel.payments", **args)
    return render_template(
        template,
        title=title,
        form=form,
        rows=lines,
        total=total,
        currency=shop.settings.currency,
        next_url=next_url,
        first_url=first_url,
        csv_url=url_for("panel.export_csv", **args),
        xlsx_url=url_for("panel.export_xlsx", **args),
        texts=texts,
    )


@bp.get("/pagos")
@require("view")
def payments() -> ResponseReturnValue:
    return _list("panel/payments.html", (), _("Pagos"))


@bp.get("/pagos-fallidos")
@require("view")
def failed() -> ResponseReturnValue:
    return _list("panel/failed.html", FAILED, _("Pagos fallidos"))


@bp.get("/pagos/<payment_id>")
@require("view")
def payment(payment_id: str) -> ResponseReturnValue:
    shop = merchant()
    with gateway().store.read() as db:
        found = service.get_payment(db, shop.id, payment_id)  # another merchant's: 404
        customer = get_customer(db, shop.id, found.customer_id)
        moments = timeline(db, found)
        folio_of = invoice_folios(db, shop.id, [a.invoice_id for a in found.allocations])
        refunds = list(found.refunds)
    return render_template(
        "panel/payment.html",
        payment=found,
        customer=customer,
        moments=moments,
        folio_of=folio_of,
        refunds=refunds,
        texts=texts,
    )
