"""Structured logs: one JSON object per line, with the request id, the merchant and the payment.

Nothing here logs request bodies, headers or settings, so API keys, processor secrets, tokens
and card data never reach a log line.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
# The payment page's URL carries its session token (a 30-minute credential): never log it.
_PORTAL_TOKEN = re.compile(r"^/portal/[^/]+")


def redact_path(path: str) -> str:
    return _PORTAL_TOKEN.sub("/portal/<token>", path)


#: json.dumps escapes the ASCII controls; these three end a line too for readers that split on
#: Unicode line boundaries (Python's splitlines, JavaScript): escaped the same way (still JSON).
_LINE_BREAKS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_PAYMENT_IN_PATH = re.compile(r"/v1/payments/(pay_[0-9a-f]+)")


class JsonFormatter(logging.Formatter):
    """``{"time", "level", "logger", "message", "request_id", "merchant", "payment_id", ...}``."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            merchant = g.get("merchant")
            if merchant is not None:
                entry["merchant"] = merchant.id
            entry["method"] = request.method
            entry["path"] = redact_path(request.path)
            match = _PAYMENT_IN_PATH.match(request.path)
            if match:
                entry["payment_id"] = match.group(1)
        for key in ("payment_id", "refund_id", "processor"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False).translate(_LINE_BREAKS)


class _AlembicChatter(logging.Filter):
    """Alembic's lines for every connection it inspects ("Context impl SQLiteImpl.", "Will
    assume non-transactional DDL.") tell an operator nothing, and ``/healthz`` reads the schema
    revision on each call: two lines per health check. Each migration run keeps its line."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(("Context impl", "Will assume"))


_ALEMBIC_CHATTER = _AlembicChatter()


def quiet_alembic() -> None:
    """Keep Alembic to what an operator needs: the migrations it runs (idempotent)."""
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    migration = logging.getLogger("alembic.runtime.migration")
    if _ALEMBIC_CHATTER not in migration.filters:
        migration.addFilter(_ALEMBIC_CHATTER)


def configure(level: int = logging.INFO) -> None:
    """Send every log line to stderr as JSON (used by ``b2bgateway`` commands)."""
    import time

    JsonFormatter.converter = time.gmtime
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_alembic()


def init_app(app: Flask) -> None:
    """A request id for every request: the caller's ``X-Request-Id`` if sane, else a new one;
    and Alembic quiet, however the app is served."""
    quiet_alembic()

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex

    @app.after_request
    def _echo_request_id(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        return response
