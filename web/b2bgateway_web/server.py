"""The production server: gunicorn with threaded workers, JSON access log without secrets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from b2bgateway_web.logs import redact_path

#: gunicorn's access log line is :func:`access_line`, whole: gunicorn substitutes nothing a
#: request sent into a template (a path with a newline or an escape code could otherwise add a
#: line, e.g. a forged "ALERT ...", or break the JSON).
ACCESS_LOG_FORMAT = "%(json)s"
#: The longest request line gunicorn takes (its default, said here because /openapi.json
#: documents the 414 it answers beyond it, and no documented request comes near it).
LIMIT_REQUEST_LINE = 4094


def access_line(atoms: Mapping[str, Any]) -> str:
    """One JSON object for one request, from gunicorn's atoms: no query string and no header
    but the response's request id (they may carry ids, never secrets, but the Authorization
    header must never be logged); the payment page's token taken out of the path."""
    status = str(atoms.get("s", ""))
    duration = str(atoms.get("M", ""))
    return json.dumps(
        {
            "time": str(atoms.get("t", "")).strip("[]"),
            "level": "info",
            "logger": "access",
            "method": str(atoms.get("m", "")),
            "path": redact_path(str(atoms.get("U", ""))),
            "status": int(status) if status.isdigit() else status,
            "duration_ms": int(duration) if duration.isdigit() else duration,
            "request_id": str(atoms.get("{x-request-id}o", "")),
        }
    )


def run(host: str, port: int, *, workers: int, threads: int, timeout: int) -> None:
    """Serve the app (built in each worker by ``create_app``) until stopped."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    from b2bgateway_web import multiprocess

    # Before any worker imports Prometheus' client: each writes its samples there.
    metrics_dir, private = multiprocess.prepare()

    def on_exit(_server: Any) -> None:
        if private:
            multiprocess.remove_private(metrics_dir)

    class _AccessLogger(Logger):  # type: ignore[misc]
        """gunicorn's logger, writing :func:`access_line` as the whole access log line."""

        atoms_wrapper_class = dict  # gunicorn's SafeAtoms would backslash the line's quotes

        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
            atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
            return {"json": access_line(atoms)}

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in {
                "bind": f"{host}:{port}",
                "workers": workers,
                "threads": threads,
                "worker_class": "gthread",
                "timeout": timeout,
                "accesslog": "-",
                "access_log_format": ACCESS_LOG_FORMAT,
                "limit_request_line": LIMIT_REQUEST_LINE,
                "logger_class": _AccessLogger,
                # gunicorn's control socket is one path per machine: two instances would fight
                # over it, and nothing here uses it.
                "control_socket_disable": True,
                "child_exit": multiprocess.child_exit,  # a dead worker's gauges stop counting
                "on_exit": on_exit,
            }.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            import gc

            from b2bgateway_web import create_app

            app = create_app()
            # What start-up built (modules, the app, SQLAlchemy's mappers, the plugins) lives as
            # long as the worker: moved out of the collector's reach, a full collection scans only
            # what requests allocate (a 10,000-line statement triggered ~80 ms pauses).
            gc.collect()
            gc.freeze()
            return app

    _App().run()
