"""Chargebacks (contracargos): what a dispute does to a payment and its invoices.

- ``open``: the payment becomes ``disputed`` (it remembers the paid state it left); its invoices
  stay held while the card issuer decides.
- ``won``: the payment returns to the paid state it left.
- ``lost``: the money went back to the customer: the payment stays ``disputed`` with the dispute
  ``lost`` and the amount lost, and its invoices (or order) are released, so they read as unpaid
  again and the merchant's ERP can reopen them.
- ``won`` after ``lost`` (the same dispute reversed: an appeal won, the processor's protection
  reimbursing the merchant): the money is the merchant's again. The payment returns to the paid
  state it left and holds its invoices again if they are still free; if another payment paid
  them meanwhile, it stays as it was, flagged ``overpaid``, and an ALERT says to refund one.

Observers hear ``details["event"]`` ``dispute_opened`` / ``dispute_closed`` (outbound events
``payment.dispute_opened`` / ``payment.dispute_closed``).

Some processors tell a dispute's end only by the payment's new state (Mercado Pago: a mediation
ends when the payment is ``approved`` again, or ``refunded``). Their PAYMENT and REFUND events
carry the closing they would mean; :func:`ends_open_dispute` says when it applies: only to the
payment whose open dispute has that reference.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from b2bgateway import lifecycle
from b2bgateway.answers import EventOutcome
from b2bgateway.errors import EventOutOfOrder
from b2bgateway.interface import Dispute, DisputeStatus, EventKind, PaymentStatus, WebhookEvent
from b2bgateway.plugins import Plugins
from b2bgateway.store.models import Payment, utcnow
from b2bgateway.store.repository import register_allocations, release_allocations

__all__ = ["apply", "ends_open_dispute"]

log = logging.getLogger(__name__)

S = PaymentStatus
#: Paid states a dispute moves to ``disputed`` (and a won one returns to).
HOLDING = frozenset({S.SUCCEEDED, S.PARTIALLY_REFUNDED})


def apply(
    plugins: Plugins, session: Session, payment: Payment, event: WebhookEvent
) -> EventOutcome:
    """Apply a dispute event to the locked payment; the outcome recorded with the event.

    A payment that holds no invoices any more (refunded, or a late success kept closed) records
    its dispute without a status: there is nothing to release, and nothing to take back.

    :raises EventOutOfOrder: a dispute of a payment not known to be paid yet (delivered again
      later, when it can be applied).
    """
    dispute = event.dispute
    if dispute is None:  # a plugin written before disputes had a state: kept for the merchant
        log.warning("payment %s: dispute event %s without its state", payment.id, event.event_id)
        return EventOutcome.RECORDED
    same = dispute.reference is None or dispute.reference == payment.dispute_reference
    if same and payment.dispute_status == DisputeStatus.LOST.value:
        if dispute.status is DisputeStatus.WON:
            return _reversed(plugins, session, payment, dispute, event)
        return EventOutcome.UNCHANGED  # this dispute is closed: a late or repeated notification
    if same and payment.dispute_status == DisputeStatus.WON.value:
        return EventOutcome.UNCHANGED
    current = PaymentStatus(payment.status)
    if payment.dispute_status == DisputeStatus.LOST.value:
        log.error("ALERT payment %s: another dispute after one lost", payment.id)
        return EventOutcome.RECORDED  # its money was already taken back: nothing more to move
    if payment.dispute_status != DisputeStatus.OPEN.value:
        if not (current in HOLDING or _paid_without_hold(payment)):
            raise EventOutOfOrder(f"payment {payment.id} is {payment.status}: not paid yet")
        _open(plugins, session, payment, dispute, event)
    elif dispute.status is DisputeStatus.OPEN:
        return EventOutcome.UNCHANGED
    if dispute.status is not DisputeStatus.OPEN:
        _close(plugins, session, payment, dispute, event)
    return EventOutcome.APPLIED


def ends_open_dispute(payment: Payment, event: WebhookEvent) -> bool:
    """Does this PAYMENT or REFUND event also close the payment's open dispute? Only when it
    carries a won or lost dispute whose reference is the open dispute's: the same event on a
    payment not in that dispute is only what its kind says."""
    dispute = event.dispute
    return (
        event.kind in (EventKind.PAYMENT, EventKind.REFUND)
        and dispute is not None
        and dispute.status is not DisputeStatus.OPEN
        and dispute.reference is not None
        and payment.dispute_status == DisputeStatus.OPEN.value
        and payment.dispute_reference == dispute.reference
    )


def _paid_without_hold(payment: Payment) -> bool:
    """Money was taken, but the payment holds no invoices: refunded, or a late success that
    found its invoices paid again (kept closed, flagged)."""
    return payment.status == S.REFUNDED.value or lifecycle.kept_closed_after_late_success(payment)


def _open(
    plugins: Plugins, session: Session, payment: Payment, dispute: Dispute, event: WebhookEvent
) -> None:
    payment.dispute_status = DisputeStatus.OPEN.value
    payment.dispute_reference = dispute.reference
    payment.dispute_reason = dispute.reason[:128] or None
    payment.dispute_amount_minor = (
        dispute.amount.to_minor_units() if dispute.amount is not None else payment.amount_minor
    )
    payment.dispute_opened_at = event.occurred_at or utcnow()
    payment.dispute_closed_at = None
    log.error(
        "ALERT payment %s: dispute %s opened (%s); answer it at the processor",
        payment.id,
        dispute.reference,
        dispute.reason,
    )
    details = {"event": "dispute_opened"}
    if PaymentStatus(payment.status) in HOLDING:
        payment.status_before_dispute = payment.status
        lifecycle.transition(session, plugins, payment, S.DISPUTED, details)
    else:
        lifecycle.notify(session, plugins, payment, details)


def _close(
    plugins: Plugins, session: Session, payment: Payment, dispute: Dispute, event: WebhookEvent
) -> None:
    payment.dispute_status = dispute.status.value
    payment.dispute_closed_at = event.occurred_at or utcnow()
    if dispute.amount is not None:
        payment.dispute_amount_minor = dispute.amount.to_minor_units()
    details = {"event": "dispute_closed", "dispute_status": dispute.status.value}
    if payment.status != S.DISPUTED.value:  # it held nothing: the dispute is only recorded
        lifecycle.notify(session, plugins, payment, details)
        return
    if dispute.status is DisputeStatus.WON:
        back = PaymentStatus(payment.status_before_dispute or S.SUCCEEDED.value)
        lifecycle.transition(session, plugins, payment, back, details)
        return
    release_allocations(session, payment)
    log.error(
        "ALERT payment %s: dispute %s lost (%s): its invoices are open again",
        payment.id,
        dispute.reference,
        payment.dispute_amount_minor,
    )
    lifecycle.notify(session, plugins, payment, details)


def _reversed(
    plugins: Plugins, session: Session, payment: Payment, dispute: Dispute, event: WebhookEvent
) -> EventOutcome:
    """A lost dispute won after all: hold the invoices again if nobody paid them meanwhile."""
    details = {"event": "dispute_closed", "dispute_status": DisputeStatus.WON.value}
    if payment.status == S.DISPUTED.value and lifecycle.free_again(session, payment):
        try:  # a checkout racing for the same invoices: the unique indexes decide
            with session.begin_nested():
                payment.dispute_status = DisputeStatus.WON.value
                payment.dispute_closed_at = event.occurred_at or utcnow()
                register_allocations(session, payment)
                back = PaymentStatus(payment.status_before_dispute or S.SUCCEEDED.value)
                lifecycle.transition(session, plugins, payment, back, details)
        except IntegrityError:
            session.refresh(payment)
        else:
            log.error(
                "ALERT payment %s: dispute %s lost, then won: paid again, its invoices held "
                "again; tell the ERP",
                payment.id,
                dispute.reference,
            )
            return EventOutcome.APPLIED
    if payment.status != S.DISPUTED.value:  # it held nothing: only the dispute's outcome
        payment.dispute_status = DisputeStatus.WON.value
        payment.dispute_closed_at = event.occurred_at or utcnow()
    else:
        payment.add_flag("overpaid")
    lifecycle.notify(session, plugins, payment, details)
    log.error(
        "ALERT payment %s: dispute %s lost, then won, but its invoices were paid again "
        "meanwhile: overpaid, refund one at the processor",
        payment.id,
        dispute.reference,
    )
    return EventOutcome.APPLIED
