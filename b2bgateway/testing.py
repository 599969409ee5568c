"""Conformance checks every processor plugin runs against itself (no network needed).

In a plugin's tests::

    from b2bgateway.testing import assert_processor_conforms

    def test_conforms(settings):
        assert_processor_conforms("stripe", hooks, settings, signed_webhook=signed(event, SECRET))

They check what the core relies on: the plugin registers cleanly on a fresh plugin manager (no
misspelt hooks, no extra arguments) and, if installed, is found through its ``b2bgateway`` entry
point under ``name``; it implements every required processor hook (:data:`REQUIRED_HOOKS`);
``b2bgateway_processor_info`` describes it with capabilities that name ISO 4217 currencies and a
settings model whose secrets are ``SecretStr`` (every ``SecretStr`` value, found by type, never
shown by ``repr``; a field named like a secret must be one) and, unless
``requires_webhook_secret=False``, with its webhook secret in a field whose name contains
``webhook`` (the rule start-up applies: :func:`b2bgateway.plugins.webhook_secret_fields`); an
unsigned or forged notification is refused with ``WebhookSignatureInvalid``, and the correctly
signed one the test gives (``signed_webhook``) is accepted.

A plugin that declares payment methods beyond cards (``Capabilities.payment_methods``) or MSI
counts (``Capabilities.installments``) also shows, with its recorded interactions, that each one
answers what the core needs: ``assert_method_conforms`` charges a :func:`method_request` and
checks the answer with :func:`check_method_result` (a SPEI transfer gives a valid CLABE for the
exact amount with an expiry, a cash voucher its reference and expiry, a paid card its method
details and installments)::

    @pytest.mark.vcr
    def test_spei_conforms(settings):
        assert_method_conforms("openpay", hooks, settings, "bank_transfer")
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, SecretStr

from b2bgateway.errors import WebhookSignatureInvalid
from b2bgateway.interface import (
    INSTALLMENT_COUNTS,
    ChargeRequest,
    ChargeResult,
    CustomerRef,
    Outcome,
    PaymentMethodType,
    ProcessorInfo,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.money import Money, currencies
from b2bgateway.plugins import (
    PROCESSOR_HOOKS,
    Plugins,
    Processor,
    get_plugin_manager,
    webhook_secret_fields,
)

__all__ = [
    "MAX_EXPIRY_EXCESS",
    "RECORD",
    "REQUIRED_HOOKS",
    "SECRET_WORDS",
    "assert_method_conforms",
    "assert_processor_conforms",
    "check_entry_point",
    "check_forged_webhooks_are_refused",
    "check_info",
    "check_method_result",
    "check_secrets",
    "check_signed_webhook_is_accepted",
    "check_webhook_secret_field",
    "clabe_is_valid",
    "method_request",
    "record_mode",
    "recording",
    "registered",
]

#: How much later than the gateway's a processor's expiry may be: a voucher counted in whole
#: days (rounded up, so that it covers the whole wait) expiring at the end of a day in the
#: processor's time zone (OXXO: 23:59 Mexico City) ends less than two days after ours. A cash
#: voucher is held until its printed expiry (plus the merchant's grace), so this bounds how long.
MAX_EXPIRY_EXCESS = timedelta(days=2)

#: Hooks a processor must implement (cancelling and looking refunds up are optional).
OPTIONAL_HOOKS = ("b2bgateway_cancel_payment", "b2bgateway_retrieve_refund")
REQUIRED_HOOKS = tuple(h for h in PROCESSOR_HOOKS if h not in OPTIONAL_HOOKS)
#: Settings fields whose names contain one of these must be SecretStr.
SECRET_WORDS = ("secret", "private", "password", "access_token", "api_key")


def recording() -> bool:
    """Whether plugin tests record cassettes against the real API (``B2BGATEWAY_RECORD=1``)."""
    return os.environ.get("B2BGATEWAY_RECORD") == "1"


#: ``recording()`` at import: for a conftest's module-level choices (which keys to use).
RECORD = recording()


def record_mode() -> str:
    """vcr's record mode: ``none`` (replay only) unless recording, then ``once`` or what
    ``B2BGATEWAY_RECORD_MODE`` says (``new_episodes`` adds to existing cassettes)."""
    return os.environ.get("B2BGATEWAY_RECORD_MODE", "once") if recording() else "none"


def registered(name: str, plugin: object) -> Processor:
    """``plugin`` on a fresh manager (no entry points) under ``name``, as the core would call it."""
    pm = get_plugin_manager(load_entrypoints=False)
    if pm.has_plugin(name):
        pm.unregister(name=name)
    pm.register(plugin, name=name)
    pm.check_pending()
    return Plugins(pm).processor(name)


def check_entry_point(name: str, plugin: object) -> None:
    """If installed, the distribution's ``b2bgateway`` entry point ``name`` loads ``plugin``."""
    found = [ep for ep in entry_points(group="b2bgateway") if ep.name == name]
    assert found, f"no entry point {name!r} in group 'b2bgateway' (is the plugin installed?)"
    assert found[0].load() is plugin, f"entry point {name!r} loads {found[0].value}, not the plugin"


def check_info(processor: Processor) -> ProcessorInfo:
    info = processor.info
    assert isinstance(info, ProcessorInfo)
    assert info.display_name, "display_name is shown to merchants"
    assert issubclass(info.settings_model, BaseModel)
    caps = info.capabilities
    assert caps.currencies, "a processor charges at least one currency"
    unknown = set(caps.currencies) - set(currencies())
    assert not unknown, f"not ISO 4217 currencies: {sorted(unknown)}"
    assert caps.token_charge or caps.hosted_checkout, "neither token charges nor hosted checkout"
    methods = set(caps.payment_methods)
    assert methods <= {m.value for m in PaymentMethodType} - {"manual"}, methods
    assert caps.installments <= INSTALLMENT_COUNTS, caps.installments
    assert not caps.installments or "card" in methods, "installments (MSI) are on cards"
    return info


def check_hooks(processor: Processor, plugin: object) -> None:
    missing = [hook for hook in REQUIRED_HOOKS if not callable(getattr(plugin, hook, None))]
    assert not missing, f"processor {processor.name!r} does not implement {missing}"


def _secret_values(value: Any) -> list[SecretStr]:
    """Every ``SecretStr`` in a settings value: itself, in a list, a mapping or a nested model."""
    if isinstance(value, SecretStr):
        return [value]
    if isinstance(value, BaseModel):
        return [
            s for name in type(value).model_fields for s in _secret_values(getattr(value, name))
        ]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _secret_values(item)]
    if isinstance(value, list | tuple | set | frozenset):
        return [s for item in value for s in _secret_values(item)]
    return []


def check_secrets(info: ProcessorInfo, settings: BaseModel) -> None:
    """Every secret (a ``SecretStr``, wherever it is in the settings) stays out of ``repr`` and
    ``str``; and a field named like a secret (:data:`SECRET_WORDS`) is a ``SecretStr``."""
    assert isinstance(settings, info.settings_model)
    shown = repr(settings) + str(settings)
    for secret in _secret_values(settings):
        value = secret.get_secret_value()
        assert not value or value not in shown, "a SecretStr value shows in repr() or str()"
    for name in type(settings).model_fields:
        if any(word in name for word in SECRET_WORDS):
            value = getattr(settings, name)
            assert value is None or _secret_values(value), f"{name} must be a SecretStr"


def check_webhook_secret_field(info: ProcessorInfo, settings: BaseModel) -> None:
    """With ``requires_webhook_secret`` (the default), the settings model keeps the webhook
    secret in a field whose name contains ``webhook``, a ``SecretStr`` (beside it, a
    ``webhook_user`` may be plain): the gateway's start-up requires one of them set."""
    if not info.capabilities.requires_webhook_secret:
        return
    fields = webhook_secret_fields(info.settings_model)
    assert fields, (
        f"{info.display_name} requires a webhook secret: name its settings field with "
        "'webhook' (webhook_secret), or declare requires_webhook_secret=False"
    )
    secret = [name for name in fields if _secret_values(getattr(settings, name))]
    assert secret, f"{' / '.join(fields)}: the webhook secret must be a SecretStr"


def check_signed_webhook_is_accepted(
    processor: Processor, settings: BaseModel, signed: WebhookRequest
) -> WebhookEvent:
    """A notification signed as the processor signs it, with ``settings``' secret, is accepted:
    parsed into a ``WebhookEvent`` (any kind, ``ignored`` included), not refused."""
    try:
        event = processor.parse_webhook(signed, settings)
    except WebhookSignatureInvalid as refused:
        raise AssertionError(
            f"{processor.name} refused a correctly signed notification: {refused.detail}"
        ) from None
    assert isinstance(event, WebhookEvent)
    assert event.event_id, "an accepted notification has an event id (re-deliveries match it)"
    return event


def check_forged_webhooks_are_refused(processor: Processor, settings: BaseModel) -> None:
    """No headers at all, and garbage credentials: both refused as not authentic."""
    forged: list[dict[str, Any]] = [
        {},
        {
            "authorization": "Basic Zm9yZ2VkOmZvcmdlZA==",
            "stripe-signature": "t=1,v1=00",
            "x-signature": "ts=1,v1=00",
            "x-request-id": "forged",
        },
    ]
    body = b'{"id": "evt_forged", "type": "payment.updated", "data": {"id": "1"}}'
    for headers in forged:
        request = WebhookRequest(
            merchant_id="conformance",
            body=body,
            headers=headers,
            query={"data.id": "1", "type": "payment"},
        )
        try:
            processor.parse_webhook(request, settings)
        except WebhookSignatureInvalid:
            continue
        raise AssertionError(f"{processor.name} accepted a forged notification: {headers}")


def assert_processor_conforms(
    name: str,
    plugin: object,
    settings: BaseModel,
    *,
    signed_webhook: WebhookRequest,
    entry_point: bool = True,
) -> None:
    """Every check above. ``settings`` is a valid instance of the plugin's settings model;
    ``signed_webhook`` a notification signed with its webhook secret as the processor signs
    them (one the plugin can parse without calling the processor: an ignored topic will do).
    ``entry_point=False`` skips the installed entry point (a plugin not installed, as the guide's
    example)."""
    processor = registered(name, plugin)
    info = check_info(processor)
    check_hooks(processor, plugin)
    check_secrets(info, settings)
    check_webhook_secret_field(info, settings)
    check_forged_webhooks_are_refused(processor, settings)
    check_signed_webhook_is_accepted(processor, settings, signed_webhook)
    if entry_point:
        check_entry_point(name, plugin)


def clabe_is_valid(clabe: str) -> bool:
    """An 18-digit CLABE whose last digit is its control digit (weights 3, 7, 1 modulo 10)."""
    if len(clabe) != 18 or not clabe.isdigit():
        return False
    weights = (3, 7, 1) * 6
    total = sum(int(d) * w % 10 for d, w in zip(clabe[:17], weights, strict=False))
    return (10 - total % 10) % 10 == int(clabe[17])


def method_request(
    method: str,
    *,
    payment_id: str = "pay_conformance000000000001",
    amount: Money | None = None,
    installments: int | None = None,
    token: str | None = None,
    expires_in: timedelta = timedelta(days=3),
    **fields: Any,
) -> ChargeRequest:
    """A charge of ``method`` as the core would send it (a fixed payment id, so a recorded
    interaction matches): 1,500.00 MXN for customer ``C-1`` unless told otherwise."""
    return ChargeRequest(
        payment_id=payment_id,
        merchant_id="conformance",
        amount=amount or Money("1500.00", "MXN"),
        customer=CustomerRef("C-1", "Ferretería La Conformidad", "cxp@example.mx"),
        description="Facturas A1",
        idempotency_key=f"{payment_id}:charge",
        token=token,
        payment_method=method,
        installments=installments,
        expires_at=datetime(2030, 1, 1, tzinfo=UTC) + expires_in,
        **fields,
    )


def check_method_result(request: ChargeRequest, result: ChargeResult) -> None:
    """The processor's answer to ``request`` carries what the core needs for its method."""
    assert isinstance(result, ChargeResult), type(result)
    method = PaymentMethodType(request.payment_method)
    if method is PaymentMethodType.BANK_TRANSFER:
        assert result.outcome is Outcome.PENDING, "a SPEI payment waits for the transfer"
        action = result.next_action
        assert action is not None
        assert action.type == "display_bank_transfer_instructions"
        instructions = action.bank_transfer
        assert instructions is not None
        assert instructions.amount == request.amount, "the customer must send the exact amount"
        if instructions.clabe is None:  # the processor's hosted page has the instructions
            assert (instructions.hosted_instructions_url or "").startswith("https://")
        else:
            assert clabe_is_valid(instructions.clabe), f"not a valid CLABE: {instructions.clabe}"
            assert instructions.bank
            assert instructions.beneficiary
        assert result.processor_reference, "the pending charge's reference finds it later"
    elif method is PaymentMethodType.CASH:
        assert result.outcome is Outcome.PENDING, "a voucher waits for the customer's cash"
        action = result.next_action
        assert action is not None
        assert action.type == "display_cash_voucher"
        voucher = action.cash_voucher
        assert voucher is not None
        assert voucher.reference, "the store needs the reference"
        assert voucher.amount == request.amount
        assert voucher.expires_at is not None, "a voucher says until when it can be paid"
        assert result.expires_at in (None, voucher.expires_at), (
            "report the voucher's printed expiry as the processor's: it is held until then"
        )
        assert result.processor_reference
    elif result.outcome is Outcome.SUCCEEDED:
        details = result.method_details
        assert details is not None, "a paid card reports its method details (for the CFDI)"
        assert details.type == "card"
        assert details.funding in ("credit", "debit", "prepaid", None)
        if request.installments:
            assert details.installments == request.installments, "MSI as charged"
    assert all(isinstance(r, str) and r for r in result.references), "references are ids"
    if result.processor_customer is not None:
        assert result.processor_customer != request.processor_customer, (
            "return processor_customer only when you made a new one"
        )
    if result.expires_at is not None and request.expires_at is not None:
        # Whole days to the end of a day in the processor's time zone (OXXO): at most two more.
        assert result.expires_at < request.expires_at + MAX_EXPIRY_EXCESS, (
            "the processor's expiry must not outlive the gateway's by two days or more"
        )


def assert_method_conforms(
    name: str, plugin: object, settings: BaseModel, method: str, **request_fields: Any
) -> ChargeResult:
    """Charge a :func:`method_request` of ``method`` through the plugin (inside the test's
    recorded interactions) and check the answer; returns it for further checks."""
    processor = registered(name, plugin)
    caps = processor.info.capabilities
    assert method in caps.payment_methods, f"{name} does not declare {method}"
    installments = request_fields.get("installments")
    if installments:
        assert installments in caps.installments, f"{name} does not declare {installments} MSI"
    request = method_request(method, **request_fields)
    result = processor.charge(request, settings)
    check_method_result(request, result)
    return result
