"""The plugin contract: pluggy hook specifications of the ``b2bgateway`` project.

Processor hooks are ``firstresult`` and the core calls them **only on the merchant's configured
processor** (the plugin registered under the entry-point name the merchant put in ``processor``).
Each takes one request object from :mod:`b2bgateway.interface` and ``settings``, the plugin's own
settings model validated from the merchant's ``[merchants.X.processors.NAME]`` table.

Observer hooks are called on every plugin and return nothing.

The contract grows only by adding arguments (pluggy lets an implementation accept fewer
arguments than the spec) and fields with defaults; names are never changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pydantic import BaseModel

    from b2bgateway.interface import (
        ChargeRequest,
        ChargeResult,
        Outbox,
        PaymentStatusChanged,
        PaymentUpdated,
        ProcessorInfo,
        RefundRequest,
        RefundResult,
        RefundStatusChanged,
        RetrieveRequest,
        WebhookEvent,
        WebhookRequest,
    )
    from b2bgateway.rules import InvoiceContext, OrderContext

PROJECT = "b2bgateway"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- processor hooks (firstresult, called on the configured processor only) ---------------------


@hookspec(firstresult=True)
def b2bgateway_processor_info() -> ProcessorInfo:
    """Describe this processor: display name, settings model and capabilities.

    A plugin that implements this hook is a processor; its name is the name it is registered
    under (its entry-point name). Called at start-up for every installed processor.

    :return: a :class:`~b2bgateway.interface.ProcessorInfo`.
    :firstresult: the core calls each processor on its own, so the first (only) answer is used.
      Returning None is a contract error.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def b2bgateway_create_charge(request: ChargeRequest, settings: BaseModel) -> ChargeResult:
    """Charge a payment, or start the processor's hosted / redirect flow when there is no token.

    The payment row is already committed. Send ``request.payment_id`` as the processor's order id
    or external reference and ``request.idempotency_key`` as its idempotency key, so that a
    retried call never charges twice.

    Charge ``request.payment_method`` (``card``, ``bank_transfer`` or ``cash``, always one this
    processor's capabilities declare), in ``request.installments`` MSI when given, and send
    ``request.expires_at`` as the processor's own expiry where it takes one.

    :param request: what to charge; ``request.token`` is a processor token made in the browser
      (never a card number), or None for the hosted flow (and for transfers and vouchers).
    :param settings: this merchant's validated settings for this processor.
    :return: a :class:`~b2bgateway.interface.ChargeResult`. A declined card is a result with
      ``Outcome.FAILED`` and a :class:`~b2bgateway.interface.Failure`, not an exception. A timeout
      after the request was sent is ``Outcome.UNKNOWN``: the core reconciles it later. A SPEI
      transfer or a cash voucher is ``Outcome.PENDING`` with a
      ``display_bank_transfer_instructions`` / ``display_cash_voucher`` next action. A paid
      charge reports its ``method_details`` (card brand, funding, authorization, installments).
      Other ids the processor gives the payment (a session's payment intent, its charge) go in
      ``references``: the core keeps them and finds the payment by any of them later. A plugin
      that needs the customer at the processor (a customer object for SPEI) reads
      ``request.processor_customer`` and, when it made a new one, returns its id in
      ``processor_customer``: the core remembers it for this merchant, processor and customer.
    :raises ProcessorUnavailable: nothing was sent (connection refused, DNS), safe to retry.
    :raises ProcessorMisconfigured: the processor refused our credentials.
    :firstresult: only the configured processor is called; None is a contract error.

    .. versionadded:: 0.1
    .. versionchanged:: 0.2
       ``request.payment_method``, ``installments`` and ``expires_at``; results may carry
       ``final``, ``attempt_reference``, ``method_details``, ``received`` and ``expires_at``.
    .. versionchanged:: 0.3
       ``request.processor_customer``; results may carry ``references`` and
       ``processor_customer``.
    """


@hookspec(firstresult=True)
def b2bgateway_retrieve_payment(request: RetrieveRequest, settings: BaseModel) -> ChargeResult:
    """Ask the processor what became of a payment (reconciliation, return from a redirect).

    Look it up by ``request.processor_reference`` when given; otherwise find it by our
    ``request.payment_id`` (the order id / external reference / metadata sent when charging).

    :param request: which payment (our id, the processor's reference if we have it, and the
      amount we expect, which a plugin may compare with the processor's).
    :param settings: this merchant's validated settings for this processor.

    :return: a :class:`~b2bgateway.interface.ChargeResult` with the processor's current view,
      including ``refunded`` when the processor reports refunds.
    :raises ProcessorPaymentNotFound: the processor has no such payment (for a lookup by our id,
      this means the charge never reached it).
    :raises ProcessorUnavailable: the processor could not be asked; try again later.
    :firstresult: only the configured processor is called; None is a contract error.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def b2bgateway_cancel_payment(request: RetrieveRequest, settings: BaseModel) -> ChargeResult | None:
    """Cancel a payment the customer never finished (a 3-D Secure or hosted page abandoned, a
    voucher or transfer never paid), so that it can no longer succeed. Called by reconciliation
    once the payment is past its ``expires_at``, before the gateway gives up on it.

    :param request: which payment (our id, and the processor's reference when known).
    :param settings: this merchant's validated settings for this processor.
    :return: the payment's state after the attempt: ``Outcome.FAILED`` with failure code
      ``"canceled"`` once canceled; ``Outcome.SUCCEEDED`` if it turned out to be paid; or None
      when this processor cannot cancel, in which case the gateway holds the invoices until the
      payment's ``expires_at`` plus the merchant's ``expiry.grace``, then releases them; money
      that arrives later is a late success (recorded, flagged, raised; never lost).
    :raises ProcessorPaymentNotFound: the processor has no such payment.
    :raises ProcessorUnavailable: the processor could not be asked; try again later.
    :firstresult: only the configured processor is called; None means "cannot cancel".

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def b2bgateway_refund(request: RefundRequest, settings: BaseModel) -> RefundResult:
    """Refund all (``request.full``) or part of a succeeded payment.

    Send ``request.idempotency_key`` (or ``request.refund_id``) so a retried refund is not
    refunded twice. The core has already checked the amount against what is left.

    :param request: the refund: our refund id, the payment's processor reference, the amount,
      and ``full`` when it returns everything that is left.
    :param settings: this merchant's validated settings for this processor.
    :return: a :class:`~b2bgateway.interface.RefundResult`. A refund the processor refuses is a
      result with ``Outcome.FAILED`` and a :class:`~b2bgateway.interface.Failure`; one it is
      still working on is ``Outcome.PENDING``; a timeout after sending is ``Outcome.UNKNOWN``.
    :raises ProcessorUnavailable: nothing was sent, safe to retry.
    :raises ProcessorMisconfigured: the processor refused our credentials.
    :firstresult: only the configured processor is called; None is a contract error.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def b2bgateway_retrieve_refund(request: RefundRequest, settings: BaseModel) -> RefundResult | None:
    """Ask the processor what became of a refund the gateway requested (reconciliation).

    :param request: the refund as it was requested (our ``refund_id``, the payment's reference,
      the amount).
    :param settings: this merchant's validated settings for this processor.
    :return: a :class:`~b2bgateway.interface.RefundResult`: ``SUCCEEDED`` with the processor's
      reference, ``FAILED`` when the processor has no such refund (it was never made, so it is
      safe to ask again), ``PENDING`` while it is in progress; or None when this processor cannot
      look refunds up (they then wait for a webhook).
    :raises ProcessorUnavailable: the processor could not be asked; try again later.
    :firstresult: only the processor that took the payment is called; None means "cannot look up".

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def b2bgateway_parse_webhook(request: WebhookRequest, settings: BaseModel) -> WebhookEvent:
    """Verify an inbound notification and turn it into a normalized event.

    Verify with the processor's scheme over the raw ``request.body`` (signature, timestamp
    tolerance, credentials), in constant time. When the processor's notifications cannot be
    trusted on their own, re-fetch the object from the processor before returning.

    :param request: the raw body, the headers (lower-case names) and the query string.
    :param settings: this merchant's validated settings for this processor (its secrets).

    :return: a :class:`~b2bgateway.interface.WebhookEvent`; topics the gateway does not act on
      are returned with ``EventKind.IGNORED`` so they are acknowledged and recorded. A declined
      attempt the customer can retry on the processor's page has ``final=False``; chargebacks are
      ``EventKind.DISPUTE`` with a :class:`~b2bgateway.interface.Dispute`. The payment is found by
      ``payment_id``, ``processor_reference``, ``attempt_reference`` or any of ``references``
      (every id of it the processor used); the ones it did not have yet are kept.
    :raises WebhookSignatureInvalid: the notification is not authentic (the core answers 400).
    :firstresult: only the configured processor is called; None is a contract error.

    .. versionadded:: 0.1
    """


# -- observer hooks (every plugin, results ignored) ---------------------------------------------


@hookspec
def b2bgateway_payment_status_changed(event: PaymentStatusChanged, outbox: Outbox) -> None:
    """Called after a payment's status changed, inside the transaction that changed it.

    ERP integrations, metrics and outbound notifications attach here. Keep it fast and do no
    network I/O: emit to ``outbox`` instead, which is delivered after the commit. An exception is
    logged as an ALERT and changes nothing else: the processor has already moved the money, so the
    recorded state stands (and the other observers are still called).

    :param event: the merchant, the payment, its previous and new status, its amount, and its
      API representation (``event.payment``).
    :param outbox: where to emit outbound events (written in the same transaction).

    .. versionadded:: 0.1
    """


@hookspec
def b2bgateway_payment_updated(event: PaymentUpdated, outbox: Outbox) -> None:
    """Called when something happened to a payment that is news beyond its status, inside the
    transaction that recorded it: a late success, an expiry, a dispute opened or closed, an
    amount that did not match, an over-payment, a refund of a payment that keeps its status.

    When it comes with a new status (a dispute opened makes the payment ``disputed``),
    :func:`b2bgateway_payment_status_changed` is called too. Keep it fast, no network I/O; emit
    to ``outbox`` instead. An exception is logged as an ALERT and changes nothing else.

    :param event: the merchant, the payment, what happened (``event.event``), its status and its
      API representation (``event.payment``).
    :param outbox: where to emit outbound events (written in the same transaction).

    .. versionadded:: 0.2
    """


@hookspec
def b2bgateway_refund_status_changed(event: RefundStatusChanged, outbox: Outbox) -> None:
    """Called after a refund's status changed, inside the transaction that changed it.

    :param event: the merchant, the refund, its payment, its previous and new status, and its
      API representation (``event.refund``).
    :param outbox: where to emit outbound events (written in the same transaction).

    .. versionadded:: 0.1
    """


# -- payability hooks (every plugin; reasons are collected) ------------------------------------


@hookspec
def b2bgateway_order_reasons(context: OrderContext) -> Iterable[str] | None:
    """Reasons why an order may not be paid online; return none (or None) to add nothing.

    The built-in rules are the default implementation (plugin ``rules``); every plugin's reasons
    are added to theirs, so a plugin can make an order unpayable but never make payable one that
    the merchant's rules refuse.

    :param context: the merchant's policy, the customer (active, currency, credit limit), the
      order's amount and the merchant's local date.
    :return: reason codes (lower-case snake_case strings, e.g. ``"credit_on_hold"``).

    .. versionadded:: 0.1
    """


@hookspec
def b2bgateway_invoice_reasons(context: InvoiceContext) -> Iterable[str] | None:
    """Reasons why one invoice may not be paid online (e.g. "more than 90 days overdue").

    Called for every invoice a statement or a payability check looks at, so keep it cheap: no I/O.

    :param context: the merchant's policy, the customer, the invoice (type, source, due date,
      balance, whether a payment holds it) and the merchant's local date.
    :return: reason codes to add.

    .. versionadded:: 0.1
    """
