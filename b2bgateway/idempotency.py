"""Client idempotency keys (``Idempotency-Key``), kept in the database so every worker agrees.

The claim is one arbitrated write (a primary key on merchant + key); the response is stored when
the work ends. A checkout makes both inside its own two write transactions (:class:`Claim`,
:func:`claim`, :func:`store_response`); a refund claims in a transaction of its own first
(:func:`begin`, :func:`complete`). Same key and same request: the first response
again, byte for byte. Same key, other request: 422. Same key while the first is still running:
409. A claim whose worker died is taken over once its lock expires; the work itself is safe to
resume because payments and refunds are also unique per key.
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Table, bindparam, delete, update
from sqlalchemy.orm import Session

from b2bgateway.errors import IdempotencyConflict, IdempotencyInProgress
from b2bgateway.store import Store
from b2bgateway.store.db import MAYBE_UNAVAILABLE, is_unavailable
from b2bgateway.store.models import IdempotencyRecord, utcnow
from b2bgateway.store.repository import dialect_insert

__all__ = [
    "LOCK",
    "RETENTION",
    "Claim",
    "IdempotencyInProgress",
    "Replay",
    "begin",
    "claim",
    "complete",
    "fingerprint",
    "forget",
    "keep_answer",
    "peek",
    "purge",
    "release",
    "store_response",
]

#: How long a claim blocks others before it is considered abandoned (longer than any request).
LOCK = timedelta(minutes=5)
#: How long keys and their responses are kept.
RETENTION = timedelta(days=30)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class Replay:
    """A response as stored under a key: what the first request was answered."""

    status: int
    body: str
    content_type: str


def fingerprint(scope: str, payload: Any) -> str:
    """A stable hash of what was asked: the scope (method and path) and the parsed body."""
    canonical = json.dumps([scope, payload], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Claim:
    """A request's ``Idempotency-Key``, handed by the HTTP layer to the core so that the key is
    claimed in the work's own write transaction (:func:`claim`) and its response stored in the
    transaction that finishes the work (:func:`store_response`): no transaction of its own."""

    merchant_id: str
    key: str
    scope: str  # "POST /v1/checkouts"
    fingerprint: str  # :func:`fingerprint` of the scope and the parsed body


def begin(store: Store, merchant_id: str, key: str, scope: str, digest: str) -> Replay | None:
    """Claim ``key`` for this request in a transaction of its own, or answer with what it
    already got (see :func:`claim`)."""
    with store.write() as session:
        return claim(session, Claim(merchant_id, key, scope, digest))


def claim(session: Session, request: Claim) -> Replay | None:
    """Claim the request's key in the caller's write transaction, or answer with what it
    already got. Rolled back with that transaction, the claim was never made.

    :return: None when the caller should do the work (and then store its response, or
      :func:`release`), or the stored :class:`Replay`.
    :raises IdempotencyConflict: the key was used for a different request.
    :raises IdempotencyInProgress: the first request with this key is still running.
    """
    now = utcnow()
    # The common case, a new key, is one statement; a key already there (or being inserted
    # by another worker, which ON CONFLICT waits for) is then read under its row lock.
    claimed = session.connection().execute(
        _claim_statement(session.get_bind().dialect.name),
        {
            "merchant_id": request.merchant_id,
            "key": request.key,
            "scope": request.scope,
            "fingerprint": request.fingerprint,
            "state": "in_progress",
            "created_at": now,
            "locked_until": now + LOCK,
        },
    )
    if claimed.first() is not None:
        return None
    record = session.get(
        IdempotencyRecord, (request.merchant_id, request.key), with_for_update=True
    )
    if record is None:  # deleted (purged) between the two statements: the caller retries
        raise IdempotencyInProgress(
            "a request with this Idempotency-Key is still being processed; retry later"
        )
    stored = _answered(record, request)
    if stored is not None:
        return stored
    if record.locked_until is not None and record.locked_until > now:
        raise IdempotencyInProgress(
            "a request with this Idempotency-Key is still being processed; retry later"
        )
    record.locked_until = now + LOCK  # the first worker died: take the claim over
    return None


def _answered(record: IdempotencyRecord, request: Claim) -> Replay | None:
    """The key's stored answer for this request, None while it has none.

    :raises IdempotencyConflict: the key was used for a different request.
    """
    if record.scope != request.scope or record.fingerprint != request.fingerprint:
        raise IdempotencyConflict(
            "this Idempotency-Key was used with a different request; use a new key"
        )
    if record.state != "completed":
        return None
    assert record.response_status is not None
    assert record.response_body is not None
    return Replay(
        record.response_status,
        record.response_body,
        record.response_content_type or "application/json",
    )


def peek(store: Store, request: Claim) -> Replay | None:
    """For a request refused as written, before its work claimed anything: the key's stored
    answer if it has one for this very request, else None (the refusal stands). Reads only.

    :raises IdempotencyConflict: the key was used for a different request.
    """
    with store.read() as session:
        record = session.get(IdempotencyRecord, (request.merchant_id, request.key))
        return None if record is None else _answered(record, request)


def store_response(session: Session, request: Claim, response: Replay) -> None:
    """Store the response in the caller's transaction, the one that finishes the work: the
    claim and the work's result are committed together, or neither is."""
    session.connection().execute(_COMPLETE, _completion(request, response))


def keep_answer(store: Store, request: Claim, response: Replay) -> None:
    """Keep a decision (not payable, amount changed) as the key's answer. The work's transaction
    was rolled back with its claim, so this is one ``INSERT`` of the completed record; if
    another request with the key claimed it meanwhile, that request's claim stands."""
    now = utcnow()
    with store.write() as session:
        session.connection().execute(
            _keep_statement(session.get_bind().dialect.name),
            {
                "merchant_id": request.merchant_id,
                "key": request.key,
                "scope": request.scope,
                "fingerprint": request.fingerprint,
                "state": "completed",
                "response_status": response.status,
                "response_body": response.body,
                "response_content_type": response.content_type,
                "created_at": now,
                "completed_at": now,
            },
        )


def _completion(request: Claim, response: Replay) -> dict[str, Any]:
    return {
        "merchant": request.merchant_id,
        "claimed": request.key,
        "state": "completed",
        "response_status": response.status,
        "response_body": response.body,
        "response_content_type": response.content_type,
        "completed_at": utcnow(),
        "locked_until": None,
    }


def complete(
    store: Store, merchant_id: str, key: str, status: int, body: str, content_type: str
) -> None:
    """Store the response so that a retry with the same key gets exactly it. The work it
    answers is done and committed, so a database that blinks is tried again (after 0.2 s, 1 s).

    :raises sqlalchemy.exc.OperationalError: the database stayed unavailable (or a lasting fault).
    """
    for pause in (*COMPLETE_RETRY_PAUSES, None):
        try:
            with store.write() as session:
                store_response(
                    session, Claim(merchant_id, key, "", ""), Replay(status, body, content_type)
                )
            return
        except MAYBE_UNAVAILABLE as exc:
            if pause is None or not is_unavailable(exc):
                raise
            time.sleep(pause)


#: Pauses between attempts to store a response while the database is unavailable.
COMPLETE_RETRY_PAUSES = (0.2, 1.0)


_RECORDS: Table = IdempotencyRecord.__table__  # type: ignore[assignment]
# Built once: the two statements every checkout and refund runs (Core, not ORM: no unit of work).
_COMPLETE = _RECORDS.update().where(
    _RECORDS.c.merchant_id == bindparam("merchant"), _RECORDS.c.key == bindparam("claimed")
)


@functools.cache
def _claim_statement(dialect: str) -> Any:
    return (
        dialect_insert(dialect)(_RECORDS)
        .on_conflict_do_nothing(index_elements=["merchant_id", "key"])
        .returning(_RECORDS.c.key)
    )


@functools.cache
def _keep_statement(dialect: str) -> Any:
    return dialect_insert(dialect)(_RECORDS).on_conflict_do_nothing(
        index_elements=["merchant_id", "key"]
    )


def forget(store: Store, merchant_id: str, key: str) -> None:
    """Drop this request's claim: it was refused before anything was done (malformed, not
    payable, not found), so the key is free again, for the corrected request too. Only a
    response that did something (a payment, a refund) is kept and replayed."""
    with store.write() as session:
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.merchant_id == merchant_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == "in_progress",
            )
        )


def release(store: Store, merchant_id: str, key: str) -> None:
    """Let a retry run after an unexpected failure: the claim's lock ends now, but the claim
    (and its request fingerprint) stays, so the key still cannot be reused for another request."""
    with store.write() as session:
        session.execute(
            update(IdempotencyRecord)
            .where(
                IdempotencyRecord.merchant_id == merchant_id,
                IdempotencyRecord.key == key,
                IdempotencyRecord.state == "in_progress",
            )
            .values(locked_until=utcnow())
        )


def purge(store: Store, older_than: timedelta = RETENTION) -> int:
    """Delete keys older than the retention period; returns how many."""
    with store.write() as session:
        result = session.execute(
            delete(IdempotencyRecord).where(IdempotencyRecord.created_at < utcnow() - older_than)
        )
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
