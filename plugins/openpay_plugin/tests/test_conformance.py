"""The core's processor conformance checks, and what the plugin declares."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from conftest import raw_settings
from openpay_factories import notification

from b2bgateway import UnsupportedRequest
from b2bgateway.testing import assert_method_conforms, assert_processor_conforms, method_request
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


def spei_settings(processor):
    return processor.validate_settings(raw_settings(spei_beneficiary="Distribuidora del Norte SA"))


def test_cash_conforms(processor, settings, cassette):
    """``method: "store"``: the reference and barcode to take to the store, until due_date."""
    result = assert_method_conforms("openpay", hooks, settings, "cash")
    voucher = result.next_action.cash_voucher
    assert voucher.reference == "000020TRNIRKIYOBO5QFEX55EF0100009"
    assert voucher.barcode_url.endswith("text=false")
    assert voucher.expires_at == datetime(2030, 1, 4, tzinfo=UTC)
    assert result.expires_at == voucher.expires_at  # Openpay's own expiry, for the core


def test_spei_conforms(processor, cassette):
    """``method: "bank_account"``: CLABE, bank, concept and BBVA's CIE agreement."""
    result = assert_method_conforms("openpay", hooks, spei_settings(processor), "bank_transfer")
    transfer = result.next_action.bank_transfer
    assert (transfer.clabe, transfer.bank) == ("012914002014112176", "BBVA Bancomer")
    assert transfer.beneficiary == "Distribuidora del Norte SA"
    assert transfer.reference == "11030021342311520255"
    assert result.next_action.data == {"agreement": "1411217"}


def test_spei_without_a_beneficiary_is_not_sent(processor, settings):
    with pytest.raises(UnsupportedRequest, match="spei_beneficiary"):
        processor.charge(method_request("bank_transfer"), settings)


def test_msi_conforms(processor, settings, cassette):
    """``payment_plan: {"payments": 6}``; the paid charge's details for the CFDI."""
    result = assert_method_conforms(
        "openpay", hooks, settings, "card", token="kqgykn96i7bcs1wwhvgw", installments=6
    )
    details = result.method_details
    assert (details.brand, details.funding, details.last4) == ("visa", "debit", "1111")
    assert (details.installments, details.authorization_code) == (6, "801585")
    assert details.paid_at == datetime(2030, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=-6)))


def test_msi_counts_are_openpays(processor):
    assert processor.info.capabilities.installments == frozenset({3, 6, 9, 12, 18})
    assert processor.info.capabilities.payment_methods == {"card", "cash", "bank_transfer"}


def test_msi_on_the_card_page_is_not_sent(processor, settings):
    """The reference's card-page request takes no payment_plan: refused before any call."""
    with pytest.raises(UnsupportedRequest, match="MSI"):
        processor.charge(method_request("card", installments=6), settings)
