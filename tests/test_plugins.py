from importlib.metadata import entry_points

import pluggy
import pytest
from pydantic import BaseModel

from b2bgateway.errors import ProcessorContractError, ProcessorUnavailable
from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import (
    Capabilities,
    ChargeRequest,
    ChargeResult,
    CustomerRef,
    Outcome,
    PaymentStatus,
    PaymentStatusChanged,
    ProcessorInfo,
)
from b2bgateway.money import Money
from b2bgateway.plugins import Plugins, get_plugin_manager


class NoSettings(BaseModel):
    pass


def charge_request(**overrides):
    values = dict(
        payment_id="pay_1",
        merchant_id="acme",
        amount=Money("100.00", "MXN"),
        customer=CustomerRef("C-1"),
        description="test",
        idempotency_key="pay_1:charge",
        token="tok_x",
    )
    values.update(overrides)
    return ChargeRequest(**values)


class FakeProcessor:
    """A processor that records its calls and approves everything."""

    def __init__(self, label):
        self.label = label
        self.calls = []

    @hookimpl
    def b2bgateway_processor_info(self):
        return ProcessorInfo(f"Fake {self.label}", NoSettings, Capabilities(frozenset({"MXN"})))

    @hookimpl
    def b2bgateway_create_charge(self, request, settings):
        self.calls.append(request.payment_id)
        return ChargeResult(Outcome.SUCCEEDED, processor_reference=f"{self.label}_ref")


def test_processor_hooks_reach_only_the_configured_processor(pm):
    first, second = FakeProcessor("first"), FakeProcessor("second")
    pm.register(first, name="first")
    pm.register(second, name="second")  # registered last: pluggy would call it first
    plugins = Plugins(pm)

    result = plugins.processor("first").charge(charge_request(), NoSettings())

    assert result.processor_reference == "first_ref"
    assert first.calls == ["pay_1"]
    assert second.calls == []


def test_a_processor_returning_none_does_not_fall_through_to_another(pm):
    class Silent(FakeProcessor):
        @hookimpl
        def b2bgateway_create_charge(self, request, settings):
            self.calls.append(request.payment_id)

    silent, other = Silent("silent"), FakeProcessor("other")
    pm.register(other, name="other")
    pm.register(silent, name="silent")
    with pytest.raises(ProcessorContractError, match="returned nothing"):
        Plugins(pm).processor("silent").charge(charge_request(), NoSettings())
    assert other.calls == []


def test_wrong_result_type_is_a_contract_error(pm):
    class Sloppy(FakeProcessor):
        @hookimpl
        def b2bgateway_create_charge(self, request, settings):
            return {"status": "succeeded"}

    pm.register(Sloppy("s"), name="sloppy")
    with pytest.raises(ProcessorContractError, match="expected ChargeResult"):
        Plugins(pm).processor("sloppy").charge(charge_request(), NoSettings())


def test_unexpected_exceptions_become_contract_errors_but_gateway_errors_pass(pm):
    class Crashing(FakeProcessor):
        @hookimpl
        def b2bgateway_create_charge(self, request, settings):
            if request.token == "down":
                raise ProcessorUnavailable("connection refused")
            raise KeyError("bug")

    pm.register(Crashing("c"), name="crashing")
    processor = Plugins(pm).processor("crashing")
    with pytest.raises(ProcessorContractError) as info:
        processor.charge(charge_request(), NoSettings())
    assert isinstance(info.value.__cause__, KeyError)
    with pytest.raises(ProcessorUnavailable):
        processor.charge(charge_request(token="down"), NoSettings())


def test_audit_wrappers_still_see_processor_calls(pm):
    seen = []

    class Audit:
        @hookimpl(wrapper=True)
        def b2bgateway_create_charge(self, request, settings):
            result = yield
            seen.append((request.payment_id, result.outcome))
            return result

    pm.register(FakeProcessor("p"), name="p")
    pm.register(FakeProcessor("q"), name="q")
    pm.register(Audit(), name="audit")
    plugins = Plugins(pm)
    assert plugins.processor_names == ["p", "q", "sandbox"]
    plugins.processor("q").charge(charge_request(), NoSettings())
    assert seen == [("pay_1", Outcome.SUCCEEDED)]


def test_processor_hooks_without_info_fail_at_start(pm):
    class Anonymous:
        @hookimpl
        def b2bgateway_create_charge(self, request, settings):
            return None

    pm.register(Anonymous(), name="anonymous")
    with pytest.raises(ProcessorContractError, match="b2bgateway_processor_info"):
        Plugins(pm)


def test_a_misspelt_hookimpl_fails_at_start(monkeypatch):
    import b2bgateway.plugins as plugins_module

    class Misspelt:
        @hookimpl
        def b2bgateway_create_charg(self, request, settings):
            return None

    import sys
    import types

    module = types.ModuleType("misspelt_plugin")
    module.Misspelt = Misspelt
    module.plugin = Misspelt()
    module.b2bgateway_create_charg = module.plugin.b2bgateway_create_charg
    monkeypatch.setitem(sys.modules, "misspelt_plugin", module)
    monkeypatch.setattr(
        plugins_module,
        "DEFAULT_PLUGINS",
        (*plugins_module.DEFAULT_PLUGINS, ("misspelt", "misspelt_plugin")),
    )
    with pytest.raises(pluggy.PluginValidationError, match="unknown hook"):
        get_plugin_manager(load_entrypoints=False)


def test_an_impl_with_arguments_the_spec_lacks_fails_at_registration(pm):
    class Extra:
        @hookimpl
        def b2bgateway_create_charge(self, request, settings, currency_hint):
            return None

    with pytest.raises(pluggy.PluginValidationError):
        pm.register(Extra(), name="extra")


def test_an_impl_may_take_fewer_arguments_than_the_spec(pm):
    class Lean(FakeProcessor):
        @hookimpl
        def b2bgateway_create_charge(self, request):
            return ChargeResult(Outcome.SUCCEEDED, processor_reference="lean")

    pm.register(Lean("lean"), name="lean")
    assert (
        Plugins(pm).processor("lean").charge(charge_request(), NoSettings()).processor_reference
        == "lean"
    )


def test_blocked_plugins_are_not_registered():
    pm = get_plugin_manager(load_entrypoints=True, blocked=["sandbox"])
    assert "sandbox" not in Plugins(pm).processor_names
    assert pm.is_blocked("sandbox")


def test_entry_points_are_discovered_from_installed_distributions():
    """Nothing is registered by hand: the sandbox comes from the core's `b2bgateway` entry point."""
    group = entry_points(group="b2bgateway")
    assert "sandbox" in group.names
    pm = get_plugin_manager(load_entrypoints=True)
    dists = dict(pm.list_plugin_distinfo())
    plugin = pm.get_plugin("sandbox")
    assert plugin in dists, "the sandbox must have been loaded from its entry point"
    assert dists[plugin].project_name == "b2bgateway"


def test_observers_are_called_on_every_plugin(pm):
    from datetime import UTC, datetime

    received = []

    class FakeOutbox:
        def __init__(self):
            self.emitted = []

        def emit(self, event_type, ordering_key, data):
            self.emitted.append((event_type, ordering_key))

    outbox = FakeOutbox()

    class Observer:
        def __init__(self, name):
            self.name = name

        @hookimpl
        def b2bgateway_payment_status_changed(self, event):
            received.append((self.name, event.status))

    pm.register(Observer("erp"), name="erp")
    pm.register(Observer("metrics"), name="metrics")
    Plugins(pm).payment_status_changed(
        PaymentStatusChanged(
            merchant_id="acme",
            payment_id="pay_1",
            customer_id="C-1",
            processor="sandbox",
            previous=PaymentStatus.PROCESSING,
            status=PaymentStatus.SUCCEEDED,
            amount=Money("1.00", "MXN"),
            occurred_at=datetime.now(UTC),
        ),
        outbox,
    )
    # Both observers, which take only `event` (opt-in arguments), and the built-in notifications
    # plugin, which emits to the outbox.
    assert sorted(received) == [("erp", "succeeded"), ("metrics", "succeeded")]
    assert outbox.emitted == [("payment.succeeded", "pay_1")]


def test_events_are_built_only_when_an_observer_would_act(pm):
    """The built-in notifications alone write nothing for a merchant without a notification_url:
    the event (the payment's JSON) is then not built; any other observer still gets it."""
    plugins = Plugins(pm)
    plugins.merchants_with_notification_url = frozenset({"acme"})
    hooks = ("b2bgateway_payment_status_changed", "b2bgateway_payment_updated")
    assert all(plugins.observed(hook, "acme") for hook in hooks)
    assert not any(plugins.observed(hook, "globex") for hook in hooks)

    class Erp:
        @hookimpl
        def b2bgateway_payment_updated(self, event):
            pass

    pm.register(Erp(), name="erp")
    assert plugins.observed("b2bgateway_payment_updated", "globex")
    assert not plugins.observed("b2bgateway_payment_status_changed", "globex")


def test_plugin_list_reports_versions_and_processors(plugins):
    rows = {row["name"]: row for row in plugins.plugin_list()}
    assert rows["sandbox"]["processor"] is True
    assert rows["sandbox"]["version"]
    assert "b2bgateway_create_charge" in rows["sandbox"]["hooks"]
