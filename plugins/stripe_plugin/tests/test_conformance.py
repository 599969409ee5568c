"""The core's processor conformance checks, what the plugin declares, and its settings."""

from __future__ import annotations

import pytest
from conftest import SECRET_KEY, WEBHOOK_SECRET, raw_settings
from pydantic import ValidationError
from stripe_factories import event, signed

from b2bgateway.testing import assert_processor_conforms
from b2bgateway_stripe import hooks
from b2bgateway_stripe.settings import StripeSettings


def test_conforms(settings):
    # A topic the gateway does not act on, signed as Stripe signs: accepted, nothing fetched.
    notification = signed(
        event("customer.created", {"id": "cus_1", "object": "customer"}), WEBHOOK_SECRET
    )
    assert_processor_conforms("stripe", hooks, settings, signed_webhook=notification)


def test_declares_what_it_implements(processor):
    info = processor.info
    assert info.display_name == "Stripe"
    assert info.settings_model is StripeSettings
    caps = info.capabilities
    assert caps.currencies == frozenset({"MXN", "USD"})
    assert caps.token_charge
    assert caps.hosted_checkout
    assert caps.partial_refund
    assert caps.three_d_secure
    assert caps.requires_webhook_secret
    assert caps.payment_methods == frozenset({"card", "cash", "bank_transfer"})
    assert caps.installments == frozenset({3, 6, 9, 12, 18, 24})


def test_secrets_never_show(settings):
    shown = repr(settings) + str(settings)
    assert SECRET_KEY not in shown
    assert WEBHOOK_SECRET not in shown


def _problems(raw):
    with pytest.raises(ValidationError) as raised:
        StripeSettings.model_validate(raw)
    # As the core reports them: keys and messages, never the values.
    errors = raised.value.errors(include_input=False)
    return {".".join(map(str, error["loc"])): error["msg"] for error in errors}


def test_webhook_secret_is_required():
    raw = raw_settings()
    del raw["webhook_secret"]
    assert "webhook_secret" in _problems(raw)


def test_misspelt_key_is_refused():
    assert "secrets_key" in _problems(raw_settings(secrets_key="sk_test_x"))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("secret_key", "pk_test_not_a_secret_key"),
        ("webhook_secret", "not-a-signing-secret"),
        ("publishable_key", "sk_test_in_the_wrong_place"),
        ("api_version", "latest"),
        ("api_base", "ftp://example.com"),
        ("max_network_retries", 9),
        ("read_timeout", -5),
    ],
)
def test_bad_values_are_refused_without_showing_them(key, value):
    problems = _problems(raw_settings(**{key: value}))

    assert key in problems
    assert str(value) not in str(problems)


def test_test_and_live_keys_are_not_mixed():
    problems = _problems(raw_settings(publishable_key="pk_live_fake"))

    assert "same mode" in str(problems)


def test_restricted_and_live_keys_are_accepted():
    live = StripeSettings.model_validate(
        raw_settings(secret_key="rk_live_fake", publishable_key="pk_live_fake")
    )
    assert live.live
    assert not StripeSettings.model_validate(raw_settings()).live
