"""How the sandbox's answers become the contract's types: the part of a plugin that maps.

:data:`STATUS_MAP`, :data:`FAILURES` and :data:`EVENT_TYPES` are the tables; :func:`charge_result`
maps a charge (from creating or retrieving it) and :func:`webhook_event` a verified event body.
A real plugin has the same functions over its processor's JSON.
"""

from __future__ import annotations

from b2bgateway.errors import InvalidAmount, WebhookMalformed
from b2bgateway.interface import (
    BankTransferInstructions,
    CashVoucher,
    ChargeResult,
    Dispute,
    DisputeStatus,
    EventKind,
    Failure,
    MethodDetails,
    NextAction,
    Outcome,
    WebhookEvent,
)
from b2bgateway.money import Money
from b2bgateway.sandbox.events import EventBody, EventData, EventMethodDetails, method_details
from b2bgateway.sandbox.records import Charge

__all__ = [
    "BANK",
    "EVENT_KINDS",
    "EVENT_TYPES",
    "FAILURES",
    "STATUS_MAP",
    "charge_result",
    "failure",
    "next_action",
    "webhook_event",
]

#: The bank of the CLABEs the sandbox hands out.
BANK = "STP"
#: The ledger's charge statuses as outcomes.
STATUS_MAP: dict[str, Outcome] = {
    "requires_action": Outcome.PENDING,
    "succeeded": Outcome.SUCCEEDED,
    "failed": Outcome.FAILED,
    "canceled": Outcome.FAILED,
    "expired": Outcome.FAILED,
}
#: Failure codes: (message for the portal's customer, the processor's own code).
FAILURES: dict[str, tuple[str, str]] = {
    "card_declined": ("La tarjeta fue rechazada.", "card_declined"),
    "insufficient_funds": ("La tarjeta no tiene fondos suficientes.", "card_declined"),
    "canceled": ("El pago se canceló en la página de pago.", "canceled"),
    "expired": ("El plazo para pagar venció.", "expired"),
    "invalid_payment_method": ("El método de pago no es válido.", "invalid_token"),
    "installments_not_available": (
        "Los meses sin intereses no están disponibles para esta tarjeta.",
        "installments_not_available",
    ),
    "currency_not_supported": ("El procesador no acepta esa moneda.", "currency_not_supported"),
    "idempotency_mismatch": (
        "La clave de idempotencia ya se usó con otros datos.",
        "idempotency_mismatch",
    ),
    "amount_exceeds_refundable": (
        "El monto excede lo que queda por reembolsar.",
        "amount_exceeds_refundable",
    ),
    "charge_not_refundable": ("Solo se reembolsan cargos exitosos.", "charge_not_refundable"),
}
#: Webhook event types the gateway acts on: (kind, outcome when not the charge status's, final).
#: Any other type is acknowledged as ignored.
EVENT_TYPES: dict[str, tuple[EventKind, Outcome | None, bool]] = {
    "charge.succeeded": (EventKind.PAYMENT, None, True),
    "charge.failed": (EventKind.PAYMENT, None, True),
    "charge.canceled": (EventKind.PAYMENT, None, True),
    "charge.expired": (EventKind.PAYMENT, None, True),
    # One declined card on the page: the charge stays open for another (not final).
    "charge.attempt_failed": (EventKind.PAYMENT, Outcome.FAILED, False),
    # A transfer short of the amount: still waiting, with what was received so far.
    "charge.partially_funded": (EventKind.PAYMENT, Outcome.PENDING, True),
    "charge.dispute.created": (EventKind.DISPUTE, None, True),
    "charge.dispute.closed": (EventKind.DISPUTE, None, True),
    "refund.succeeded": (EventKind.REFUND, None, True),
}
#: Event types about one attempt: their ``attempt`` is the attempt's reference.
_ATTEMPT_TYPES = frozenset({"charge.succeeded", "charge.attempt_failed"})
#: The kind of each event type (:data:`EVENT_TYPES` without the rest).
EVENT_KINDS: dict[str, EventKind] = {name: kind for name, (kind, _, _) in EVENT_TYPES.items()}


def failure(code: str, processor_message: str | None = None) -> Failure:
    """Our :class:`Failure` for a sandbox failure code."""
    message, processor_code = FAILURES.get(code, (processor_message or code, code))
    return Failure(code, message, processor_code, processor_message)


def next_action(charge: Charge) -> NextAction | None:
    """What the customer must do for a waiting charge: send a transfer, pay a voucher, or finish
    on the sandbox page."""
    if charge.method == "bank_transfer" and charge.clabe:
        instructions = BankTransferInstructions(
            clabe=charge.clabe,
            bank=BANK,
            beneficiary=charge.beneficiary or charge.merchant_id,
            amount=charge.amount,
            reference=charge.payment_reference,
            expires_at=charge.expires_at,
            hosted_instructions_url=charge.action_url,
        )
        return NextAction(type="display_bank_transfer_instructions", bank_transfer=instructions)
    if charge.method == "cash" and charge.payment_reference:
        voucher = CashVoucher(
            reference=charge.payment_reference,
            amount=charge.amount,
            barcode_url=f"{charge.voucher_url}/barcode" if charge.voucher_url else None,
            voucher_url=charge.voucher_url,
            expires_at=charge.expires_at,
        )
        return NextAction(type="display_cash_voucher", cash_voucher=voucher)
    if charge.action_url:
        return NextAction(type="redirect", url=charge.action_url)
    return None


def details(event_details: EventMethodDetails | None) -> MethodDetails | None:
    """The contract's :class:`MethodDetails` from their JSON form."""
    if event_details is None:
        return None
    return MethodDetails(**event_details.model_dump())


def charge_result(charge: Charge) -> ChargeResult:
    """The charge as the core sees it. A charge whose last attempt was declined is still
    pending (the page stays open); ``attempt_reference`` names the attempt that paid."""
    outcome = STATUS_MAP[charge.status]
    return ChargeResult(
        outcome=outcome,
        processor_reference=charge.id,
        amount=charge.amount,
        next_action=next_action(charge) if outcome is Outcome.PENDING else None,
        failure=failure(charge.failure_code) if charge.failure_code else None,
        refunded=charge.refunded,
        processor_status=charge.status,
        attempt_reference=charge.attempt_id if outcome is Outcome.SUCCEEDED else None,
        method_details=details(method_details(charge)),
        received=charge.received,
        expires_at=charge.expires_at,
    )


def _malformed(detail: str) -> WebhookMalformed:
    return WebhookMalformed(detail)


def _dispute_event(body: EventBody, data: EventData, amount: Money) -> WebhookEvent:
    if data.dispute is None:
        raise _malformed(f"the {body.type} event has no dispute")
    try:
        disputed = Money(data.dispute.amount, data.currency)
    except InvalidAmount:
        raise _malformed("the dispute's amount is not valid money") from None
    return WebhookEvent(
        event_id=body.id,
        kind=EventKind.DISPUTE,
        event_type=body.type,
        payment_id=data.payment_id,
        processor_reference=data.charge,
        amount=amount,
        occurred_at=body.created,
        dispute=Dispute(
            status=DisputeStatus(data.dispute.status),
            amount=disputed,
            reason=data.dispute.reason,
            reference=data.dispute.id,
        ),
    )


def webhook_event(body: EventBody) -> WebhookEvent:
    """The verified ``body`` as a :class:`WebhookEvent`.

    :raises WebhookMalformed: a known type whose data is not what it must be.
    """
    known = EVENT_TYPES.get(body.type)
    if known is None:
        return WebhookEvent(body.id, EventKind.IGNORED, body.type, occurred_at=body.created)
    kind, outcome, final = known
    data = body.data
    if not isinstance(data, EventData) or data.status not in STATUS_MAP:
        raise _malformed(f"the {body.type} event has no valid charge data")
    if kind is EventKind.REFUND and data.refund is None:
        raise _malformed("the refund event names no refund")
    try:
        amount = Money(data.amount, data.currency)
        refunded = Money(data.refunded, data.currency)
        received = None if data.received is None else Money(data.received, data.currency)
        refund_amount = Money(data.refund.amount, data.currency) if data.refund else None
    except InvalidAmount:
        raise _malformed("the event's amounts are not valid money") from None
    if kind is EventKind.DISPUTE:
        return _dispute_event(body, data, amount)
    if kind is EventKind.REFUND and data.refund is not None:
        return WebhookEvent(
            event_id=body.id,
            kind=kind,
            event_type=body.type,
            payment_id=data.payment_id,
            processor_reference=data.charge,
            outcome=Outcome.SUCCEEDED,
            amount=refund_amount,  # the refund's own amount; ``refunded`` is the charge's total
            refund_id=data.refund.refund_id,
            refund_reference=data.refund.id,
            refunded=refunded,
            occurred_at=body.created,
        )
    outcome = outcome or STATUS_MAP[data.status]
    return WebhookEvent(
        event_id=body.id,
        kind=kind,
        event_type=body.type,
        payment_id=data.payment_id,
        processor_reference=data.charge,
        outcome=outcome,
        amount=amount,
        failure=failure(data.failure_code) if data.failure_code else None,
        refunded=refunded,
        occurred_at=body.created,
        final=final,
        attempt_reference=data.attempt if body.type in _ATTEMPT_TYPES else None,
        method_details=details(data.method_details),
        received=received,
    )
