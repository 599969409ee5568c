"""Charges: a PaymentIntent confirmed with the browser's PaymentMethod, or a Checkout Session."""

from __future__ import annotations

import pytest
from stripe_factories import RETURN_URL, charge_request

from b2bgateway import (
    CustomerRef,
    Money,
    Outcome,
    ProcessorMisconfigured,
)
from b2bgateway_stripe.settings import API_VERSION


@pytest.mark.usefixtures("cassette")
def test_token_charge_succeeds(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.processor_reference == "pi_3QAcme0001"
    assert result.amount == Money("1500.00", "MXN")
    assert result.processor_status == "succeeded"
    # The core's key for this one operation is Stripe's Idempotency-Key, not a random one.
    assert cassette.sent.keys_for("POST", "/v1/payment_intents") == {"pay_01:charge"}
    assert not any("Authorization" in sent for sent in cassette.sent)  # filtered
    # The API version the cassettes follow, whatever the installed SDK's default.
    assert {sent["Stripe-Version"] for sent in cassette.sent} == {API_VERSION}


def test_token_charge_in_usd(processor, settings, cassette):
    request = charge_request(
        payment_id="pay_02",
        amount=Money("1234.56", "USD"),
        description="Facturas F-1, F-2",
        idempotency_key="pay_02:charge",
        token="pm_card_mastercard",
        return_url="https://portal.example.com/pagos/pay_02/regreso",
        metadata={"payment_id": "pay_02", "customer_id": "C-1"},
    )
    result = processor.charge(request, settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert result.amount == Money("1234.56", "USD")  # 123456 minor units, both ways


def test_token_charge_declined_error_response(processor, settings, cassette):
    token = "pm_card_visa_chargeDeclinedInsufficientFunds"
    result = processor.charge(charge_request(token=token), settings)

    assert result.outcome is Outcome.FAILED
    assert result.processor_reference == "pi_3QAcmeDecl01"
    assert result.failure.code == "insufficient_funds"
    assert result.failure.processor_code == "insufficient_funds"
    assert result.failure.processor_message == "Your card has insufficient funds."
    assert result.failure.message == "La tarjeta no tiene fondos suficientes."


def test_token_charge_3ds_redirect(processor, settings, cassette):
    request = charge_request(token="pm_card_authenticationRequired", return_url=RETURN_URL)
    result = processor.charge(request, settings)

    assert result.outcome is Outcome.PENDING
    assert result.processor_reference == "pi_3QAcme3ds01"
    action = result.next_action
    assert action.type == "redirect"
    assert action.url.startswith("https://hooks.stripe.com/3d_secure_2/hosted?")
    assert action.client_secret == "pi_3QAcme3ds01_secret_thr33"
    assert action.data["publishable_key"] == "pk_test_fake"


def test_token_charge_3ds_client_secret(processor, settings, cassette):
    """Without a return URL Stripe gives no redirect: Stripe.js finishes with the secret."""
    result = processor.charge(charge_request(token="pm_card_authenticationRequired"), settings)

    assert result.outcome is Outcome.PENDING
    action = result.next_action
    assert action.type == "client_secret"
    assert action.url is None
    assert action.client_secret == "pi_3QAcme3ds02_secret_sdk"
    assert action.data == {"payment_intent": "pi_3QAcme3ds02", "publishable_key": "pk_test_fake"}


def test_token_charge_bad_key_error_response(processor, settings, cassette):
    with pytest.raises(ProcessorMisconfigured, match="merchant acme") as raised:
        processor.charge(charge_request(), settings)

    assert "401" in raised.value.detail
    assert "sk_test" not in raised.value.detail  # Stripe's message echoes the (masked) key


def test_token_charge_restricted_key_error_response(processor, cassette):
    from conftest import raw_settings

    settings = processor.validate_settings(raw_settings(secret_key="rk_test_fake"))
    with pytest.raises(ProcessorMisconfigured, match="merchant acme may not do this"):
        processor.charge(charge_request(), settings)


def test_token_charge_stripe_failed_error_response(processor, settings, cassette):
    """A 5xx after sending: Stripe may have charged, so the core must reconcile."""
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.UNKNOWN
    assert result.processor_status.startswith("HTTP 500")


def test_token_charge_same_key_in_flight_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.UNKNOWN  # the first request with this key is running


def test_token_charge_rate_limited_then_charged(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.SUCCEEDED
    assert cassette.sent.keys_for("POST", "/v1/payment_intents") == {"pay_01:charge"}


def test_token_charge_rate_limited_throughout_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.UNKNOWN
    assert cassette.play_count == 3  # the first try and the two retries of RATE_LIMIT_DELAYS


def test_token_charge_unknown_payment_method_error_response(processor, settings, cassette):
    result = processor.charge(charge_request(token="pm_1NotARealOne"), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "invalid_payment_method"
    assert result.failure.processor_code == "resource_missing"


def test_token_that_is_not_a_payment_method_is_not_sent(processor, settings):
    result = processor.charge(charge_request(token="tok_visa"), settings)  # no cassette

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "invalid_payment_method"


def test_currency_stripe_plugin_does_not_take_is_not_sent(processor, settings):
    result = processor.charge(charge_request(amount=Money("100.00", "EUR")), settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "currency_not_supported"


def _hosted(**overrides):
    customer = CustomerRef("C-1", "Ferretería del Norte", "compras@ferreteria.example")
    overrides.setdefault("customer", customer)
    return charge_request(token=None, return_url=RETURN_URL, **overrides)


def test_hosted_checkout_redirects(processor, settings, cassette):
    result = processor.charge(_hosted(), settings)

    assert result.outcome is Outcome.PENDING
    assert result.processor_reference == "cs_test_a1QAcme0001"
    assert result.next_action.type == "redirect"
    assert result.next_action.url.startswith(
        "https://checkout.stripe.com/c/pay/cs_test_a1QAcme0001"
    )
    assert result.amount == Money("1500.00", "MXN")
    assert cassette.sent.keys_for("POST", "/v1/checkout/sessions") == {"pay_01:charge"}


def test_hosted_checkout_refused_error_response(processor, settings, cassette):
    request = _hosted(amount=Money("5.00", "MXN"), customer=CustomerRef("C-1"))
    result = processor.charge(request, settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "amount_out_of_range"
    assert result.failure.processor_code == "amount_too_small"


def test_hosted_checkout_bad_key_error_response(processor, settings, cassette):
    with pytest.raises(ProcessorMisconfigured, match="merchant acme"):
        processor.charge(_hosted(), settings)


def test_hosted_checkout_without_return_url_is_not_sent(processor, settings):
    result = processor.charge(charge_request(token=None), settings)  # no cassette

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "return_url_required"
