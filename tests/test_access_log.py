"""No request can add a line to the logs or break their JSON (issue 16 item 1): the access log
line is one ``json.dumps``, whatever the path, the headers or the X-Request-Id carry."""

from __future__ import annotations

import json
import time

from b2bgateway_web.server import access_line
from tests.test_concurrency_server import Server, server  # noqa: F401 (the fixture)

FORGED = "ALERT payment pay_1 is failed but the processor took the money: refund it"


def test_an_access_line_is_one_json_object_whatever_the_request_sent():
    line = access_line(
        {
            "t": "[04/Dec/2026:18:00:00 +0000]",
            "m": "GET",
            "U": f'/v1/x\n{FORGED}\r\n\x1b[31m"}}',
            "s": "404",
            "M": 3,
            "{x-request-id}o": 'r-1\n{"level": "error"}',
        }
    )
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    entry = json.loads(line)
    assert entry["path"].startswith("/v1/x\nALERT")  # kept as data, inside one line
    assert entry["status"] == 404
    assert entry["request_id"] == 'r-1\n{"level": "error"}'


def test_a_served_request_with_control_characters_adds_no_log_line(server: Server):  # noqa: F811
    before = server.log.read_text(errors="replace").count("\n")
    answer = server.request(
        "GET",
        "/v1/forged%0A" + FORGED.replace(" ", "%20") + "%0D%0A%1B%5B31m",
        headers={"X-Request-Id": 'r"1}{', "User-Agent": '"}, {"level": "error"'},
    )
    assert answer.status == 404
    time.sleep(0.5)  # gunicorn writes the access line after the answer
    lines = server.log.read_text(errors="replace").splitlines()[before:]
    access = [json.loads(line) for line in lines if '"logger": "access"' in line]
    assert access, "\n".join(lines)
    assert not any(line.startswith("ALERT") for line in lines)
    for line in lines:
        if line.startswith("{"):
            json.loads(line)  # every JSON log line still parses
    assert any(entry["path"].startswith("/v1/forged\nALERT") for entry in access)


def test_a_health_check_is_one_access_line(server: Server):  # noqa: F811
    before = server.log.read_text(errors="replace").count("\n")
    ids = [f"health-{n}" for n in range(3)]
    for request_id in ids:
        answer = server.request("GET", "/healthz", headers={"X-Request-Id": request_id})
        assert answer.status == 200
    time.sleep(0.5)  # gunicorn writes the access line after the answer
    lines = server.log.read_text(errors="replace").splitlines()[before:]
    entries = [json.loads(line) for line in lines]  # nothing but JSON lines...
    assert {entry["logger"] for entry in entries} == {"access"}, "\n".join(lines)  # ...of access
    mine = [entry["request_id"] for entry in entries if entry["request_id"] in ids]
    assert sorted(mine) == ids, "one line per health check"
