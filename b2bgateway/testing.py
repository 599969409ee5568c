"""Conformance checks every processor plugin runs against itself (no network needed).

In a plugin's tests::

    from b2bgateway.testing import assert_processor_conforms

    def test_conforms(settings):
        assert_processor_conforms("stripe", hooks_module, settings)

They check what the core relies on: the plugin registers cleanly on a fresh plugin manager (no
misspelt hooks, no extra arguments) and, if installed, is found through its ``b2bgateway`` entry
point under ``name``; it implements every processor hook; ``b2bgateway_processor_info`` describes
it with a settings model whose secrets are ``SecretStr`` and never shown by ``repr``; its
capabilities name ISO 4217 currencies; and an unsigned or forged notification is refused with
``WebhookSignatureInvalid`` before anything else happens.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from pydantic import BaseModel, SecretStr

from b2bgateway.errors import WebhookSignatureInvalid
from b2bgateway.interface import ProcessorInfo, WebhookRequest
from b2bgateway.money import currencies
from b2bgateway.plugins import PROCESSOR_HOOKS, Plugins, Processor, get_plugin_manager

__all__ = [
    "REQUIRED_HOOKS",
    "SECRET_WORDS",
    "assert_processor_conforms",
    "check_entry_point",
    "check_forged_webhooks_are_refused",
    "check_info",
    "check_secrets",
    "registered",
]

#: Hooks a processor must implement (cancelling and looking refunds up are optional).
OPTIONAL_HOOKS = ("b2bgateway_cancel_payment", "b2bgateway_retrieve_refund")
REQUIRED_HOOKS = tuple(h for h in PROCESSOR_HOOKS if h not in OPTIONAL_HOOKS)
#: Settings fields whose names contain one of these must be SecretStr.
SECRET_WORDS = ("secret", "private", "password", "access_token", "api_key")


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
    return info


def check_hooks(processor: Processor, plugin: object) -> None:
    missing = [hook for hook in REQUIRED_HOOKS if not callable(getattr(plugin, hook, None))]
    assert not missing, f"processor {processor.name!r} does not implement {missing}"


def check_secrets(info: ProcessorInfo, settings: BaseModel) -> None:
    """Secret-looking settings are SecretStr, and ``repr`` of the settings shows none of them."""
    assert isinstance(settings, info.settings_model)
    shown = repr(settings) + str(settings)
    for name, field in type(settings).model_fields.items():
        if any(word in name for word in SECRET_WORDS):
            value = getattr(settings, name)
            assert value is None or isinstance(value, SecretStr), f"{name} must be a SecretStr"
            if isinstance(value, SecretStr) and value.get_secret_value():
                assert value.get_secret_value() not in shown, f"{name} shows in repr()"
        del field


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


def assert_processor_conforms(name: str, plugin: object, settings: BaseModel) -> None:
    """Every check above; ``settings`` is a valid instance of the plugin's settings model."""
    processor = registered(name, plugin)
    info = check_info(processor)
    check_hooks(processor, plugin)
    check_secrets(info, settings)
    check_forged_webhooks_are_refused(processor, settings)
    check_entry_point(name, plugin)
