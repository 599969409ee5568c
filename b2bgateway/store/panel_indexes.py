"""The payments module's list indexes (``/panel``, :mod:`b2bgateway.search`), declared apart from
``models.py`` (its size ceiling).

Both are walked backwards for a page, newest first, and both carry (``INCLUDE``, PostgreSQL only)
the columns the list filters on: the capped count of a filtered list and the ids of a page are
then read from the index alone (an index-only scan tests status, method, processor, customer and
amount on the index entry), not from one table row per candidate. On a million payments the
filtered count went from reading up to 20,000 rows to reading index pages; see
docs/performance.md. Migration 0013.
"""

from __future__ import annotations

from sqlalchemy import Index

from b2bgateway.store.models import Payment

__all__ = ["COVERED"]

#: What the list's filters test besides the indexes' own keys.
COVERED = ("payment_method", "processor", "customer_id", "amount_minor", "currency")

_payments = Payment.__table__.c
Index(
    "ix_payments_merchant_created",
    _payments.merchant_id,
    _payments.created_at,
    _payments.id,
    postgresql_include=["status", *COVERED],
)
Index(
    "ix_payments_merchant_status_created",
    _payments.merchant_id,
    _payments.status,
    _payments.created_at,
    _payments.id,
    postgresql_include=list(COVERED),
)
