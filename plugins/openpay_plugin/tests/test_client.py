"""The HTTP client on its own: hosts, authentication, JSON, and how each transport failure is
sorted (nothing sent / sent but no answer / an error answer). Real sockets on 127.0.0.1 only."""

from __future__ import annotations

import base64
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from conftest import raw_settings

from b2bgateway_openpay.client import ApiError, NoAnswer, NotSent, OpenpayClient, for_merchant
from b2bgateway_openpay.settings import OpenpaySettings


def make_client(base_url: str, read_timeout: float = 2.0) -> OpenpayClient:
    return OpenpayClient(
        "m123", "sk_test_x", base_url=base_url, connect_timeout=1.0, read_timeout=read_timeout
    )


@contextmanager
def serving(status: int, body: bytes, content_type: str = "application/json") -> Iterator[dict]:
    """A local HTTP server answering every request with ``status`` and ``body``."""
    seen: dict = {}

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            seen.update(
                method=self.command,
                path=self.path,
                headers=dict(self.headers),
                body=self.rfile.read(length),
            )
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = _answer

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    seen["url"] = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield seen
    finally:
        server.shutdown()
        server.server_close()


def test_sandbox_is_the_default_host():
    assert OpenpaySettings(**raw_settings()).api_url == "https://sandbox-api.openpay.mx"
    production = OpenpaySettings(**raw_settings(production=True))
    assert production.api_url == "https://api.openpay.mx"
    local = OpenpaySettings(**raw_settings(base_url="http://127.0.0.1:8090/"))
    assert local.api_url == "http://127.0.0.1:8090"


def test_one_client_per_merchant_settings():
    settings = OpenpaySettings(**raw_settings())
    assert for_merchant(settings) is for_merchant(OpenpaySettings(**raw_settings()))
    assert for_merchant(settings) is not for_merchant(
        OpenpaySettings(**raw_settings(production=True))
    )
    assert "sk_test" not in repr(for_merchant(settings))


def test_request_is_basic_auth_json_with_exact_amounts():
    with serving(200, b'{"id": "tr1", "amount": 100.50}') as seen:
        answer = make_client(seen["url"]).create_charge({"amount": Decimal("100.50")})
    assert answer == {"id": "tr1", "amount": Decimal("100.50")}  # numbers come back as Decimal
    assert seen["method"] == "POST"
    assert seen["path"] == "/v1/m123/charges"
    assert seen["headers"]["Authorization"] == "Basic " + base64.b64encode(b"sk_test_x:").decode()
    assert seen["headers"]["Content-Type"] == "application/json"
    assert seen["body"] == b'{"amount": 100.50}'


def test_search_by_order_id_is_a_query():
    with serving(
        200, b'[{"id": "tr1", "order_id": "pay_1"}, {"id": "x", "order_id": "pay_10"}]'
    ) as seen:
        found = make_client(seen["url"]).find_charge("pay_1")
    assert found == {"id": "tr1", "order_id": "pay_1"}
    assert seen["path"] == "/v1/m123/charges?order_id=pay_1"


def test_error_answer_is_read():
    body = b'{"category":"gateway","description":"declined","http_code":402,"error_code":3001}'
    with serving(402, body) as seen, pytest.raises(ApiError) as caught:
        make_client(seen["url"]).create_charge({})
    assert (caught.value.http_status, caught.value.error_code) == (402, 3001)


def test_error_answer_that_is_not_json_error_response():
    with (
        serving(502, b"<html>Bad gateway</html>", "text/html") as seen,
        pytest.raises(ApiError) as caught,
    ):
        make_client(seen["url"]).get_charge("tr1")
    assert (caught.value.http_status, caught.value.error_code) == (502, None)


def test_success_that_is_not_json_is_no_answer_error_response():
    with serving(200, b"<html>hello</html>", "text/html") as seen, pytest.raises(NoAnswer):
        make_client(seen["url"]).create_charge({})


def test_connection_refused_is_not_sent():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed when the block ends: nothing listens there
    with pytest.raises(NotSent):
        make_client(f"http://127.0.0.1:{port}").get_charge("tr1")


def test_unknown_host_is_not_sent():
    with pytest.raises(NotSent):  # the tests resolve nothing but loopback
        make_client("https://sandbox-api.openpay.invalid").get_charge("tr1")


def test_connect_timeout_is_not_sent(monkeypatch):
    def slow(self, request, **kwargs):
        raise requests.ConnectTimeout("connect timed out")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", slow)
    with pytest.raises(NotSent):
        make_client("https://sandbox-api.openpay.mx").create_charge({})


def test_read_timeout_is_no_answer():
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        client = make_client(f"http://127.0.0.1:{silent.getsockname()[1]}", read_timeout=0.2)
        with pytest.raises(NoAnswer):
            client.create_charge({"amount": Decimal("1.00")})


def test_connection_dropped_after_sending_is_no_answer():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)

        def hang_up() -> None:
            connection, _ = server.accept()
            connection.recv(65536)  # the request arrived...
            connection.close()  # ...and the connection drops without an answer

        threading.Thread(target=hang_up, daemon=True).start()
        with pytest.raises(NoAnswer):
            make_client(f"http://127.0.0.1:{server.getsockname()[1]}").create_charge({})


def test_settings_refuse_a_colon_in_the_webhook_user():
    with pytest.raises(ValueError, match="':'"):
        OpenpaySettings(**raw_settings(webhook_user="a:b"))


def test_settings_require_webhook_credentials():
    values = raw_settings()
    del values["webhook_password"]
    with pytest.raises(ValueError, match="webhook_password"):
        OpenpaySettings(**values)
