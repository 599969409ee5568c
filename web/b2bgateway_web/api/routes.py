"""The ``/v1`` API in one table: each resource's blueprint under the authenticated ``v1`` one.

Registered once, when this module is imported; ``create_app`` registers ``v1`` on each app.
"""

from __future__ import annotations

from b2bgateway_web.api import (
    customers,
    invoices,
    manual_payments,
    payability,
    payments,
    portal_sessions,
    processors,
)
from b2bgateway_web.api.base import v1

for child in (
    customers.bp,  # PUT/GET /v1/customers/{id}, GET /v1/customers/{id}/statement
    invoices.bp,  # PUT/GET /v1/invoices/{id}, POST /v1/invoices/batch
    payability.bp,  # POST /v1/payability/order, /v1/payability/invoices
    payments.checkouts,  # POST /v1/checkouts
    payments.payments,  # GET /v1/payments, /v1/payments/{id}, POST .../refunds, .../void
    manual_payments.bp,  # POST /v1/manual-payments
    processors.bp,  # GET /v1/processors
    portal_sessions.bp,  # POST /v1/portal-sessions (links to the customer payment page)
):
    v1.register_blueprint(child)

__all__ = ["v1"]
