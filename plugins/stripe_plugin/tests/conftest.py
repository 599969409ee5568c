"""Fixtures: merchant settings, the plugin behind the core's facade, and vcrpy cassettes.

Cassettes are replayed with record mode ``none``: a request without a recorded answer fails the
test and nothing reaches the network (only loopback addresses even resolve). With
``B2BGATEWAY_RECORD=1`` and ``STRIPE_TEST_SECRET_KEY`` (a test-mode key) set, missing cassettes
are recorded against Stripe's test mode instead; see ``cassettes/README.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from b2bgateway.plugins import Processor
from b2bgateway.testing import RECORD, registered
from b2bgateway_stripe import client, hooks
from b2bgateway_stripe.settings import StripeSettings

#: no_network (autouse), cassette (cassettes/<test module>/<test>.yaml, all played; record mode
#: once, or B2BGATEWAY_RECORD_MODE=new_episodes, when recording) and vcr_config, overridden below.
pytest_plugins = ["b2bgateway.testing_pytest"]
CASSETTES = Path(__file__).parent / "cassettes"
SECRET_KEY = "sk_test_fake"  # never a real key: the cassettes' requests carry no Authorization
WEBHOOK_SECRET = "whsec_test_fake_endpoint_secret"


def raw_settings(**overrides: Any) -> dict[str, Any]:
    """A merchant's ``[merchants.X.processors.stripe]`` table."""
    values: dict[str, Any] = {
        "secret_key": SECRET_KEY,
        "publishable_key": "pk_test_fake",
        "webhook_secret": WEBHOOK_SECRET,
        "connect_timeout": 2,
        "read_timeout": 10,
        "max_network_retries": 0,
    }
    if RECORD:
        key = os.environ["STRIPE_TEST_SECRET_KEY"]
        if not key.startswith(("sk_test_", "rk_test_")):
            raise RuntimeError("cassettes are recorded with test-mode keys only")
        values["secret_key"] = key
    values.update(overrides)
    return values


@pytest.fixture
def processor() -> Processor:
    """The plugin on a fresh plugin manager, called as the core calls it."""
    return registered("stripe", hooks)


@pytest.fixture
def settings(processor: Processor) -> StripeSettings:
    validated = processor.validate_settings(raw_settings())
    assert isinstance(validated, StripeSettings)
    return validated


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No client survives a test, and rate-limit retries do not sleep."""
    monkeypatch.setattr(client, "RATE_LIMIT_DELAYS", (0.0, 0.0))
    client.for_merchant.cache_clear()
    yield
    client.for_merchant.cache_clear()


@pytest.fixture(autouse=True)
def home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty home directory: whatever the SDK writes there would show."""
    path = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(path))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(path / ".config"))
    return path


class Sent(list[dict[str, str]]):
    """The requests the SDK sent (headers after filtering), in order, as vcr saw them."""

    def keys_for(self, method: str, path: str) -> set[str]:
        return {r.get("Idempotency-Key", "") for r in self if r["_"] == f"{method} {path}"}


@pytest.fixture
def sent_requests() -> Sent:
    return Sent()


@pytest.fixture
def vcr_config(sent_requests: Sent) -> dict[str, Any]:
    """The kit's defaults, plus the SDK's user agents filtered and what it sent watched."""

    def watch(outgoing: Any) -> Any:
        # vcr filters the cassette's own requests too (no SDK headers), and each sent one
        # several times.
        seen = {"_": f"{outgoing.method} {outgoing.path}", **dict(outgoing.headers)}
        if "Stripe-Version" in seen and seen not in sent_requests:
            sent_requests.append(seen)
        return outgoing

    return {
        "filter_headers": ["authorization", "x-stripe-client-user-agent", "user-agent"],
        "before_record_request": watch,
    }


@pytest.fixture
def cassette(cassette: Any, sent_requests: Sent) -> Any:
    """The kit's cassette, with ``.sent``: the requests the SDK sent, as vcr saw them."""
    cassette.sent = sent_requests
    return cassette
