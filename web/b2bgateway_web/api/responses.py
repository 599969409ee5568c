"""Response models of the HTTP API: what the views answer, and what ``/openapi.json`` documents.
Money is a decimal string, timestamps RFC 3339."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from b2bgateway.interface import PaymentStatus, RefundStatus
from b2bgateway.rules import Reason
from b2bgateway_web.api.schemas import AmountOut
from b2bgateway_web.problems import all_error_codes

#: A reason code: one of the gateway's (:class:`Reason`), or one a plugin of the merchant added.
ReasonCode = Annotated[
    Reason | str,
    Field(description="docs/reference/reasons.md; a code a plugin added is shown as not payable"),
]


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str
    code: str = Field(
        description="Stable: docs/reference/errors.md",
        json_schema_extra={"enum": list(all_error_codes())},
    )
    errors: list[dict[str, Any]] | None = None
    reasons: list[ReasonCode] | None = None
    invoices: list[dict[str, Any]] | None = None


class CustomerOut(BaseModel):
    customer_id: str
    name: str
    email: str | None
    active: bool
    credit_limit: AmountOut | None
    currency: str
    created_at: datetime
    updated_at: datetime


class InvoiceOut(BaseModel):
    invoice_id: str
    customer_id: str
    folio: str
    document_type: str
    source: str
    issued_on: date
    due_on: date
    total: AmountOut
    balance: AmountOut
    currency: str
    created_at: datetime
    updated_at: datetime
    payable: bool | None = None
    reasons: list[ReasonCode] | None = None


class BatchOut(BaseModel):
    created: int
    updated: int


class StatementLineOut(BaseModel):
    invoice_id: str
    folio: str
    due_on: date
    balance: AmountOut
    currency: str
    state: Literal["overdue", "upcoming"]
    payable: bool
    reasons: list[ReasonCode]


class BalancesOut(BaseModel):
    currency: str
    total_balance: AmountOut
    overdue_balance: AmountOut
    upcoming_balance: AmountOut


class StatementOut(BaseModel):
    customer_id: str
    currency: str
    as_of: date
    total_balance: AmountOut
    overdue_balance: AmountOut
    upcoming_balance: AmountOut
    pending_balance: AmountOut = Field(
        description="What the customer's payments waiting for funds (SPEI, OXXO) will pay"
    )
    invoices: list[StatementLineOut]
    other_currencies: list[BalancesOut] | None = None


class OrderPayabilityOut(BaseModel):
    payable: bool
    reasons: list[ReasonCode]
    credit_limit: AmountOut | None


class InvoicePayabilityOut(BaseModel):
    invoice_id: str
    balance: AmountOut
    payable: bool
    reasons: list[ReasonCode]


class InvoicesPayabilityOut(BaseModel):
    payable: bool
    reasons: list[ReasonCode]
    amount: AmountOut | None
    currency: str | None
    invoices: list[InvoicePayabilityOut]


class AllocationOut(BaseModel):
    invoice_id: str
    amount: AmountOut


class FailureOut(BaseModel):
    code: str
    message: str


class PaymentMethodOut(BaseModel):
    type: Literal["card", "bank_transfer", "cash", "manual"]
    installments: int | None = None


class NextActionOut(BaseModel):
    """What the customer must do; the fields present depend on ``type``."""

    model_config = ConfigDict(extra="allow")

    type: Literal[
        "redirect",
        "client_secret",
        "post_form",
        "display_bank_transfer_instructions",
        "display_cash_voucher",
    ]
    url: str | None = Field(default=None, description="redirect: where to; post_form: the action")
    client_secret: str | None = None
    data: dict[str, str] | None = Field(
        default=None, description="post_form: the fields to post (3-D Secure: creq)"
    )
    clabe: str | None = Field(
        default=None,
        description="SPEI: the 18-digit CLABE to send to; absent when only "
        "hosted_instructions_url has the instructions",
    )
    bank: str | None = None
    beneficiary: str | None = None
    reference: str | None = Field(default=None, description="to quote (SPEI) or pay (voucher)")
    amount: AmountOut | None = Field(default=None, description="exactly what to pay")
    currency: str | None = None
    barcode_url: str | None = None
    voucher_url: str | None = None
    hosted_instructions_url: str | None = None
    expires_at: datetime | None = None


class MethodDetailsOut(BaseModel):
    """How a payment was paid: what the ERP needs for the CFDI payment receipt."""

    type: str = Field(
        description="card, bank_transfer, cash; a manual payment: cash, transfer, check, other"
    )
    brand: str | None
    last4: str | None
    funding: Literal["credit", "debit", "prepaid"] | None
    authorization_code: str | None
    installments: int | None
    tracking_key: str | None = Field(description="SPEI clave de rastreo")
    payer_bank: str | None
    paid_at: datetime | None
    forma_pago: Literal["01", "02", "03", "04", "28", "99"] = Field(
        description="SAT c_FormaPago: 04 credit card, 28 debit card, 03 transfer, 01 cash, "
        "02 cheque, 99 unknown"
    )
    # a manual payment (processor "manual"): what the person who recorded it wrote down
    reference: str | None = Field(default=None, description="manual: the deposit or cheque no.")
    received_on: date | None = Field(default=None, description="manual: when it was received")
    note: str | None = None
    recorded_by: str | None = Field(default=None, description="manual: the staff user, if any")
    voided_by: str | None = None


class DisputeOut(BaseModel):
    status: Literal["open", "won", "lost"]
    amount: AmountOut | None
    reason: str | None
    opened_at: datetime | None
    closed_at: datetime | None


class AttemptOut(BaseModel):
    reference: str
    outcome: Literal["succeeded", "pending", "failed", "unknown"]
    final: bool = Field(description="true once this try ended: paid, or failed for good")
    failure: FailureOut | None
    method_details: MethodDetailsOut | None
    created_at: datetime
    updated_at: datetime


class PaymentOut(BaseModel):
    id: str
    status: PaymentStatus
    purpose: Literal["order", "invoices"]
    customer_id: str
    amount: AmountOut
    currency: str
    processor: str
    processor_reference: str | None
    allocations: list[AllocationOut]
    order_reference: str | None
    next_action: NextActionOut | None
    failure: FailureOut | None
    refunded_amount: AmountOut
    created_at: datetime
    updated_at: datetime
    payment_method: PaymentMethodOut
    expires_at: datetime | None = Field(description="when the gateway stops waiting for it")
    received_amount: AmountOut | None = Field(description="funds received so far (SPEI)")
    flags: list[
        Literal[
            "overpaid",
            "amount_mismatch",
            "late_success",
            "partially_funded",
            "installments_changed",
        ]
    ]
    dispute: DisputeOut | None
    method_details: MethodDetailsOut | None = Field(description="once paid")


class AttemptListOut(BaseModel):
    data: list[AttemptOut]


class StatusChangeActorOut(BaseModel):
    """Who made a change: its kind and the merchant's own identifiers only (no staff user's
    e-mail or id, no command-line user: the payments module and the audit log keep those)."""

    kind: Literal[
        "api", "customer", "webhook", "reconcile", "expiry", "staff", "cli", "unknown"
    ] = Field(description="the cause (docs/reference/statuses.md)")
    api_key: int | None = Field(description="api: the API key's number in api_keys (1, 2, ...)")
    customer_id: str | None = Field(description="customer: the customer's id")
    processor: str | None = Field(description="webhook, reconcile, expiry: the processor")


class StatusChangeOut(BaseModel):
    from_status: PaymentStatus | None = Field(description="empty: the payment was created")
    to_status: PaymentStatus
    at: datetime
    cause: Literal[
        "api", "customer", "webhook", "reconcile", "expiry", "staff", "cli", "unknown"
    ] = Field(description="what made the change (docs/reference/statuses.md)")
    actor: StatusChangeActorOut
    processor_event_id: str | None = Field(description="the webhook's event id")
    processor_status: str | None = Field(description="the processor's status or event type")
    failure_code: str | None
    refund_id: str | None
    dispute_reference: str | None
    event: Literal["late_success", "dispute_opened", "dispute_closed", "voided"] | None


class StatusChangeListOut(BaseModel):
    data: list[StatusChangeOut]


class PaymentListOut(BaseModel):
    data: list[PaymentOut]
    next_cursor: str | None


class RefundOut(BaseModel):
    id: str
    payment_id: str
    amount: AmountOut
    currency: str
    status: RefundStatus
    reason: str | None
    processor_reference: str | None
    failure: FailureOut | None
    created_at: datetime
    updated_at: datetime


class CapabilitiesOut(BaseModel):
    currencies: list[str]
    token_charge: bool
    hosted_checkout: bool
    partial_refund: bool
    three_d_secure: bool
    payment_methods: list[Literal["card", "bank_transfer", "cash"]]
    installments: list[int]
    required: dict[str, list[str]] = Field(
        description="per kind of charge (card_token, card_hosted, bank_transfer, cash), what a "
        "checkout must carry (customer.email, device_session_id, return_url), else 422 "
        "required_by_processor",
        examples=[{"card_token": ["customer.email", "device_session_id"]}],
    )
    installments_need_token: bool = Field(
        description="installments only with a token (the processor's hosted page takes none), "
        "else 422 installments_not_available"
    )
    method_currencies: dict[str, list[str]] = Field(
        description="payment method -> the currencies it takes (a method not named takes all "
        "currencies), else 422 payment_method_not_available",
        examples=[{"cash": ["MXN"], "bank_transfer": ["MXN"]}],
    )


class ProcessorOut(BaseModel):
    name: str
    display_name: str
    version: str
    capabilities: CapabilitiesOut
    configured: bool = Field(description="true for the processor this merchant uses")


class ProcessorsOut(BaseModel):
    processor: str | None
    data: list[ProcessorOut]
