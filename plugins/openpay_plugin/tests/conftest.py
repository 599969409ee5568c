"""Fixtures: merchant settings, the plugin behind the core's facade, and vcrpy cassettes.

Cassettes are replayed with record mode ``none``: a request without a recorded answer fails the
test and nothing reaches the network (non-local hosts are not even resolved). With
``B2BGATEWAY_RECORD=1`` plus ``OPENPAY_MERCHANT_ID`` and ``OPENPAY_PRIVATE_KEY`` (sandbox keys)
missing cassettes are recorded against Openpay's sandbox; see ``cassettes/README.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from b2bgateway.plugins import Processor
from b2bgateway.testing import RECORD, registered
from b2bgateway_openpay import client, hooks
from b2bgateway_openpay.settings import OpenpaySettings

#: no_network (autouse), cassette (cassettes/<test module>/<test>.yaml, all played) and
#: vcr_config, overridden below with Openpay's scrubbers.
pytest_plugins = ["b2bgateway.testing_pytest"]
MERCHANT_ID = "mzdtln0bmtms6o3kck8f"  # the merchant id of Openpay's documentation examples
WEBHOOK_USER = "openpay-notifier"
WEBHOOK_PASSWORD = "s3cret-hook-password"


def raw_settings(**overrides: Any) -> dict[str, Any]:
    """A merchant's ``[merchants.X.processors.openpay]`` table."""
    values: dict[str, Any] = {
        "merchant_id": MERCHANT_ID,
        "private_key": "sk_test_5f1c0ffee0ddba11c0ffee0ddba11",
        "public_key": "pk_test_0ddba11c0ffee0ddba11c0ffee",
        "webhook_user": WEBHOOK_USER,
        "webhook_password": WEBHOOK_PASSWORD,
        "connect_timeout": 2,
        "read_timeout": 10,
    }
    if RECORD:
        values["merchant_id"] = os.environ["OPENPAY_MERCHANT_ID"]
        values["private_key"] = os.environ["OPENPAY_PRIVATE_KEY"]
    values.update(overrides)
    return values


@pytest.fixture
def processor() -> Processor:
    """The plugin on a fresh plugin manager, called as the core calls it."""
    return registered("openpay", hooks)


@pytest.fixture
def settings(processor: Processor) -> OpenpaySettings:
    validated = processor.validate_settings(raw_settings())
    assert isinstance(validated, OpenpaySettings)
    return validated


@pytest.fixture
def settings_3ds(processor: Processor) -> OpenpaySettings:
    validated = processor.validate_settings(raw_settings(use_3d_secure=True))
    assert isinstance(validated, OpenpaySettings)
    return validated


@pytest.fixture(autouse=True)
def fresh_clients() -> Iterator[None]:
    """Clients (and their sessions) are cached per settings: none survives a test."""
    client.for_merchant.cache_clear()
    yield
    client.for_merchant.cache_clear()


def _scrub_request(request: Any) -> Any:
    if RECORD:
        request.uri = request.uri.replace(os.environ["OPENPAY_MERCHANT_ID"], MERCHANT_ID)
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    if RECORD:
        body = response["body"]["string"]
        real = os.environ["OPENPAY_MERCHANT_ID"]
        if isinstance(body, bytes):
            response["body"]["string"] = body.replace(real.encode(), MERCHANT_ID.encode())
        else:
            response["body"]["string"] = body.replace(real, MERCHANT_ID)
    return response


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """The kit's defaults, plus the SDK-less client's user agent filtered and the real merchant
    id scrubbed from what is recorded."""
    return {
        "filter_headers": ["authorization", "x-openpay-client-user-agent"],
        "before_record_request": _scrub_request,
        "before_record_response": _scrub_response,
    }
