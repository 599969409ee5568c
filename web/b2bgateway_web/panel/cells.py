"""Cells of the exports (CSV and XLSX), safe to open in a spreadsheet: text that a spreadsheet
would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return:
a customer's name, a processor's message, an audit subject) is written with a leading ``'``, and
in XLSX always as a string cell. Amounts are Decimals, written as numbers. Every export is
audited (:func:`log_export`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import request
from openpyxl.cell import WriteOnlyCell

from b2bgateway import audit
from b2bgateway_web.panel.base import actor
from b2bgateway_web.state import gateway

__all__ = ["FORMULA_START", "log_export", "safe_text", "xlsx_cells"]

#: What makes Excel, LibreOffice or Google Sheets read a cell as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: object) -> object:
    """``value``, with a leading ``'`` when it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def xlsx_cells(sheet: Any, values: Iterable[object]) -> list[object]:
    """A row for a write-only sheet: text as string cells (never a formula), numbers as they are."""
    row: list[object] = []
    for value in values:
        if isinstance(value, str):
            cell = WriteOnlyCell(sheet, value=safe_text(value))
            cell.data_type = "s"
            row.append(cell)
        else:
            row.append(value)
    return row


def log_export(name: str) -> None:
    """Audit an export: who took which file, with which filters."""
    with gateway().store.write() as db:
        audit.record(db, actor(), "export", name, dict(request.args) or None)
