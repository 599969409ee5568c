"""The built-in observer that turns status changes into outbound events (plugin ``notifications``).

Event types: ``payment.<status>`` with the payment as it now stands, and ``refund.<status>``
with the refund; both ordered per payment. News beyond a status comes as its own type
(``b2bgateway_payment_updated``): ``payment.late_success``, ``payment.expired``,
``payment.dispute_opened``, ``payment.dispute_closed``, ``payment.amount_mismatch``,
``payment.overpaid``, ``payment.refund_recorded``.
"""

from __future__ import annotations

from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    Outbox,
    PaymentStatusChanged,
    PaymentUpdated,
    RefundStatusChanged,
)


@hookimpl
def b2bgateway_payment_status_changed(event: PaymentStatusChanged, outbox: Outbox) -> None:
    outbox.emit(
        f"payment.{event.status.value}",
        event.payment_id,
        {
            "object": dict(event.payment),
            "previous_status": None if event.previous is None else event.previous.value,
        },
    )


@hookimpl
def b2bgateway_payment_updated(event: PaymentUpdated, outbox: Outbox) -> None:
    outbox.emit(f"payment.{event.event}", event.payment_id, {"object": dict(event.payment)})


@hookimpl
def b2bgateway_refund_status_changed(event: RefundStatusChanged, outbox: Outbox) -> None:
    outbox.emit(
        f"refund.{event.status.value}",
        event.payment_id,
        {
            "object": dict(event.refund),
            "previous_status": None if event.previous is None else event.previous.value,
        },
    )
