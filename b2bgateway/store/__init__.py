"""Persistence: SQLAlchemy models, repository functions and Alembic migrations."""

from b2bgateway.store.db import Store, upgrade

__all__ = ["Store", "upgrade"]
