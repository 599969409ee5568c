"""Repository functions: the only code that writes rows. Each takes an open session; the caller's
``store.write()`` block is the transaction."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Table, bindparam, inspect, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from b2bgateway.interface import PaymentStatus
from b2bgateway.money import Money
from b2bgateway.store.models import (
    Customer,
    Invoice,
    Payment,
    PaymentAllocation,
    Refund,
    utcnow,
)

__all__ = [
    "CustomerData",
    "InvoiceData",
    "bulk_upsert_invoices",
    "create_payment",
    "dialect_insert",
    "get_customer",
    "get_invoice",
    "new_id",
    "payment_by_key",
    "refund_by_key",
    "release_allocations",
    "set_payment_status",
    "upsert",
    "upsert_customer",
    "upsert_invoices",
]


def new_id(prefix: str) -> str:
    """``pay_`` + 24 hex characters: unguessable, URL-safe, fits every processor's references."""
    return f"{prefix}_{secrets.token_hex(12)}"


@dataclass(frozen=True, slots=True)
class CustomerData:
    name: str
    active: bool
    currency: str
    credit_limit: Money | None = None  # None = no credit limit assigned
    email: str | None = None


@dataclass(frozen=True, slots=True)
class InvoiceData:
    invoice_id: str
    customer_id: str
    folio: str
    document_type: str
    source: str
    issued_on: date
    due_on: date
    total: Money
    balance: Money


def get_customer(session: Session, merchant_id: str, customer_id: str) -> Customer | None:
    return session.get(Customer, (merchant_id, customer_id))


def get_invoice(session: Session, merchant_id: str, invoice_id: str) -> Invoice | None:
    return session.get(Invoice, (merchant_id, invoice_id))


def upsert_customer(
    session: Session, merchant_id: str, customer_id: str, data: CustomerData
) -> tuple[Customer, bool]:
    """Create or update a customer; returns it and whether it was created."""
    customer = get_customer(session, merchant_id, customer_id)
    created = customer is None
    if customer is None:
        customer = Customer(merchant_id=merchant_id, customer_id=customer_id)
        session.add(customer)
    customer.name = data.name
    customer.email = data.email
    customer.active = data.active
    customer.currency = data.currency
    if data.credit_limit is not None and data.credit_limit.currency != data.currency:
        raise ValueError("the credit limit is kept in the customer's currency")
    customer.credit_limit_minor = (
        None if data.credit_limit is None else data.credit_limit.to_minor_units()
    )
    session.flush()
    return customer, created


def upsert_invoices(
    session: Session, merchant_id: str, invoices: Iterable[InvoiceData]
) -> list[tuple[Invoice, bool]]:
    """Create or update invoices (one statement to load the existing ones, not one per invoice)."""
    items = list(invoices)
    existing = {
        inv.invoice_id: inv
        for inv in session.scalars(
            select(Invoice).where(
                Invoice.merchant_id == merchant_id,
                Invoice.invoice_id.in_([item.invoice_id for item in items]),
            )
        )
    }
    results = []
    for item in items:
        invoice = existing.get(item.invoice_id)
        created = invoice is None
        if invoice is None:
            invoice = Invoice(merchant_id=merchant_id, invoice_id=item.invoice_id)
            session.add(invoice)
            existing[item.invoice_id] = invoice
        invoice.customer_id = item.customer_id
        invoice.folio = item.folio
        invoice.document_type = item.document_type
        invoice.source = item.source
        invoice.issued_on = item.issued_on
        invoice.due_on = item.due_on
        invoice.total_minor = item.total.to_minor_units()
        invoice.balance_minor = item.balance.to_minor_units()
        invoice.currency = item.total.currency
        results.append((invoice, created))
    session.flush()
    return results


def dialect_insert(dialect: str) -> Callable[[Any], Any]:
    """``insert`` of ``dialect`` (``"postgresql"`` or ``"sqlite"``): its statements have the
    ``ON CONFLICT`` clauses both databases support and SQLAlchemy's generic insert lacks."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def upsert(session: Session, entity: Any) -> Any:
    """``INSERT`` into ``entity`` for the session's database, with ``ON CONFLICT`` clauses."""
    return dialect_insert(session.get_bind().dialect.name)(entity)


def bulk_upsert_invoices(
    session: Session, merchant_id: str, invoices: Sequence[InvoiceData]
) -> tuple[int, int]:
    """Create or update many invoices with one ``INSERT ... ON CONFLICT DO UPDATE`` per chunk
    (the ERP's batch sync). Returns (created, updated). No ORM objects are built."""
    if not invoices:
        return 0, 0
    ids = [item.invoice_id for item in invoices]
    existing: set[str] = set()
    for start in range(0, len(ids), 5000):
        existing.update(
            session.scalars(
                select(Invoice.invoice_id).where(
                    Invoice.merchant_id == merchant_id,
                    Invoice.invoice_id.in_(ids[start : start + 5000]),
                )
            )
        )
    now = utcnow()
    rows = [
        {
            "merchant_id": merchant_id,
            "invoice_id": item.invoice_id,
            "customer_id": item.customer_id,
            "folio": item.folio,
            "document_type": item.document_type,
            "source": item.source,
            "issued_on": item.issued_on,
            "due_on": item.due_on,
            "total_minor": item.total.to_minor_units(),
            "balance_minor": item.balance.to_minor_units(),
            "currency": item.total.currency,
            "created_at": now,
            "updated_at": now,
        }
        for item in invoices
    ]
    updatable = [c for c in rows[0] if c not in ("merchant_id", "invoice_id", "created_at")]
    statement = upsert(session, Invoice)
    statement = statement.on_conflict_do_update(
        index_elements=["merchant_id", "invoice_id"],
        set_={column: getattr(statement.excluded, column) for column in updatable},
    )
    # One statement, many parameter sets: SQLAlchemy batches them ("insertmanyvalues").
    session.execute(statement, rows)
    return len(ids) - len(existing), len(existing)


def create_payment(
    session: Session,
    *,
    merchant_id: str,
    customer_id: str,
    purpose: str,
    amount: Money,
    processor: str,
    allocations: Sequence[tuple[str, Money]] = (),
    order_reference: str | None = None,
    idempotency_key: str | None = None,
    return_url: str | None = None,
    status: PaymentStatus = PaymentStatus.PROCESSING,
    payment_method: str = "card",
    installments: int | None = None,
    expires_at: datetime | None = None,
) -> Payment:
    """Insert a payment and its allocations. A second registered payment for one of the invoices
    (or the order) fails here with ``IntegrityError`` (the partial unique indexes decide).

    Two Core ``INSERT`` statements (the allocations' one only for invoices), built once, instead
    of the unit of work's flush (every checkout makes one); the rows are then in the session as
    if loaded, every column set, so nothing is read back."""
    now = utcnow()
    columns: dict[str, Any] = dict.fromkeys(_PAYMENT_COLUMN_KEYS)  # every column, None unless:
    columns.update(
        id=new_id("pay"),
        merchant_id=merchant_id,
        customer_id=customer_id,
        purpose=purpose,
        amount_minor=amount.to_minor_units(),
        currency=amount.currency,
        status=status.value,
        processor=processor,
        order_reference=order_reference,
        idempotency_key=idempotency_key,
        refunded_minor=0,
        return_url=return_url,
        reconcile_attempts=0,
        payment_method=payment_method,
        installments=installments,
        expires_at=expires_at,
        created_at=now,
        updated_at=now,
    )
    session.connection().execute(_INSERT_PAYMENT, columns)
    rows = _insert_allocations(session, columns["id"], merchant_id, allocations, status)
    return _as_loaded(session, columns, rows)


def _insert_allocations(
    session: Session,
    payment_id: str,
    merchant_id: str,
    allocations: Sequence[tuple[str, Money]],
    status: PaymentStatus,
) -> list[dict[str, Any]]:
    """A new payment's allocations, one ``INSERT`` for all; their rows, ids included."""
    rows = [
        {
            "payment_id": payment_id,
            "merchant_id": merchant_id,
            "invoice_id": invoice_id,
            "amount_minor": allocated.to_minor_units(),
            "currency": allocated.currency,
            "registered": status.registers_invoices,
        }
        for invoice_id, allocated in allocations
    ]
    if rows:
        ids = session.connection().execute(_INSERT_ALLOCATIONS, rows).scalars().all()
        for row, allocation_id in zip(rows, ids, strict=True):
            row["id"] = allocation_id
    return rows


def _as_loaded(session: Session, columns: dict[str, Any], rows: list[dict[str, Any]]) -> Payment:
    """The payment just inserted, with its allocations, as persistent objects of the session
    whose every column is set (as a query would have loaded them: no pending change)."""
    payment = Payment(**columns)
    allocations = [PaymentAllocation(**row) for row in rows]
    for allocation in allocations:
        set_committed_value(allocation, "payment", payment)
    make_transient_to_detached(payment)
    for allocation in allocations:
        make_transient_to_detached(allocation)
    set_committed_value(payment, "allocations", allocations)
    session.add(payment)  # with its allocations (cascade): persistent, nothing to insert
    return payment


# Built once: every checkout and refund runs them.
_PAYMENT_BY_KEY = select(Payment.id).where(
    Payment.merchant_id == bindparam("merchant"), Payment.idempotency_key == bindparam("key")
)
_REFUND_BY_KEY = select(Refund).where(
    Refund.merchant_id == bindparam("merchant"), Refund.idempotency_key == bindparam("key")
)


def payment_by_key(session: Session, merchant_id: str, key: str) -> Payment | None:
    """The payment a client's idempotency key created, if any (unique per merchant and key).
    The usual answer, none, costs one Core query of one column (every checkout asks)."""
    found = session.connection().execute(_PAYMENT_BY_KEY, {"merchant": merchant_id, "key": key})
    payment_id = found.scalar()
    return None if payment_id is None else session.get(Payment, payment_id)


def refund_by_key(session: Session, merchant_id: str, key: str) -> Refund | None:
    """The refund a client's idempotency key created, if any (unique per merchant and key)."""
    return session.scalar(_REFUND_BY_KEY, {"merchant": merchant_id, "key": key})


def set_payment_status(session: Session, payment: Payment, status: PaymentStatus) -> None:
    """Change a payment's status and keep its allocations' ``registered`` flag in step with it
    (written only when it changes: ``processing`` to ``succeeded`` keeps the invoices held)."""
    previous = PaymentStatus(payment.status)
    payment.status = status.value
    payment.updated_at = utcnow()
    if previous.registers_invoices != status.registers_invoices:
        session.connection().execute(
            _REGISTER, {"payment": payment.id, "registered": status.registers_invoices}
        )
        if "allocations" in inspect(payment).dict:  # loaded: keep them as the rows now are
            for allocation in payment.allocations:
                set_committed_value(allocation, "registered", status.registers_invoices)
    write_changes(session, payment)


def release_allocations(session: Session, payment: Payment) -> None:
    """Let go of a payment's invoices whatever its status (a lost dispute): they can be paid
    again. An order payment is released by its ``dispute_status`` (the order index's predicate)."""
    session.connection().execute(_REGISTER, {"payment": payment.id, "registered": False})
    if "allocations" in inspect(payment).dict:
        for allocation in payment.allocations:
            set_committed_value(allocation, "registered", False)


def register_allocations(session: Session, payment: Payment) -> None:
    """Hold a payment's invoices again (a lost dispute reversed); the unique index refuses it
    (``IntegrityError``) if another payment holds one meanwhile."""
    session.connection().execute(_REGISTER, {"payment": payment.id, "registered": True})
    if "allocations" in inspect(payment).dict:
        for allocation in payment.allocations:
            set_committed_value(allocation, "registered", True)


_ALLOCATIONS: Table = PaymentAllocation.__table__  # type: ignore[assignment]
_PAYMENTS: Table = Payment.__table__  # type: ignore[assignment]
_PAYMENT_COLUMN_KEYS = frozenset(attr.key for attr in Payment.__mapper__.column_attrs)
_INSERT_PAYMENT = _PAYMENTS.insert()
# One statement for all of a payment's allocations, their ids back in the rows' order.
_INSERT_ALLOCATIONS = _ALLOCATIONS.insert().returning(
    _ALLOCATIONS.c.id, sort_by_parameter_order=True
)
_REGISTER = (
    update(_ALLOCATIONS)
    .where(_ALLOCATIONS.c.payment_id == bindparam("payment"))
    .values(registered=bindparam("registered"))
)


@functools.cache
def _update_statement(table: Any, columns: tuple[str, ...]) -> Any:
    """``UPDATE table SET <columns> WHERE <primary key>``, built once per set of columns (a
    payment's status change is always the same few), so it is compiled once."""
    return (
        update(table)
        .where(*[column == bindparam(f"pk_{column.name}") for column in table.primary_key])
        .values({name: bindparam(f"new_{name}") for name in columns})
    )


def write_changes(session: Session, row: Any) -> None:
    """Write a loaded row's changed columns with one ``UPDATE`` and mark them saved: what
    ``session.flush()`` does for that row, without the unit of work's bookkeeping (every
    checkout and every webhook changes a payment). Anything else pending is flushed as usual."""
    state = inspect(row)
    touched = list(state.committed_state)  # the attributes set since the row was loaded
    mapper = state.mapper
    if state.key is None:
        return
    if any(key not in mapper.column_attrs for key in touched):
        session.flush()  # a relationship changed: the unit of work knows how
        return
    changed = [key for key in touched if state.committed_state[key] != state.dict[key]]
    if changed:
        names = {key: mapper.column_attrs[key].columns[0].name for key in changed}
        params = {f"new_{names[key]}": state.dict[key] for key in changed}
        for column, value in zip(mapper.primary_key, state.key[1], strict=True):
            params[f"pk_{column.name}"] = value
        statement = _update_statement(mapper.local_table, tuple(sorted(names.values())))
        session.connection().execute(statement, params)
    # Saved: the row is clean again, as a flush leaves a row it wrote (the same call), so the
    # commit's flush has nothing of it to look at. A later change marks it dirty again as usual.
    state._commit_all(state.dict, session.identity_map)
