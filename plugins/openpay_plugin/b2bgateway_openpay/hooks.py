"""The Openpay (Mexico) plugin's hook implementations: the only module with ``@hookimpl``.

Each implementation maps the request, calls :mod:`~b2bgateway_openpay.client` and maps the answer
with :mod:`~b2bgateway_openpay.mapping`. Openpay has no idempotency key: our ``payment_id`` is the
charge's ``order_id`` (unique per merchant, a repeat answers 409 / error 1006, which means
"already charged: look it up"), and our refund id travels in the refund's description.
"""

from __future__ import annotations

import logging

from b2bgateway import (
    Capabilities,
    ChargeRequest,
    ChargeResult,
    Failure,
    Outcome,
    ProcessorInfo,
    ProcessorPaymentNotFound,
    ProcessorUnavailable,
    RefundRequest,
    RefundResult,
    RetrieveRequest,
    WebhookEvent,
    WebhookRequest,
    hookimpl,
)
from b2bgateway_openpay import mapping, methods, webhooks
from b2bgateway_openpay.client import ApiError, NoAnswer, NotSent, OpenpayClient, for_merchant
from b2bgateway_openpay.settings import OpenpaySettings

log = logging.getLogger("b2bgateway_openpay")

CAPABILITIES = Capabilities(
    currencies=frozenset({"MXN", "USD"}),  # USD needs enabling on the Openpay account
    token_charge=True,
    hosted_checkout=True,  # Openpay's own card page ("charge with redirect")
    partial_refund=True,
    three_d_secure=True,
    requires_webhook_secret=True,  # webhook_user / webhook_password
    payment_methods=frozenset({"card", "cash", "bank_transfer"}),  # store, bank_account (SPEI)
    installments=methods.INSTALLMENTS,  # payment_plan.payments
    # Openpay's reference: `customer` (name, email) is required for card and store charges,
    # `device_session_id` for a token charge, `redirect_url` for its card page.
    required={
        "card_token": frozenset({"customer.email", "device_session_id"}),
        "card_hosted": frozenset({"customer.email", "return_url"}),
        "cash": frozenset({"customer.email"}),
    },
    # With use_3d_secure every token charge is sent to the bank's page: redirect_url required.
    required_with_setting={"use_3d_secure": {"card_token": frozenset({"return_url"})}},
    installments_need_token=True,  # the card page's request takes no payment_plan
    method_currencies={"cash": frozenset({"MXN"}), "bank_transfer": frozenset({"MXN"})},
    method_settings={"bank_transfer": frozenset({"spei_beneficiary"})},  # who receives the SPEI
)


def _already_charged(
    client: OpenpayClient, request: ChargeRequest, settings: OpenpaySettings
) -> ChargeResult:
    """Error 1006: a charge with our order id exists (a retry after a lost answer): read it."""
    try:
        charge = client.find_charge(request.payment_id)
    except (NotSent, NoAnswer, ApiError) as exc:
        log.warning("payment %s: order id taken, lookup failed: %s", request.payment_id, exc)
        return ChargeResult(Outcome.UNKNOWN)  # a charge exists: never report nothing was sent
    if charge is None:
        return ChargeResult(Outcome.UNKNOWN)
    result = mapping.charge_result(charge, settings.spei_beneficiary or "")
    if result.amount is not None and result.amount != request.amount:
        log.error("ALERT payment %s: Openpay's charge is %s", request.payment_id, result.amount)
    return result


@hookimpl
def b2bgateway_processor_info() -> ProcessorInfo:
    """Openpay Mexico: token charges, 3-D Secure, its hosted card page, partial refunds."""
    return ProcessorInfo(
        display_name="Openpay (México)", settings_model=OpenpaySettings, capabilities=CAPABILITIES
    )


@hookimpl
def b2bgateway_create_charge(request: ChargeRequest, settings: OpenpaySettings) -> ChargeResult:
    """Charge the token (with 3-D Secure when configured), or open Openpay's card page."""
    client = for_merchant(settings)
    body = methods.charge_body(request, settings)
    try:
        charge = client.create_charge(body)
    except NotSent as exc:
        raise ProcessorUnavailable(str(exc)) from exc
    except NoAnswer:
        return ChargeResult(Outcome.UNKNOWN)  # it may have charged: reconcile by order id
    except ApiError as exc:
        if exc.error_code == 1006:
            return _already_charged(client, request, settings)
        return mapping.charge_error(exc)
    return mapping.charge_result(charge, settings.spei_beneficiary or "")


@hookimpl
def b2bgateway_retrieve_payment(
    request: RetrieveRequest, settings: OpenpaySettings
) -> ChargeResult:
    """The charge by its id, or else by our order id (``GET /charges?order_id=``)."""
    client = for_merchant(settings)
    with mapping.read_errors():
        if request.processor_reference:
            charge = client.get_charge(request.processor_reference)
        else:
            charge = client.find_charge(request.payment_id)
    if charge is None:
        raise ProcessorPaymentNotFound(f"Openpay has no charge for payment {request.payment_id}")
    return mapping.charge_result(charge, settings.spei_beneficiary or "")


@hookimpl
def b2bgateway_cancel_payment(request: RetrieveRequest, settings: OpenpaySettings) -> None:
    """Openpay's API cannot cancel a pending card charge (there is no such endpoint, only
    capture and refund), so the gateway keeps the payment open: None."""
    del request, settings


@hookimpl
def b2bgateway_refund(request: RefundRequest, settings: OpenpaySettings) -> RefundResult:
    """Refund all or part of a charge, unless an earlier attempt already did.

    Openpay has no idempotency key for refunds, so the charge is re-read first: when it shows a
    refund carrying our refund id (written into the description) the earlier attempt, whose
    answer was lost, is reported instead of refunding twice.
    """
    client = for_merchant(settings)
    with mapping.read_errors():
        charge = client.get_charge(request.processor_reference)
    if charge is None:
        return RefundResult(
            Outcome.FAILED, failure=Failure("charge_not_found", "Openpay no tiene ese cargo.")
        )
    done = mapping.find_refund(charge, request.refund_id)
    if done is not None:
        return mapping.refund_result(done)
    # Openpay's "refund everything" omits the amount: only when nothing was refunded before.
    whole = request.full and not mapping.refunds_of(charge)
    whole = whole and charge.get("amount") == request.amount.amount
    try:
        answer = client.refund(
            request.processor_reference,
            description=mapping.refund_description(request.refund_id, request.reason),
            amount=None if whole else request.amount.amount,
        )
    except NotSent as exc:
        raise ProcessorUnavailable(str(exc)) from exc
    except NoAnswer:
        return RefundResult(Outcome.UNKNOWN)
    except ApiError as exc:
        return mapping.refund_error(exc)
    refund = mapping.find_refund(answer, request.refund_id) or answer.get("refund")
    if not isinstance(refund, dict):
        return RefundResult(Outcome.UNKNOWN)
    return mapping.refund_result(refund)


@hookimpl
def b2bgateway_retrieve_refund(
    request: RefundRequest, settings: OpenpaySettings
) -> RefundResult | None:
    """The refund whose answer was lost, found on its charge by our refund id."""
    with mapping.read_errors():
        charge = for_merchant(settings).get_charge(request.processor_reference)
    found = None if charge is None else mapping.find_refund(charge, request.refund_id)
    if found is not None:
        return mapping.refund_result(found)
    if charge is not None and (mapping.refunds_of(charge) or charge.get("status") == "refunded"):
        return None  # Openpay shows one refund per charge: ours may be hidden behind another
    failure = Failure("refund_not_found", "Openpay no hizo esta devolución.")
    return RefundResult(Outcome.FAILED, failure=failure)


@hookimpl
def b2bgateway_parse_webhook(request: WebhookRequest, settings: OpenpaySettings) -> WebhookEvent:
    """Check the Basic credentials, then re-fetch the charge and report what Openpay says now."""
    password = settings.webhook_password.get_secret_value()
    webhooks.check_credentials(request.headers, settings.webhook_user, password)
    notification = webhooks.parse(request.body)
    if notification.type == "verification":
        # Openpay's first delivery to a webhook just registered ({"type": "verification",
        # "event_date", "verification_code", "id": the webhook's id}): the merchant types the
        # code in Openpay's dashboard to verify the webhook. It is logged here and recorded as
        # the webhook event's id, "verification:<code>", with the body.
        log.info(
            "merchant %s: Openpay webhook %s verification code %s (type it in Openpay's "
            "dashboard to verify the webhook)",
            request.merchant_id,
            notification.webhook_id or "?",
            notification.verification_code,
        )
        return webhooks.ignored(notification)
    if notification.type not in webhooks.EVENT_KINDS or not notification.charge_id:
        return webhooks.ignored(notification)
    client = for_merchant(settings)
    with mapping.read_errors():  # unavailable: the gateway answers 503 and Openpay retries
        charge = client.get_charge(notification.charge_id)
        if charge is None and notification.order_id:
            # A transaction of its own (a chargeback's, say) that names our order: its charge.
            charge = client.find_charge(notification.order_id)
    if charge is None:
        log.warning("merchant %s: %s names an unknown charge", request.merchant_id, notification)
        return webhooks.ignored(notification)
    return webhooks.event(notification, charge)
