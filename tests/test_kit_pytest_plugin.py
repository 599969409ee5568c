"""The conformance kit's pytest plugin (``b2bgateway.testing_pytest``), run by pytester as a
processor plugin's tests use it: its conftest opts in, cassettes are replayed and every recorded
interaction must be requested, and nothing but loopback is reachable unless recording."""

from __future__ import annotations

import socket

import pytest

pytest_plugins = ["pytester"]

OPT_IN = 'pytest_plugins = ["b2bgateway.testing_pytest"]\n'
PING = """\
- request:
    body: null
    headers: {{}}
    method: GET
    uri: http://api.example.test/{path}
  response:
    body: {{string: pong}}
    headers: {{}}
    status: {{code: 200, message: OK}}
"""
CLIENT = """\
import http.client

import pytest


def get(path):
    connection = http.client.HTTPConnection("api.example.test")
    connection.request("GET", path)
    return connection.getresponse().read()
"""


def cassette(*paths: str) -> str:
    return "interactions:\n" + "".join(PING.format(path=p) for p in paths) + "version: 1\n"


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A plugin's test folder that opts in, replaying (whatever this run's environment says)."""
    monkeypatch.delenv("B2BGATEWAY_RECORD", raising=False)
    monkeypatch.delenv("B2BGATEWAY_RECORD_MODE", raising=False)
    pytester.makeconftest(OPT_IN)
    return pytester


@pytest.fixture
def vcrpy() -> None:
    pytest.importorskip("vcr")  # a test extra of the plugins, installed beside the core by make


@pytest.mark.usefixtures("vcrpy")
def test_a_cassette_is_replayed_from_beside_the_test_module(suite: pytest.Pytester):
    suite.mkdir("cassettes")
    suite.mkdir("cassettes/test_replay")
    # The name keeps letters, digits, _ . and -: "test_ping[a b]" is test_ping_a_b.yaml.
    (suite.path / "cassettes/test_replay/test_ping_a_b.yaml").write_text(cassette("ping"))
    suite.makepyfile(
        test_replay=CLIENT
        + """
@pytest.mark.parametrize("path", ["/ping"], ids=["a b"])
def test_ping(cassette, path):
    assert get(path) == b"pong"
    assert cassette.play_count == 1
"""
    )
    suite.runpytest().assert_outcomes(passed=1)


@pytest.mark.usefixtures("vcrpy")
def test_an_interaction_not_requested_fails_the_test(suite: pytest.Pytester):
    suite.mkdir("cassettes")
    suite.mkdir("cassettes/test_unplayed")
    (suite.path / "cassettes/test_unplayed/test_ping.yaml").write_text(cassette("ping", "pong"))
    suite.makepyfile(test_unplayed=CLIENT + "\n\ndef test_ping(cassette):\n    get('/ping')\n")
    result = suite.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*recorded but not requested*GET http://api.example.test/pong*"])


@pytest.mark.usefixtures("vcrpy")
def test_a_request_without_a_recorded_answer_fails(suite: pytest.Pytester):
    suite.makepyfile(test_missing=CLIENT + "\n\ndef test_ping(cassette):\n    get('/ping')\n")
    result = suite.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*CannotOverwriteExistingCassetteException*"])


@pytest.mark.usefixtures("vcrpy")
def test_a_plugin_changes_its_cassettes_through_vcr_config(suite: pytest.Pytester):
    suite.makeconftest(
        OPT_IN
        + """
import pytest


@pytest.fixture
def vcr_config():
    return {"cassette_library_dir": "recorded", "match_on": ["method", "host"]}
"""
    )
    suite.mkdir("recorded")
    (suite.path / "recorded/test_ping.yaml").write_text(cassette("ping"))
    suite.makepyfile(test_config=CLIENT + "\n\ndef test_ping(cassette):\n    get('/elsewhere')\n")
    suite.runpytest().assert_outcomes(passed=1)


def test_only_loopback_is_reachable(suite: pytest.Pytester):
    suite.makepyfile(
        test_network="""
import socket

import pytest


def test_other_hosts_neither_resolve_nor_connect():
    with pytest.raises(socket.gaierror, match="no network in tests"):
        socket.getaddrinfo("processor.example.com", 443)
    with pytest.raises(socket.gaierror):
        socket.create_connection(("192.0.2.1", 443))
    for family, address in ((socket.AF_INET, ("192.0.2.1", 443)), (socket.AF_INET6, ("2001:db8::1", 443))):
        with socket.socket(family) as sock, pytest.raises(ConnectionRefusedError):
            sock.connect(address)
        with socket.socket(family) as sock, pytest.raises(ConnectionRefusedError):
            sock.connect_ex(address)


def test_loopback_does():
    with socket.create_server(("127.0.0.1", 0)) as server:
        socket.getaddrinfo("localhost", 80)
        socket.create_connection(server.getsockname(), timeout=5).close()
"""
    )
    suite.runpytest().assert_outcomes(passed=2)


def test_recording_opens_the_network_and_writes_the_cassette(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("vcr")
    monkeypatch.setenv("B2BGATEWAY_RECORD", "1")
    suite.makepyfile(
        test_record="""
import http.client
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Pong(BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"pong")

    def log_message(self, *args):
        pass


def test_unguarded():
    assert "guard_network" not in socket.getaddrinfo.__qualname__


def test_records(cassette):
    with ThreadingHTTPServer(("127.0.0.1", 0), Pong) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        connection = http.client.HTTPConnection(*server.server_address)
        connection.request("GET", "/ping", headers={"Authorization": "Bearer sk_test_x"})
        assert connection.getresponse().read() == b"pong"
        server.shutdown()
"""
    )
    suite.runpytest().assert_outcomes(passed=2)
    recorded = (suite.path / "cassettes/test_record/test_records.yaml").read_text()
    assert "/ping" in recorded and "pong" in recorded
    assert "sk_test_x" not in recorded  # filter_headers: authorization


def test_the_core_tests_have_no_network_guard():
    """The plugin is opted into, not installed for every pytest run (no pytest11 entry point)."""
    assert "guard_network" not in socket.getaddrinfo.__qualname__
    assert "guard_network" not in socket.socket.connect.__qualname__
