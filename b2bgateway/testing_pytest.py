"""The conformance kit's pytest plugin: no network in tests, and vcrpy cassettes, the same way
for every processor plugin.

A plugin's test suite opts in from its ``tests/conftest.py`` (it is not loaded for anyone else,
the core's own tests included)::

    pytest_plugins = ["b2bgateway.testing_pytest"]

It brings:

- ``no_network`` (autouse): only loopback is reachable (names other than ``localhost`` do not
  resolve, and connecting to an address outside 127.0.0.0/8 and ::1 fails), unless recording;
- ``cassette``: a ``vcr`` cassette at ``cassettes/<test module>/<test name>.yaml`` next to the test
  module, replayed with record mode ``none`` (a request without a recorded answer fails) and
  checked on the way out: every recorded interaction must have been requested;
- ``vcr_config``: what a plugin changes for its cassettes (``vcr.VCR``'s arguments, such as
  ``filter_headers`` or ``before_record_request``, and ``cassette_library_dir``), merged over
  :func:`vcr_defaults`. Override it in the plugin's conftest (any scope).

``B2BGATEWAY_RECORD=1`` records instead: the network is open and missing cassettes are recorded
(record mode ``once``, or ``B2BGATEWAY_RECORD_MODE``, e.g. ``new_episodes``). A conftest reads
that from ``b2bgateway.testing`` (``RECORD``, ``recording()``, ``record_mode()``): importing
this module itself before pytest loads it would keep pytest from rewriting its asserts. vcrpy is
imported only when a test asks for a cassette: a test dependency of the plugins, not the core's.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from b2bgateway.testing import RECORD, record_mode, recording

__all__ = [
    "RECORD",
    "cassette",
    "cassette_path",
    "guard_network",
    "is_loopback",
    "no_network",
    "record_mode",
    "recording",
    "vcr_config",
    "vcr_defaults",
]

MATCH_ON = ("method", "scheme", "host", "port", "path", "query", "body")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def vcr_defaults() -> dict[str, Any]:
    """What every plugin's cassettes share; ``vcr_config`` is merged over it."""
    return {
        "record_mode": record_mode(),
        # Never on headers: SDKs send random idempotency keys and telemetry.
        "match_on": list(MATCH_ON),
        "filter_headers": ["authorization"],
        "decode_compressed_response": True,
    }


def is_loopback(host: object) -> bool:
    """``localhost``, an address in 127.0.0.0/8 or ::1 (or ``None``, the local host itself)."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.partition("%")[0]).is_loopback
    except ValueError:
        return False


def guard_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until ``monkeypatch`` is undone, only loopback resolves and only loopback connects."""
    resolve = socket.getaddrinfo
    connect = socket.socket.connect
    connect_ex = socket.socket.connect_ex

    def local_names(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"no network in tests: {host}")
        return resolve(host, *args, **kwargs)

    def refused(sock: socket.socket, address: Any) -> None:
        inet = sock.family in (socket.AF_INET, socket.AF_INET6)
        if inet and isinstance(address, tuple) and not is_loopback(address[0]):
            raise ConnectionRefusedError(f"no network in tests (tried {address!r})")

    def guarded_connect(self: socket.socket, address: Any) -> None:
        refused(self, address)
        connect(self, address)

    def guarded_connect_ex(self: socket.socket, address: Any) -> int:
        refused(self, address)
        return connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", local_names)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", guarded_connect_ex)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outside a recording, nothing but loopback: a request vcr does not answer fails here."""
    if not recording():
        guard_network(monkeypatch)


@pytest.fixture
def vcr_config() -> dict[str, Any]:
    """What this plugin's cassettes change from :func:`vcr_defaults`: override it."""
    return {}


def cassette_path(request: pytest.FixtureRequest, library: str | Path | None = None) -> Path:
    """``<library>/<test name>.yaml``, the library being ``cassettes/<test module>`` beside the
    test module unless given; the name keeps letters, digits, ``_``, ``.`` and ``-``."""
    module = Path(request.node.path)
    folder = Path(library) if library is not None else module.parent / "cassettes" / module.stem
    name = _UNSAFE.sub("_", request.node.name).strip("_")
    return folder / f"{name}.yaml"


def _vcr() -> Any:
    try:
        import vcr  # type: ignore[import-untyped]  # a test extra of the plugins
    except ImportError as missing:  # pragma: no cover - depends on the environment
        raise pytest.UsageError(
            "the cassette fixture needs vcrpy: add it to your plugin's test extra"
        ) from missing
    return vcr


@pytest.fixture
def cassette(request: pytest.FixtureRequest, vcr_config: dict[str, Any]) -> Iterator[Any]:
    """The test's ``vcr`` cassette, in use while the test runs; every interaction it recorded
    must be requested (checked unless recording)."""
    config = {**vcr_defaults(), **vcr_config}
    path = cassette_path(request, config.pop("cassette_library_dir", None))
    recorder = _vcr().VCR(cassette_library_dir=str(path.parent), **config)
    with recorder.use_cassette(path.name) as recorded:
        yield recorded
    if not recording():
        unplayed = [
            f"{r.method} {r.uri}"
            for index, r in enumerate(recorded.requests)
            if not recorded.play_counts[index]
        ]
        assert not unplayed, f"{path}: recorded but not requested: {unplayed}"
