import json
import logging

from b2bgateway_web.api.base import authenticate
from b2bgateway_web.logs import JsonFormatter


def test_request_ids_are_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-Id": "portal-123"})
    assert given.headers["X-Request-Id"] == "portal-123"
    made = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert len(made.headers["X-Request-Id"]) == 32


def test_log_lines_are_json_with_request_context_and_no_secrets(app, client):
    lines = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(JsonFormatter().format(record))

    @app.get("/v1/_log_probe")
    def probe():
        authenticate()  # as the /v1 blueprint does
        logging.getLogger("b2bgateway.test").warning("checkout seen", extra={"payment_id": "pay_1"})
        return {"ok": True}

    handler = Capture()
    logging.getLogger().addHandler(handler)
    try:
        response = client.get(
            "/v1/_log_probe",
            headers={"Authorization": "Bearer sk_test_merchant_a", "X-Request-Id": "r-1"},
        )
    finally:
        logging.getLogger().removeHandler(handler)
    assert response.status_code == 200
    entry = json.loads(next(line for line in lines if "checkout seen" in line))
    assert entry["request_id"] == "r-1"
    assert entry["merchant"] == "acme"
    assert entry["payment_id"] == "pay_1"
    assert entry["level"] == "warning"
    assert "sk_test_merchant_a" not in "".join(lines)


def test_payment_page_tokens_never_reach_the_logs():
    from b2bgateway_web.logs import redact_path

    assert (
        redact_path("/portal/eyJhbGciOi.secret.token/pagos/pay_1") == "/portal/<token>/pagos/pay_1"
    )
    assert redact_path("/v1/payments/pay_1") == "/v1/payments/pay_1"


def test_a_health_check_logs_nothing_of_its_own(client, caplog):
    """/healthz reads the schema revision with Alembic on every call; Alembic's per-connection
    lines ("Context impl ...", "Will assume ...") would be two log lines per health check."""
    with caplog.at_level(logging.DEBUG):
        assert client.get("/healthz").status_code == 200
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO] == []


def test_no_request_adds_a_line_to_the_application_log(app, client):
    """A path with a Unicode line break (U+2028, U+2029, NEL) stays inside its JSON line for
    readers that split on them too (issue 16 item 1; the access log escapes all non-ASCII)."""
    lines = []

    class Capture(logging.Handler):
        def emit(self, record):
            lines.append(JsonFormatter().format(record))

    @app.get("/v1/_log_probe/<path:rest>")
    def probe(rest):
        logging.getLogger("b2bgateway.test").warning("probe: páginas")
        return {"ok": True}

    handler = Capture()
    logging.getLogger().addHandler(handler)
    try:
        forged = "%E2%80%A8ALERT%20refund%20it%E2%80%A9ALERT%C2%85ALERT"
        client.get(f"/v1/_log_probe/{forged}", headers={"Authorization": "Bearer x"})
    finally:
        logging.getLogger().removeHandler(handler)
    [line] = [line for line in lines if "probe" in line]
    assert line.splitlines() == [line]
    entry = json.loads(line)
    assert entry["path"].count("ALERT") == 3
    assert entry["message"] == "probe: páginas"  # Spanish stays readable
