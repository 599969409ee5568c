"""What a processor declares it cannot take, refused before the payment exists (a 422 and no
row, never a payment created and failed by the plugin) or at start-up: MSI only on a token
(``installments_need_token``), fields a merchant's setting makes required
(``required_with_setting``), currencies per payment method (``method_currencies``) and settings a
method needs (``method_settings``)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from b2bgateway import service
from b2bgateway.checkout_rules import required_for
from b2bgateway.errors import (
    ConfigurationError,
    InstallmentsNotAvailable,
    PaymentMethodNotAvailable,
    RequiredByProcessor,
)
from b2bgateway.gateway import Gateway
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    Capabilities,
    ChargeRequest,
    ChargeResult,
    Outcome,
    ProcessorInfo,
)
from b2bgateway.plugins import Plugins, get_plugin_manager
from b2bgateway.settings import Settings, resolve_merchants
from b2bgateway.store.models import Payment
from tests.conftest import API_KEY
from tests.support.seeding import seed_customer

CAPABILITIES = Capabilities(
    currencies=frozenset({"MXN", "USD"}),
    hosted_checkout=True,
    requires_webhook_secret=False,
    payment_methods=frozenset({"card", "bank_transfer", "cash"}),
    installments=frozenset({3, 6}),
    required_with_setting={"strict_3ds": {"card_token": frozenset({"return_url"})}},
    installments_need_token=True,
    method_currencies={"bank_transfer": frozenset({"MXN"}), "cash": frozenset({"MXN"})},
    method_settings={"bank_transfer": frozenset({"beneficiary"})},
)


class DeclaringSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    strict_3ds: bool = False
    beneficiary: str | None = None


class Declaring:
    """A processor that declares the capabilities above and records what reaches it."""

    def __init__(self, capabilities: Capabilities = CAPABILITIES) -> None:
        self.capabilities = capabilities
        self.requests: list[ChargeRequest] = []

    @hookimpl
    def b2bgateway_processor_info(self) -> ProcessorInfo:
        return ProcessorInfo("Declaring", DeclaringSettings, self.capabilities)

    @hookimpl
    def b2bgateway_create_charge(self, request: ChargeRequest, settings: Any) -> ChargeResult:
        self.requests.append(request)
        return ChargeResult(Outcome.SUCCEEDED, processor_reference=f"ch_{len(self.requests)}")


def build(
    store: Any, database_url: str, processor: Declaring, **processor_settings: Any
) -> Gateway:
    settings = Settings(
        database_url=database_url,
        merchants={
            "acme": {
                "api_keys": [API_KEY],
                "processor": "declaring",
                "invoice_payments": True,
                "payment_methods": ["card", "cash"],
                "installments": [3, 6],
                "processors": {"declaring": processor_settings},
            }
        },
    )
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(processor, name="declaring")
    return Gateway.build(settings, Plugins(pm), store)


def checkout(gw: Gateway, key: str, invoice: str = "F-1", **kwargs: Any) -> Payment:
    fields = {"customer_id": "C-1", "purpose": "invoices", "invoice_ids": (invoice,), **kwargs}
    request = service.CheckoutRequest(idempotency_key=key, **fields)
    return service.checkout(gw, gw.merchants["acme"], request)


def no_payment(gw: Gateway, processor: Declaring) -> bool:
    with gw.store.read() as session:
        return session.scalars(select(Payment)).all() == [] and processor.requests == []


@pytest.fixture(autouse=True)
def seeded(store: Any) -> None:
    seed_customer(store, "acme", (("F-1", "1000.00"),), email="cxp@ferreteria.example")
    seed_customer(store, "acme", (("U-1", "50.00"),), customer_id="C-2", currency="USD")


def test_installments_without_a_token_are_refused_when_they_need_one(store, database_url):
    processor = Declaring()
    gw = build(store, database_url, processor)
    with pytest.raises(InstallmentsNotAvailable) as refused:
        checkout(gw, "k1", installments=3, return_url="https://portal.example/r")
    assert refused.value.status == 422
    assert "token" in refused.value.detail
    assert no_payment(gw, processor)
    assert checkout(gw, "k2", token="tok", installments=3).status == "succeeded"


def test_installments_on_a_hosted_page_are_taken_by_default(store, database_url):
    processor = Declaring(replace(CAPABILITIES, installments_need_token=False))
    gw = build(store, database_url, processor)
    assert checkout(gw, "k1", installments=3).status == "succeeded"
    assert processor.requests[0].installments == 3


def test_a_setting_of_the_merchant_makes_a_field_required(store, database_url):
    strict = Declaring()
    gw = build(store, database_url, strict, strict_3ds=True)
    with pytest.raises(RequiredByProcessor) as refused:
        checkout(gw, "k1", token="tok")
    assert refused.value.extra == {"missing": ["return_url"]}
    assert no_payment(gw, strict)
    assert checkout(gw, "k2", token="tok", return_url="https://portal.example/r").status == (
        "succeeded"
    )


def test_without_the_setting_the_field_is_not_required(store, database_url):
    gw = build(store, database_url, Declaring(), strict_3ds=False)
    assert checkout(gw, "k1", token="tok").status == "succeeded"


def test_a_method_in_a_currency_it_does_not_take_is_refused(store, database_url):
    processor = Declaring()
    gw = build(store, database_url, processor)
    with pytest.raises(PaymentMethodNotAvailable) as refused:
        checkout(gw, "k1", "U-1", customer_id="C-2", payment_method="cash")
    assert refused.value.status == 422
    assert refused.value.extra == {"payment_methods": ["card"], "currencies": ["MXN"]}
    assert no_payment(gw, processor)
    paid = checkout(gw, "k2", "U-1", customer_id="C-2", token="tok")  # a card takes USD
    assert paid.status == "succeeded"


def test_a_method_without_the_settings_it_needs_stops_start_up():
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Declaring(), name="declaring")
    settings = Settings(
        merchants={
            "m": {"processor": "declaring", "payment_methods": ["card", "bank_transfer"]},
        },
    )
    with pytest.raises(ConfigurationError) as refused:
        resolve_merchants(settings, Plugins(pm))
    assert refused.value.problems == [
        ("merchants.m.processors.declaring", "set beneficiary to offer bank_transfer")
    ]
    fine = settings.model_copy(
        update={
            "merchants": {
                "m": settings.merchants["m"].model_copy(
                    update={"processors": {"declaring": {"beneficiary": "Acme SA"}}}
                )
            }
        }
    )
    assert resolve_merchants(fine, Plugins(pm))["m"].processor is not None


@pytest.mark.parametrize(
    "declared",
    [
        {"method_currencies": {"cash": frozenset({"MXN"})}},  # not a method it charges
        {"method_settings": {"bank_transfer": frozenset({"x"})}},
        {"payment_methods": frozenset({"cash"}), "method_currencies": {"cash": frozenset({"EUR"})}},
    ],
)
def test_capabilities_refuse_what_they_cannot_mean(declared):
    with pytest.raises(ValueError, match=r"payment methods|among currencies"):
        Capabilities(currencies=frozenset({"MXN"}), **declared)


def test_what_a_merchant_must_send_includes_what_its_settings_require():
    """``required_for`` is what a checkout must carry for a merchant with these settings (the
    check above and ``GET /v1/processors``'s ``capabilities.required``)."""
    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(Declaring(), name="declaring")
    processor = Plugins(pm).processor("declaring")
    assert required_for(processor, DeclaringSettings(strict_3ds=True)) == {
        "card_token": frozenset({"return_url"})
    }
    assert required_for(processor, DeclaringSettings()) == {}
    assert required_for(processor, None) == {}
