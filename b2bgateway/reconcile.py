"""Reconciliation: settle payments whose outcome the gateway does not know, by asking the processor.

A payment stays ``processing`` when the processor's answer was lost (timeout, crash between the
charge and our commit) and ``requires_action`` while the customer has not finished. After
``older_than`` the worker asks the processor, by the processor's reference or, when that was never
stored, by our payment id (sent as its order id / external reference):
- the processor's answer is applied like any other (allowed transitions only);
- "no such payment" for a lookup by our id means the charge never reached the processor: the
  payment fails (``processor_not_reached``) and its invoices are free again;
- a ``requires_action`` payment past its own ``expires_at`` (per method: an hour for a card's
  3-D Secure or hosted page, days for a SPEI transfer or an OXXO voucher; ``expire_after`` after
  its creation for payments made before expiries existed) is canceled at the processor and then
  here (``expired``, outbound ``payment.expired``), so its invoices become payable again;
- a processor that cannot cancel is asked instead; once the payment is past ``expires_at`` plus
  the merchant's ``expiry.grace`` and the processor still says pending, the gateway releases it
  the same way. A cash voucher waits as long with every processor: until the later of our expiry
  and the one printed on it (``processor_expires_at``) plus the grace, then it is canceled, so a
  customer who pays at the store before the printed date is never refused. Money that arrives
  later anyway is a late success: recorded, flagged and raised, never lost (see
  :mod:`b2bgateway.lifecycle`);
- otherwise it is asked again later, with back-off.

Payments are claimed with a lease (``reconcile_after``) under ``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so several workers can run side by side; the processor is called outside any
transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import or_, select, update

from b2bgateway import history, lifecycle
from b2bgateway.errors import GatewayError, ProcessorPaymentNotFound, ProcessorUnavailable
from b2bgateway.gateway import Gateway
from b2bgateway.interface import (
    ChargeResult,
    Failure,
    Outcome,
    PaymentMethodType,
    PaymentStatus,
    RefundRequest,
    RefundStatus,
    RetrieveRequest,
)
from b2bgateway.plugins import Processor
from b2bgateway.refunds import apply_refund_result
from b2bgateway.store.models import Payment, Refund, utcnow

__all__ = ["Reconciled", "reconcile"]

log = logging.getLogger(__name__)

OPEN = (PaymentStatus.PROCESSING.value, PaymentStatus.REQUIRES_ACTION.value)
LEASE = timedelta(minutes=2)
#: The failure code of a payment canceled for its expiry (the processor's answer says canceled).
EXPIRED = "expired"


@dataclass
class Reconciled:
    examined: int = 0
    settled: int = 0
    expired: int = 0
    not_reached: int = 0
    pending: int = 0
    errors: int = 0
    refunds_settled: int = 0


def _retry_in(attempts: int) -> timedelta:
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


def _claim(gw: Gateway, now: datetime, older_than: timedelta, limit: int) -> list[str]:
    with gw.store.write() as session:
        stmt = (
            select(Payment.id)
            .where(
                Payment.status.in_(OPEN),
                Payment.updated_at <= now - older_than,
                or_(Payment.reconcile_after.is_(None), Payment.reconcile_after <= now),
            )
            .order_by(Payment.updated_at)
            .limit(limit)
        )
        if gw.store.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.scalars(stmt))
        if ids:
            session.execute(
                update(Payment).where(Payment.id.in_(ids)).values(reconcile_after=now + LEASE)
            )
        return ids


def reconcile(
    gw: Gateway,
    *,
    older_than: timedelta = timedelta(minutes=5),
    expire_after: timedelta = timedelta(hours=2),
    limit: int = 200,
    now: datetime | None = None,
) -> Reconciled:
    """One pass over the open payments that are due. Safe to run from several workers at once.

    ``older_than`` must exceed the longest a checkout request can take (the server's timeout),
    so a charge still in flight is never mistaken for a lost one.
    """
    now = now or utcnow()
    counts = Reconciled()
    for payment_id in _claim(gw, now, older_than, limit):
        counts.examined += 1
        try:
            _settle(gw, payment_id, now, expire_after, counts)
        except Exception:  # one bad payment must not stop the pass; its lease delays a retry
            log.exception("ALERT payment %s: reconciliation failed", payment_id)
            counts.errors += 1
    _settle_refunds(gw, now, older_than, limit, counts)
    return counts


def _settle_refunds(
    gw: Gateway, now: datetime, older_than: timedelta, limit: int, counts: Reconciled
) -> None:
    """Refunds whose answer was lost stay ``pending`` (and block that much of the payment):
    ask the processor that took the payment. Several workers may ask twice; applying the answer
    is idempotent (only a pending refund moves)."""
    with gw.store.read() as session:
        rows = session.execute(
            select(Refund, Payment)
            .join(Payment, Payment.id == Refund.payment_id)
            .where(
                Refund.status == RefundStatus.PENDING.value, Refund.updated_at <= now - older_than
            )
            .order_by(Refund.updated_at)
            .limit(limit)
        ).all()
    for refund, payment in rows:
        merchant = gw.merchants.get(refund.merchant_id)
        settings = None if merchant is None else merchant.settings_for(payment.processor)
        if settings is None:
            continue
        request = RefundRequest(
            refund_id=refund.id,
            payment_id=payment.id,
            merchant_id=refund.merchant_id,
            processor_reference=payment.processor_reference or "",
            amount=refund.amount,
            idempotency_key=f"{refund.id}:refund",
            requested_at=refund.created_at,
        )
        try:
            result = gw.plugins.processor(payment.processor).retrieve_refund(request, settings)
        except GatewayError as exc:
            log.warning("refund %s: could not ask the processor: %s", refund.id, exc.detail)
            continue
        if result is None or result.outcome in (Outcome.PENDING, Outcome.UNKNOWN):
            continue
        with history.caused_by(history.Cause("reconcile", payment.processor)):
            apply_refund_result(gw, refund.id, result)
        counts.refunds_settled += 1


def _settle(
    gw: Gateway, payment_id: str, now: datetime, expire_after: timedelta, counts: Reconciled
) -> None:
    with gw.store.read() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
    merchant = gw.merchants.get(payment.merchant_id)
    settings = None if merchant is None else merchant.settings_for(payment.processor)
    if settings is None:
        log.error(
            "payment %s: no settings for processor %s of merchant %s",
            payment.id,
            payment.processor,
            payment.merchant_id,
        )
        counts.errors += 1
        return
    assert merchant is not None  # it has settings
    deadline, held_until = _deadlines(payment, expire_after, merchant.settings.expiry.grace)
    result, expiring = _ask(
        gw.plugins.processor(payment.processor),
        payment,
        settings,
        deadline,
        held_until,
        now,
        counts,
    )
    # Canceled for its expiry, or settled by what the processor says (paid at the last minute).
    expired = expiring and result is not None and result.outcome is Outcome.FAILED
    # A cancel for its expiry ends ``expired`` (see _record): its status change says so too.
    canceled = result is not None and lifecycle.status_for(result) is PaymentStatus.CANCELED
    code = EXPIRED if expired and canceled else None
    kind = "expiry" if expired else "reconcile"
    cause = history.Cause(kind, payment.processor, failure_code=code)
    with history.caused_by(cause):
        _record(gw, payment_id, result, expiring, now, (deadline, held_until), counts)


def _deadlines(
    payment: Payment, expire_after: timedelta, grace: timedelta
) -> tuple[datetime, datetime]:
    """When the gateway stops waiting (its own expiry, or the processor's when sooner), and,
    for a processor that cannot cancel, until when it still holds the invoices: the later of the
    two expiries (the processor still takes the money until its own) plus the merchant's grace.
    A cash voucher is held that long by every processor (see below)."""
    deadline = payment.expires_at or payment.created_at + expire_after
    theirs = payment.processor_expires_at or deadline
    held_until = max(deadline, theirs) + grace
    if payment.payment_method == PaymentMethodType.CASH.value:
        # A cash voucher's printed expiry binds (the customer holds it): one who pays at the
        # store before it is never refused, whether or not the processor can cancel.
        return held_until, held_until
    return deadline, held_until


def _ask(
    processor: Processor,
    payment: Payment,
    settings: BaseModel,
    deadline: datetime,
    held_until: datetime,
    now: datetime,
    counts: Reconciled,
) -> tuple[ChargeResult | None, bool]:
    """The processor's answer about a payment (None: none to apply), and whether it expires
    the payment: one past its deadline is canceled at the processor first (a payment canceled
    only here could still be completed there, after its invoices were paid again); one whose
    processor cannot cancel is released once ``held_until`` has passed."""
    request = RetrieveRequest(
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        processor_reference=payment.processor_reference,
        amount=payment.amount,
    )
    waiting = payment.status == PaymentStatus.REQUIRES_ACTION.value or (
        payment.status == PaymentStatus.PROCESSING.value
        and PaymentMethodType(payment.payment_method).waits_for_funds
    )
    expiring = waiting and deadline <= now
    release = False
    result: ChargeResult | None
    try:
        if expiring:
            result = processor.cancel(request, settings)
            if result is None:
                expiring = False
                result = processor.retrieve(request, settings)
                release = result.outcome in (Outcome.PENDING, Outcome.UNKNOWN) and held_until <= now
                if not release:
                    log.warning(
                        "payment %s: %s cannot cancel it; its invoices are held until %s",
                        payment.id,
                        processor.name,
                        held_until,
                    )
        else:
            result = processor.retrieve(request, settings)
    except ProcessorPaymentNotFound:
        result = _not_found(payment, counts)
    except ProcessorUnavailable:
        result = None
    except GatewayError as exc:
        log.error("payment %s: reconciliation failed: %s", payment.id, exc.detail)
        counts.errors += 1
        result = None
    if release:
        # The processor's own expiry and our grace have passed: stop holding the invoices
        # (keeping what the processor said it received: a short transfer is money to return).
        result = ChargeResult(
            Outcome.FAILED,
            failure=Failure("canceled", "released after its expiry"),
            received=None if result is None else result.received,
        )
        expiring = True
    return result, expiring


def _not_found(payment: Payment, counts: Reconciled) -> ChargeResult | None:
    """ "No such payment": a charge that never reached the processor fails; a reference the
    processor forgot is raised (and nothing is applied)."""
    if payment.processor_reference is not None:
        log.error(
            "ALERT payment %s: processor %s no longer knows reference %s",
            payment.id,
            payment.processor,
            payment.processor_reference,
        )
        counts.errors += 1
        return None
    counts.not_reached += 1
    return ChargeResult(
        Outcome.FAILED,
        failure=Failure("processor_not_reached", "the charge never reached the processor"),
    )


def _record(
    gw: Gateway,
    payment_id: str,
    result: ChargeResult | None,
    expiring: bool,
    now: datetime,
    deadlines: tuple[datetime, datetime],
    counts: Reconciled,
) -> None:
    with gw.store.write() as session:
        locked = session.get(Payment, payment_id, with_for_update=True)
        assert locked is not None
        changed = False
        if result is not None:
            changed = lifecycle.apply_charge_result(session, gw.plugins, locked, result).changed
        if changed and expiring and locked.status == PaymentStatus.CANCELED.value:
            locked.failure_code = EXPIRED
            locked.failure_message = "the customer did not finish the payment in time"
            if locked.received_minor and locked.add_flag("partially_funded"):
                log.error(
                    "ALERT payment %s expired with %s received: return it to the customer",
                    locked.id,
                    locked.received,
                )
            lifecycle.notify(session, gw.plugins, locked, {"event": "expired"})
            counts.expired += 1
        elif changed:
            counts.settled += 1
        elif locked.status in OPEN:
            locked.reconcile_attempts += 1
            # Back off, but be there when the payment expires or its hold ends.
            due = [moment for moment in deadlines if moment > now]
            locked.reconcile_after = min([now + _retry_in(locked.reconcile_attempts), *due])
            counts.pending += 1
