import pytest
from pydantic import BaseModel, SecretStr

from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import Capabilities, ChargeResult, Outcome, ProcessorInfo, WebhookEvent
from b2bgateway.sandbox import hooks as sandbox_hooks
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.testing import (
    assert_processor_conforms,
    check_forged_webhooks_are_refused,
    registered,
)


def test_the_sandbox_conforms(tmp_path):
    settings = SandboxSettings(
        webhook_secret=SecretStr("whsec_conformance"), ledger_path=str(tmp_path / "l.db")
    )
    assert_processor_conforms("sandbox", sandbox_hooks, settings)


class Careless(BaseModel):
    api_key: str = "sk_plain"


class TrustingProcessor:
    @hookimpl
    def b2bgateway_processor_info(self):
        return ProcessorInfo("Trusting", Careless, Capabilities(frozenset({"MXN"})))

    @hookimpl
    def b2bgateway_create_charge(self, request, settings):
        return ChargeResult(Outcome.UNKNOWN)

    @hookimpl
    def b2bgateway_retrieve_payment(self, request, settings):
        return ChargeResult(Outcome.UNKNOWN)

    @hookimpl
    def b2bgateway_refund(self, request, settings):
        return None

    @hookimpl
    def b2bgateway_parse_webhook(self, request, settings):
        from b2bgateway.interface import EventKind

        return WebhookEvent("evt", EventKind.IGNORED)


def test_the_checks_catch_a_careless_plugin():
    plugin = TrustingProcessor()
    with pytest.raises(AssertionError, match="api_key must be a SecretStr"):
        assert_processor_conforms("trusting", plugin, Careless())
    with pytest.raises(AssertionError, match="accepted a forged notification"):
        check_forged_webhooks_are_refused(registered("trusting", plugin), Careless())
