"""Chargebacks and mediations as the core's disputes.

- A **chargeback** (topic ``chargebacks``) is re-fetched (``GET /v1/chargebacks/{id}``): its
  ``status`` ``won`` and ``lost`` close the dispute so, anything else (``new``, ``in_review``...)
  keeps it open; its id is the dispute's reference, ``reason_id`` (else ``reason``) its reason.
- A **payment** re-fetched from any notification says the same in its own status:
  ``charged_back`` with ``status_detail`` ``reimbursed`` (Mercado Pago covered it: won),
  ``settled`` (the money went back to the buyer: lost), else open. Without the chargeback's id,
  such a dispute has no reference.
- A **mediation**: ``in_mediation`` (the buyer opened a claim, the money is held) is an open
  dispute whose reference is ``mediation:<payment id>`` (the payment names no claim id). Mercado
  Pago ends it by the payment's status alone: ``approved`` again (the seller won) or
  ``refunded`` (buyer protection gave the buyer the money back: lost). The payment's next event
  (a payment event, or the refund's) therefore carries that closing (:func:`after_mediation`),
  under the same reference; the core applies it only to a payment whose open dispute is that
  mediation, so on any other payment it is only the payment or refund event it always was.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from b2bgateway import Dispute, DisputeStatus, Money

__all__ = [
    "AFTER_MEDIATION",
    "CHARGEBACK_STATUS",
    "after_mediation",
    "chargeback_payment",
    "from_chargeback",
    "from_payment",
    "mediation_reference",
]

#: A chargeback's ``status`` -> the dispute's; any other status is an open dispute.
CHARGEBACK_STATUS = {"won": DisputeStatus.WON, "lost": DisputeStatus.LOST}
#: ``status_detail`` of a ``charged_back`` payment -> the dispute's; any other is open.
CHARGED_BACK_DETAIL = {"reimbursed": DisputeStatus.WON, "settled": DisputeStatus.LOST}
#: A payment's ``status`` once a mediation ended -> how it ended.
AFTER_MEDIATION = {"approved": DisputeStatus.WON, "refunded": DisputeStatus.LOST}


def _money(value: Any, currency: Any) -> Money | None:
    if value is None or not isinstance(currency, str):
        return None
    return Money(value, currency)


def from_chargeback(
    chargeback: Mapping[str, Any], payment: Mapping[str, Any] | None = None
) -> Dispute | None:
    """The dispute a chargeback is now. The SDK's ``ChargebackResponse`` has ``status``,
    ``payment_id`` and ``currency_id``; the API reference's chargeback resource has ``payments``
    (the payments' ids) and ``currency`` and no ``status``: either is read.

    Without a status, the chargeback cannot say whether it is still open: its ``payment``,
    re-fetched, says it (:func:`from_payment`: ``charged_back`` ``reimbursed`` won, ``settled``
    lost, else open), as the payment topic does. A won or lost one then names no reference
    (the payment's notification may have closed it already, without one: the same dispute, not
    a new one to open); a payment that tells of no dispute gives None (the event is recorded,
    the payment untouched)."""
    reason = chargeback.get("reason_id") or chargeback.get("reason") or ""
    currency = chargeback.get("currency_id") or chargeback.get("currency")
    amount = _money(chargeback.get("amount"), currency)
    reference: str | None = str(chargeback["id"])
    if chargeback.get("status"):
        status = CHARGEBACK_STATUS.get(str(chargeback["status"]), DisputeStatus.OPEN)
    else:
        told = None if payment is None else from_payment(payment)
        if told is None or told.reason != "chargeback":
            return None
        status = told.status
        if status is not DisputeStatus.OPEN:
            reference = None
    return Dispute(status=status, amount=amount, reason=str(reason), reference=reference)


def from_payment(payment: Mapping[str, Any]) -> Dispute | None:
    """The dispute a payment's status tells of (None: not disputed)."""
    status = str(payment.get("status") or "")
    detail = str(payment.get("status_detail") or "")
    if status == "charged_back":
        return Dispute(
            status=CHARGED_BACK_DETAIL.get(detail, DisputeStatus.OPEN), reason="chargeback"
        )
    if status == "in_mediation":
        return Dispute(
            status=DisputeStatus.OPEN, reason="mediation", reference=mediation_reference(payment)
        )
    return None


def mediation_reference(payment: Mapping[str, Any]) -> str:
    """The reference of a mediation on this payment, the same when it opens and when it ends."""
    return f"mediation:{payment['id']}"


def after_mediation(payment: Mapping[str, Any]) -> Dispute | None:
    """How a mediation on this payment ended, were it in one: won when ``approved``, lost (the
    amount refunded) when ``refunded``; None in any other status."""
    status = AFTER_MEDIATION.get(str(payment.get("status") or ""))
    if status is None:
        return None
    amount = None
    if status is DisputeStatus.LOST:
        amount = _money(payment.get("transaction_amount_refunded"), payment.get("currency_id"))
    return Dispute(
        status=status, amount=amount, reason="mediation", reference=mediation_reference(payment)
    )


def chargeback_payment(chargeback: Mapping[str, Any]) -> Any:
    """The payment a chargeback is about: ``payment_id`` (the SDK's type), else the first of
    ``payments`` (the API reference's resource); None if it names none. A notification is one
    event about one payment (the core's ``WebhookEvent``): of several listed, only the first
    is disputed (see the README)."""
    payment = chargeback.get("payment_id")
    payments = chargeback.get("payments")
    if payment is None and isinstance(payments, list) and payments:
        first = payments[0]
        payment = first.get("id") if isinstance(first, Mapping) else first
    return payment
