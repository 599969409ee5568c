"""The payments module's blueprint with all its routes attached (``create_app`` registers it).

The area: ``base`` (blueprint, sessions, roles, formatting), ``texts`` (its words), ``filters``,
then one module per page (``auth``, ``home`` with the audit log, ``payments``, ``exports``,
``actions``, ``manual_views``, ``users``, ``second_factor``) and ``errors``."""

from __future__ import annotations

from b2bgateway_web.panel import (
    actions,
    auth,
    errors,
    exports,
    home,
    manual_views,
    payments,
    second_factor,
    users,
)
from b2bgateway_web.panel.base import bp, init_app

ROUTES = (
    auth,
    home,
    payments,
    exports,
    actions,
    manual_views,
    users,
    second_factor,
    errors,
)  # imported for their routes

__all__ = ["bp", "init_app"]
