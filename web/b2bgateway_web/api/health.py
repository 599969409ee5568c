"""Liveness with a database check."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from b2bgateway.database import schema_state
from b2bgateway_web.state import gateway

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers and its schema is current, 503 otherwise."""
    try:
        state = schema_state(gateway().store)
    except Exception as exc:  # any database failure means "not healthy", never a 500
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return jsonify(status="unavailable", database="unreachable"), 503
    if not state.current:
        return jsonify(
            status="unavailable", database="ok", schema=state.revision, expected_schema=state.head
        ), 503
    return jsonify(status="ok", database="ok", schema=state.revision), 200
