"""The plugin manager and the typed facade through which the core calls processors.

Nothing outside this module touches ``pm.hook``. Processor hooks are dispatched to the merchant's
configured processor only, with ``subset_hook_caller`` removing every *other processor* plugin
(observer and audit plugins stay in the call).
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from importlib.metadata import EntryPoint, PackageNotFoundError, entry_points, version
from typing import Any, TypeVar

import pluggy
from pydantic import BaseModel

from b2bgateway import default_notifications, hookspecs, rules
from b2bgateway.errors import (
    ConfigurationError,
    GatewayError,
    NotFound,
    PluginContractError,
    PluginImportError,
    ProcessorContractError,
)
from b2bgateway.instruments import NO_INSTRUMENTS, Instruments
from b2bgateway.interface import (
    ChargeRequest,
    ChargeResult,
    Outbox,
    PaymentStatusChanged,
    PaymentUpdated,
    ProcessorInfo,
    RefundRequest,
    RefundResult,
    RefundStatusChanged,
    RetrieveRequest,
    WebhookEvent,
    WebhookRequest,
)
from b2bgateway.rules import InvoiceContext, OrderContext, combine

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "Plugins",
    "Processor",
    "get_plugin_manager",
    "import_errors_named",
    "load_entry_point",
    "webhook_secret_fields",
]

ENTRY_POINT_GROUP = hookspecs.PROJECT
log = logging.getLogger(__name__)

#: Built-in plugins, as (name, module): registered after the entry points unless already loaded
#: from one (the sandbox also has an entry point) or blocked.
DEFAULT_PLUGINS: tuple[tuple[str, str], ...] = (
    ("rules", "b2bgateway.default_rules"),
    ("notifications", "b2bgateway.default_notifications"),
    ("sandbox", "b2bgateway.sandbox.hooks"),
)
#: Built-ins that cannot be blocked: the merchant's own payability rules.
REQUIRED_PLUGINS = frozenset({"rules"})

_INFO_HOOK = "b2bgateway_processor_info"
PROCESSOR_HOOKS = (
    _INFO_HOOK,
    "b2bgateway_create_charge",
    "b2bgateway_retrieve_payment",
    "b2bgateway_cancel_payment",
    "b2bgateway_refund",
    "b2bgateway_retrieve_refund",
    "b2bgateway_parse_webhook",
)
R = TypeVar("R")


def get_plugin_manager(
    *, load_entrypoints: bool = True, blocked: Iterable[str] = ()
) -> pluggy.PluginManager:
    """A fresh plugin manager: specs, blocked names, entry points, built-ins, then a check.

    :param load_entrypoints: load installed plugins from the ``b2bgateway`` entry-point group.
    :param blocked: plugin names never to register (configuration's ``disabled_plugins``).
    :raises pluggy.PluginValidationError: a plugin implements a hook that does not exist (a
      misspelt name) or with arguments the spec does not have.
    :raises ConfigurationError: ``blocked`` names a built-in that cannot be disabled (``rules``).
    :raises PluginImportError: an installed plugin fails to import (it names the entry point
      and how to disable it).
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    refused = REQUIRED_PLUGINS.intersection(blocked)
    if refused:
        raise ConfigurationError(
            [
                ("disabled_plugins", f"{name!r} holds the merchant's rules and cannot be disabled")
                for name in sorted(refused)
            ]
        )
    for name in blocked:
        pm.set_blocked(name)
    if load_entrypoints:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if not (pm.is_blocked(ep.name) or pm.has_plugin(ep.name)):
                with import_errors_named(ep):  # pluggy keeps the distribution, for versions
                    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP, name=ep.name)
    for name, module_path in DEFAULT_PLUGINS:
        if pm.is_blocked(name) or pm.has_plugin(name):
            continue
        module = importlib.import_module(module_path)
        if not pm.is_registered(module):
            pm.register(module, name=name)
    pm.check_pending()
    return pm


@contextmanager
def import_errors_named(ep: EntryPoint) -> Iterator[None]:
    """A plugin that fails to import is a :class:`PluginImportError` naming its entry point and
    how to disable it, instead of a traceback from every command. A plugin that imports but
    breaks the hook contract stays a ``pluggy.PluginValidationError`` (it names the plugin)."""
    try:
        yield
    except pluggy.PluginValidationError:
        raise
    except Exception as exc:
        raise PluginImportError(ep.name, ep.value, exc) from exc


def load_entry_point(ep: EntryPoint) -> object:
    """The plugin an entry point names (see :func:`import_errors_named`)."""
    with import_errors_named(ep):
        return ep.load()


#: A processor's webhook secret is a settings field whose name contains this word
#: (``webhook_secret``, ``webhook_password``). With ``Capabilities.requires_webhook_secret``
#: (the default) the gateway does not start for a merchant without one set, and the
#: conformance kit checks the settings model has one, a ``SecretStr``.
WEBHOOK_FIELD_WORD = "webhook"


def webhook_secret_fields(model: type[BaseModel]) -> list[str]:
    """The fields of a processor's settings model that hold its webhook secret."""
    return [name for name in model.model_fields if WEBHOOK_FIELD_WORD in name]


def _distribution_version(plugin: object) -> str:
    package = getattr(plugin, "__name__", type(plugin).__module__).split(".")[0]
    for candidate in (package, package.replace("_", "-")):
        try:
            return version(candidate)
        except PackageNotFoundError:
            continue
    return ""


class Processor:
    """One installed processor plugin, with one typed method per processor hook."""

    def __init__(self, pm: pluggy.PluginManager, name: str, others: list[object]) -> None:
        self.name = name
        self._pm = pm
        self._others = others
        self._callers: dict[str, Any] = {}
        #: told the duration of every call (see :meth:`Plugins.observe_with`)
        self.instruments: Instruments = NO_INSTRUMENTS
        self.info: ProcessorInfo = self._call(_INFO_HOOK, ProcessorInfo)

    def _caller(self, hook_name: str) -> Any:
        caller = self._callers.get(hook_name)
        if caller is None:
            caller = self._pm.subset_hook_caller(hook_name, remove_plugins=self._others)
            self._callers[hook_name] = caller
        return caller

    def _call(self, hook_name: str, expected: type[R], **kwargs: Any) -> R:
        result = self._call_optional(hook_name, expected, **kwargs)
        if result is None:
            raise ProcessorContractError(
                f"processor {self.name!r} returned nothing from {hook_name} (no implementation?)"
            )
        return result

    def _call_optional(self, hook_name: str, expected: type[R], **kwargs: Any) -> R | None:
        started = time.perf_counter()
        raised = True
        try:
            result = self._caller(hook_name)(**kwargs)
            raised = False
        except GatewayError:
            raise
        except Exception as exc:  # a plugin bug must not look like a gateway bug
            raise ProcessorContractError(
                f"processor {self.name!r} raised {type(exc).__name__} in {hook_name}"
            ) from exc
        finally:
            self._measured(hook_name, time.perf_counter() - started, raised)
        if result is None:
            return None
        if not isinstance(result, expected):
            raise ProcessorContractError(
                f"processor {self.name!r} returned {type(result).__name__} from {hook_name}, "
                f"expected {expected.__name__}"
            )
        return result

    def _measured(self, hook_name: str, seconds: float, raised: bool) -> None:
        try:
            self.instruments.processor_call(self.name, hook_name, seconds, raised)
        except Exception:  # measuring must never change a payment's course
            log.exception("instruments failed on %s", hook_name)

    def validate_settings(self, raw: dict[str, Any]) -> BaseModel:
        """Validate a merchant's settings table with this processor's model (raises pydantic's
        ``ValidationError``; the settings module turns it into a message naming the keys)."""
        return self.info.settings_model.model_validate(raw)

    def charge(self, request: ChargeRequest, settings: BaseModel) -> ChargeResult:
        return self._call(
            "b2bgateway_create_charge", ChargeResult, request=request, settings=settings
        )

    def retrieve(self, request: RetrieveRequest, settings: BaseModel) -> ChargeResult:
        return self._call(
            "b2bgateway_retrieve_payment", ChargeResult, request=request, settings=settings
        )

    def cancel(self, request: RetrieveRequest, settings: BaseModel) -> ChargeResult | None:
        """None: this processor cannot cancel (see ``b2bgateway_cancel_payment``)."""
        return self._call_optional(
            "b2bgateway_cancel_payment", ChargeResult, request=request, settings=settings
        )

    def retrieve_refund(self, request: RefundRequest, settings: BaseModel) -> RefundResult | None:
        """None: this processor cannot look refunds up (see ``b2bgateway_retrieve_refund``)."""
        return self._call_optional(
            "b2bgateway_retrieve_refund", RefundResult, request=request, settings=settings
        )

    def refund(self, request: RefundRequest, settings: BaseModel) -> RefundResult:
        return self._call("b2bgateway_refund", RefundResult, request=request, settings=settings)

    def parse_webhook(self, request: WebhookRequest, settings: BaseModel) -> WebhookEvent:
        return self._call(
            "b2bgateway_parse_webhook", WebhookEvent, request=request, settings=settings
        )

    @property
    def version(self) -> str:
        return self.info.version or _distribution_version(self._pm.get_plugin(self.name))


class Plugins:
    """The facade over a plugin manager: installed processors and the observer hooks."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        #: merchants with a notification_url: observers' outbox writes only for them
        self.merchants_with_notification_url: frozenset[str] = frozenset()
        #: merchants with ``[email]`` settings: customers' e-mails are queued only for them
        self.merchants_with_email: frozenset[str] = frozenset()
        self._observer_callers: dict[tuple[str, str], Any] = {}
        self._processors: dict[str, Processor] = {}
        #: told about processor calls and webhooks (:mod:`b2bgateway.instruments`)
        self.instruments: Instruments = NO_INSTRUMENTS
        # A processor is a plugin with a plain (non-wrapper) processor hook implementation;
        # wrappers (audit, metrics) stay in every call.
        implementers = {
            impl.plugin_name: impl.plugin
            for hook_name in PROCESSOR_HOOKS
            for impl in self._impls(hook_name)
            if not (impl.hookwrapper or impl.wrapper)
        }
        described = {impl.plugin_name for impl in self._impls(_INFO_HOOK)}
        for name in sorted(set(implementers) - described):
            raise ProcessorContractError(
                f"plugin {name!r} implements processor hooks but not {_INFO_HOOK}"
            )
        for name in sorted(implementers):
            others = [p for n, p in implementers.items() if n != name]
            self._processors[name] = Processor(pm, name, others)

    def _impls(self, hook_name: str) -> list[pluggy.HookImpl]:
        hook: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        return hook.get_hookimpls()

    def observe_with(self, instruments: Instruments) -> None:
        """Tell ``instruments`` about every processor call from now on (the metrics of a web
        or worker process; :mod:`b2bgateway.instruments`)."""
        self.instruments = instruments
        for processor in self._processors.values():
            processor.instruments = instruments

    @property
    def processor_names(self) -> list[str]:
        return list(self._processors)

    def processor(self, name: str) -> Processor:
        try:
            return self._processors[name]
        except KeyError:
            raise NotFound(f"no processor plugin named {name!r} is installed") from None

    def plugin_list(self) -> list[dict[str, Any]]:
        """Every registered plugin: name, version, hooks, and whether it is a processor."""
        rows = []
        for name, plugin in sorted(self.pm.list_name_plugin(), key=lambda item: item[0]):
            if plugin is None:  # blocked
                continue
            hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
            rows.append(
                {
                    "name": name,
                    "version": _distribution_version(plugin),
                    "processor": name in self._processors,
                    "hooks": hooks,
                }
            )
        return rows

    # -- payability: reasons from every plugin, the built-in rules first ------------------------
    def order_reasons(self, context: OrderContext) -> tuple[str, ...]:
        return combine(*self._reasons(self.pm.hook.b2bgateway_order_reasons(context=context)))

    def invoice_reasons(self, context: InvoiceContext) -> tuple[str, ...]:
        # A statement asks this for every open invoice: when the built-in rules are the only
        # implementation, call them directly instead of through pluggy.
        if self.only_builtin_invoice_rules():
            return tuple(rules.invoice_reasons(context))
        return combine(*self._reasons(self.pm.hook.b2bgateway_invoice_reasons(context=context)))

    def only_builtin_invoice_rules(self) -> bool:
        """True when no plugin adds invoice rules: the reasons are then exactly the built-in
        rules', a function of :func:`rules.invoice_reasons_key` (statements decide once per key)."""
        impls = self.pm.hook.b2bgateway_invoice_reasons.get_hookimpls()
        return len(impls) == 1 and impls[0].plugin_name == "rules"

    @staticmethod
    def _reasons(results: list[Iterable[str] | None]) -> list[Iterable[str]]:
        # The built-in rules are tryfirst, so their reasons lead.
        groups = [group for group in results if group]
        for group in groups:
            if isinstance(group, str):
                raise PluginContractError("a payability hook returned a string, not a list")
        return groups

    # -- observers -------------------------------------------------------------------------
    def payment_status_changed(self, event: PaymentStatusChanged, outbox: Outbox) -> None:
        self._observe("b2bgateway_payment_status_changed", event, outbox)

    def payment_updated(self, event: PaymentUpdated, outbox: Outbox) -> None:
        self._observe("b2bgateway_payment_updated", event, outbox)

    def refund_status_changed(self, event: RefundStatusChanged, outbox: Outbox) -> None:
        self._observe("b2bgateway_refund_status_changed", event, outbox)

    def observed(self, hook_name: str, merchant_id: str) -> bool:
        """Would any observer of ``hook_name`` act for this merchant? Not when the only one is
        the built-in notifications, which writes only for a merchant with a notification_url:
        then the event (the payment's JSON) is not built at all."""
        hook: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        return merchant_id in self.merchants_with_notification_url or any(
            impl.plugin is not default_notifications for impl in hook.get_hookimpls()
        )

    def _observe(self, hook_name: str, event: object, outbox: Outbox) -> None:
        """Tell every observer, each on its own: one failing observer must not undo a payment's
        recorded state (the processor has already moved the money) nor silence the others."""
        hook: pluggy.HookCaller = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():
            caller = self._observer_callers.get((hook_name, impl.plugin_name))
            if caller is None:
                others = [i.plugin for i in hook.get_hookimpls() if i is not impl]
                caller = self.pm.subset_hook_caller(hook_name, remove_plugins=others)
                self._observer_callers[(hook_name, impl.plugin_name)] = caller
            try:
                caller(event=event, outbox=outbox)
            except Exception:
                log.exception("ALERT observer %r failed in %s", impl.plugin_name, hook_name)


def load_plugins(*, load_entrypoints: bool = True, blocked: Iterable[str] = ()) -> Plugins:
    """``Plugins(get_plugin_manager(...))``: what the app and the CLI build at start-up."""
    return Plugins(get_plugin_manager(load_entrypoints=load_entrypoints, blocked=blocked))
