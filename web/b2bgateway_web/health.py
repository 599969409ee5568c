"""Liveness with a database check."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify

from b2bgateway.store.db import current_revision, head_revision
from b2bgateway_web.app import gateway

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> tuple[Response, int]:
    """200 when the database answers and its schema is current, 503 otherwise."""
    store = gateway().store
    try:
        store.ping()
        revision = current_revision(store)
    except Exception as exc:  # any database failure means "not healthy", never a 500
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return jsonify(status="unavailable", database="unreachable"), 503
    head = head_revision()
    if revision != head:
        return jsonify(
            status="unavailable", database="ok", schema=revision, expected_schema=head
        ), 503
    return jsonify(status="ok", database="ok", schema=revision), 200
