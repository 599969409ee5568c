"""The current app's :class:`~b2bgateway.gateway.Gateway`, kept in ``app.extensions["b2bgateway"]``.

Like flaskr's ``db.get_db()``: every blueprint reads the gateway through here, and this module
imports nothing of the app, so no blueprint imports ``app.py`` (no import cycle).
"""

from __future__ import annotations

from flask import Flask, current_app

from b2bgateway.gateway import Gateway

__all__ = ["EXTENSION", "gateway", "init_app"]

#: The key of the app's state in ``app.extensions``.
EXTENSION = "b2bgateway"


def init_app(app: Flask, gw: Gateway) -> None:
    app.extensions[EXTENSION] = gw


def gateway() -> Gateway:
    """The current app's :class:`Gateway`."""
    gw: Gateway = current_app.extensions[EXTENSION]
    return gw
