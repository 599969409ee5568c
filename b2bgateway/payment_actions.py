"""What a customer does to one of their payments from the customer page: have the gateway ask
the processor how it stands (on the way back from the processor's page, before the page is
shown), and cancel one they abandoned so its invoices are free again at once.

The processor is called outside any transaction; its answer is applied on the locked row through
:func:`b2bgateway.lifecycle.apply_charge_result`, exactly as a webhook's or reconciliation's
would be (allowed transitions only, outbound events, attempts).
"""

from __future__ import annotations

import enum
import logging

from pydantic import BaseModel

from b2bgateway import lifecycle
from b2bgateway.errors import GatewayError
from b2bgateway.gateway import Gateway
from b2bgateway.interface import (
    ChargeResult,
    Outcome,
    PaymentMethodType,
    PaymentStatus,
    RetrieveRequest,
)
from b2bgateway.plugins import Processor
from b2bgateway.store.models import Payment

__all__ = ["Canceled", "ask_processor", "can_cancel", "cancel_payment"]

log = logging.getLogger(__name__)


class Canceled(enum.Enum):
    """What came of a customer's "Cancelar"."""

    CANCELED = "canceled"  # canceled at the processor and here: its invoices are free
    PAID = "paid"  # it turned out to be paid meanwhile
    NOT_OPEN = "not_open"  # it had already ended (or its outcome is being confirmed)
    CANNOT = "cannot"  # the processor cannot cancel it: it expires at its expires_at
    UNAVAILABLE = "unavailable"  # the processor could not be asked: try again later


def can_cancel(payment: Payment) -> bool:
    """Whether the customer may cancel it: it waits for them (a hosted page, 3-D Secure, a
    transfer or a voucher), not for the processor's answer about a charge already made."""
    status = PaymentStatus(payment.status)
    return status is PaymentStatus.REQUIRES_ACTION or (
        status is PaymentStatus.PROCESSING
        and PaymentMethodType(payment.payment_method).waits_for_funds
    )


def _target(gw: Gateway, payment_id: str) -> tuple[Payment, Processor, BaseModel] | None:
    with gw.store.read() as session:
        payment = session.get(Payment, payment_id)
    if payment is None:
        return None
    merchant = gw.merchants.get(payment.merchant_id)
    settings = None if merchant is None else merchant.settings_for(payment.processor)
    if settings is None:
        return None
    return payment, gw.plugins.processor(payment.processor), settings


def _request(payment: Payment) -> RetrieveRequest:
    return RetrieveRequest(
        payment_id=payment.id,
        merchant_id=payment.merchant_id,
        processor_reference=payment.processor_reference,
        amount=payment.amount,
    )


def _apply(gw: Gateway, payment_id: str, result: ChargeResult) -> str:
    """Apply the processor's answer on the locked row; the payment's status after it."""
    with gw.store.write() as session:
        locked = session.get(Payment, payment_id, with_for_update=True)
        assert locked is not None
        lifecycle.apply_charge_result(session, gw.plugins, locked, result)
        return locked.status


def ask_processor(gw: Gateway, payment_id: str) -> None:
    """If the payment is still open, ask its processor how it stands and record the answer (a
    customer back from the processor's page sees what they just did, not what the webhook has
    not told us yet). A processor that cannot be asked changes nothing: reconciliation will."""
    target = _target(gw, payment_id)
    if target is None:
        return
    payment, processor, settings = target
    if payment.status not in (PaymentStatus.REQUIRES_ACTION, PaymentStatus.PROCESSING):
        return
    try:
        result = processor.retrieve(_request(payment), settings)
    except GatewayError as exc:
        log.warning("payment %s: could not ask the processor: %s", payment.id, exc.code)
        return
    if result.outcome is not Outcome.UNKNOWN:
        _apply(gw, payment.id, result)


def cancel_payment(gw: Gateway, payment_id: str) -> Canceled:
    """Cancel an open payment at its processor, then here: its invoices are payable again at
    once (outbound ``payment.canceled``). A processor that cannot cancel leaves it to expire."""
    target = _target(gw, payment_id)
    if target is None:
        return Canceled.NOT_OPEN
    payment, processor, settings = target
    if not can_cancel(payment):
        return Canceled.NOT_OPEN
    try:
        result = processor.cancel(_request(payment), settings)
    except GatewayError as exc:
        log.warning("payment %s: could not cancel at the processor: %s", payment.id, exc.code)
        return Canceled.UNAVAILABLE
    if result is None:
        return Canceled.CANNOT
    status = PaymentStatus(_apply(gw, payment.id, result))
    if status is PaymentStatus.CANCELED or status is PaymentStatus.FAILED:
        return Canceled.CANCELED
    if status.registers_invoices and status not in (
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.PROCESSING,
    ):
        return Canceled.PAID
    return Canceled.UNAVAILABLE
