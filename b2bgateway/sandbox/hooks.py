"""The sandbox's hook implementations: the only module with ``@hookimpl``.

Each implementation maps the request, asks the "processor" (the sandbox ledger) and maps its
answer to a result, exactly as a real plugin maps a request, calls its client and maps the
response. :data:`STATUS_MAP` and :data:`FAILURES` are that mapping.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from b2bgateway.errors import (
    InvalidAmount,
    ProcessorPaymentNotFound,
    ProcessorUnavailable,
    WebhookMalformed,
)
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    Capabilities,
    ChargeRequest,
    ChargeResult,
    EventKind,
    Failure,
    NextAction,
    Outcome,
    ProcessorInfo,
    RefundRequest,
    RefundResult,
    RetrieveRequest,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.money import Money
from b2bgateway.sandbox.delivery import deliver_in_background
from b2bgateway.sandbox.events import EventBody, EventData
from b2bgateway.sandbox.ledger import LOST_ANSWER_TOKEN, Charge, LedgerRefusal, open_ledger
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.sandbox.signing import HEADER, verify

#: The ledger's charge statuses as outcomes.
STATUS_MAP: dict[str, Outcome] = {
    "requires_action": Outcome.PENDING,
    "succeeded": Outcome.SUCCEEDED,
    "failed": Outcome.FAILED,
    "canceled": Outcome.FAILED,
}
#: Failure codes: (message for the portal's customer, the processor's own code).
FAILURES: dict[str, tuple[str, str]] = {
    "card_declined": ("La tarjeta fue rechazada.", "card_declined"),
    "insufficient_funds": ("La tarjeta no tiene fondos suficientes.", "card_declined"),
    "canceled": ("El pago se canceló en la página de pago.", "canceled"),
    "invalid_payment_method": ("El método de pago no es válido.", "invalid_token"),
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
#: Webhook event types the gateway acts on; any other is acknowledged as ignored.
EVENT_KINDS: dict[str, EventKind] = {
    "charge.succeeded": EventKind.PAYMENT,
    "charge.failed": EventKind.PAYMENT,
    "charge.canceled": EventKind.PAYMENT,
    "refund.succeeded": EventKind.REFUND,
}
CAPABILITIES = Capabilities(
    currencies=frozenset({"MXN", "USD"}),
    token_charge=True,
    hosted_checkout=True,
    partial_refund=True,
    three_d_secure=True,
    requires_webhook_secret=True,
)


def _failure(code: str, processor_message: str | None = None) -> Failure:
    message, processor_code = FAILURES.get(code, (processor_message or code, code))
    return Failure(code, message, processor_code, processor_message)


def _result(charge: Charge) -> ChargeResult:
    outcome = STATUS_MAP[charge.status]
    action = None
    if outcome is Outcome.PENDING and charge.action_url:
        action = NextAction(type="redirect", url=charge.action_url)
    return ChargeResult(
        outcome=outcome,
        processor_reference=charge.id,
        amount=charge.amount,
        next_action=action,
        failure=_failure(charge.failure_code) if charge.failure_code else None,
        refunded=charge.refunded,
        processor_status=charge.status,
    )


@contextmanager
def _processor_call(settings: SandboxSettings) -> Iterator[None]:
    # Simulated latency first, like the network round trip of a real processor.
    if settings.latency_ms:
        time.sleep(settings.latency_ms / 1000)
    try:
        yield
    except sqlite3.Error as exc:
        # A locked or unreadable ledger is a processor that cannot be reached; every write is
        # idempotent by key, so the core may retry.
        raise ProcessorUnavailable("the sandbox ledger is unavailable") from exc


@hookimpl
def b2bgateway_processor_info() -> ProcessorInfo:
    """The sandbox: offline, every capability, settings :class:`SandboxSettings`."""
    return ProcessorInfo(
        display_name="Sandbox (offline)", settings_model=SandboxSettings, capabilities=CAPABILITIES
    )


@hookimpl
def b2bgateway_create_charge(request: ChargeRequest, settings: SandboxSettings) -> ChargeResult:
    """Charge with a test token, or start the hosted page; the token decides the outcome."""
    with _processor_call(settings):
        try:
            charge, created = open_ledger(settings).create_charge(
                merchant_id=request.merchant_id,
                idempotency_key=request.idempotency_key,
                payment_id=request.payment_id,
                amount=request.amount,
                token=request.token,
                return_url=request.return_url,
                webhook_url=request.webhook_url,
                gateway_url=request.gateway_url,
            )
        except LedgerRefusal as refusal:
            return ChargeResult(Outcome.FAILED, failure=_failure(refusal.code, refusal.message))
    if created and charge.token == LOST_ANSWER_TOKEN:
        # The sandbox charged, but the answer is "lost" (a read timeout after sending): the
        # core must keep the payment open and reconcile it by retrieving with our payment id.
        return ChargeResult(Outcome.UNKNOWN)
    return _result(charge)


@hookimpl
def b2bgateway_retrieve_payment(
    request: RetrieveRequest, settings: SandboxSettings
) -> ChargeResult:
    """The charge as the ledger has it now, by reference or else by our payment id."""
    with _processor_call(settings):
        ledger = open_ledger(settings)
        if request.processor_reference:
            charge = ledger.get_charge(request.merchant_id, request.processor_reference)
        else:
            charge = ledger.find_charge(request.merchant_id, request.payment_id)
    if charge is None:
        raise ProcessorPaymentNotFound(
            f"the sandbox has no charge for payment {request.payment_id}"
        )
    return _result(charge)


@hookimpl
def b2bgateway_cancel_payment(request: RetrieveRequest, settings: SandboxSettings) -> ChargeResult:
    """Cancel an unfinished charge (as if the person left the page); a final one is unchanged."""
    with _processor_call(settings):
        ledger = open_ledger(settings)
        if request.processor_reference:
            charge = ledger.get_charge(request.merchant_id, request.processor_reference)
        else:
            charge = ledger.find_charge(request.merchant_id, request.payment_id)
        if charge is None:
            raise ProcessorPaymentNotFound(
                f"the sandbox has no charge for payment {request.payment_id}"
            )
        if charge.status == "requires_action":
            charge = ledger.complete_charge(request.merchant_id, charge.id, "cancel")
            deliver_in_background(settings, request.merchant_id, charge_id=charge.id)
    return _result(charge)


@hookimpl
def b2bgateway_refund(request: RefundRequest, settings: SandboxSettings) -> RefundResult:
    """Refund part or all of a succeeded charge; its ``refund.succeeded`` webhook follows."""
    with _processor_call(settings):
        try:
            refund = open_ledger(settings).refund(
                request.merchant_id,
                request.processor_reference,
                refund_id=request.refund_id,
                idempotency_key=request.idempotency_key,
                amount=request.amount,
            )
        except LedgerRefusal as refusal:
            return RefundResult(Outcome.FAILED, failure=_failure(refusal.code, refusal.message))
    deliver_in_background(settings, request.merchant_id, charge_id=refund.charge_id)
    return RefundResult(Outcome.SUCCEEDED, processor_reference=refund.id)


@hookimpl
def b2bgateway_retrieve_refund(request: RefundRequest, settings: SandboxSettings) -> RefundResult:
    """The refund the gateway asked for, by its own id; none means it was never made."""
    with _processor_call(settings):
        refund = open_ledger(settings).find_refund(request.merchant_id, request.refund_id)
    if refund is None:
        return RefundResult(
            Outcome.FAILED, failure=_failure("refund_not_found", "the sandbox made no such refund")
        )
    return RefundResult(Outcome.SUCCEEDED, processor_reference=refund.id)


def _malformed(detail: str) -> WebhookMalformed:
    return WebhookMalformed(detail)


@hookimpl
def b2bgateway_parse_webhook(request: WebhookRequest, settings: SandboxSettings) -> WebhookEvent:
    """Verify the signature over the raw body, then read the event the ledger wrote."""
    verify(request.headers.get(HEADER.lower()), request.body, settings.webhook_secret)
    try:
        body = EventBody.model_validate_json(request.body)
    except ValidationError:
        raise _malformed("the body is not a sandbox event") from None
    kind = EVENT_KINDS.get(body.type)
    if kind is None:
        return WebhookEvent(body.id, EventKind.IGNORED, body.type, occurred_at=body.created)
    data = body.data
    if not isinstance(data, EventData) or data.status not in STATUS_MAP:
        raise _malformed(f"the {body.type} event has no valid charge data")
    if kind is EventKind.REFUND and data.refund is None:
        raise _malformed("the refund event names no refund")
    try:
        amount = Money(data.amount, data.currency)
        refunded = Money(data.refunded, data.currency)
        refund_amount = Money(data.refund.amount, data.currency) if data.refund else None
    except InvalidAmount:
        raise _malformed("the event's amounts are not valid money") from None
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
    return WebhookEvent(
        event_id=body.id,
        kind=kind,
        event_type=body.type,
        payment_id=data.payment_id,
        processor_reference=data.charge,
        outcome=STATUS_MAP[data.status],
        amount=amount,
        failure=_failure(data.failure_code) if data.failure_code else None,
        refunded=refunded,
        occurred_at=body.created,
    )
