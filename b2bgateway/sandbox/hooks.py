"""The sandbox's hook implementations: the only module with ``@hookimpl``.

Each implementation maps the request, asks the "processor" (the sandbox ledger) and maps its
answer to a result, exactly as a real plugin maps a request, calls its client and maps the
response; :mod:`~b2bgateway.sandbox.mapping` is that mapping.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pydantic import ValidationError

from b2bgateway.errors import (
    ProcessorPaymentNotFound,
    ProcessorUnavailable,
    WebhookMalformed,
)
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    INSTALLMENT_COUNTS,
    Capabilities,
    ChargeRequest,
    ChargeResult,
    Outcome,
    ProcessorInfo,
    RefundRequest,
    RefundResult,
    RetrieveRequest,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.sandbox.delivery import deliver_in_background
from b2bgateway.sandbox.events import EventBody
from b2bgateway.sandbox.ledger import LOST_ANSWER_TOKEN, LedgerRefusal, open_ledger
from b2bgateway.sandbox.mapping import (
    EVENT_KINDS,
    EVENT_TYPES,
    FAILURES,
    STATUS_MAP,
    charge_result,
    failure,
    webhook_event,
)
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.sandbox.signing import HEADER, verify

__all__ = ["CAPABILITIES", "EVENT_KINDS", "EVENT_TYPES", "FAILURES", "STATUS_MAP"]

CAPABILITIES = Capabilities(
    currencies=frozenset({"MXN", "USD"}),
    token_charge=True,
    hosted_checkout=True,
    partial_refund=True,
    three_d_secure=True,
    requires_webhook_secret=True,
    payment_methods=frozenset({"card", "bank_transfer", "cash"}),
    installments=INSTALLMENT_COUNTS,
)
_failure = failure
_result = charge_result


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
                payment_method=request.payment_method,
                installments=request.installments,
                expires_at=request.expires_at,
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
def b2bgateway_cancel_payment(
    request: RetrieveRequest, settings: SandboxSettings
) -> ChargeResult | None:
    """Cancel an unfinished charge (as if the person left the page, or the voucher was voided);
    a final one is unchanged. With ``can_cancel = false`` the sandbox plays a processor that
    cannot cancel: None, and the core takes its path for those."""
    if not settings.can_cancel:
        return None
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
            try:
                charge = ledger.complete_charge(request.merchant_id, charge.id, "cancel")
            except LedgerRefusal:
                # Paid, expired or canceled since it was read: answer with how it ended.
                charge = ledger.get_charge(request.merchant_id, charge.id) or charge
            else:
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


@hookimpl
def b2bgateway_parse_webhook(request: WebhookRequest, settings: SandboxSettings) -> WebhookEvent:
    """Verify the signature over the raw body, then read the event the ledger wrote."""
    verify(request.headers.get(HEADER.lower()), request.body, settings.webhook_secret)
    try:
        body = EventBody.model_validate_json(request.body)
    except ValidationError:
        raise WebhookMalformed("the body is not a sandbox event") from None
    return webhook_event(body)
