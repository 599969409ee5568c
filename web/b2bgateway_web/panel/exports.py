"""The filtered payments as CSV (streamed row by row: constant memory, UTF-8 with a BOM so Excel
reads the accents) and XLSX (openpyxl's write-only mode, to a temporary file, then sent); text
that a spreadsheet would run as a formula is neutralised (``panel.cells``), amounts are numbers."""

from __future__ import annotations

import csv
import io
import itertools
import tempfile
from collections.abc import Callable, Iterator
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Response, stream_with_context
from flask.typing import ResponseReturnValue
from openpyxl import Workbook

from b2bgateway.money import Money
from b2bgateway.search import PaymentFilter, export_rows
from b2bgateway_web.i18n import gettext as _
from b2bgateway_web.panel import texts
from b2bgateway_web.panel.base import BOM, bp, merchant, require
from b2bgateway_web.panel.cells import FORMULA_START, log_export, xlsx_cells
from b2bgateway_web.panel.filters import filter_from, make_form
from b2bgateway_web.panel.formats import plain_amount
from b2bgateway_web.state import gateway


def _headers() -> list[str]:
    return [
        _("Fecha"),
        _("Pago"),
        _("Cliente"),
        _("Nombre"),
        _("Facturas"),
        _("Pedido"),
        _("Método"),
        _("Procesador"),
        _("Estado"),
        _("Importe"),
        _("Moneda"),
        _("Reembolsado"),
        _("Referencia del procesador"),
        _("Forma de pago SAT"),
        _("Motivo"),
    ]


#: The amounts' columns of :func:`_rows` ("Importe", "Reembolsado"): numbers, never made "safe"
#: (a negative amount is not a formula); every other column is text and goes through
#: ``safe_text``.
AMOUNTS = (9, 11)
TEXTS = tuple(index for index in range(15) if index not in AMOUNTS)
#: CSV rows written per chunk of the streamed response (one chunk per row cost as much as
#: writing the rows).
CHUNK_ROWS = 500


def _rows(
    merchant_id: str,
    wanted: PaymentFilter,
    zone: ZoneInfo,
    amount: Callable[[int, str], object],
) -> Iterator[list[object]]:
    """The export's rows, amounts written by ``amount(minor_units, currency)``; the words for
    statuses and methods are looked up once, text is made safe (``panel.cells``)."""
    statuses = {code: texts.status(code) for code in texts.STATUSES}
    methods = {code: texts.method(code) for code in texts.METHODS}
    with gateway().store.read() as db:
        for row in export_rows(db, merchant_id, wanted):
            details = row.method_details or {}
            cells: list[object] = [
                f"{row.created_at.astimezone(zone):%Y-%m-%d %H:%M}",
                row.id,
                row.customer_id,
                row.customer_name,
                " ".join(row.folios),
                row.order_reference or "",
                methods.get(row.payment_method, row.payment_method),
                row.processor,
                statuses.get(row.status, row.status),
                amount(row.amount_minor, row.currency),
                row.currency,
                amount(row.refunded_minor, row.currency),
                row.processor_reference or "",
                details.get("forma_pago", ""),
                row.failure_message or "",
            ]
            for index in TEXTS:  # safe_text, inlined: 13 calls a row were a sixth of an export
                value = cells[index]
                if isinstance(value, str) and value.startswith(FORMULA_START):
                    cells[index] = "'" + value
            yield cells


def _decimal(units: int, currency: str) -> Decimal:
    return Money.from_minor_units(units, currency).amount


def _filtered() -> tuple[str, PaymentFilter, ZoneInfo]:
    shop = merchant()
    return shop.id, filter_from(make_form(), shop), shop.zone


@bp.get("/pagos/exportar.csv")
@require("view")
def export_csv() -> ResponseReturnValue:
    merchant_id, wanted, zone = _filtered()
    headers = _headers()
    log_export("pagos.csv")

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        yield BOM + buffer.getvalue()
        rows = _rows(merchant_id, wanted, zone, plain_amount)
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(chunk)
            yield buffer.getvalue()

    response = Response(stream_with_context(lines()), mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = 'attachment; filename="pagos.csv"'
    return response


@bp.get("/pagos/exportar.xlsx")
@require("view")
def export_xlsx() -> ResponseReturnValue:
    merchant_id, wanted, zone = _filtered()
    log_export("pagos.xlsx")
    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Pagos"))
    sheet.append(_headers())
    for cells in _rows(merchant_id, wanted, zone, _decimal):
        sheet.append(xlsx_cells(sheet, cells))
    spool = tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024)  # noqa: SIM115
    book.save(spool)
    spool.seek(0)

    def chunks() -> Iterator[bytes]:
        with spool:
            while block := spool.read(64 * 1024):
                yield block

    response = Response(
        chunks(),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response.headers["Content-Disposition"] = 'attachment; filename="pagos.xlsx"'
    return response
