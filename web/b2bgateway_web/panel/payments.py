"""Buscar y visualizar pagos: the filtered list (newest first, keyset pages, the filtered total),
the failed payments, and one payment's detail with its timeline."""

from __future__ import annotations

from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from b2bgateway import service
from b2bgateway.errors import InvalidCursor
from b2bgateway.search import filtered_total, invoice_folios, search_page
from b2bgateway.sync import get_customer
from b2bgateway.timeline import timeline
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import texts
from b2bgateway_web.panel.base import bp, merchant, require
from b2bgateway_web.panel.filters import FAILED, filter_from, make_form, query_args
from b2bgateway_web.state import gateway

PAGE_SIZE = 50


def _list(template: str, statuses: tuple[str, ...], title: str) -> ResponseReturnValue:
    form = make_form()
    shop = merchant()
    wanted = filter_from(form, shop, statuses)
    with gateway().store.read() as db:
        try:
            page = search_page(
                db, shop.id, wanted, cursor=request.args.get("despues"), limit=PAGE_SIZE
            )
        except InvalidCursor:
            page = search_page(db, shop.id, wanted, limit=PAGE_SIZE)
        total = filtered_total(db, shop.id, wanted)
        emails = {}
        if statuses:  # the failed payments page says how to reach each customer
            for row in page.rows:
                customer = get_customer(db, shop.id, row.customer_id)
                emails[row.customer_id] = None if customer is None else customer.email
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
        rows=page.rows,
        emails=emails,
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
