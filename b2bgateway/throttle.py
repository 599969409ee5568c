"""Failed API-key authentication, per client address, kept in the database so every process
and every instance agrees (no counter in one process's memory that a restart or a second worker
would not see).

An address that presents ``limit`` wrong keys within ``window`` is refused, every request of
it, with or without a key, for ``block``: letting a right key through while wrong ones are
refused would still tell a guesser which key is right. A success does not reset the count (a
merchant's own key must not buy another merchant's guesser more tries); the window ends it.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import and_, bindparam, delete, not_, or_, select

from b2bgateway.store import Store
from b2bgateway.store.models import AuthFailure, utcnow
from b2bgateway.store.repository import dialect_insert

__all__ = [
    "BLOCKED_UNTIL",
    "FailedAuthSettings",
    "blocked_for",
    "client_prefix",
    "purge",
    "record_failure",
    "seconds_refused",
]


class FailedAuthSettings(BaseModel):
    """``[failed_auth]``: after ``limit`` wrong API keys from one address within ``window``,
    every request from that address is answered 429 for ``block``. ``trusted_proxies`` is how
    many reverse proxies in front of the gateway append the client's address to
    ``X-Forwarded-For`` (0: the peer's address is the client's)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    limit: int = Field(default=10, ge=1, le=10_000)
    window: timedelta = timedelta(minutes=10)
    block: timedelta = timedelta(minutes=15)
    trusted_proxies: int = Field(default=0, ge=0, le=5)

    @field_validator("window", "block")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0) or value > timedelta(days=1):
            raise ValueError("must be more than 0 and at most 1 day")
        return value


def client_prefix(address: str) -> str:
    """What failures are counted against for ``address``: an IPv4 address itself, an IPv6
    address's /64 (one subscriber's network: it holds 2**64 addresses to rotate through), an
    IPv4-mapped IPv6 address as its IPv4 address; anything else (not an address) as it is."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(address: str) -> str:
    """``address`` as one key: an IPv4-mapped IPv6 address as its IPv4 address, an IPv6 address in
    its compressed form (one host, never its /64); anything else as it is."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


def _seconds_until(moment: datetime | None, now: datetime) -> int | None:
    if moment is None or moment <= now:
        return None
    return max(1, math.ceil((moment - now).total_seconds()))


def seconds_refused(blocked_until: datetime | None, now: datetime | None = None) -> int | None:
    """Seconds an address whose ``blocked_until`` was read (:data:`BLOCKED_UNTIL`) is still
    refused for, or None."""
    return _seconds_until(blocked_until, now or utcnow())


#: Asked before every authentication: one primary-key read, built once, outside a transaction
#: on PostgreSQL (one round trip instead of BEGIN, SELECT, ROLLBACK).
_BLOCKED_UNTIL = select(AuthFailure.blocked_until).where(
    AuthFailure.address == bindparam("address")
)
#: The same read as a scalar subquery (parameter ``address``), for a statement that needs it
#: with other things: a checkout reads it with its customer, in the payment's own transaction
#: (b2bgateway.reservation), instead of in a round trip of its own before the view.
BLOCKED_UNTIL = _BLOCKED_UNTIL.scalar_subquery()


def blocked_for(store: Store, address: str, now: datetime | None = None) -> int | None:
    """Seconds ``address`` is still refused for (for ``Retry-After``), or None."""
    now = now or utcnow()
    with store.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="AUTOCOMMIT")
        until = connection.execute(_BLOCKED_UNTIL, {"address": address[:64]}).scalar()
    return _seconds_until(until, now)


def record_failure(
    store: Store, address: str, policy: FailedAuthSettings, now: datetime | None = None
) -> int | None:
    """Count one wrong key from ``address``; the seconds it is now refused for, or None.

    One row per address, locked while it is counted (two workers counting at once both count).
    """
    now = now or utcnow()
    address = address[:64]
    with store.write() as session:
        insert = dialect_insert(session.get_bind().dialect.name)
        session.execute(
            insert(AuthFailure)
            .values(address=address, failures=0, window_started=now, blocked_until=None)
            .on_conflict_do_nothing(index_elements=["address"])
        )
        row = session.get(AuthFailure, address, with_for_update=True, populate_existing=True)
        assert row is not None  # inserted above, or there already; only purge deletes
        if row.window_started + policy.window <= now:  # the last window is over: a new one
            row.failures, row.window_started = 0, now
        row.failures += 1
        if row.failures >= policy.limit:
            row.blocked_until = now + policy.block
        return _seconds_until(row.blocked_until, now)


def purge(
    store: Store,
    policy: FailedAuthSettings,
    now: datetime | None = None,
    *,
    longer: Mapping[str, timedelta] | None = None,
) -> int:
    """Forget addresses whose window and block are both over; returns how many. ``longer``:
    rows whose key starts with one of its prefixes count over that window instead (the payments
    module's per-e-mail ceiling counts over an hour)."""
    now = now or utcnow()
    over = and_(
        AuthFailure.window_started < now - policy.window,
        or_(AuthFailure.blocked_until.is_(None), AuthFailure.blocked_until < now),
    )
    for prefix, window in (longer or {}).items():
        mine = AuthFailure.address.startswith(prefix, autoescape=True)
        over = and_(over, or_(not_(mine), AuthFailure.window_started < now - window))
    with store.write() as session:
        result = session.execute(delete(AuthFailure).where(over))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
