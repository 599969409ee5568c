"""``GET /readyz``: may this process take traffic? (``/healthz`` beside it stays the liveness
check.) Ready when the database answers, its schema is the one this code expects, and every
merchant's processor plugin is loaded; otherwise 503 ``not_ready`` (problem+json) naming the checks
that failed, so a load balancer or an orchestrator keeps requests away until it is."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, jsonify

from b2bgateway.database import schema_state
from b2bgateway.gateway import Gateway
from b2bgateway_web.problems import problem
from b2bgateway_web.state import gateway

log = logging.getLogger(__name__)
bp = Blueprint("readiness", __name__)


def _plugins(gw: Gateway) -> tuple[dict[str, Any], bool]:
    installed = gw.plugins.processor_names
    missing = sorted(
        {
            m.settings.processor
            for m in gw.merchants.values()
            if m.settings.processor and m.settings.processor not in installed
        }
    )
    return {"processors": installed, "missing": missing}, not missing


def _database(gw: Gateway) -> tuple[dict[str, Any], bool]:
    try:
        state = schema_state(gw.store)
    except Exception as exc:  # any database failure means "not ready", never a 500
        log.warning("readiness: database unavailable: %s", type(exc).__name__)
        return {"status": "unreachable"}, False
    return (
        {"status": "ok", "schema": state.revision, "expected_schema": state.head},
        state.current,
    )


@bp.get("/readyz")
def readyz() -> Response:
    gw = gateway()
    database, database_ok = _database(gw)
    plugins, plugins_ok = _plugins(gw)
    checks = {"database": database, "plugins": plugins}
    if database_ok and plugins_ok:
        return jsonify(status="ready", checks=checks)
    failed = [name for name, ok in (("database", database_ok), ("plugins", plugins_ok)) if not ok]
    response = problem(
        503,
        "not_ready",
        "Not ready",
        f"not ready: {', '.join(failed)}",
        failed=failed,
        checks=checks,
    )
    response.headers["Retry-After"] = "5"
    return response
