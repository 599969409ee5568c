"""The client: one StripeClient per merchant, no telemetry, timeouts and what they mean.

The timeout tests talk to sockets on the loopback interface (a port where nothing listens, and
one that accepts connections but never answers); nothing leaves the machine.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
import stripe
from conftest import raw_settings
from stripe_factories import charge_request, refund_request, retrieve_request

from b2bgateway import Outcome, ProcessorUnavailable
from b2bgateway_stripe import client


def test_one_client_per_merchant_settings(processor):
    acme = processor.validate_settings(raw_settings())
    again = processor.validate_settings(raw_settings())
    other = processor.validate_settings(raw_settings(secret_key="sk_test_other"))

    assert client.for_merchant(acme) is client.for_merchant(again)
    assert client.for_merchant(acme) is not client.for_merchant(other)
    assert stripe.api_key is None  # no global key, ever


def test_telemetry_is_off():
    assert stripe.enable_telemetry is False


def test_no_telemetry_and_nothing_written_at_home(processor, settings, cassette, home):
    processor.retrieve(retrieve_request("pi_3QAcme0001"), settings)
    processor.retrieve(retrieve_request("pi_3QAcme0001"), settings)

    # The SDK would send the previous request's id and timing with the second one...
    assert not any("X-Stripe-Client-Telemetry" in sent for sent in cassette.sent)
    # ...and write ~/.config/stripe/telemetry_id on the first one.
    assert list(home.rglob("*")) == []


def test_refunds_are_read_page_by_page(settings, cassette):
    refunds = list(client.for_merchant(settings).refunds_of("pi_3QAcme0001"))

    assert [refund["id"] for refund in refunds] == [
        "re_3QAcme0003",
        "re_3QAcme0002",
        "re_3QAcme0001",
    ]


@pytest.fixture
def closed_port() -> int:
    """A loopback port where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A loopback port that accepts connections (the kernel does) but never answers."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        yield int(server.getsockname()[1])


def _local(processor, port: int, **overrides):
    values = raw_settings(api_base=f"http://127.0.0.1:{port}", read_timeout=0.3, **overrides)
    return processor.validate_settings(values)


def test_charge_connection_refused_is_unavailable(processor, closed_port):
    """Nothing was sent: the core may fail the payment cleanly and let it be tried again."""
    with pytest.raises(ProcessorUnavailable, match="nothing was sent"):
        processor.charge(charge_request(), _local(processor, closed_port))


def test_charge_read_timeout_is_unknown_error_response(processor, silent_port):
    """Sent, then no answer: Stripe may have charged, so the core must reconcile."""
    result = processor.charge(charge_request(), _local(processor, silent_port))

    assert result.outcome is Outcome.UNKNOWN


def test_charge_connection_refused_with_sdk_retries_is_unknown(processor, closed_port):
    """With the SDK's retries, an earlier attempt may have been sent before one that failed."""
    settings = _local(processor, closed_port, max_network_retries=1)
    result = processor.charge(charge_request(), settings)

    assert result.outcome is Outcome.UNKNOWN


def test_refund_connection_refused_is_unavailable(processor, closed_port):
    with pytest.raises(ProcessorUnavailable):
        processor.refund(refund_request("pi_3QAcme0001"), _local(processor, closed_port))


def test_refund_read_timeout_is_unknown_error_response(processor, silent_port):
    result = processor.refund(refund_request("pi_3QAcme0001"), _local(processor, silent_port))

    assert result.outcome is Outcome.UNKNOWN


def test_retrieve_read_timeout_is_unavailable_error_response(processor, silent_port):
    with pytest.raises(ProcessorUnavailable):
        processor.retrieve(retrieve_request("pi_3QAcme0001"), _local(processor, silent_port))
