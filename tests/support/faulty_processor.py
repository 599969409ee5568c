"""A processor whose faults are chosen by the token, on top of the sandbox's real ledger.

- ``tok_approved``: charges normally;
- ``fault_timeout``: charges, then the answer is lost (a read timeout after the processor charged);
- ``fault_5xx_charged``: charges, then answers 500 (the outcome is unknown to the caller);
- ``fault_5xx``: answers 500 without charging;
- ``fault_kill``: charges, then the calling process dies (SIGKILL) before it can record anything.

A transfer or a voucher (no token) is created at the sandbox; with ``KILL_AFTER_PENDING`` set in
the environment, the calling process then dies before it can record the instructions.
"""

from __future__ import annotations

import os
import signal

from b2bgateway.hookspecs import hookimpl
from b2bgateway.interface import ChargeRequest, ChargeResult, Outcome, ProcessorInfo
from b2bgateway.sandbox import hooks as sandbox
from b2bgateway.sandbox.settings import SandboxSettings

CHARGES = {"fault_timeout", "fault_5xx_charged", "fault_kill"}
KILL_AFTER_PENDING = "B2BGATEWAY_TEST_KILL_AFTER_PENDING"


class FaultyProcessor:
    @hookimpl
    def b2bgateway_processor_info(self) -> ProcessorInfo:
        info = sandbox.b2bgateway_processor_info()
        return ProcessorInfo("Faulty sandbox", info.settings_model, info.capabilities)

    @hookimpl
    def b2bgateway_create_charge(self, request: ChargeRequest, settings: SandboxSettings):
        if request.payment_method != "card" and os.environ.get(KILL_AFTER_PENDING):
            sandbox.b2bgateway_create_charge(request, settings)
            os.kill(os.getpid(), signal.SIGKILL)
        token = request.token or ""
        if token == "fault_5xx":
            return ChargeResult(Outcome.UNKNOWN)
        if token in CHARGES:
            from dataclasses import replace

            result = sandbox.b2bgateway_create_charge(
                replace(request, token="tok_approved"), settings
            )
            assert result.outcome is Outcome.SUCCEEDED
            if token == "fault_kill":
                os.kill(os.getpid(), signal.SIGKILL)
            return ChargeResult(Outcome.UNKNOWN)
        return sandbox.b2bgateway_create_charge(request, settings)

    @hookimpl
    def b2bgateway_retrieve_payment(self, request, settings):
        return sandbox.b2bgateway_retrieve_payment(request, settings)

    #: When set, refunds are made but their answer is lost (the processor timed out after it).
    lose_refund_answers = False

    @hookimpl
    def b2bgateway_refund(self, request, settings):
        result = sandbox.b2bgateway_refund(request, settings)
        if self.lose_refund_answers:
            raise TimeoutError("read timed out")  # the core cannot know: the refund stays pending
        return result

    @hookimpl
    def b2bgateway_retrieve_refund(self, request, settings):
        return sandbox.b2bgateway_retrieve_refund(request, settings)

    @hookimpl
    def b2bgateway_parse_webhook(self, request, settings):
        return sandbox.b2bgateway_parse_webhook(request, settings)


def gateway_with_faults(settings, store=None):
    """A gateway whose merchants may use ``processor = "faulty"``."""
    from b2bgateway.gateway import Gateway
    from b2bgateway.plugins import Plugins, get_plugin_manager

    pm = get_plugin_manager(load_entrypoints=False)
    pm.register(FaultyProcessor(), name="faulty")
    return Gateway.build(settings, Plugins(pm), store)
