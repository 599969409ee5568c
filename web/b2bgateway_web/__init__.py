"""The HTTP service of b2bgateway: a thin Flask layer over the core."""

from b2bgateway_web.app import create_app
from b2bgateway_web.hookspecs import hookimpl
from b2bgateway_web.state import gateway

__all__ = ["create_app", "gateway", "hookimpl"]
