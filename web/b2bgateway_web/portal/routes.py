"""The customer payment page's blueprint with all its routes attached (``create_app`` registers it).

The area: ``base`` (blueprint, identity, formatting), ``texts`` (its words), ``account`` (view
models), then one module per page (``views`` home, ``order``, ``payments``) and ``errors``.
"""

from __future__ import annotations

from b2bgateway_web.portal import errors, history, order, payments, views
from b2bgateway_web.portal.base import bp

ROUTES = (views, order, payments, history, errors)  # imported for their routes, in this order

__all__ = ["bp"]
