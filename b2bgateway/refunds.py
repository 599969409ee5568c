"""Refund orchestration, in the order that keeps money safe (as a checkout's, see
:mod:`b2bgateway.service`): check the refund on the locked payment and write it ``pending``,
committed, before the processor is called; call it outside any transaction; record its answer
on the locked rows. An answer we cannot know leaves the refund ``pending`` (and that much of
the payment blocked) until reconciliation asks again.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from b2bgateway import audit, history, lifecycle
from b2bgateway.audit import Actor
from b2bgateway.errors import (
    GatewayError,
    IdempotencyConflict,
    ProcessorNotConfigured,
    RefundNotAllowed,
    UnsupportedRequest,
)
from b2bgateway.gateway import Gateway
from b2bgateway.interface import (
    Outcome,
    PaymentStatus,
    RefundRequest,
    RefundResult,
    RefundStatus,
)
from b2bgateway.money import Money
from b2bgateway.plugins import Processor
from b2bgateway.service import get_payment, processor_failure
from b2bgateway.settings import MerchantConfig
from b2bgateway.store.models import Payment, Refund
from b2bgateway.store.repository import new_id, refund_by_key

__all__ = ["REFUNDABLE", "apply_refund_result", "refund"]

log = logging.getLogger(__name__)

REFUNDABLE = (PaymentStatus.SUCCEEDED, PaymentStatus.PARTIALLY_REFUNDED)


def _pending_refunds(session: Session, payment_id: str) -> int:
    total = session.scalar(
        select(func.coalesce(func.sum(Refund.amount_minor), 0)).where(
            Refund.payment_id == payment_id, Refund.status == RefundStatus.PENDING.value
        )
    )
    return int(total or 0)


def refund(
    gw: Gateway,
    merchant: MerchantConfig,
    payment_id: str,
    amount: Money | None,
    reason: str | None,
    idempotency_key: str,
    actor: Actor | None = None,
) -> Refund:
    """Refund all that is left (``amount`` None) or part of a succeeded payment; ``actor``: who
    (audited with the refund, in the transaction that writes it).

    :raises NotFound: not this merchant's payment.
    :raises RefundNotAllowed: not refundable, or more than what is left.
    :raises UnsupportedRequest: a partial refund the processor cannot do.
    :raises IdempotencyConflict: the key already refunded another payment.
    """
    with gw.store.read() as session:
        done = refund_by_key(session, merchant.id, idempotency_key)
    if done is not None and done.payment_id != payment_id:
        raise IdempotencyConflict(
            "this idempotency key was used to refund another payment; use a new key"
        )
    if done is not None:
        return done
    processor, settings, request = _reserve_refund(
        gw, merchant, payment_id, amount, reason, idempotency_key, actor
    )
    try:
        result = processor.refund(request, settings)
    except GatewayError as exc:
        failure = processor_failure(exc, merchant.id, processor.name, f"refund {request.refund_id}")
        if failure is None:
            result = RefundResult(Outcome.UNKNOWN)
        else:
            result = RefundResult(Outcome.FAILED, failure=failure)
    with history.acting(actor):  # the payment's refunded state, if the answer settles it now
        return apply_refund_result(gw, request.refund_id, result)


def _reserve_refund(
    gw: Gateway,
    merchant: MerchantConfig,
    payment_id: str,
    amount: Money | None,
    reason: str | None,
    idempotency_key: str,
    actor: Actor | None,
) -> tuple[Processor, BaseModel, RefundRequest]:
    """Check the refund on the locked payment and write it ``pending``, committed before the
    processor is called. Returns who refunds it, with which settings, and what to send."""
    with gw.store.write() as session:
        payment = get_payment(session, merchant.id, payment_id)
        session.refresh(payment, with_for_update=True)
        if payment.processor == "manual":  # see b2bgateway.manual: nothing to give back
            raise RefundNotAllowed("a manual payment is voided, not refunded")
        late = lifecycle.kept_closed_after_late_success(payment)
        if PaymentStatus(payment.status) not in REFUNDABLE and not late:
            raise RefundNotAllowed(f"a {payment.status} payment cannot be refunded")
        processor = gw.plugins.processor(payment.processor)
        settings = merchant.settings_for(processor.name)
        if settings is None:
            raise ProcessorNotConfigured(
                f"no settings for {processor.name}, which took this payment"
            )
        wanted, full = _refund_amount(session, payment, amount)
        if not full and not processor.info.capabilities.partial_refund:
            raise UnsupportedRequest(f"{processor.name} cannot refund part of a payment")
        record = Refund(
            id=new_id("re"),
            merchant_id=merchant.id,
            payment_id=payment.id,
            amount_minor=wanted.to_minor_units(),
            currency=wanted.currency,
            status=RefundStatus.PENDING.value,
            reason=reason,
            idempotency_key=idempotency_key,
        )
        session.add(record)
        session.flush()
        if actor is not None:
            detail = {"refund_id": record.id, "amount": str(wanted.amount), "reason": reason}
            audit.record(session, actor, "refund", payment.id, detail)
        request = RefundRequest(
            refund_id=record.id,
            payment_id=payment.id,
            merchant_id=merchant.id,
            processor_reference=payment.processor_reference or "",
            amount=wanted,
            idempotency_key=f"{record.id}:refund",
            full=full,
            reason=reason,
            requested_at=record.created_at,
        )
        return processor, settings, request


def _refund_amount(session: Session, payment: Payment, amount: Money | None) -> tuple[Money, bool]:
    """How much to refund (all that is left when ``amount`` is None), and whether that is all
    of what the payment has not refunded yet.

    :raises RefundNotAllowed: another currency, nothing or not positive, more than what is left.
    """
    left_minor = (
        payment.amount_minor - payment.refunded_minor - _pending_refunds(session, payment.id)
    )
    left = Money.from_minor_units(left_minor, payment.currency)
    wanted = left if amount is None else amount
    if wanted.currency != payment.currency:
        raise RefundNotAllowed(f"the payment is in {payment.currency}")
    if not wanted.is_positive():
        raise RefundNotAllowed(
            "nothing is left to refund" if amount is None else "a refund amount must be positive"
        )
    if wanted > left:
        raise RefundNotAllowed(
            f"at most {left.amount} {left.currency} can be refunded",
            extra={"refundable": str(left.amount)},
        )
    full = wanted == Money.from_minor_units(
        payment.amount_minor - payment.refunded_minor, payment.currency
    )
    return wanted, full


def apply_refund_result(gw: Gateway, refund_id: str, result: RefundResult) -> Refund:
    """Record a processor's answer about a refund, and the payment's new refunded total."""
    with gw.store.write() as session:
        payment_id = session.scalar(select(Refund.payment_id).where(Refund.id == refund_id))
        # Lock the payment first, then read the refund as it is now: a webhook may have settled
        # it while we waited (the webhook path takes the same locks in the same order).
        payment = session.get(Payment, payment_id, with_for_update=True, populate_existing=True)
        assert payment is not None
        record = session.get(Refund, refund_id, with_for_update=True, populate_existing=True)
        assert record is not None
        if result.processor_reference and _anothers(session, record, result.processor_reference):
            log.error(
                "ALERT refund %s: the processor answered with refund %s, which is already "
                "another refund's of payment %s: left pending",
                record.id,
                result.processor_reference,
                payment.id,
            )
            return record
        if result.processor_reference and not record.processor_reference:
            record.processor_reference = result.processor_reference
        if result.outcome is Outcome.SUCCEEDED:
            if lifecycle.set_refund_status(session, gw.plugins, record, RefundStatus.SUCCEEDED):
                lifecycle.refund_succeeded(session, gw.plugins, payment, record)
        elif result.outcome is Outcome.FAILED:
            if result.failure is not None:
                record.failure_code = result.failure.code
                record.failure_message = result.failure.message
            lifecycle.set_refund_status(session, gw.plugins, record, RefundStatus.FAILED)
        return record


def _anothers(session: Session, record: Refund, reference: str) -> bool:
    """Is the processor's refund ``reference`` already another of this payment's refunds? (One
    refund at the processor is never two of ours.)"""
    other = session.scalar(
        select(Refund.id).where(
            Refund.payment_id == record.payment_id,
            Refund.id != record.id,
            Refund.processor_reference == reference,
        )
    )
    return other is not None
