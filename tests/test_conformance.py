from typing import Any

import pytest
from pydantic import BaseModel, SecretStr

from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    Capabilities,
    ChargeResult,
    Outcome,
    ProcessorInfo,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.sandbox import hooks as sandbox_hooks
from b2bgateway.sandbox.settings import SandboxSettings
from b2bgateway.sandbox.signing import HEADER
from b2bgateway.signing import sign
from b2bgateway.testing import (
    assert_processor_conforms,
    check_forged_webhooks_are_refused,
    check_secrets,
    check_webhook_secret_field,
    registered,
)

SANDBOX_SECRET = SecretStr("whsec_conformance")


def sandbox_notification(secret: SecretStr = SANDBOX_SECRET) -> WebhookRequest:
    """A sandbox notification of a topic the gateway does not act on, signed with ``secret``."""
    body = b'{"id": "evt_conformance", "type": "account.updated", "created": "2030-01-01T00:00:00Z", "data": {}}'
    return WebhookRequest("conformance", body, {HEADER.lower(): sign(secret, body)})


def test_the_sandbox_conforms(tmp_path):
    settings = SandboxSettings(webhook_secret=SANDBOX_SECRET, ledger_path=str(tmp_path / "l.db"))
    assert_processor_conforms(
        "sandbox", sandbox_hooks, settings, signed_webhook=sandbox_notification()
    )


def test_a_plugin_that_refuses_its_own_signed_notification_does_not_conform(tmp_path):
    settings = SandboxSettings(webhook_secret=SANDBOX_SECRET, ledger_path=str(tmp_path / "l.db"))
    signed_otherwise = sandbox_notification(SecretStr("whsec_another_secret"))
    with pytest.raises(AssertionError, match="refused a correctly signed notification"):
        assert_processor_conforms(
            "sandbox", sandbox_hooks, settings, signed_webhook=signed_otherwise
        )


class Wallet(BaseModel):
    """Secrets where a name check would not look: a list, a nested model, an odd name."""

    class Account(BaseModel):
        credential: SecretStr

    keys: list[SecretStr]
    account: Account
    webhook_secret: SecretStr

    def __repr__(self) -> str:  # a careless repr that shows what SecretStr hides
        return f"Wallet({self.keys[0].get_secret_value()}, {self.account.credential.get_secret_value()})"


def _info(model: type[BaseModel], **caps: Any) -> ProcessorInfo:
    return ProcessorInfo("Careful", model, Capabilities(frozenset({"MXN"}), **caps))


def test_secrets_are_found_by_type_wherever_they_are():
    wallet = Wallet(
        keys=[SecretStr("key_in_a_list")],
        account={"credential": SecretStr("nested_credential")},
        webhook_secret=SecretStr("whsec_x"),
    )
    with pytest.raises(AssertionError, match="SecretStr value shows"):
        check_secrets(_info(Wallet), wallet)


class NoWebhookField(BaseModel):
    api_key: SecretStr
    signing_key: SecretStr | None = None


class PlainWebhookSecret(BaseModel):
    webhook_secret: str


def test_the_webhook_secret_is_a_secret_field_named_webhook():
    with pytest.raises(AssertionError, match="name its settings field with 'webhook'"):
        check_webhook_secret_field(_info(NoWebhookField), NoWebhookField(api_key="k"))
    # A processor that verifies notifications without a secret says so, and needs none.
    check_webhook_secret_field(
        _info(NoWebhookField, requires_webhook_secret=False), NoWebhookField(api_key="k")
    )
    with pytest.raises(AssertionError, match="the webhook secret must be a SecretStr"):
        check_webhook_secret_field(
            _info(PlainWebhookSecret), PlainWebhookSecret(webhook_secret="whsec_plain")
        )


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
        assert_processor_conforms(
            "trusting", plugin, Careless(), signed_webhook=sandbox_notification()
        )
    with pytest.raises(AssertionError, match="accepted a forged notification"):
        check_forged_webhooks_are_refused(registered("trusting", plugin), Careless())


# -- payment methods -------------------------------------------------------------------------

from b2bgateway.interface import (  # noqa: E402
    BankTransferInstructions,
    CashVoucher,
    MethodDetails,
    NextAction,
)
from b2bgateway.testing import (  # noqa: E402
    assert_method_conforms,
    check_method_result,
    clabe_is_valid,
    method_request,
)


class Settings(BaseModel):
    webhook_secret: SecretStr = SecretStr("whsec_conformance")


class MethodsProcessor:
    """Answers each method as the kit expects, or with the fault the test names."""

    def __init__(self, clabe="002010077777777771", voucher_expires=True, details=True):
        self.clabe = clabe
        self.voucher_expires = voucher_expires
        self.details = details

    @hookimpl
    def b2bgateway_processor_info(self):
        caps = Capabilities(
            frozenset({"MXN"}),
            payment_methods=frozenset({"card", "bank_transfer", "cash"}),
            installments=frozenset({3, 6}),
        )
        return ProcessorInfo("Methods", Settings, caps)

    @hookimpl
    def b2bgateway_create_charge(self, request, settings):
        if request.payment_method == "bank_transfer":
            action = NextAction(
                type="display_bank_transfer_instructions",
                bank_transfer=BankTransferInstructions(
                    self.clabe, "STP", "Distribuidora", request.amount, "1234567"
                ),
            )
            return ChargeResult(Outcome.PENDING, "ch_1", next_action=action)
        if request.payment_method == "cash":
            voucher = CashVoucher(
                "98000012345678",
                request.amount,
                expires_at=request.expires_at if self.voucher_expires else None,
            )
            action = NextAction(type="display_cash_voucher", cash_voucher=voucher)
            return ChargeResult(Outcome.PENDING, "ch_2", next_action=action)
        details = MethodDetails("card", "visa", "4242", "credit", "123456", request.installments)
        return ChargeResult(
            Outcome.SUCCEEDED, "ch_3", method_details=details if self.details else None
        )

    @hookimpl
    def b2bgateway_retrieve_payment(self, request, settings):
        return ChargeResult(Outcome.UNKNOWN)

    @hookimpl
    def b2bgateway_refund(self, request, settings):
        return None

    @hookimpl
    def b2bgateway_parse_webhook(self, request, settings):
        from b2bgateway.errors import WebhookSignatureInvalid

        raise WebhookSignatureInvalid("no")


@pytest.mark.parametrize(
    ("method", "fields"),
    [("bank_transfer", {}), ("cash", {}), ("card", {"token": "tok", "installments": 3})],
)
def test_a_plugin_that_answers_each_declared_method_conforms(method, fields):
    result = assert_method_conforms("methods", MethodsProcessor(), Settings(), method, **fields)
    assert result.processor_reference


@pytest.mark.parametrize(
    ("plugin", "method", "fields", "message"),
    [
        (MethodsProcessor(clabe="002010077777777772"), "bank_transfer", {}, "valid CLABE"),
        (MethodsProcessor(voucher_expires=False), "cash", {}, "until when"),
        (MethodsProcessor(details=False), "card", {"token": "tok"}, "method details"),
        (MethodsProcessor(), "card", {"token": "tok", "installments": 12}, "12 MSI"),
    ],
)
def test_the_method_checks_catch_what_the_core_could_not_use(plugin, method, fields, message):
    with pytest.raises(AssertionError, match=message):
        assert_method_conforms("methods", plugin, Settings(), method, **fields)


def test_clabe_control_digit():
    assert clabe_is_valid("032180000118359719")
    assert not clabe_is_valid("032180000118359710")
    assert not clabe_is_valid("03218000011835971")


def test_a_voucher_for_another_amount_is_caught():
    request = method_request("cash")
    voucher = CashVoucher(
        "1", request.amount.__class__("1.00", "MXN"), expires_at=request.expires_at
    )
    result = ChargeResult(
        Outcome.PENDING,
        "ch",
        next_action=NextAction(type="display_cash_voucher", cash_voucher=voucher),
    )
    with pytest.raises(AssertionError):
        check_method_result(request, result)
