"""Fixtures: the plugin on a fresh plugin manager, a merchant's settings, and vcr cassettes.

Cassettes are replayed with record mode ``none`` (a request without a recorded answer fails)
and matched on method, URL, query and JSON body, never on headers (the SDK sends a random
idempotency key and a tracking header). ``B2BGATEWAY_RECORD=1`` with
``MERCADOPAGO_TEST_ACCESS_TOKEN`` (a ``TEST-`` token) records missing cassettes against the
real API instead: see ``tests/cassettes/README.md``.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import vcr
from helpers import Sent, settings_table
from requests.structures import CaseInsensitiveDict
from vcr.cassette import Cassette

from b2bgateway.plugins import Processor
from b2bgateway.testing import registered
from b2bgateway_mercadopago import client, hooks

RECORD = os.environ.get("B2BGATEWAY_RECORD") == "1"
CASSETTES = Path(__file__).parent / "cassettes"
_LOOPBACK = {"127.0.0.1", "::1", "localhost"}


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a recording, nothing but loopback: a request vcr does not answer fails here."""
    if RECORD:
        return
    connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if host not in _LOOPBACK:
            raise OSError(f"tests do not use the network (tried {address!r})")
        return connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


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


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """``tests/cassettes/<test_module>/<test>.yaml``, every interaction played exactly once."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    path = CASSETTES / request.node.path.stem / f"{name}.yaml"
    recorder = vcr.VCR(
        record_mode="once" if RECORD else "none",
        match_on=["method", "scheme", "host", "port", "path", "query", "body"],
        filter_headers=["authorization"],
        decode_compressed_response=True,
    )
    with recorder.use_cassette(str(path)) as recorded:
        yield recorded
    if not RECORD:
        assert recorded.all_played, f"{path.name}: not every recorded request was made"
