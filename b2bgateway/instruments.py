"""What the core tells an observer about its own work: the processor calls it makes and the
webhooks it accepts or refuses.

The core measures; it never exports. A web or worker process that exports metrics (the
``b2bgateway_web.metrics`` module, with Prometheus' client) gives the plugin facade an object with
these two methods (:meth:`b2bgateway.plugins.Plugins.observe_with`); without one, nothing is
recorded and nothing is imported. Implementations are called on request threads and must be quick
and must not raise (an exception is logged and dropped, never seen by the payment).
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NO_INSTRUMENTS", "Instruments"]


class Instruments(Protocol):
    def processor_call(self, processor: str, hook: str, seconds: float, error: bool) -> None:
        """One call of a processor hook (``b2bgateway_create_charge``, ...) took ``seconds``;
        ``error``: it raised (the processor was unavailable, declined or broke its contract)."""

    def webhook(self, processor: str, accepted: bool, reason: str) -> None:
        """One notification: accepted with its outcome (``applied``, ``duplicate``, ...) or
        refused with the error code of the answer (``webhook_signature_invalid``, ...).
        ``processor`` is an installed processor's name, or ``"unknown"``."""


class _NoInstruments:
    def processor_call(self, processor: str, hook: str, seconds: float, error: bool) -> None:
        return None

    def webhook(self, processor: str, accepted: bool, reason: str) -> None:
        return None


#: The default: nothing is measured.
NO_INSTRUMENTS: Instruments = _NoInstruments()
