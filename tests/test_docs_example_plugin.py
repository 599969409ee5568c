"""The worked example of ``docs/plugins.md``: a complete minimal processor plugin, and its tests.

The code between the markers is the ``b2bgateway_tinypay/hooks.py`` printed in the guide, and
``tests/test_docs.py`` fails when the two differ, so the documented plugin is a tested one. The
tests register this module as the plugin, as a real plugin's tests register its ``hooks`` module.
"""

import sys

import pytest
from pydantic import ValidationError

from b2bgateway import CustomerRef, ProcessorContractError
from b2bgateway.plugins import Plugins, Processor, get_plugin_manager
from b2bgateway.testing import REQUIRED_HOOKS, assert_processor_conforms, registered

# isort: split
# -- docs example start --
# b2bgateway_tinypay/hooks.py: the only module of the plugin with @hookimpl.
# Tinypay is imaginary: it approves every token but "tok_declined", so this runs offline.
import hashlib
import hmac
import json

from pydantic import BaseModel, ConfigDict, SecretStr

from b2bgateway import (
    Capabilities,
    ChargeRequest,
    ChargeResult,
    EventKind,
    Failure,
    Money,
    NextAction,
    Outcome,
    ProcessorInfo,
    ProcessorPaymentNotFound,
    RefundRequest,
    RefundResult,
    RetrieveRequest,
    WebhookEvent,
    WebhookRequest,
    WebhookSignatureInvalid,
    hookimpl,
)


class TinypaySettings(BaseModel):
    """A merchant's ``[merchants.<id>.processors.tinypay]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_key: SecretStr
    webhook_secret: SecretStr
    checkout_url: str = "https://checkout.tinypay.example/pay"


@hookimpl
def b2bgateway_processor_info() -> ProcessorInfo:
    return ProcessorInfo(
        display_name="Tinypay",
        settings_model=TinypaySettings,
        capabilities=Capabilities(currencies=frozenset({"MXN", "USD"}), hosted_checkout=True),
        documentation_url="https://docs.tinypay.example",
    )


@hookimpl
def b2bgateway_create_charge(request: ChargeRequest, settings: TinypaySettings) -> ChargeResult:
    if request.token is None:  # no browser token: send the customer to the hosted page
        url = f"{settings.checkout_url}?order={request.payment_id}"
        return ChargeResult(Outcome.PENDING, next_action=NextAction("redirect", url=url))
    # A real plugin calls its client here, sending request.payment_id as the order id and
    # request.idempotency_key as the idempotency key, then maps the answer.
    if request.token == "tok_declined":
        failure = Failure("card_declined", "The card was declined.", processor_code="05")
        return ChargeResult(Outcome.FAILED, failure=failure, processor_status="rejected")
    return ChargeResult(
        Outcome.SUCCEEDED,
        processor_reference=f"tp_{request.payment_id}",
        amount=request.amount,
        processor_status="approved",
    )


@hookimpl
def b2bgateway_retrieve_payment(
    request: RetrieveRequest, settings: TinypaySettings
) -> ChargeResult:
    # A real plugin asks its client for the charge: by processor_reference when the gateway has
    # one, else by our payment_id (the order id it sent). Tinypay's references are the answer.
    if request.processor_reference is None:  # tells reconciliation it never reached Tinypay
        raise ProcessorPaymentNotFound(f"tinypay has no charge for order {request.payment_id}")
    return ChargeResult(
        Outcome.SUCCEEDED,
        processor_reference=request.processor_reference,
        amount=request.amount,
        processor_status="approved",
    )


@hookimpl
def b2bgateway_refund(request: RefundRequest, settings: TinypaySettings) -> RefundResult:
    # A real plugin calls its client with request.idempotency_key, so a retry refunds once.
    return RefundResult(Outcome.SUCCEEDED, processor_reference=f"tpr_{request.refund_id}")


@hookimpl
def b2bgateway_parse_webhook(request: WebhookRequest, settings: TinypaySettings) -> WebhookEvent:
    secret = settings.webhook_secret.get_secret_value().encode()
    expected = hmac.new(secret, request.body, hashlib.sha256).hexdigest().encode()
    presented = request.headers.get("tinypay-signature", "").encode()
    if not hmac.compare_digest(expected, presented):  # constant time, over the raw body
        raise WebhookSignatureInvalid("tinypay-signature does not match the body")
    payload = json.loads(request.body)
    if payload["type"] != "charge.succeeded":
        return WebhookEvent(payload["id"], EventKind.IGNORED, event_type=payload["type"])
    return WebhookEvent(
        event_id=payload["id"],
        kind=EventKind.PAYMENT,
        event_type=payload["type"],
        payment_id=payload["order"],
        processor_reference=payload["charge"],
        outcome=Outcome.SUCCEEDED,
        amount=Money(payload["amount"], payload["currency"]),  # a decimal string, never a float
    )


# -- docs example end --

SECRET = "whsec_tinypay_test"


@pytest.fixture
def tinypay() -> Processor:
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(sys.modules[__name__], name="tinypay")
    return Plugins(pm).processor("tinypay")


@pytest.fixture
def settings(tinypay):
    return tinypay.validate_settings({"api_key": "tp_test_key", "webhook_secret": SECRET})


def charge(**overrides):
    values = dict(
        payment_id="pay_1",
        merchant_id="acme",
        amount=Money("1500.00", "MXN"),
        customer=CustomerRef("C-1"),
        description="Pedido PED-77",
        idempotency_key="pay_1:charge",
        token="tok_visa",
    )
    values.update(overrides)
    return ChargeRequest(**values)


def webhook(payload, secret=SECRET):
    body = json.dumps(payload).encode()
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return WebhookRequest(merchant_id="acme", body=body, headers={"tinypay-signature": signature})


def test_info_names_the_settings_model_and_capabilities(tinypay):
    assert tinypay.name == "tinypay"
    assert tinypay.info.display_name == "Tinypay"
    assert tinypay.info.settings_model is TinypaySettings
    assert tinypay.info.capabilities.currencies == {"MXN", "USD"}


def test_settings_are_validated_with_the_plugins_model(tinypay):
    with pytest.raises(ValidationError, match="webhook_secret"):
        tinypay.validate_settings({"api_key": "tp_test_key"})
    with pytest.raises(ValidationError, match="extra"):
        tinypay.validate_settings({"api_key": "k", "webhook_secret": "s", "apikey": "typo"})


def test_a_token_charge_succeeds(tinypay, settings):
    result = tinypay.charge(charge(), settings)

    assert result == ChargeResult(
        Outcome.SUCCEEDED,
        processor_reference="tp_pay_1",
        amount=Money("1500.00", "MXN"),
        processor_status="approved",
    )


def test_a_declined_card_is_a_failed_result_not_an_exception(tinypay, settings):
    result = tinypay.charge(charge(token="tok_declined"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure == Failure("card_declined", "The card was declined.", processor_code="05")


def test_without_a_token_the_customer_is_sent_to_the_hosted_page(tinypay, settings):
    result = tinypay.charge(charge(token=None), settings)

    assert result.outcome is Outcome.PENDING
    assert result.next_action == NextAction(
        "redirect", url="https://checkout.tinypay.example/pay?order=pay_1"
    )


def test_a_signed_webhook_becomes_a_payment_event(tinypay, settings):
    payload = {
        "id": "evt_1",
        "type": "charge.succeeded",
        "order": "pay_1",
        "charge": "tp_pay_1",
        "amount": "1500.00",
        "currency": "MXN",
    }

    event = tinypay.parse_webhook(webhook(payload), settings)

    assert event.kind is EventKind.PAYMENT
    assert (event.event_id, event.payment_id, event.processor_reference) == (
        "evt_1",
        "pay_1",
        "tp_pay_1",
    )
    assert event.outcome is Outcome.SUCCEEDED
    assert event.amount == Money("1500.00", "MXN")


def test_a_webhook_signed_with_another_secret_is_refused(tinypay, settings):
    forged = webhook({"id": "evt_1", "type": "charge.succeeded"}, secret="whsec_guess")
    with pytest.raises(WebhookSignatureInvalid):
        tinypay.parse_webhook(forged, settings)


def test_an_unsigned_webhook_is_refused(tinypay, settings):
    request = WebhookRequest(merchant_id="acme", body=b"{}", headers={})
    with pytest.raises(WebhookSignatureInvalid):
        tinypay.parse_webhook(request, settings)


def test_topics_the_gateway_does_not_act_on_are_ignored_not_refused(tinypay, settings):
    event = tinypay.parse_webhook(webhook({"id": "evt_2", "type": "customer.created"}), settings)

    assert event == WebhookEvent("evt_2", EventKind.IGNORED, event_type="customer.created")


def test_it_passes_the_conformance_kit(tinypay, settings):
    """What every processor plugin runs (b2bgateway.testing); Tinypay is not installed, so its
    entry point is not looked for."""
    signed = webhook({"id": "evt_3", "type": "customer.created"})
    example = sys.modules[__name__]
    assert_processor_conforms(
        "tinypay", example, settings, signed_webhook=signed, entry_point=False
    )


def test_a_payment_is_looked_up_by_its_reference(tinypay, settings):
    found = tinypay.retrieve(
        RetrieveRequest("pay_1", "acme", "tp_pay_1", Money("1500.00", "MXN")), settings
    )
    assert (found.outcome, found.processor_reference) == (Outcome.SUCCEEDED, "tp_pay_1")
    with pytest.raises(ProcessorPaymentNotFound):
        tinypay.retrieve(RetrieveRequest("pay_2", "acme"), settings)


def test_a_refund_succeeds_with_its_reference(tinypay, settings):
    request = RefundRequest(
        "re_1", "pay_1", "acme", "tp_pay_1", Money("500.00", "MXN"), "re_1:refund"
    )
    assert tinypay.refund(request, settings) == RefundResult(Outcome.SUCCEEDED, "tpr_re_1")


def test_cancelling_is_optional(tinypay, settings):
    """Tinypay cannot cancel: None, so the gateway asks retrieve instead (docs/plugins.md)."""
    cancel = RetrieveRequest(payment_id="pay_1", merchant_id="acme", processor_reference="tp_1")
    assert tinypay.cancel(cancel, settings) is None
    assert "b2bgateway_cancel_payment" not in REQUIRED_HOOKS


def test_without_a_required_hook_it_would_not_conform(settings):
    class WithoutRefund:  # the example as it was before the guide said which hooks are required
        b2bgateway_processor_info = staticmethod(b2bgateway_processor_info)
        b2bgateway_create_charge = staticmethod(b2bgateway_create_charge)
        b2bgateway_retrieve_payment = staticmethod(b2bgateway_retrieve_payment)
        b2bgateway_parse_webhook = staticmethod(b2bgateway_parse_webhook)

    signed = webhook({"id": "evt_3", "type": "customer.created"})
    with pytest.raises(AssertionError, match=r"does not implement \['b2bgateway_refund'\]"):
        assert_processor_conforms(
            "tinypay", WithoutRefund(), settings, signed_webhook=signed, entry_point=False
        )


def test_a_required_hook_that_answers_nothing_is_a_contract_error(settings):
    class Silent:
        b2bgateway_processor_info = staticmethod(b2bgateway_processor_info)

        @hookimpl
        def b2bgateway_refund(self, request, settings):
            return None

    request = RefundRequest("re_1", "pay_1", "acme", "tp_1", Money("1.00", "MXN"), "re_1:refund")
    with pytest.raises(ProcessorContractError, match="returned nothing"):
        registered("tinypay", Silent()).refund(request, settings)
