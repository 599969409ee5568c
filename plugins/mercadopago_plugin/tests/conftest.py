"""Fixtures: the plugin on a fresh plugin manager, a merchant's settings, and vcr cassettes.

Cassettes are replayed with record mode ``none`` (a request without a recorded answer fails)
and matched on method, URL, query and JSON body, never on headers (the SDK sends a random
idempotency key and a tracking header). ``B2BGATEWAY_RECORD=1`` with
``MERCADOPAGO_TEST_ACCESS_TOKEN`` (a ``TEST-`` token) records missing cassettes against the
real API instead: see ``tests/cassettes/README.md``.
"""

from __future__ import annotations

from typing import Any

import pytest
from helpers import Sent, settings_table
from requests.structures import CaseInsensitiveDict

from b2bgateway.plugins import Processor
from b2bgateway.testing import registered
from b2bgateway_mercadopago import client, hooks

#: no_network (autouse), cassette (tests/cassettes/<test_module>/<test>.yaml, all played) and
#: vcr_config: the kit's defaults are this plugin's (match on method, URL, query and body;
#: authorization filtered), so it overrides nothing.
pytest_plugins = ["b2bgateway.testing_pytest"]


@pytest.fixture
def processor() -> Processor:
    """The plugin as the core calls it: a fresh manager, registered as ``mercadopago``."""
    return registered("mercadopago", hooks)


@pytest.fixture
def settings(processor: Processor) -> Any:
    return processor.validate_settings(settings_table())


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[Sent]:
    """Every request the plugin makes, as sent (headers included, which cassettes ignore)."""
    requests: list[Sent] = []
    original = client._Transport.request

    def spy(self: client._Transport, method: str, url: str, **kwargs: Any) -> Any:
        headers = CaseInsensitiveDict(kwargs.get("headers") or {})
        requests.append(Sent(method, url, headers, kwargs.get("data")))
        return original(self, method, url, **kwargs)

    monkeypatch.setattr(client._Transport, "request", spy)
    return requests
