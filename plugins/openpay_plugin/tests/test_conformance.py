"""The core's processor conformance checks, and what the plugin declares."""

from __future__ import annotations

from openpay_factories import notification

from b2bgateway.testing import assert_processor_conforms
from b2bgateway_openpay import hooks


def test_conforms(settings):
    # Openpay's test delivery when a webhook is registered, with the merchant's Basic credentials.
    verification = notification(
        {
            "type": "verification",
            "event_date": "2024-01-10T12:00:05-06:00",
            "verification_code": "a1b2c3",
        }
    )
    assert_processor_conforms("openpay", hooks, settings, signed_webhook=verification)


def test_declares_what_it_implements(processor):
    caps = processor.info.capabilities
    assert caps.currencies == frozenset({"MXN", "USD"})
    assert caps.token_charge
    assert caps.hosted_checkout
    assert caps.three_d_secure
    assert caps.partial_refund
    assert caps.requires_webhook_secret


def test_secrets_never_show(settings):
    shown = repr(settings) + str(settings)
    assert settings.private_key.get_secret_value() not in shown
    assert settings.webhook_password.get_secret_value() not in shown
