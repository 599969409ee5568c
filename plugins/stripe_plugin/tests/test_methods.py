"""Mexican methods through the contract: OXXO vouchers, SPEI transfers to the CLABE of the
customer's Stripe Customer (customer_balance), and MSI on cards; each checked with the core's
conformance kit (``assert_method_conforms``) and against Stripe's documented objects."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from stripe_factories import RETURN_URL, charge_request

from b2bgateway import Money, Outcome
from b2bgateway.testing import assert_method_conforms, method_request
from b2bgateway_stripe import hooks


def test_oxxo_voucher(settings, cassette):
    result = assert_method_conforms("stripe", hooks, settings, "cash")

    assert result.processor_reference == "pi_3QAcmeOxxo01"
    voucher = result.next_action.cash_voucher
    assert voucher.reference == "12345678901234657890123456789012"
    assert voucher.voucher_url.startswith("https://payments.stripe.com/oxxo/voucher/")
    assert voucher.expires_at == datetime(2026, 1, 7, 23, 59, 59, tzinfo=UTC)
    assert result.expires_at == voucher.expires_at  # the core waits no longer than the voucher
    assert result.processor_customer is None


def test_oxxo_without_the_customer_s_email_is_not_sent(processor, settings):
    request = method_request("cash")
    request = dataclasses.replace(
        request, customer=dataclasses.replace(request.customer, email=None)
    )

    result = processor.charge(request, settings)

    assert result.outcome is Outcome.FAILED
    assert result.failure.code == "customer_email_required"


def test_spei_makes_the_stripe_customer_once(settings, cassette):
    result = assert_method_conforms("stripe", hooks, settings, "bank_transfer")

    # The core keeps it and sends it with this customer's next transfers.
    assert result.processor_customer == "cus_QAcme0001"
    assert cassette.sent.keys_for("POST", "/v1/customers") == {"conformance:C-1:customer"}
    instructions = result.next_action.bank_transfer
    assert (instructions.clabe, instructions.bank) == ("646180111800001016", "STP")
    assert instructions.beneficiary == "Ferretera Mayorista SA de CV"
    assert instructions.reference == "4321987"
    assert instructions.hosted_instructions_url.startswith("https://payments.stripe.com/")
    assert result.received == Money("0.00", "MXN")


def test_spei_finds_the_customer_s_stripe_customer_first(settings, cassette):
    """One the core does not remember (lost, or made before it kept them) is found by our
    metadata, the oldest first: a new Customer would give the customer a new CLABE."""
    result = assert_method_conforms("stripe", hooks, settings, "bank_transfer")

    assert result.processor_customer == "cus_QAcme0001"  # the core remembers it from now on
    assert not cassette.sent.keys_for("POST", "/v1/customers")
    assert result.next_action.bank_transfer.clabe == "646180111800001016"


def test_spei_uses_the_remembered_customer(settings, cassette):
    result = assert_method_conforms(
        "stripe", hooks, settings, "bank_transfer", processor_customer="cus_QAcme0001"
    )

    assert result.processor_customer is None  # nothing new to remember
    assert not cassette.sent.keys_for("POST", "/v1/customers")


def test_cash_and_transfers_are_mxn_only(processor, settings):
    for method in ("cash", "bank_transfer"):
        result = processor.charge(method_request(method, amount=Money("80.00", "USD")), settings)
        assert result.failure.code == "currency_not_supported"


def test_msi_on_a_token_charge(settings, cassette):
    result = assert_method_conforms(
        "stripe", hooks, settings, "card", token="pm_card_mx", installments=3
    )

    assert result.outcome is Outcome.SUCCEEDED
    details = result.method_details
    assert (details.brand, details.last4, details.funding) == ("visa", "0008", "credit")
    assert (details.authorization_code, details.installments) == ("A1B2C3", 3)
    assert details.paid_at == datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    assert result.references == ("pi_3QAcmeMsi001", "ch_3QAcmeMsi001")


def test_msi_on_checkout_lets_the_customer_pick_the_plan(processor, settings, cassette):
    request = charge_request(token=None, return_url=RETURN_URL, installments=6)

    result = processor.charge(request, settings)

    assert result.outcome is Outcome.PENDING
    assert result.next_action.url.startswith("https://checkout.stripe.com/")
