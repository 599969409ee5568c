"""Searching a merchant's payments for the payments module: filters, newest first, keyset pages,
the filtered total, and every match in batches for an export (constant memory).

A page is read after a cursor, an opaque position (base64url of ``[created_at, id]``) that only
this module makes and reads; pages never use OFFSET, so the millionth payment costs what the
first does (index ``ix_payments_merchant_created``).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.orm import Session

from b2bgateway.errors import InvalidCursor
from b2bgateway.money import Money
from b2bgateway.representation import timestamp
from b2bgateway.store.models import Customer, Invoice, Payment, PaymentAllocation

__all__ = [
    "Matches",
    "PaymentFilter",
    "PaymentRow",
    "SearchPage",
    "Total",
    "export_rows",
    "filtered_total",
    "folios",
    "invoice_folios",
    "resolve",
    "search_page",
]


@dataclass(frozen=True, slots=True)
class PaymentFilter:
    """What to look for; every field optional (None or empty: no condition)."""

    statuses: Sequence[str] = ()
    payment_method: str | None = None
    customer: str | None = None  # a customer id, or part of a customer's name
    folio: str | None = None  # an invoice's folio (or id)
    order_reference: str | None = None
    processor: str | None = None
    created_from: date | None = None  # the merchant's local dates, both included
    created_to: date | None = None
    amount_min: Money | None = None
    amount_max: Money | None = None
    zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/Mexico_City"))


@dataclass(frozen=True, slots=True)
class PaymentRow:
    """One payment as the list and the exports show it: plain columns (no ORM object, no
    relationship loaded), with the folios it pays."""

    created_at: datetime
    id: str
    customer_id: str
    customer_name: str
    customer_email: str | None
    order_reference: str | None
    payment_method: str
    processor: str
    status: str
    amount_minor: int
    currency: str
    refunded_minor: int
    processor_reference: str | None
    method_details: dict[str, object] | None
    failure_message: str | None
    failure_code: str | None
    folios: list[str]


_COLUMNS = (
    Payment.created_at,
    Payment.id,
    Payment.customer_id,
    Customer.name.label("customer_name"),
    Customer.email.label("customer_email"),
    Payment.order_reference,
    Payment.payment_method,
    Payment.processor,
    Payment.status,
    Payment.amount_minor,
    Payment.currency,
    Payment.refunded_minor,
    Payment.processor_reference,
    Payment.method_details,
    Payment.failure_message,
    Payment.failure_code,
)


if tuple(column.key for column in _COLUMNS) != PaymentRow.__match_args__[:-1]:
    raise RuntimeError("search._COLUMNS must list PaymentRow's fields in order")


@dataclass(frozen=True, slots=True)
class SearchPage:
    rows: list[PaymentRow]
    next_cursor: str | None  # None: the last page


def _encode(row: PaymentRow) -> str:
    raw = json.dumps([timestamp(row.created_at), row.id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if isinstance(raw, list) and len(raw) == 2 and all(isinstance(p, str) for p in raw):
            created = datetime.fromisoformat(raw[0].replace("Z", "+00:00"))
            if created.tzinfo is not None:
                return created, raw[1]
    except (ValueError, TypeError, binascii.Error):
        pass
    raise InvalidCursor("the cursor is not one this page gave out")


def _local_start(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


#: Customers a name search may match (a search for "SA" is not a way to list everyone).
MAX_CUSTOMERS = 1000


def _conditions(session: Session, merchant_id: str, f: PaymentFilter) -> list[object]:
    """The filter's conditions. Customers and folios are looked up first, so the payments'
    query gets a short list of ids the planner can use its indexes with."""
    where: list[object] = [Payment.merchant_id == merchant_id]
    if f.statuses:
        where.append(Payment.status.in_(list(f.statuses)))
    if f.payment_method:
        where.append(Payment.payment_method == f.payment_method)
    if f.processor:
        where.append(Payment.processor == f.processor)
    if f.order_reference:
        where.append(Payment.order_reference == f.order_reference.strip())
    if f.customer:
        found = session.scalars(_customers(merchant_id, f.customer.strip()).limit(MAX_CUSTOMERS))
        where.append(Payment.customer_id.in_(list(found)))
    if f.folio:
        where.append(
            Payment.id.in_(list(session.scalars(_with_folio(merchant_id, f.folio.strip()))))
        )
    if f.created_from:
        where.append(Payment.created_at >= _local_start(f.created_from, f.zone))
    if f.created_to:
        end = _local_start(f.created_to + timedelta(days=1), f.zone)
        where.append(Payment.created_at < end)
    if f.amount_min is not None:
        where.append(Payment.currency == f.amount_min.currency)
        where.append(Payment.amount_minor >= f.amount_min.to_minor_units())
    if f.amount_max is not None:
        where.append(Payment.currency == f.amount_max.currency)
        where.append(Payment.amount_minor <= f.amount_max.to_minor_units())
    return where


@dataclass(frozen=True, slots=True)
class Matches:
    """A filter with its customers and folios already looked up (:func:`resolve`): a page and
    its total share one lookup instead of making it twice."""

    merchant_id: str
    where: tuple[object, ...]


def resolve(session: Session, merchant_id: str, f: PaymentFilter) -> Matches:
    return Matches(merchant_id, tuple(_conditions(session, merchant_id, f)))


def _where(session: Session, merchant_id: str, f: PaymentFilter | Matches) -> list[object]:
    if isinstance(f, Matches):
        if f.merchant_id != merchant_id:
            raise ValueError("these matches were resolved for another merchant")
        return list(f.where)
    return _conditions(session, merchant_id, f)


def _customers(merchant_id: str, text: str) -> Select[str]:
    """Customers whose id is ``text`` or whose name contains it (any case)."""
    pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return select(Customer.customer_id).where(
        Customer.merchant_id == merchant_id,
        or_(Customer.customer_id == text, func.lower(Customer.name).like(pattern, escape="\\")),
    )


def _with_folio(merchant_id: str, folio: str) -> Select[str]:
    invoices = select(Invoice.invoice_id).where(
        Invoice.merchant_id == merchant_id, or_(Invoice.folio == folio, Invoice.invoice_id == folio)
    )
    return select(PaymentAllocation.payment_id).where(
        PaymentAllocation.merchant_id == merchant_id, PaymentAllocation.invoice_id.in_(invoices)
    )


def _rows(
    session: Session,
    merchant_id: str,
    where: list[object],
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[PaymentRow]:
    """``limit`` matches after ``after``, newest first, with their folios (two queries).

    The page's ids are chosen by a subquery that needs only the list's covering indexes
    (:mod:`b2bgateway.store.panel_indexes`): PostgreSQL tests the filters on index entries
    (an index-only scan) and reads the ``limit`` rows it keeps, instead of reading a row for
    every candidate, which is what made a filter matching few payments slow."""
    ids = select(Payment.id).where(*where)  # type: ignore[arg-type]
    if after is not None:
        # A row comparison: PostgreSQL walks the (merchant, created_at, id) index from there.
        ids = ids.where(tuple_(Payment.created_at, Payment.id) < tuple_(*after))
    newest_first = (Payment.created_at.desc(), Payment.id.desc())
    stmt = (
        select(*_COLUMNS)
        .join(
            Customer,
            and_(
                Customer.merchant_id == Payment.merchant_id,
                Customer.customer_id == Payment.customer_id,
            ),
        )
        .where(Payment.id.in_(ids.order_by(*newest_first).limit(limit)))
    )
    # Core, not the ORM: plain columns need none of its row processing (a fifth of an export).
    found = session.connection().execute(stmt.order_by(*newest_first)).all()
    paid = folios(session, merchant_id, [row.id for row in found])
    # Positional (no dict per row): _COLUMNS are PaymentRow's fields but the last, in order,
    # which the module checks when imported; mypy cannot count a Row's columns.
    return [PaymentRow(*row, folios=paid.get(row.id, [])) for row in found]  # type: ignore[misc]


def search_page(
    session: Session,
    merchant_id: str,
    f: PaymentFilter | Matches,
    *,
    cursor: str | None = None,
    limit: int = 50,
) -> SearchPage:
    """One page of matches, newest first.

    :raises InvalidCursor: ``cursor`` is not one this module made.
    """
    after = None if cursor is None else _decode(cursor)
    rows = _rows(session, merchant_id, _where(session, merchant_id, f), after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    return SearchPage(rows, _encode(rows[-1]) if more else None)


@dataclass(frozen=True, slots=True)
class Total:
    """How many payments match and the sum of their amounts (minor units, the caller shows it
    in the merchant's currency). Past ``cap`` matches only "more than cap" is known: counting a
    million rows on every page would cost more than the page."""

    count: int
    amount_minor: int | None  # None when capped
    capped: bool


#: Matches counted exactly; beyond it the list says "more than".
TOTAL_CAP = 10_000


def filtered_total(
    session: Session, merchant_id: str, f: PaymentFilter | Matches, cap: int = TOTAL_CAP
) -> Total:
    """Counted up to ``cap`` and summed in one query over at most ``cap + 1`` matches, taken
    newest first like a page: the order makes PostgreSQL walk the list's index and stop at
    ``cap + 1`` (unordered, it chose a bitmap scan of every match, which a LIMIT does not
    shorten), and the covering index (:mod:`b2bgateway.store.panel_indexes`) lets it test the
    filters and read the amounts on index entries."""
    where = _where(session, merchant_id, f)
    matching = (
        select(Payment.amount_minor)
        .where(*where)  # type: ignore[arg-type]
        .order_by(Payment.created_at.desc(), Payment.id.desc())
        .limit(cap + 1)
        .subquery()
    )
    count, total = (
        session.connection()
        .execute(select(func.count(), func.coalesce(func.sum(matching.c.amount_minor), 0)))
        .one()
    )
    if count > cap:
        return Total(cap, None, True)
    return Total(int(count), int(total), False)


def folios(session: Session, merchant_id: str, payment_ids: Sequence[str]) -> dict[str, list[str]]:
    """The folios each payment pays (one query for a page, or an export's batch)."""
    if not payment_ids:
        return {}
    ids = list(payment_ids)
    connection = session.connection()
    wanted: ColumnElement[bool]
    if connection.dialect.name == "postgresql":
        # One array parameter: an export's batch of 2,000 ids as 2,000 placeholders cost more
        # to render and parse than the query took.
        wanted = PaymentAllocation.payment_id == any_(bindparam("ids", ids, type_=ARRAY(String)))
    else:
        wanted = PaymentAllocation.payment_id.in_(ids)
    rows = connection.execute(
        select(PaymentAllocation.payment_id, Invoice.folio)
        .join(
            Invoice,
            and_(
                Invoice.merchant_id == PaymentAllocation.merchant_id,
                Invoice.invoice_id == PaymentAllocation.invoice_id,
            ),
        )
        .where(
            PaymentAllocation.merchant_id == merchant_id,
            wanted,
        )
        .order_by(Invoice.folio)
    )
    found: dict[str, list[str]] = {}
    for payment_id, folio in rows:
        found.setdefault(payment_id, []).append(folio)
    return found


def invoice_folios(
    session: Session, merchant_id: str, invoice_ids: Sequence[str]
) -> dict[str, str]:
    """invoice id -> its folio (a payment's allocations, for its detail page)."""
    if not invoice_ids:
        return {}
    rows = session.execute(
        select(Invoice.invoice_id, Invoice.folio).where(
            Invoice.merchant_id == merchant_id, Invoice.invoice_id.in_(list(invoice_ids))
        )
    )
    return {invoice_id: folio for invoice_id, folio in rows}


def export_rows(
    session: Session, merchant_id: str, f: PaymentFilter, batch: int = 2000
) -> Iterator[PaymentRow]:
    """Every match, newest first, read a keyset batch at a time: an export of 100,000
    payments holds one batch at a time and builds no ORM object."""
    where = _conditions(session, merchant_id, f)
    after: tuple[datetime, str] | None = None
    while True:
        rows = _rows(session, merchant_id, where, after, batch)
        yield from rows
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].id)
