"""Request models of the HTTP API (responses: :mod:`b2bgateway_web.api.responses`). Views
validate with these, and ``/openapi.json`` is generated from them. Requests are strict: unknown
fields are refused, amounts are decimal strings (a JSON number is a 422), booleans are booleans."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from b2bgateway.errors import InvalidAmount
from b2bgateway.interface import PaymentStatus
from b2bgateway.money import MAX_MINOR_UNITS, Money, currencies

DecimalStr = Annotated[
    str,
    StringConstraints(pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$"),
    Field(description='A decimal amount as a string, e.g. "1234.50"', examples=["1234.50"]),
]
AmountOut = Annotated[
    str,
    StringConstraints(pattern=r"^-?[0-9]+(\.[0-9]+)?$"),
    Field(description='A decimal amount as a string, e.g. "1234.50"', examples=["1234.50"]),
]
#: An id: 1 to 128 characters, no whitespace, no control character, none of ``/ ? #`` (it goes
#: into paths). Path parameters follow the same rule (api.base, and their OpenAPI schema).
#: Spaces written out (not ``\s``): Python's, ECMA's and pydantic's regex engines each read ``\s``
#: differently (U+0085, U+FEFF), and the document, the generators and the views must agree.
_SPACE = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
ID_PATTERN = rf"^[^{_SPACE}/?#]+$"
ID_MAX_LENGTH = 128
Id = Annotated[str, StringConstraints(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
#: An invoice id: an :data:`Id` but ``batch``, the name of the batch endpoint, so that
#: ``/v1/invoices/batch`` names one thing (GET and PUT on it are a 405, not an invoice "batch").
InvoiceId = Annotated[
    Id,
    AfterValidator(lambda value: _not_reserved(value, "batch")),
    Field(json_schema_extra={"not": {"const": "batch"}}),
]
Code = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9_]+$")]
Currency = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(examples=["MXN"], json_schema_extra={"enum": sorted(currencies())}),
]


def _not_reserved(value: str, reserved: str) -> str:
    if value == reserved:
        raise ValueError(
            f"{reserved!r} is reserved (/v1/invoices/{reserved} is the batch endpoint)"
        )
    return value


def _whole_number(value: Any) -> Any:
    """``6.0`` is the integer 6 in JSON (and in JSON Schema's ``integer``); ``6.5`` is not."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def money(value: str, currency: str, field: str) -> Money:
    """``value`` in ``currency`` or a ValueError naming the field (pydantic turns it into a 422)."""
    try:
        amount = Money(value, currency)
    except InvalidAmount as exc:
        raise ValueError(f"{field}: {exc.detail}") from None
    if abs(amount.to_minor_units()) > MAX_MINOR_UNITS:
        raise ValueError(f"{field}: {value} {currency} is more than this API accepts")
    return amount


def _known_currency(value: str) -> str:
    if value not in currencies():
        raise ValueError(f"{value} is not an ISO 4217 currency code")
    return value


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    @model_validator(mode="after")
    def _no_nul(self) -> Request:
        # Text with NUL cannot be stored (PostgreSQL refuses it) and is never meant.
        for name, value in self:
            if isinstance(value, str) and "\x00" in value:
                raise ValueError(f"{name}: must not contain NUL characters")
        return self


class Query(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _written_as(pattern: str, what: str) -> Callable[[Any], Any]:
    """A query value as the document says it is written (pydantic alone would read ``0`` as
    1970-01-01 and ``0.5`` as half a second after it: Unix times the API does not take)."""
    compiled = re.compile(pattern)

    def check(value: Any) -> Any:
        if not isinstance(value, str) or not compiled.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return check


#: ``YYYY-MM-DD`` (RFC 3339 full-date), nothing else.
QueryDate = Annotated[
    date, BeforeValidator(_written_as(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", "a date as YYYY-MM-DD"))
]
#: An RFC 3339 date-time with its offset (``2026-11-26T00:00:00Z``), nothing else.
QueryDateTime = Annotated[
    AwareDatetime,
    BeforeValidator(
        _written_as(
            r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
            r"([Zz]|[+-][0-9]{2}:[0-9]{2})",
            "an RFC 3339 date-time with its offset, e.g. 2026-11-26T00:00:00Z",
        )
    ),
]


# -- requests ------------------------------------------------------------------------------------


class CustomerIn(Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=255)]
    email: (
        Annotated[str, StringConstraints(max_length=320, pattern=rf"^[^@{_SPACE}]+@[^@{_SPACE}]+$")]
        | None
    ) = None
    active: bool
    credit_limit: DecimalStr | None = Field(
        description='null: no credit limit assigned; "0.00": no credit (every order payable)'
    )
    currency: Currency

    _currency = field_validator("currency")(_known_currency)

    @model_validator(mode="after")
    def _exact(self) -> CustomerIn:
        if self.credit_limit is not None:
            limit = money(self.credit_limit, self.currency, "credit_limit")
            if limit.amount < 0:
                raise ValueError("credit_limit: must not be negative")
        return self


class InvoiceIn(Request):
    customer_id: Id
    folio: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    document_type: Code = Field(examples=["factura", "nota_credito", "cargo"])
    source: Code = Field(examples=["ventas", "punto_de_venta", "cuentas_por_cobrar"])
    issued_on: date
    due_on: date
    total: DecimalStr
    balance: DecimalStr
    currency: Currency

    _currency = field_validator("currency")(_known_currency)

    @model_validator(mode="after")
    def _exact(self) -> InvoiceIn:
        money(self.total, self.currency, "total")
        money(self.balance, self.currency, "balance")
        return self


class InvoiceBatchItem(InvoiceIn):
    invoice_id: InvoiceId


class InvoiceBatchIn(Request):
    invoices: Annotated[list[InvoiceBatchItem], Field(min_length=1, max_length=10_000)]


class PositiveAmount(Request):
    """An ``amount`` greater than zero in ``currency``, exact to the currency's decimals."""

    amount: DecimalStr
    currency: Currency

    _currency = field_validator("currency")(_known_currency)

    @model_validator(mode="after")
    def _positive(self) -> PositiveAmount:
        if not money(self.amount, self.currency, "amount").is_positive():
            raise ValueError("amount: must be greater than zero")
        return self


class OrderPayabilityIn(PositiveAmount):
    customer_id: Id


InvoiceIds = Annotated[list[Id], Field(min_length=1, max_length=500)]


class InvoicesPayabilityIn(Request):
    customer_id: Id
    invoice_ids: InvoiceIds


class OrderIn(PositiveAmount):
    reference: Id


class PaymentMethodIn(Request):
    type: Literal["card", "bank_transfer", "cash"] = Field(
        default="card",
        description="card (default), bank_transfer (SPEI: the payment comes back with "
        "display_bank_transfer_instructions) or cash (OXXO and other stores: "
        "display_cash_voucher); one the merchant offers, else 422 payment_method_not_available",
    )
    token: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = Field(
        default=None,
        description="A processor token made in the browser (never a card number); without it "
        "a card is paid on the processor's hosted page",
    )
    installments: Annotated[int, Field(ge=1, le=48), BeforeValidator(_whole_number)] | None = Field(
        default=None,
        description="Meses sin intereses on a card: one the merchant offers (3, 6, 9, 12, 18, "
        "24), else 422 installments_not_available",
    )
    device_session_id: Annotated[str, StringConstraints(min_length=1, max_length=255)] | None = (
        Field(
            default=None,
            description="The processor's anti-fraud device id made in the browser (Openpay)",
        )
    )
    details: (
        Annotated[
            dict[
                Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")],
                Annotated[str, StringConstraints(min_length=1, max_length=255)],
            ],
            # pydantic states the key pattern as patternProperties; other keys are refused too
            Field(max_length=10, json_schema_extra={"additionalProperties": False}),
        ]
        | None
    ) = Field(
        default=None,
        description="What the processor's browser SDK returned with the token (Mercado Pago: "
        "payment_method_id, installments, issuer_id); never card data",
        examples=[{"payment_method_id": "visa", "installments": "1"}],
    )

    @model_validator(mode="after")
    def _no_token_for_funds(self) -> PaymentMethodIn:
        if self.type != "card" and self.token is not None:
            raise ValueError(f"a {self.type} payment takes no token")
        return self


class CheckoutIn(Request):
    customer_id: Id
    purpose: Literal["order", "invoices"]
    order: OrderIn | None = None
    invoice_ids: InvoiceIds | None = None
    expected_amount: DecimalStr | None = Field(
        default=None, description="The sum the portal showed; if the balances changed: 409"
    )
    payment_method: PaymentMethodIn | None = None
    return_url: AnyHttpUrl | None = None

    @model_validator(mode="after")
    def _shape(self) -> CheckoutIn:
        if self.purpose == "order":
            if self.order is None or self.invoice_ids is not None:
                raise ValueError("an order checkout takes `order`, not `invoice_ids`")
            if self.expected_amount is not None:
                raise ValueError("expected_amount is for invoices")
        elif self.invoice_ids is None or self.order is not None:
            raise ValueError("an invoices checkout takes `invoice_ids`, not `order`")
        return self


class RefundIn(Request):
    amount: DecimalStr | None = Field(default=None, description="Omit to refund all that is left")
    reason: Annotated[str, StringConstraints(max_length=500)] | None = None


class ManualPaymentIn(Request):
    customer_id: Id
    purpose: Literal["order", "invoices"]
    order: OrderIn | None = Field(default=None, description="purpose order: what was paid")
    invoice_ids: InvoiceIds | None = Field(
        default=None, description="purpose invoices: allocated in this order, each to its balance"
    )
    amount: DecimalStr | None = Field(
        default=None,
        description="invoices: what was received (default: the sum of their balances; at most "
        "that sum); for an order, order.amount",
    )
    currency: Currency | None = None
    method: Literal["cash", "transfer", "check", "other"]
    reference: Annotated[str, StringConstraints(max_length=255)] = Field(
        default="", description="the deposit, transfer or cheque number"
    )
    received_on: date
    note: Annotated[str, StringConstraints(max_length=1000)] | None = None

    @model_validator(mode="after")
    def _shape(self) -> ManualPaymentIn:
        if self.purpose == "order":
            if self.order is None or self.invoice_ids is not None or self.amount is not None:
                raise ValueError("an order payment takes `order`, not `invoice_ids` or `amount`")
        elif self.invoice_ids is None or self.order is not None:
            raise ValueError("an invoices payment takes `invoice_ids`, not `order`")
        if (self.amount is None) != (self.currency is None):
            raise ValueError("amount and currency go together")
        if (
            self.amount is not None
            and self.currency is not None
            and not money(self.amount, self.currency, "amount").is_positive()
        ):
            raise ValueError("amount: must be greater than zero")
        return self


class VoidIn(Request):
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)]


class StatementQuery(Query):
    as_of: QueryDate | None = None


class PaymentsQuery(Query):
    customer_id: Id | None = None
    status: PaymentStatus | None = None
    purpose: Literal["order", "invoices"] | None = None
    updated_since: QueryDateTime | None = None
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: (
        Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_-]+$")]
        | None
    ) = Field(default=None, description="next_cursor of the previous page, as it came")


# -- responses -----------------------------------------------------------------------------------
