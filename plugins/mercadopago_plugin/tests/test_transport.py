"""The client's transport: timeouts, unreachable hosts, and amounts that never become floats."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from helpers import charge_request, refund_request, retrieve_request, settings_table

from b2bgateway import Outcome, ProcessorUnavailable
from b2bgateway.plugins import Processor
from b2bgateway_mercadopago import client


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A local server that accepts the request and never answers (a read timeout)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted: list[socket.socket] = []
    done = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            accepted.append(connection)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    done.set()
    thread.join()
    for connection in accepted:
        connection.close()
    server.close()


@pytest.fixture
def closed_port() -> str:
    """A local port nothing listens on (connection refused: nothing was sent)."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return f"http://127.0.0.1:{port}"


def settings_at(processor: Processor, base_url: str) -> Any:
    table = settings_table(api_base_url=base_url, connect_timeout=0.5, read_timeout=0.3)
    return processor.validate_settings(table)


def test_charge_timeout_is_unknown(processor: Processor, silent_server: str) -> None:
    """Sent, then no answer: the card may have been charged."""
    result = processor.charge(charge_request(), settings_at(processor, silent_server))

    assert result.outcome is Outcome.UNKNOWN


def test_refund_timeout_is_unknown(processor: Processor, silent_server: str) -> None:
    settings = settings_at(processor, silent_server)
    result = processor.refund(refund_request(reference="1319876541"), settings)

    assert result.outcome is Outcome.UNKNOWN


def test_retrieve_timeout_is_unavailable(processor: Processor, silent_server: str) -> None:
    with pytest.raises(ProcessorUnavailable):
        processor.retrieve(retrieve_request("1319876541"), settings_at(processor, silent_server))


def test_charge_connection_refused_is_unavailable(processor: Processor, closed_port: str) -> None:
    """Nothing was sent: safe to retry, so ProcessorUnavailable rather than UNKNOWN."""
    with pytest.raises(ProcessorUnavailable, match="could not be reached"):
        processor.charge(charge_request(), settings_at(processor, closed_port))


def test_sdk_json_is_exact() -> None:
    body = {"amount": Decimal("1234.56"), "items": [{"unit_price": Decimal("1500.00")}]}

    assert client.sdk_json(body) == {"amount": 1234.56, "items": [{"unit_price": 1500}]}
    assert isinstance(client.sdk_json(Decimal("0.10")), float)


def test_sdk_json_refuses_what_a_float_cannot_carry() -> None:
    with pytest.raises(ValueError, match="exactly"):
        client.sdk_json(Decimal("12345678901234567.01"))


def test_long_idempotency_keys_are_hashed_stably() -> None:
    key = "x" * 65

    assert client._idempotency_key("pay_1:charge") == "pay_1:charge"
    assert len(client._idempotency_key(key)) == 64
    assert client._idempotency_key(key) == client._idempotency_key(key)


def test_the_client_is_one_per_credentials() -> None:
    first = client.for_credentials("TEST-a", client.API_BASE_URL, 5.0, 30.0)

    assert client.for_credentials("TEST-a", client.API_BASE_URL, 5.0, 30.0) is first
    assert client.for_credentials("TEST-b", client.API_BASE_URL, 5.0, 30.0) is not first
