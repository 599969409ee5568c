"""Inicio (the figures, each a link to its list) and the audit log (admins; exportable)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

from flask import Response, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue

from b2bgateway import audit, mail
from b2bgateway.dashboard import figures
from b2bgateway.statement import local_today
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import texts
from b2bgateway_web.panel.auth import SignOutForm
from b2bgateway_web.panel.base import BOM, bp, merchant, require
from b2bgateway_web.panel.cells import log_export, safe_text
from b2bgateway_web.state import gateway


@bp.get("/")
@require("view")
def home() -> ResponseReturnValue:
    shop = merchant()
    with gateway().store.read() as db:
        found = figures(db, shop.id, shop.zone)
        dead_emails = None if shop.settings.email is None else mail.dead_count(db, shop.id)
    today = local_today(shop.zone)
    return render_template(
        "panel/home.html",
        figures=found,
        dead_emails=dead_emails,
        today_url=url_for("panel.payments", desde=today.isoformat(), hasta=today.isoformat()),
        month_url=url_for("panel.payments", desde=today.replace(day=1).isoformat()),
        texts=texts,
        sign_out=SignOutForm(),
    )


@bp.get("/bitacora")
@require("audit")
def audit_log() -> ResponseReturnValue:
    before = request.args.get("antes", "")
    with gateway().store.read() as db:
        rows = audit.entries(
            db, merchant().id, before_id=int(before) if before.isdigit() else None, limit=100
        )
    next_url = url_for("panel.audit_log", antes=rows[-1].id) if len(rows) == 100 else None
    return render_template("panel/audit.html", rows=rows, next_url=next_url, texts=texts)


@bp.get("/bitacora/exportar.csv")
@require("audit")
def audit_export() -> ResponseReturnValue:
    merchant_id, zone = merchant().id, merchant().zone
    headers = [_("Fecha"), _("Usuario"), _("Acción"), _("Sobre"), _("Dirección"), _("Detalle")]
    log_export("bitacora.csv")

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        yield BOM + buffer.getvalue()
        with gateway().store.read() as db:
            for entry in audit.iter_entries(db, merchant_id):
                buffer.seek(0)
                buffer.truncate()
                when = entry.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")
                cells = [
                    when,
                    entry.user_email,
                    texts.action(entry.action),
                    entry.subject or "",
                    entry.address,
                    entry.detail or "",
                ]
                writer.writerow([safe_text(cell) for cell in cells])
                yield buffer.getvalue()

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="bitacora.csv"'
    return response
