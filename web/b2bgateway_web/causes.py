"""The cause of the status changes a request makes (:mod:`b2bgateway.history`): set by a
blueprint's ``before_request`` once it knows who calls (an API key, a customer's link), and
reset when the request ends, so a worker thread never carries it into the next request."""

from __future__ import annotations

from flask import Flask, g

from b2bgateway import history

__all__ = ["init_app", "set_cause"]


def set_cause(cause: history.Cause) -> None:
    """Record this request's status changes with ``cause`` (an inner one, e.g. a staff user's
    action or a webhook, still wins inside the core)."""
    previous = g.pop("history_token", None)
    if previous is not None:
        history.end(previous)
    g.history_token = history.begin(cause)


def _reset(_exc: BaseException | None = None) -> None:
    token = g.pop("history_token", None)
    if token is not None:
        try:
            history.end(token)
        except ValueError:  # set in another context (cannot happen with WSGI): clear it
            history.begin(history.UNKNOWN)


def init_app(app: Flask) -> None:
    app.teardown_request(_reset)
