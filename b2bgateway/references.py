"""What the core remembers for processor plugins, so that no plugin keeps a table of its own.

- **Reference aliases.** A payment may get several references at the processor over its life (a
  hosted page's session, the payment intent made when the customer pays on it, that intent's
  charge). Plugins report the extra ones in ``ChargeResult.references`` and
  ``WebhookEvent.references``; each is kept once per (merchant, processor, reference) in
  ``payment_references``, and :func:`payment_for` finds the payment by any of them, so that a
  dispute or a refund made in the processor's dashboard that carries only the charge's id still
  finds its payment. A reference another payment already holds is left alone (never moved).
- **Processor customers.** A plugin that needs a customer object at the processor (a Stripe
  Customer to receive SPEI transfers) returns its id in ``ChargeResult.processor_customer``; it is
  kept per (merchant, processor, customer) and sent back in ``ChargeRequest.processor_customer``
  with every later charge of that customer. The first one is kept: a different id returned later
  is logged as an ALERT and never replaces it (a Stripe Customer's CLABE must not change). The
  plugin never touches the database.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import String, bindparam, literal, select, union_all
from sqlalchemy.orm import Session

from b2bgateway.interface import ChargeResult
from b2bgateway.store.models import (
    Payment,
    PaymentAttempt,
    PaymentReference,
    ProcessorCustomer,
    utcnow,
)
from b2bgateway.store.repository import dialect_insert

__all__ = ["payment_for", "processor_customer", "remember", "remember_references"]

log = logging.getLogger(__name__)


def remember(
    session: Session, payment: Payment, result: ChargeResult, known: str | None = None
) -> None:
    """Keep every reference an answer about ``payment`` names, and the processor customer it
    made (if any), in the caller's transaction. ``known``: the payment's own reference before
    this answer, left out: :func:`payment_for` finds a payment by its own reference first, so
    an alias of it adds nothing (every webhook about a payment names it)."""
    remember_references(
        session,
        payment,
        (
            reference
            for reference in (
                result.processor_reference,
                result.attempt_reference,
                *result.references,
            )
            if reference != known
        ),
    )
    if result.processor_customer:
        _keep_customer(session, payment, result.processor_customer[:255])


def _keep_customer(session: Session, payment: Payment, reference: str) -> None:
    """Keep the customer's first id at the processor; another one later is never kept (the
    customer's CLABE, or whatever the processor hangs on its customer, must not change under
    it) but logged as an ALERT: the processor now has two customer objects for one customer."""
    now = utcnow()
    connection = session.connection()
    connection.execute(
        _INSERT_CUSTOMER[connection.dialect.name],
        {
            "merchant_id": payment.merchant_id,
            "processor": payment.processor,
            "customer_id": payment.customer_id,
            "reference": reference,
            "created_at": now,
            "updated_at": now,
        },
    )
    kept = processor_customer(session, payment.merchant_id, payment.processor, payment.customer_id)
    if kept != reference:
        log.error(
            "ALERT customer %s of merchant %s: %s returned customer %s but %s is kept; "
            "merge or delete the other at the processor (payment %s)",
            payment.customer_id,
            payment.merchant_id,
            payment.processor,
            reference,
            kept,
            payment.id,
        )


def remember_references(
    session: Session, payment: Payment, references: Iterable[str | None]
) -> None:
    """Keep each reference (once; one another payment holds is left to it)."""
    rows = [
        {
            "payment_id": payment.id,
            "merchant_id": payment.merchant_id,
            "processor": payment.processor,
            "reference": reference,
            "created_at": utcnow(),
        }
        for reference in dict.fromkeys(r for r in references if r and len(r) <= 255)
    ]
    if rows:
        connection = session.connection()
        connection.execute(_INSERT_REFERENCE[connection.dialect.name], rows)


def payment_for(session: Session, merchant_id: str, processor: str, reference: str) -> str | None:
    """The id of this merchant's payment that has ``reference`` at ``processor``: its own
    reference, an alias, or one of its attempts' (kept before aliases were)."""
    found = session.scalar(
        _BY_REFERENCE, {"merchant_id": merchant_id, "processor": processor, "reference": reference}
    )
    return None if found is None else str(found)


def processor_customer(
    session: Session, merchant_id: str, processor: str, customer_id: str
) -> str | None:
    """The customer's id at the processor, as its plugin returned it once."""
    found = session.connection().execute(
        _PROCESSOR_CUSTOMER,
        {"merchant_id": merchant_id, "processor": processor, "customer_id": customer_id},
    )
    reference = found.scalar()
    return None if reference is None else str(reference)


# Built once (every checkout asks): Core, one column.
_PROCESSOR_CUSTOMER = select(ProcessorCustomer.reference).where(
    ProcessorCustomer.merchant_id == bindparam("merchant_id"),
    ProcessorCustomer.processor == bindparam("processor"),
    ProcessorCustomer.customer_id == bindparam("customer_id"),
)


def _insert_reference(dialect: str) -> Any:
    return dialect_insert(dialect)(PaymentReference).on_conflict_do_nothing(
        index_elements=("merchant_id", "processor", "reference")
    )


def _insert_customer(dialect: str) -> Any:
    return dialect_insert(dialect)(ProcessorCustomer).on_conflict_do_nothing(
        index_elements=("merchant_id", "processor", "customer_id")
    )


def _by_reference() -> Any:
    merchant = bindparam("merchant_id", type_=String)
    processor = bindparam("processor", type_=String)
    reference = bindparam("reference", type_=String)
    own = select(Payment.id.label("payment_id"), literal(0).label("rank")).where(
        Payment.merchant_id == merchant,
        Payment.processor == processor,
        Payment.processor_reference == reference,
    )
    alias = select(PaymentReference.payment_id, literal(1)).where(
        PaymentReference.merchant_id == merchant,
        PaymentReference.processor == processor,
        PaymentReference.reference == reference,
    )
    attempt = select(PaymentAttempt.payment_id, literal(2)).where(
        PaymentAttempt.merchant_id == merchant,
        PaymentAttempt.processor == processor,
        PaymentAttempt.reference == reference,
    )
    # A payment's own reference first: an alias or an attempt never outranks it.
    found = union_all(own, alias, attempt).subquery()
    return select(found.c.payment_id).order_by(found.c.rank).limit(1)


#: Built once per dialect (both have ON CONFLICT), as the other per-event statements.
_INSERT_REFERENCE: dict[str, Any] = {d: _insert_reference(d) for d in ("postgresql", "sqlite")}
_INSERT_CUSTOMER: dict[str, Any] = {d: _insert_customer(d) for d in ("postgresql", "sqlite")}
_BY_REFERENCE = _by_reference()
