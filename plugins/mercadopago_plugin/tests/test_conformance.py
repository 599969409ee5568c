"""The core's processor conformance checks, and the settings table."""

from __future__ import annotations

from typing import Any

import pytest
from helpers import settings_table
from pydantic import ValidationError
from test_webhooks import notification

from b2bgateway.plugins import Processor
from b2bgateway.testing import assert_processor_conforms
from b2bgateway_mercadopago import hooks


def test_conforms(settings: Any) -> None:
    # A signed topic the gateway does not act on: accepted without fetching anything.
    order = notification("28937471", topic="merchant_order", action="merchant_order.updated")
    assert_processor_conforms("mercadopago", hooks, settings, signed_webhook=order)


def test_capabilities(processor: Processor) -> None:
    caps = processor.info.capabilities

    assert caps.currencies == frozenset({"MXN"})  # Mercado Pago México's, not every site's
    assert caps.payment_methods == frozenset({"card", "cash", "bank_transfer"})
    assert caps.installments == frozenset({3, 6, 9, 12, 18, 24})
    assert caps.token_charge
    assert caps.hosted_checkout
    assert caps.partial_refund
    assert caps.requires_webhook_secret
    assert caps.three_d_secure  # with three_d_secure_mode = "optional": a post_form challenge
    assert caps.required["bank_transfer"] == frozenset({"customer.email"})


def test_webhook_secret_is_required(processor: Processor) -> None:
    table = settings_table()
    del table["webhook_secret"]

    with pytest.raises(ValidationError, match="webhook_secret"):
        processor.validate_settings(table)


@pytest.mark.parametrize(
    "override",
    [
        {"currency": "USD"},
        {"currency": "ARS"},  # another site's currency
        {"signature_max_age_seconds": 60},
        {"acces_token": "typo"},
        {"read_timeout": 0},
        {"api_base_url": "api.mercadopago.com"},
        {"statement_descriptor": "X" * 23},
        {"three_d_secure_mode": "mandatory"},  # not one Mercado Pago's guide documents
    ],
)
def test_invalid_settings_are_refused(processor: Processor, override: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        processor.validate_settings(settings_table(**override))


def test_secrets_never_show(settings: Any) -> None:
    shown = repr(settings) + str(settings)

    assert settings.access_token.get_secret_value() not in shown
    assert settings.webhook_secret.get_secret_value() not in shown
