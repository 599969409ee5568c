"""The plain, frozen, processor-neutral types exchanged between the core and processor plugins.

A plugin receives one request object and its own validated settings, and returns one result
object. Nothing here knows about HTTP, a database or any processor's SDK. Types only ever grow
new fields with defaults, so a plugin written today keeps working.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from b2bgateway.money import Money
from b2bgateway.next_actions import BankTransferInstructions, CashVoucher, NextAction

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = [
    "BankTransferInstructions",
    "Capabilities",
    "CashVoucher",
    "ChargeRequest",
    "ChargeResult",
    "CustomerRef",
    "Dispute",
    "DisputeStatus",
    "EventKind",
    "Failure",
    "MethodDetails",
    "NextAction",
    "Outbox",
    "Outcome",
    "PaymentMethodType",
    "PaymentStatus",
    "PaymentStatusChanged",
    "PaymentUpdated",
    "ProcessorInfo",
    "RefundRequest",
    "RefundResult",
    "RefundStatus",
    "RefundStatusChanged",
    "RetrieveRequest",
    "WebhookEvent",
    "WebhookRequest",
]


class Outcome(enum.StrEnum):
    """What a processor says about an operation. Four values, because a boolean lies.

    ``PENDING`` covers both "the customer must act" (a :class:`NextAction` is given) and "the
    processor is still working". ``UNKNOWN`` means the request may or may not have taken effect
    (a timeout after sending): the core keeps the payment open and reconciles it later.
    """

    SUCCEEDED = "succeeded"
    PENDING = "pending"
    FAILED = "failed"
    UNKNOWN = "unknown"


class PaymentStatus(enum.StrEnum):
    """A payment's status in the gateway (docs/reference/statuses.md). Terminal states never
    move backwards."""

    REQUIRES_ACTION = "requires_action"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    PARTIALLY_REFUNDED = "partially_refunded"
    REFUNDED = "refunded"
    DISPUTED = "disputed"  # a chargeback is open (or was lost: see Payment.dispute_status)

    @property
    def registers_invoices(self) -> bool:
        """A payment in this status holds its invoices: they cannot be paid again."""
        return self in _REGISTERING


_REGISTERING = frozenset(
    {
        PaymentStatus.REQUIRES_ACTION,
        PaymentStatus.PROCESSING,
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PARTIALLY_REFUNDED,
        PaymentStatus.DISPUTED,  # while open or won; a lost dispute releases them explicitly
    }
)


class PaymentMethodType(enum.StrEnum):
    """How the customer pays: a card (optionally in MSI installments), a SPEI bank transfer to a
    CLABE, or cash at OXXO and other stores against a voucher. ``manual`` is money the merchant
    received outside the gateway."""

    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"
    MANUAL = "manual"

    @property
    def waits_for_funds(self) -> bool:
        """The customer pays later, at their bank or a store: the payment waits days, not
        minutes, and its invoices are held as ``payment_pending``."""
        return self in (PaymentMethodType.BANK_TRANSFER, PaymentMethodType.CASH)


#: Meses sin intereses: the installment counts Mexican card issuers offer.
INSTALLMENT_COUNTS = frozenset({3, 6, 9, 12, 18, 24})


class DisputeStatus(enum.StrEnum):
    """A chargeback (contracargo): ``open`` while the issuer decides; ``won`` returns the payment
    to its paid state; ``lost`` takes the money back and opens its invoices again."""

    OPEN = "open"
    WON = "won"
    LOST = "lost"


class RefundStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class EventKind(enum.StrEnum):
    """What a webhook is about, once a plugin has verified and parsed it."""

    PAYMENT = "payment"
    REFUND = "refund"
    DISPUTE = "dispute"
    IGNORED = "ignored"  # acknowledged on purpose: a topic the gateway does not act on


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a processor can do; requests it cannot serve fail clearly before any call."""

    currencies: frozenset[str]
    token_charge: bool = True
    hosted_checkout: bool = False
    partial_refund: bool = True
    three_d_secure: bool = False
    requires_webhook_secret: bool = True
    #: payment methods it can charge (:class:`PaymentMethodType` values, never ``manual``)
    payment_methods: frozenset[str] = frozenset({"card"})
    #: MSI installment counts it can charge on cards (a subset of :data:`INSTALLMENT_COUNTS`)
    installments: frozenset[int] = frozenset()
    #: card_token/card_hosted/bank_transfer/cash -> what the processor refuses a charge without
    #: (customer.email, device_session_id, return_url): a 422 before the payment exists
    required: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: a settings field -> (kind of charge -> fields), required too when the merchant sets it
    required_with_setting: Mapping[str, Mapping[str, frozenset[str]]] = field(default_factory=dict)
    #: MSI only on a token charge (the processor's hosted page takes no installments)
    installments_need_token: bool = False
    #: payment method -> the currencies it takes (a method not named takes all ``currencies``)
    method_currencies: Mapping[str, frozenset[str]] = field(default_factory=dict)
    #: payment method -> settings fields a merchant must set to offer it (checked at start-up)
    method_settings: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = set(self.payment_methods) - {m.value for m in PaymentMethodType} | (
            set(self.payment_methods) & {PaymentMethodType.MANUAL.value}
        )
        unknown |= (set(self.method_currencies) | set(self.method_settings)) - self.payment_methods
        if unknown:
            raise ValueError(f"unknown payment methods: {sorted(unknown)}")
        if not all(c <= self.currencies for c in self.method_currencies.values()):
            raise ValueError("method_currencies must be among currencies")
        if not self.installments <= INSTALLMENT_COUNTS:
            raise ValueError(f"installments must be among {sorted(INSTALLMENT_COUNTS)}")


@dataclass(frozen=True, slots=True)
class ProcessorInfo:
    """Returned by ``b2bgateway_processor_info``: who the processor is and how it is configured.

    ``settings_model`` is the pydantic model of the merchant's ``[merchants.X.processors.NAME]``
    table; the core validates each merchant's settings with it at start-up and passes the
    validated instance to every processor hook.
    """

    display_name: str
    settings_model: type[BaseModel]
    capabilities: Capabilities
    version: str = ""
    documentation_url: str = ""


@dataclass(frozen=True, slots=True)
class CustomerRef:
    id: str
    name: str = ""
    email: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """Why an operation failed. ``code`` is ours (``card_declined``, ``insufficient_funds``, ...);
    ``processor_code`` and ``processor_message`` keep the processor's own words for support."""

    code: str
    message: str
    processor_code: str | None = None
    processor_message: str | None = None


@dataclass(frozen=True, slots=True)
class MethodDetails:
    """How a payment was actually paid, as the processor reports it: what the merchant's ERP
    needs for the CFDI payment receipt (complemento de pago) without asking the processor.

    ``type`` is a :class:`PaymentMethodType` value. For cards: ``brand`` (``visa``,
    ``mastercard``, ``amex``...), ``last4``, ``funding`` (``credit`` / ``debit`` / ``prepaid``),
    ``authorization_code`` and ``installments`` (MSI). For SPEI: ``tracking_key`` (clave de
    rastreo) and ``payer_bank``. ``paid_at`` is when the processor received the money.
    """

    type: str = "card"
    brand: str | None = None
    last4: str | None = None
    funding: Literal["credit", "debit", "prepaid"] | None = None
    authorization_code: str | None = None
    installments: int | None = None
    tracking_key: str | None = None
    payer_bank: str | None = None
    paid_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Dispute:
    """A chargeback as the processor reports it (``EventKind.DISPUTE`` events)."""

    status: DisputeStatus
    amount: Money | None = None  # what the customer's bank disputes (the whole payment if None)
    reason: str = ""  # the processor's reason code (``fraudulent``, ``product_not_received``...)
    reference: str | None = None  # the dispute's id at the processor


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    """Charge ``amount`` for payment ``payment_id``.

    ``payment_id`` is ours and already committed; plugins send it as the processor's idempotency
    key / order id / external reference (``idempotency_key`` is the key for this one operation).
    With ``token`` the plugin charges that browser-made token; without it, it starts the hosted or
    redirect flow and returns a redirect :class:`NextAction`.
    """

    payment_id: str
    merchant_id: str
    amount: Money
    customer: CustomerRef
    description: str
    idempotency_key: str
    token: str | None = None
    return_url: str | None = None
    gateway_url: str = ""  # public base URL of this gateway (for processor-hosted pages)
    webhook_url: str | None = None  # where this processor's notifications for the merchant go
    #: our ids for the processor's own records (``payment_id``, ``customer_id``); nothing the
    #: browser sent is in here
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: the processor's anti-fraud device id made in the browser (Openpay's ``device_session_id``,
    #: Mercado Pago's ``X-meli-session-id``), when the portal sends one
    device_session_id: str | None = None
    #: what the processor's browser SDK returned beside the token (Mercado Pago:
    #: ``payment_method_id``, ``issuer_id``); never card data, validated by the API
    browser_details: Mapping[str, str] = field(default_factory=dict)
    #: a :class:`PaymentMethodType` value the processor's capabilities declare
    payment_method: str = "card"
    installments: int | None = None  # MSI count on a card, one the merchant and processor offer
    #: when the gateway gives up on the customer: send it as the processor's own expiry
    #: (a voucher's or a transfer's due date, a hosted page's expiry) where it has one
    expires_at: datetime | None = None
    #: this customer's id at the processor, as an earlier ChargeResult.processor_customer gave it
    processor_customer: str | None = None


@dataclass(frozen=True, slots=True)
class ChargeResult:
    """The processor's answer about a charge (from creating or retrieving it)."""

    outcome: Outcome
    processor_reference: str | None = None
    amount: Money | None = None
    next_action: NextAction | None = None
    failure: Failure | None = None
    refunded: Money | None = None  # total refunded at the processor, when retrieving
    processor_status: str | None = None  # the processor's raw status, for logs and support
    #: False when the customer can still finish on the processor's page after this failure
    #: (a declined card on a hosted checkout that stays open): the failure is one attempt,
    #: and the payment waits for the next one, a cancel or its expiry.
    final: bool = True
    #: the reference of this attempt when the processor gives each try its own (a Checkout
    #: Session's PaymentIntent, a Checkout Pro preference's payment); also matched in webhooks
    attempt_reference: str | None = None
    method_details: MethodDetails | None = None
    received: Money | None = None  # funds received so far (a SPEI transfer can fall short)
    expires_at: datetime | None = None  # the processor's own expiry of the pending charge
    #: other references the payment has at the processor (a session's payment intent, its
    #: charge): the core keeps them, and matches notifications, disputes and refunds on any
    references: tuple[str, ...] = ()
    #: the customer's id at the processor when the plugin made one (the core remembers it per
    #: merchant, processor and customer, and sends it back in ChargeRequest.processor_customer)
    processor_customer: str | None = None

    def __post_init__(self) -> None:
        if self.outcome is Outcome.FAILED and self.failure is None:
            raise ValueError("a failed charge needs a Failure")
        if self.outcome is Outcome.SUCCEEDED and not self.processor_reference:
            raise ValueError("a succeeded charge needs its processor reference")
        if self.next_action is not None and self.outcome is not Outcome.PENDING:
            raise ValueError("only a pending charge has a next action")


@dataclass(frozen=True, slots=True)
class RetrieveRequest:
    """Look a payment up: by ``processor_reference`` when known, otherwise by our ``payment_id``."""

    payment_id: str
    merchant_id: str
    processor_reference: str | None = None
    amount: Money | None = None  # what we expect; a plugin may check the processor agrees


@dataclass(frozen=True, slots=True)
class RefundRequest:
    refund_id: str
    payment_id: str
    merchant_id: str
    processor_reference: str  # the payment's reference at the processor
    amount: Money
    idempotency_key: str
    full: bool = False  # True when this refund returns everything that is left
    reason: str | None = None
    requested_at: datetime | None = None  # when the gateway first asked for it (first key use)


@dataclass(frozen=True, slots=True)
class RefundResult:
    outcome: Outcome
    processor_reference: str | None = None
    failure: Failure | None = None

    def __post_init__(self) -> None:
        if self.outcome is Outcome.FAILED and self.failure is None:
            raise ValueError("a failed refund needs a Failure")
        if self.outcome is Outcome.SUCCEEDED and not self.processor_reference:
            raise ValueError("a succeeded refund needs its processor reference")


@dataclass(frozen=True, slots=True)
class WebhookRequest:
    """An inbound notification exactly as received. ``body`` is the raw bytes (signatures are
    computed over them); header names are lower case."""

    merchant_id: str
    body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str] = field(default_factory=dict)
    received_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified notification, normalized. ``event_id`` is unique per processor (dedup key).
    For processors whose notifications cannot be trusted on their own, the plugin has already
    re-fetched the object from the processor, and ``outcome``/``amount`` are what it returned."""

    event_id: str
    kind: EventKind
    event_type: str = ""  # the processor's own event name, for the record
    payment_id: str | None = None  # ours, when the processor echoes it back
    processor_reference: str | None = None
    outcome: Outcome | None = None
    amount: Money | None = None
    failure: Failure | None = None
    refund_id: str | None = None  # ours
    refund_reference: str | None = None
    refunded: Money | None = None
    occurred_at: datetime | None = None
    final: bool = True  # as ChargeResult.final: False for a failed attempt the customer can retry
    attempt_reference: str | None = None
    method_details: MethodDetails | None = None
    received: Money | None = None  # funds received so far (SPEI)
    #: for EventKind.DISPUTE: what the dispute is now (without it, the event is only recorded);
    #: on a PAYMENT/REFUND event, a won/lost one closes the open dispute of its reference first
    dispute: Dispute | None = None
    references: tuple[str, ...] = ()  # as ChargeResult.references: matched and kept
    next_action: NextAction | None = None  # a pending payment's new instructions (amount due)

    def __post_init__(self) -> None:
        if self.kind is not EventKind.IGNORED and not (
            self.payment_id or self.processor_reference or self.references
        ):
            raise ValueError("an event about a payment must say which (payment_id or reference)")
        if self.kind is EventKind.REFUND and not (self.refund_id or self.refund_reference):
            raise ValueError("a refund event must say which refund (refund_id or reference)")


class Outbox(Protocol):
    """Given to observer hooks: events emitted here are written in the transaction that changed
    the payment, and the worker delivers them to the merchant's ``notification_url`` (signed,
    retried, in order per payment). Nothing is written for a merchant without one."""

    def emit(self, event_type: str, ordering_key: str, data: Mapping[str, Any]) -> None: ...


@dataclass(frozen=True, slots=True)
class PaymentStatusChanged:
    """Given to observers after a payment's status changed, in the transaction that changed it."""

    merchant_id: str
    payment_id: str
    customer_id: str
    processor: str
    previous: PaymentStatus | None
    status: PaymentStatus
    amount: Money
    occurred_at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)
    payment: Mapping[str, Any] = field(default_factory=dict)  # its API representation, now


@dataclass(frozen=True, slots=True)
class PaymentUpdated:
    """Given to observers when something happened to a payment that an ERP or a person must
    know of, with or without a new status: ``event`` is ``late_success``, ``expired``,
    ``dispute_opened``, ``dispute_closed``, ``amount_mismatch``, ``overpaid`` or
    ``refund_recorded`` (a refund of a payment that keeps its status)."""

    merchant_id: str
    payment_id: str
    customer_id: str
    processor: str
    event: str
    status: PaymentStatus
    occurred_at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)
    payment: Mapping[str, Any] = field(default_factory=dict)  # its API representation, now


@dataclass(frozen=True, slots=True)
class RefundStatusChanged:
    merchant_id: str
    refund_id: str
    payment_id: str
    previous: RefundStatus | None
    status: RefundStatus
    amount: Money
    occurred_at: datetime
    details: Mapping[str, Any] = field(default_factory=dict)
    refund: Mapping[str, Any] = field(default_factory=dict)  # its API representation, now
