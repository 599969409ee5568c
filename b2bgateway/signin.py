"""Signing in to the payments module: the password (Argon2id, rehashed when the library's
parameters changed), the TOTP code (each accepted once: :mod:`b2bgateway.totp`), and the limits
that stop guessing without letting a stranger lock the real user out.

Failures are counted in locked rows of ``auth_failures`` (:mod:`b2bgateway.throttle`), per
*network*: an IPv4 address, or an IPv6 address's /64 (:func:`b2bgateway.throttle.client_prefix`).

- **Per e-mail and network**: :data:`MAX_ACCOUNT_FAILURES` failures for one e-mail from one
  network within :data:`LOCKOUT` lock that e-mail *from that network* for :data:`LOCKOUT`. A
  stranger failing on purpose locks only themselves out; the real user, from their own network,
  still signs in.
- **Per network**: :data:`MAX_ADDRESS_FAILURES` failures from one network within :data:`LOCKOUT`,
  whatever e-mails it tries, make it wait :data:`LOCKOUT` (one network cannot spray passwords).
- **Per e-mail, every network** (the ceiling): :data:`MAX_ACCOUNT_CEILING` failures for one e-mail
  within :data:`CEILING_WINDOW`, from anywhere, lock it for :data:`CEILING_WINDOW`: many networks
  together are still stopped. The ceiling does not apply from the network of the user's last
  successful sign-in (``last_sign_in_network``), where the per-network limits still do, so a
  distributed attack does not lock the real user out of their usual network either.

Every answer is the same for an e-mail without an account (Argon2 always runs, on a dummy hash),
so none tells which e-mails have one. The password is checked outside any write transaction;
the code and the locks are checked again in the one that signs in, the user's row locked.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from b2bgateway import audit, staff, throttle, totp
from b2bgateway.audit import Actor
from b2bgateway.staff import account_key, actor_of, find_user, network_key, pair_key
from b2bgateway.store import Store
from b2bgateway.store.models import AuthFailure, utcnow
from b2bgateway.store.staff_models import StaffUser

log = logging.getLogger(__name__)

__all__ = [
    "CEILING_WINDOW",
    "LOCKOUT",
    "MAX_ACCOUNT_CEILING",
    "MAX_ACCOUNT_FAILURES",
    "MAX_ADDRESS_FAILURES",
    "MAX_CODE_FAILURES",
    "PURGE_WINDOWS",
    "Refusal",
    "SignIn",
    "complete_enrolment",
    "reauthenticate",
    "sign_in",
]

#: Failures of one e-mail from one network that lock it there, and for how long.
MAX_ACCOUNT_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
#: Failures from one network within LOCKOUT (any e-mails) before it must wait LOCKOUT.
MAX_ADDRESS_FAILURES = 20
#: Failures of one e-mail from every network within CEILING_WINDOW that lock it for as long.
MAX_ACCOUNT_CEILING = 100
CEILING_WINDOW = timedelta(hours=1)
#: Wrong TOTP codes after a right password, from any network, that lock code entry until an
#: admin resets the second factor or the password changes (a right code starts the count again).
MAX_CODE_FAILURES = 10

PAIR_POLICY = throttle.FailedAuthSettings(limit=MAX_ACCOUNT_FAILURES, window=LOCKOUT, block=LOCKOUT)
NETWORK_POLICY = throttle.FailedAuthSettings(
    limit=MAX_ADDRESS_FAILURES, window=LOCKOUT, block=LOCKOUT
)
CEILING_POLICY = throttle.FailedAuthSettings(
    limit=MAX_ACCOUNT_CEILING, window=CEILING_WINDOW, block=CEILING_WINDOW
)

#: For :func:`b2bgateway.throttle.purge`: the ceiling's rows are kept over its whole window.
PURGE_WINDOWS = {"panel-account:": CEILING_WINDOW}


class Refusal(enum.StrEnum):
    INVALID = "invalid"  # wrong e-mail or password (never says which)
    LOCKED = "locked"  # too many failures for this e-mail from this network: until ``until``
    LOCKED_EVERYWHERE = "locked_everywhere"  # the ceiling: too many from many networks
    THROTTLED = "throttled"  # too many failures from this network: wait until ``until``
    CODE_REQUIRED = "code_required"  # the password is right: ask for the TOTP code
    CODE_INVALID = "code_invalid"  # wrong, expired, or already used
    CODE_LOCKED = "code_locked"  # MAX_CODE_FAILURES wrong codes: until a reset or new password
    SECOND_FACTOR_MISSING = "second_factor_missing"  # an admin who must enrol first (``enrol``)
    SECOND_FACTOR_REQUIRED = "second_factor_required"  # such an admin without a valid ticket


@dataclass(frozen=True, slots=True)
class SignIn:
    user: StaffUser | None
    refusal: Refusal | None = None
    until: datetime | None = None
    #: SECOND_FACTOR_MISSING: the user (password right) who may enrol now, then is signed in
    enrol: StaffUser | None = None


def _waiting(store: Store, key: str, now: datetime) -> datetime | None:
    seconds = throttle.blocked_for(store, key, now)
    return None if seconds is None else now + timedelta(seconds=seconds)


def _password_ok(user: StaffUser | None, password: str) -> bool:
    try:
        return staff._hasher.verify(user.password_hash if user else staff._DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False


def sign_in(
    store: Store,
    email: str,
    password: str,
    address: str,
    *,
    code: str | None = None,
    totp_required: frozenset[str] = frozenset(),
    merchants: frozenset[str] | None = None,
    now: datetime | None = None,
) -> SignIn:
    """Check a sign-in and audit it. ``totp_required``: merchants whose admins need TOTP;
    ``merchants``: the configured ones (a user of another cannot sign in)."""
    now = now or utcnow()
    email = email.strip().lower()[:320]
    network = throttle.client_prefix(address)
    with store.read() as db:
        user = find_user(db, email)
    password_ok = _password_ok(user, password)
    until = _waiting(store, network_key(network), now)
    if until is not None:
        return SignIn(None, Refusal.THROTTLED, until)
    until = _waiting(store, pair_key(email, network), now)
    if until is not None:
        _failed(store, user, email, address, "locked", now, count=False)
        return SignIn(None, Refusal.LOCKED, until)
    home = user is not None and user.last_sign_in_network == network
    until = None if home else _waiting(store, account_key(email), now)
    if until is not None:
        _failed(store, user, email, address, "locked_everywhere", now, count=False)
        return SignIn(None, Refusal.LOCKED_EVERYWHERE, until)
    usable = (
        user is not None and user.active and (merchants is None or user.merchant_id in merchants)
    )
    if not password_ok or user is None or not usable:
        return _failed(store, user, email, address, "password", now)
    needs_code = user.totp_ciphertext is not None
    if user.role == "admin" and user.merchant_id in totp_required and not needs_code:
        if not totp.has_ticket(user, now):  # a password alone never enrols a second factor
            return SignIn(None, Refusal.SECOND_FACTOR_REQUIRED)
        return SignIn(None, Refusal.SECOND_FACTOR_MISSING, enrol=user)
    if needs_code and user.totp_failures >= MAX_CODE_FAILURES:
        return SignIn(None, Refusal.CODE_LOCKED)
    if needs_code and not code:
        return SignIn(None, Refusal.CODE_REQUIRED)
    new_hash = None
    if staff._hasher.check_needs_rehash(user.password_hash):  # outside a write transaction
        new_hash = staff._hasher.hash(password)
    signed = _succeeded(store, user, address, code if needs_code else None, new_hash, now)
    if signed is not None and signed.refusal is not Refusal.CODE_LOCKED:
        return signed
    refused = _failed(store, user, email, address, "code", now)
    if signed is not None:
        return signed
    return refused if refused.refusal is Refusal.LOCKED else SignIn(None, Refusal.CODE_INVALID)


def _succeeded(
    store: Store,
    user: StaffUser,
    address: str,
    code: str | None,
    new_hash: str | None,
    now: datetime,
) -> SignIn | None:
    """Sign in, unless a parallel try locked the e-mail meanwhile (its rows, locked, say), the
    user changed meanwhile, or ``code`` is wrong or used already (None, or CODE_LOCKED when this
    wrong code was the last allowed: count a failure)."""
    network = throttle.client_prefix(address)
    keys = [pair_key(user.email, network)]
    if user.last_sign_in_network != network:
        keys.append(account_key(user.email))
    with store.write() as db:
        for key in keys:
            row = db.get(AuthFailure, key, with_for_update=True, populate_existing=True)
            if row is not None and row.blocked_until is not None and row.blocked_until > now:
                audit.record(
                    db, actor_of(user, address), "sign_in_failed", detail={"why": "locked"}
                )
                refusal = Refusal.LOCKED if key == keys[0] else Refusal.LOCKED_EVERYWHERE
                return SignIn(None, refusal, row.blocked_until)
        signed = db.get(StaffUser, user.id, with_for_update=True, populate_existing=True)
        changed = signed is None or (
            signed.password_hash,
            signed.session_version,
            signed.active,
        ) != (
            user.password_hash,
            user.session_version,
            True,
        )
        if signed is None or changed:  # a new password or a disable since the password was read
            return SignIn(None, Refusal.INVALID)
        if signed.totp_failures >= MAX_CODE_FAILURES:
            return SignIn(None, Refusal.CODE_LOCKED)
        if code is not None and not totp.accept(db, signed, code, now):
            return _wrong_code(db, signed, address)
        signed.totp_failures = 0
        pair = db.get(AuthFailure, keys[0])
        if pair is not None:
            db.delete(pair)  # failures in a row from this network: a success starts again
        if new_hash is not None:
            signed.password_hash = new_hash  # the hasher's parameters changed: rehashed
        signed.last_sign_in_at = now
        signed.last_sign_in_network = network
        audit.record(db, actor_of(signed, address), "sign_in")
        return SignIn(signed)


def _wrong_code(db: Session, user: StaffUser, address: str) -> SignIn | None:
    """Count a wrong code after a right password on the user's own counter, which no network is
    exempt from; at MAX_CODE_FAILURES code entry locks (audited, logged)."""
    user.totp_failures += 1
    if user.totp_failures < MAX_CODE_FAILURES:
        return None
    audit.record(db, actor_of(user, address), "totp_locked", user.email)
    log.warning(
        "payments module: TOTP code entry locked after %d wrong codes (user id %d)",
        user.totp_failures,
        user.id,
    )
    return SignIn(None, Refusal.CODE_LOCKED)


def _failed(
    store: Store,
    user: StaffUser | None,
    email: str,
    address: str,
    why: str,
    now: datetime,
    *,
    count: bool = True,
) -> SignIn:
    """Audit a failure and (``count``) count it for the e-mail from this network, for the
    e-mail everywhere and for the network: a refusal, LOCKED when this failure locked it."""
    network = throttle.client_prefix(address)
    locked = everywhere = None
    if count:
        locked = throttle.record_failure(store, pair_key(email, network), PAIR_POLICY, now)
        everywhere = throttle.record_failure(store, account_key(email), CEILING_POLICY, now)
        throttle.record_failure(store, network_key(network), NETWORK_POLICY, now)
    with store.write() as db:
        actor = Actor(None if user is None else user.merchant_id, email, address)
        audit.record(db, actor, "sign_in_failed", detail={"why": why})
    if locked is not None:
        return SignIn(None, Refusal.LOCKED, now + timedelta(seconds=locked))
    home = user is not None and user.last_sign_in_network == network
    if everywhere is not None and not home:
        return SignIn(None, Refusal.LOCKED_EVERYWHERE, now + timedelta(seconds=everywhere))
    return SignIn(None, Refusal.INVALID)


def complete_enrolment(
    store: Store,
    user_id: int,
    version: int,
    ticket: str,
    token: str | None,
    code: str,
    address: str,
    now: datetime | None = None,
) -> SignIn:
    """An admin whose password was right (SECOND_FACTOR_MISSING) gives their enrolment ticket and
    a code of the secret shown in this session (``token``): the ticket is spent, the second
    factor is on, and they are signed in (audited). INVALID: start again; CODE_INVALID: a wrong
    ticket or code."""
    now = now or utcnow()
    with store.write() as db:
        user = db.get(StaffUser, user_id, with_for_update=True, populate_existing=True)
        if (
            user is None
            or not user.active
            or user.session_version != version
            or user.totp_ciphertext is not None
            or not totp.has_ticket(user, now)
        ):
            return SignIn(None, Refusal.INVALID)
        actor = actor_of(user, address)
        if not totp.ticket_matches(user, ticket, now):
            audit.record(db, actor, "sign_in_failed", detail={"why": "ticket"})
            return SignIn(None, Refusal.CODE_INVALID)
        if not totp.confirm_enrolment(db, actor, user, token, code, now):
            return SignIn(None, Refusal.CODE_INVALID)
        user.last_sign_in_at = now
        user.last_sign_in_network = throttle.client_prefix(address)
        audit.record(db, actor, "sign_in")
        return SignIn(user)


def reauthenticate(
    store: Store, user_id: int, password: str, address: str, now: datetime | None = None
) -> SignIn:
    """A signed-in user's current password, asked again before a sensitive change (enrolling a
    second factor): counted and locked like a sign-in from this network (a stolen session
    cannot guess it for long). SignIn(user) when right, else a refusal."""
    now = now or utcnow()
    with store.read() as db:
        user = db.get(StaffUser, user_id)
    if user is None or not user.active:
        return SignIn(None, Refusal.INVALID)
    network = throttle.client_prefix(address)
    until = _waiting(store, pair_key(user.email, network), now)
    if until is not None:
        return SignIn(None, Refusal.LOCKED, until)
    if not _password_ok(user, password):
        return _failed(store, user, user.email, address, "reauthenticate", now)
    return SignIn(user)
