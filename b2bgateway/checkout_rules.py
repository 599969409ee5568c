"""A checkout's request, and what it must satisfy before its payment is written: a processor,
a payment method (and MSI count) the merchant offers and the processor can charge, the
capabilities the flow needs, and payability (with the amount the portal showed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy.orm import Session

from b2bgateway.errors import (
    AmountChanged,
    InstallmentsNotAvailable,
    NotPayable,
    PaymentMethodNotAvailable,
    RequiredByProcessor,
    UnsupportedRequest,
)
from b2bgateway.idempotency import Claim
from b2bgateway.interface import PaymentMethodType
from b2bgateway.money import Money
from b2bgateway.payability import check_invoices, check_order
from b2bgateway.plugins import Plugins, Processor
from b2bgateway.settings import MerchantConfig

__all__ = [
    "CheckoutRequest",
    "check_capabilities",
    "check_method",
    "check_method_currency",
    "check_required",
    "processor_for",
    "required_for",
    "what_to_charge",
]


@dataclass(frozen=True, slots=True)
class CheckoutRequest:
    """What a portal asks to pay: an order (reference + amount) or invoices (ids)."""

    customer_id: str
    purpose: str  # "order" | "invoices"
    idempotency_key: str
    order_reference: str | None = None
    order_amount: Money | None = None
    invoice_ids: Sequence[str] = field(default_factory=tuple)
    expected_amount: str | None = None  # the decimal the portal showed, in the invoices' currency
    token: str | None = None
    return_url: str | None = None
    device_session_id: str | None = None  # the processor's anti-fraud id from the browser
    payment_details: Mapping[str, str] = field(default_factory=dict)  # from the browser SDK
    payment_method: str = "card"  # card | bank_transfer | cash
    installments: int | None = None  # MSI on a card
    #: The client's Idempotency-Key, claimed in the payment's own write transaction and answered
    #: in the one that records the processor's answer (service.checkout_with_key); None for
    #: callers that hold no key of their own (the idempotency key above still names the payment).
    claim: Claim | None = None
    #: The client's address, when the API key's check left reading its refusal
    #: (:mod:`b2bgateway.throttle`) to the payment's own transaction: read there with the
    #: customer, and a refused one is answered 429 before the key is claimed or replayed.
    client_address: str | None = None


def processor_for(merchant: MerchantConfig) -> Processor:
    """The merchant's processor.

    :raises NotPayable: ``processor_not_configured``.
    """
    if merchant.processor is None:
        raise NotPayable(
            "no processor is configured for this merchant", ["processor_not_configured"]
        )
    return merchant.processor


def check_method(processor: Processor, merchant: MerchantConfig, req: CheckoutRequest) -> None:
    """The method (and MSI count) must be one the merchant offers and its processor can charge.

    :raises PaymentMethodNotAvailable: 422 ``payment_method_not_available``.
    :raises InstallmentsNotAvailable: 422 ``installments_not_available``.
    """
    caps = processor.info.capabilities
    offered = merchant.settings.payment_methods
    if req.payment_method not in offered or req.payment_method not in caps.payment_methods:
        raise PaymentMethodNotAvailable(
            f"{req.payment_method} is not offered (offered: {', '.join(offered)})",
            extra={"payment_methods": list(offered)},
        )
    if req.installments is not None:
        counts = sorted(set(merchant.settings.installments) & caps.installments)
        if req.payment_method != PaymentMethodType.CARD.value or req.installments not in counts:
            raise InstallmentsNotAvailable(
                f"{req.installments} installments are not offered"
                + (f" (offered: {', '.join(map(str, counts))})" if counts else ""),
                extra={"installments": counts},
            )
        if req.token is None and caps.installments_need_token:
            raise InstallmentsNotAvailable(
                f"{processor.name} charges installments on a card token only, not on its page",
                extra={"installments": counts},
            )
    if PaymentMethodType(req.payment_method).waits_for_funds and req.token is not None:
        raise UnsupportedRequest(f"a {req.payment_method} payment takes no token")


def check_capabilities(processor: Processor, token: str | None, method: str = "card") -> None:
    """A token needs token charges; no token needs a hosted checkout (cards only).

    :raises UnsupportedRequest: the processor cannot do the flow asked for.
    """
    if PaymentMethodType(method).waits_for_funds:
        return  # the processor gives the customer instructions: no token, no hosted page
    caps = processor.info.capabilities
    if token is not None and not caps.token_charge:
        raise UnsupportedRequest(f"{processor.name} cannot charge a token; omit payment_method")
    if token is None and not caps.hosted_checkout:
        raise UnsupportedRequest(
            f"{processor.name} has no hosted checkout; send payment_method.token"
        )


def charge_kind(method: str, token: str | None) -> str:
    """The kind of charge (:data:`~b2bgateway.interface.CHARGE_KINDS`) a checkout asks for."""
    if method == PaymentMethodType.CARD.value:
        return "card_token" if token is not None else "card_hosted"
    return method


def required_for(processor: Processor, settings: BaseModel | None) -> dict[str, frozenset[str]]:
    """Per kind of charge, what the processor requires of a merchant with these settings:
    ``Capabilities.required``, plus ``required_with_setting`` for each setting they set."""
    caps = processor.info.capabilities
    required = dict(caps.required)
    for setting, kinds in caps.required_with_setting.items():
        if settings is not None and getattr(settings, setting, None):
            for kind, fields in kinds.items():
                required[kind] = required.get(kind, frozenset()) | fields
    return required


def check_required(
    processor: Processor,
    req: CheckoutRequest,
    customer_email: str | None,
    settings: BaseModel | None = None,
) -> None:
    """The fields the processor requires for this kind of charge must be there, including those
    a setting of the merchant's (``settings``) makes required (``required_with_setting``).

    :raises RequiredByProcessor: 422 ``required_by_processor`` with ``missing`` (field names).
    """
    kind = charge_kind(req.payment_method, req.token)
    required = required_for(processor, settings).get(kind, frozenset())
    present = {
        "customer.email": bool(customer_email),
        "device_session_id": bool(req.device_session_id),
        "return_url": bool(req.return_url),
    }
    missing = sorted(name for name in required if not present.get(name, False))
    if missing:
        raise RequiredByProcessor(
            f"{processor.name} requires {', '.join(missing)} for a {kind.replace('_', ' ')} charge",
            extra={"missing": missing},
        )


def check_method_currency(
    processor: Processor, merchant: MerchantConfig, method: str, amount: Money
) -> None:
    """The method must take the amount's currency (``Capabilities.method_currencies``).

    :raises PaymentMethodNotAvailable: 422 ``payment_method_not_available``, with the currencies
      the method takes and the merchant's methods that take this one (``payment_methods``).
    """
    caps = processor.info.capabilities
    takes = caps.method_currencies.get(method, caps.currencies)
    if amount.currency in takes:
        return
    offered = [
        m
        for m in merchant.settings.payment_methods
        if amount.currency in caps.method_currencies.get(m, caps.currencies)
    ]
    raise PaymentMethodNotAvailable(
        f"{processor.name} takes {method} in {', '.join(sorted(takes))}, not {amount.currency}",
        extra={"payment_methods": offered, "currencies": sorted(takes)},
    )


def what_to_charge(
    plugins: Plugins, session: Session, merchant: MerchantConfig, req: CheckoutRequest
) -> tuple[Money, list[tuple[str, Money]]]:
    """The amount to charge and its allocations to invoices (none for an order).

    :raises NotPayable: with reason codes (and each invoice's).
    :raises AmountChanged: ``expected_amount`` differs from the invoices' current balances.
    """
    if req.purpose == "order":
        return _order_amount(plugins, session, merchant, req), []
    return _invoices_amount(plugins, session, merchant, req)


def _order_amount(
    plugins: Plugins, session: Session, merchant: MerchantConfig, req: CheckoutRequest
) -> Money:
    assert req.order_amount is not None
    assert req.order_reference is not None
    check = check_order(plugins, session, merchant, req.customer_id, req.order_amount)
    if not check.decision.payable:
        limit = None if check.credit_limit is None else str(check.credit_limit.amount)
        raise NotPayable(
            "this order cannot be paid online", check.decision.reasons, credit_limit=limit
        )
    return req.order_amount


def _invoices_amount(
    plugins: Plugins, session: Session, merchant: MerchantConfig, req: CheckoutRequest
) -> tuple[Money, list[tuple[str, Money]]]:
    decision = check_invoices(plugins, session, merchant, req.customer_id, req.invoice_ids)
    if not decision.payable:
        raise NotPayable(
            "these invoices cannot be paid online",
            decision.reasons,
            invoices=[
                {"invoice_id": inv.invoice_id, "reasons": list(d.reasons)}
                for inv, d in decision.invoices
            ],
        )
    assert decision.amount is not None
    amount = decision.amount
    if req.expected_amount is not None and Money(req.expected_amount, amount.currency) != amount:
        raise AmountChanged(
            f"the invoices now add up to {amount.amount} {amount.currency}",
            extra={"amount": str(amount.amount), "currency": amount.currency},
        )
    return amount, [(inv.invoice_id, inv.balance) for inv, _ in decision.invoices]
