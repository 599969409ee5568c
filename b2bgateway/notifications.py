"""Outbound events: written to the outbox in the transaction that changed a payment or refund,
delivered afterwards to the merchant's ``notification_url``.

Each delivery is a POST of a JSON event with the header
``B2BGateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(notification_secret, "{t}.{body}")>``
(the scheme of :mod:`b2bgateway.signing`, like Stripe's). A 2xx answer delivers it; anything else
retries with exponential back-off, in order per payment; after :data:`MAX_ATTEMPTS` it becomes a
dead letter, which ``b2bgateway outbox replay`` sends again.
"""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime
from http.client import HTTPConnection, HTTPException, HTTPSConnection
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, literal, select, update
from sqlalchemy.orm import Session, aliased

from b2bgateway.outbox import LEASE, MAX_ATTEMPTS, Claimed, Outcome, backoff, claim, record
from b2bgateway.signing import sign
from b2bgateway.store import Store
from b2bgateway.store.models import OutboxMessage, UTCDateTime, utcnow

__all__ = [
    "HEADER",
    "IN_FLIGHT",
    "LEASE",
    "MAX_ATTEMPTS",
    "Delivered",
    "SessionOutbox",
    "backoff",
    "deliver_due",
    "http_post",
    "keepalive_post",
    "replay",
    "requeue_dead",
]

log = logging.getLogger(__name__)

HEADER = "B2BGateway-Signature"
#: Deliveries one worker has in flight at once (threads; each to a distinct payment). With
#: TIMEOUT_SECONDS per socket operation, a pass of 100 events fits well within the LEASE.
IN_FLIGHT = 16
TIMEOUT_SECONDS = 10.0
GATHER_SECONDS = 0.02  # how long outcomes back wait for others to be written with them
RESPONSE_BYTES = 65536  # of a receiver's answer read; a longer one closes the connection

Sender = Callable[[str, bytes, Mapping[str, str]], int]
_claim = claim  # (tests look at what another worker would claim)


class SessionOutbox:
    """The :class:`~b2bgateway.interface.Outbox` observers get: rows in the current session."""

    def __init__(self, session: Session, merchant_id: str, enabled: bool) -> None:
        self._session = session
        self._merchant_id = merchant_id
        self._enabled = enabled

    def emit(self, event_type: str, ordering_key: str, data: Mapping[str, Any]) -> None:
        if not self._enabled:
            return
        now = utcnow()
        event_id = f"evt_{secrets.token_hex(12)}"
        payload = {
            "id": event_id,
            "type": event_type,
            "created": now.isoformat().replace("+00:00", "Z"),
            "merchant_id": self._merchant_id,
            "data": dict(data),
        }
        self._session.add(
            OutboxMessage(
                merchant_id=self._merchant_id,
                event_type=event_type,
                ordering_key=ordering_key,
                payload=payload,
                state="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a redirect is not a delivery


_opener = urllib.request.build_opener(_NoRedirect)


def http_post(url: str, body: bytes, headers: Mapping[str, str]) -> int:
    """POST and return the status code (0 when the receiver could not be reached)."""
    if not url.startswith(("http://", "https://")):
        return 0
    request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")  # noqa: S310
    try:
        with _opener.open(request, timeout=TIMEOUT_SECONDS) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, ValueError):
        return 0


class _KeepAlive:
    """:func:`http_post` over kept-alive connections, pooled per (scheme, host, port).

    Same semantics: a redirect is an answer like any other (not followed, so not a delivery),
    TIMEOUT_SECONDS bounds each socket operation, https verifies the certificate and host name
    (the default context), an environment proxy is honoured (through :func:`http_post`). A kept
    connection the receiver has closed meanwhile fails on its first use: the POST is then sent
    once more on a new connection (at least once; the receiver dedupes by event id).
    """

    def __init__(self) -> None:
        self._idle: dict[tuple[str, str, int], list[HTTPConnection]] = {}
        self._lock = threading.Lock()
        self._tls: ssl.SSLContext | None = None
        self._proxies: dict[str, str] | None = None

    def _proxied(self, scheme: str, host: str) -> bool:
        if self._proxies is None:
            self._proxies = urllib.request.getproxies()
        return scheme in self._proxies and not urllib.request.proxy_bypass(host)

    def _take(self, key: tuple[str, str, int], fresh: bool = False) -> tuple[HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(key)
            if idle and not fresh:
                return idle.pop(), True
        scheme, host, port = key
        if scheme == "http":
            return HTTPConnection(host, port, timeout=TIMEOUT_SECONDS), False
        if self._tls is None:
            self._tls = ssl.create_default_context()
        return HTTPSConnection(host, port, timeout=TIMEOUT_SECONDS, context=self._tls), False

    def _keep(self, key: tuple[str, str, int], connection: HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(key, [])
            if len(idle) < IN_FLIGHT:
                idle.append(connection)
                return
        connection.close()

    def _forget(self, key: tuple[str, str, int]) -> None:
        """Close a host's idle connections: one of them was found closed by the receiver, and
        those kept as long or longer are as likely closed (its idle timeout passed for all)."""
        with self._lock:
            idle = self._idle.pop(key, [])
        for connection in idle:
            connection.close()

    def close(self) -> None:
        """Close the idle connections."""
        with self._lock:
            idle = [c for connections in self._idle.values() for c in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int:
        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            return 0
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return 0
        if self._proxied(parts.scheme, parts.hostname):
            return http_post(url, body, headers)
        key = (parts.scheme, parts.hostname, port)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        for attempt in range(2):
            connection, reused = self._take(key, fresh=attempt > 0)
            try:
                connection.request("POST", target, body=body, headers=dict(headers))
                response = connection.getresponse()
                response.read(RESPONSE_BYTES)
            except TimeoutError:  # a slow receiver, not a stale connection: no second wait
                connection.close()
                return 0
            except (OSError, HTTPException, ValueError) as exc:
                connection.close()
                if reused:  # a kept connection the receiver closed while idle (reset, EOF, TLS
                    # close, an empty status line): once more, on a new one, not another kept one
                    log.debug("kept-alive connection to %s failed (%r): new one", key[1], exc)
                    self._forget(key)
                    continue
                return 0
            if response.will_close or not response.isclosed():
                connection.close()  # the receiver closes it, or its answer was not read to the end
            else:
                self._keep(key, connection)
            return int(response.status)
        return 0


keepalive_post: Sender = _KeepAlive().post
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=IN_FLIGHT, thread_name_prefix="outbox")
        return _pool


@dataclass
class Delivered:
    delivered: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


def deliver_due(
    store: Store,
    endpoints: Mapping[str, tuple[str, Any]],
    *,
    send: Sender | None = None,
    now: datetime | None = None,
    limit: int = 100,
) -> Delivered:
    """Deliver what is due, up to ``limit`` attempts, IN_FLIGHT at a time. ``endpoints`` maps
    merchant id to (notification_url, secret).

    Claimed heads are distinct payments, so deliveries in flight together never reorder a
    payment's events. Outcomes are written in one transaction per batch, once half of those in
    flight are back (or none came back for GATHER_SECONDS, or none is left), and each claim then
    tops up the deliveries in flight: two transactions per batch, not per event.
    """
    sender = send or keepalive_post
    now = now or utcnow()
    result = Delivered()
    claimed = 0
    running: set[Future[Outcome]] = set()
    finished: list[Outcome] = []
    pool = _executor()
    try:
        while True:
            room = min(IN_FLIGHT - len(running), limit - claimed)
            if room > 0 and (not running or room >= IN_FLIGHT // 2):
                batch = claim(store, now, room)
                claimed += len(batch)
                running |= {pool.submit(_attempt, endpoints, sender, m) for m in batch}
            if not running:
                return result
            timeout = GATHER_SECONDS if finished else None
            done, _ = wait(running, timeout=timeout, return_when=FIRST_COMPLETED)
            running -= done
            finished += [future.result() for future in done]
            if finished and (not done or not running or len(finished) >= IN_FLIGHT // 2):
                delivered, retried, dead = record(store, finished, now)
                finished = []
                result.delivered += delivered
                result.retried += retried
                result.dead += dead
    finally:  # (an error writing outcomes: what is in flight ends before the next pass)
        wait(running)


def _attempt(endpoints: Mapping[str, tuple[str, Any]], sender: Sender, message: Claimed) -> Outcome:
    endpoint = endpoints.get(message.merchant_id)
    if endpoint is None:
        return Outcome(message, 0, "the merchant has no notification_url any more")
    url, secret = endpoint
    body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = {
        "Content-Type": "application/json",
        HEADER: sign(secret, body),
        "User-Agent": "b2bgateway-notifications/1",
    }
    try:
        status = sender(url, body, headers)
    except Exception:  # a sender's bug must not lose the outcome of the others in flight
        log.exception("sending outbound event %s failed", message.payload.get("id"))
        status = 0
    return Outcome(message, status, f"HTTP {status}" if status else "unreachable")


def replay(
    store: Store,
    *,
    message_ids: list[int] | None = None,
    merchant_id: str | None = None,
    payment_id: str | None = None,
) -> int:
    """Send dead letters again (all, one merchant's, one payment's, or the given ids); returns
    how many."""
    with store.write() as session:
        return requeue_dead(
            session, message_ids=message_ids, merchant_id=merchant_id, payment_id=payment_id
        )


def requeue_dead(
    session: Session,
    *,
    message_ids: list[int] | None = None,
    merchant_id: str | None = None,
    payment_id: str | None = None,
) -> int:
    """:func:`replay` in the caller's transaction (the payments module records who asked for it
    in the same one, so a replay is never left without its audit entry)."""
    now = utcnow()
    # A later event of the same payment may be in flight (it became the head once this one
    # died): the replayed one waits for that delivery's lease to end, or for its outcome, which
    # makes it due at once (outbox.record wakes a delivered head's payment). Due now, it would
    # be claimed beside that delivery, and the wake would then hand the later one out again.
    later = aliased(OutboxMessage)
    lease_ends = (
        select(func.max(later.next_attempt_at))
        .where(
            later.ordering_key == OutboxMessage.ordering_key,
            later.state == "pending",
            later.next_attempt_at > now,
            later.next_attempt_at <= now + LEASE,  # a lease; a retry's wait is longer or none
        )
        .scalar_subquery()
    )
    stmt = update(OutboxMessage).where(OutboxMessage.state == "dead")
    if message_ids:
        stmt = stmt.where(OutboxMessage.id.in_(message_ids))
    if merchant_id:
        stmt = stmt.where(OutboxMessage.merchant_id == merchant_id)
    if payment_id:  # its events are ordered by it
        stmt = stmt.where(OutboxMessage.ordering_key == payment_id)
    due = func.coalesce(lease_ends, literal(now, UTCDateTime()))
    done = session.execute(
        stmt.values(state="pending", attempts=0, next_attempt_at=due, last_error=None)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]
