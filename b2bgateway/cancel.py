"""Cancel a payment that still waits for the customer (a 3-D Secure page left open, a SPEI
transfer or an OXXO voucher not paid yet), at a person's request: the processor cancels it
first (so it cannot be paid there afterwards), then its answer is applied like any other and the
invoices are free again. A processor that cannot cancel is said so; nothing changes."""

from __future__ import annotations

from sqlalchemy.orm import Session

from b2bgateway import audit, history, lifecycle
from b2bgateway.audit import Actor
from b2bgateway.errors import GatewayError, ProcessorNotConfigured, RefundNotAllowed
from b2bgateway.gateway import Gateway
from b2bgateway.interface import RetrieveRequest
from b2bgateway.service import get_payment
from b2bgateway.settings import MerchantConfig
from b2bgateway.store.models import Payment

__all__ = ["cancel_waiting"]


def _refuse(detail: str) -> RefundNotAllowed:
    return RefundNotAllowed(detail, code="cancel_not_allowed")


def cancel_waiting(
    gw: Gateway, merchant: MerchantConfig, payment_id: str, actor: Actor | None = None
) -> Payment:
    """Cancel the payment at its processor and record the answer (``canceled``; or what it
    turned out to be, e.g. ``succeeded`` when the customer paid a moment before).

    :raises NotFound: not this merchant's payment.
    :raises RefundNotAllowed: ``cancel_not_allowed``: not waiting, or the processor cannot
        cancel (the payment then ends at its own expiry).
    """
    with gw.store.read() as session:
        payment = get_payment(session, merchant.id, payment_id)
        if payment.status not in {s.value for s in lifecycle.OPEN}:
            raise _refuse(f"a {payment.status} payment is not waiting for the customer")
        request = RetrieveRequest(
            payment_id=payment.id,
            merchant_id=merchant.id,
            processor_reference=payment.processor_reference,
            amount=payment.amount,
        )
    processor = gw.plugins.processor(payment.processor)
    settings = merchant.settings_for(processor.name)
    if settings is None:
        raise ProcessorNotConfigured(f"no settings for {processor.name}, which took this payment")
    try:
        result = processor.cancel(request, settings)
    except GatewayError as exc:
        raise _refuse(f"{processor.name} could not cancel it now: {exc.detail}") from None
    if result is None:
        raise _refuse(f"{processor.name} cannot cancel; the payment ends at its expiry")
    with gw.store.write() as session, history.acting(actor):
        locked = _locked(session, payment_id)
        lifecycle.apply_charge_result(session, gw.plugins, locked, result)
        if actor is not None:
            audit.record(session, actor, "cancel", locked.id, {"status": locked.status})
        return locked


def _locked(session: Session, payment_id: str) -> Payment:
    found = session.get(Payment, payment_id, with_for_update=True)
    assert found is not None
    return found
