"""Staff users of the payments module: roles, Argon2id passwords, an optional TOTP second factor,
sign-in with lockout per e-mail and throttling per address, and every change audited.

Roles: ``admin`` (everything: refunds, voids, cancels, replays, users, the audit log),
``cobranza`` (view, record manual payments, make payment links) and ``consulta`` (view only).
"""

from __future__ import annotations

import enum
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from b2bgateway import audit, throttle
from b2bgateway.audit import Actor
from b2bgateway.errors import InvalidRequest, NotFound
from b2bgateway.store import Store
from b2bgateway.store.models import AuthFailure, utcnow
from b2bgateway.store.staff_models import ROLES, StaffUser

__all__ = [
    "LOCKOUT",
    "MAX_ACCOUNT_FAILURES",
    "MAX_ADDRESS_FAILURES",
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "ROLES",
    "Refusal",
    "SignIn",
    "StaffUser",
    "add_user",
    "can",
    "demo_user",
    "disable_user",
    "find_user",
    "list_users",
    "new_totp_secret",
    "reset_password",
    "sign_in",
    "sign_out",
    "totp_uri",
    "user_for_session",
]

PERMISSIONS: dict[str, frozenset[str]] = {
    "consulta": frozenset({"view"}),
    "cobranza": frozenset({"view", "manual_payment", "pay_link"}),
    "admin": frozenset(
        {"view", "manual_payment", "pay_link", "refund", "cancel", "void", "replay", "users"}
        | {"audit"}
    ),
}
MIN_PASSWORD_LENGTH = 12
#: Consecutive failures that lock an account, and for how long.
MAX_ACCOUNT_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
#: Failed sign-ins from one address within LOCKOUT before it must wait.
MAX_ADDRESS_FAILURES = 20
#: Both counted in locked rows of ``auth_failures`` (keys ``panel-email:…`` and ``panel:…``).
ACCOUNT_POLICY = throttle.FailedAuthSettings(
    limit=MAX_ACCOUNT_FAILURES, window=LOCKOUT, block=LOCKOUT
)
ADDRESS_POLICY = throttle.FailedAuthSettings(
    limit=MAX_ADDRESS_FAILURES, window=LOCKOUT, block=LOCKOUT
)

_hasher = PasswordHasher()  # Argon2id with the library's current parameters
#: Verified when the e-mail is unknown, so an unknown e-mail takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("b2bgateway: no such user")


def can(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: StaffUser, issuer: str = "b2bgateway") -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code or typed)."""
    assert user.totp_secret is not None
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def find_user(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))


def _merchant_user(session: Session, merchant_id: str, email: str) -> StaffUser:
    user = find_user(session, email)
    if user is None or user.merchant_id != merchant_id:
        raise NotFound(f"no user {email!r} in merchant {merchant_id!r}")
    return user


def add_user(
    session: Session,
    actor: Actor,
    merchant_id: str,
    email: str,
    name: str,
    role: str,
    password: str,
    *,
    totp: bool = False,
) -> StaffUser:
    """Create a staff user (``totp``: with a second factor, its secret on the user).

    :raises InvalidRequest: an unknown role, a short password or an e-mail already in use.
    """
    email = email.strip().lower()
    if role not in ROLES:
        raise InvalidRequest(f"role must be one of {', '.join(ROLES)}")
    if "@" not in email or not name.strip():
        raise InvalidRequest("a user needs an e-mail and a name")
    _check_password(password)
    if find_user(session, email) is not None:
        raise InvalidRequest(f"{email} already has an account")
    user = StaffUser(
        merchant_id=merchant_id,
        email=email,
        name=name.strip(),
        role=role,
        password_hash=_hasher.hash(password),
        totp_secret=new_totp_secret() if totp else None,
        active=True,
        session_version=0,
    )
    session.add(user)
    session.flush()
    audit.record(session, actor, "user_added", email, {"role": role}, merchant_id=merchant_id)
    return user


def list_users(session: Session, merchant_id: str | None = None) -> list[StaffUser]:
    stmt = select(StaffUser).order_by(StaffUser.merchant_id, StaffUser.email)
    if merchant_id is not None:
        stmt = stmt.where(StaffUser.merchant_id == merchant_id)
    return list(session.scalars(stmt))


def disable_user(session: Session, actor: Actor, merchant_id: str, email: str) -> StaffUser:
    """Disable a user: its sessions end now and it cannot sign in again."""
    user = _merchant_user(session, merchant_id, email)
    user.active = False
    user.session_version += 1
    audit.record(session, actor, "user_disabled", user.email, merchant_id=merchant_id)
    return user


def reset_password(
    session: Session,
    actor: Actor,
    merchant_id: str,
    email: str,
    password: str,
    *,
    new_totp: bool = False,
) -> StaffUser:
    """A new password (and, with ``new_totp``, a new second factor); unlocks the account and
    ends its sessions."""
    user = _merchant_user(session, merchant_id, email)
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    session.execute(delete(AuthFailure).where(AuthFailure.address == _email_key(user.email)))
    user.session_version += 1
    if new_totp:
        user.totp_secret = new_totp_secret()
    detail = {"new_totp": True} if new_totp else None
    audit.record(session, actor, "password_reset", user.email, detail, merchant_id=merchant_id)
    return user


class Refusal(enum.StrEnum):
    INVALID = "invalid"  # wrong e-mail or password (never says which)
    LOCKED = "locked"  # too many failures for this e-mail (an account or not): wait until ``until``
    THROTTLED = "throttled"  # too many failures from this address: wait until ``until``
    CODE_REQUIRED = "code_required"  # the password is right: ask for the TOTP code
    CODE_INVALID = "code_invalid"
    SECOND_FACTOR_MISSING = "second_factor_missing"  # an admin without TOTP where required


@dataclass(frozen=True, slots=True)
class SignIn:
    user: StaffUser | None
    refusal: Refusal | None = None
    until: datetime | None = None


def _email_key(email: str) -> str:
    """The e-mail's counter row in ``auth_failures`` (hashed: it fits, and no e-mail is kept)."""
    return "panel-email:" + hashlib.sha256(email.encode()).hexdigest()[:48]


def _address_key(address: str) -> str:
    return "panel:" + address[:58]


def _waiting(store: Store, key: str, now: datetime) -> datetime | None:
    seconds = throttle.blocked_for(store, key, now)
    return None if seconds is None else now + timedelta(seconds=seconds)


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
    ``merchants``: the configured ones (a user of another cannot sign in).

    The password is checked (Argon2, or a dummy hash for an unknown e-mail) outside any write
    transaction, always, locked or not. Failures are counted in locked rows of ``auth_failures``
    (:mod:`b2bgateway.throttle`), so parallel tries all count: :data:`MAX_ADDRESS_FAILURES` from
    one address within :data:`LOCKOUT` make it wait (whoever it tries), and
    :data:`MAX_ACCOUNT_FAILURES` for one e-mail lock that e-mail for :data:`LOCKOUT`, whether it
    has an account or not, so the answer never tells which e-mails have one.
    """
    now = now or utcnow()
    email = email.strip().lower()[:320]
    with store.read() as db:
        user = find_user(db, email)
    password_ok = _password_ok(user, password)
    until = _waiting(store, _address_key(address), now)
    if until is not None:
        return SignIn(None, Refusal.THROTTLED, until)
    until = _waiting(store, _email_key(email), now)
    if until is not None:
        _failed(store, user, email, address, "locked", now, count_email=False)
        return SignIn(None, Refusal.LOCKED, until)
    usable = (
        user is not None and user.active and (merchants is None or user.merchant_id in merchants)
    )
    if not password_ok or user is None or not usable:
        return _failed(store, user, email, address, "password", now)
    needs_code = user.totp_secret is not None
    if user.role == "admin" and user.merchant_id in totp_required and not needs_code:
        _failed(store, user, email, address, "second_factor_missing", now, count_email=False)
        return SignIn(None, Refusal.SECOND_FACTOR_MISSING)
    if needs_code and not code:
        return SignIn(None, Refusal.CODE_REQUIRED)
    if needs_code and not pyotp.TOTP(user.totp_secret or "").verify(code or "", valid_window=1):
        refused = _failed(store, user, email, address, "code", now)
        return refused if refused.refusal is Refusal.LOCKED else SignIn(None, Refusal.CODE_INVALID)
    return _succeeded(store, user, email, address, now)


def _succeeded(store: Store, user: StaffUser, email: str, address: str, now: datetime) -> SignIn:
    """Sign in, unless a parallel try locked the e-mail meanwhile (its row, locked, says)."""
    with store.write() as db:
        row = db.get(AuthFailure, _email_key(email), with_for_update=True, populate_existing=True)
        if row is not None and row.blocked_until is not None and row.blocked_until > now:
            audit.record(db, _actor(user, address), "sign_in_failed", detail={"why": "locked"})
            return SignIn(None, Refusal.LOCKED, row.blocked_until)
        if row is not None:
            db.delete(row)  # failures in a row: a success starts the count again
        signed = db.get(StaffUser, user.id, populate_existing=True)
        assert signed is not None
        signed.last_sign_in_at = now
        audit.record(db, _actor(signed, address), "sign_in")
        return SignIn(signed)


def _password_ok(user: StaffUser | None, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerificationError, InvalidHashError):
        return False


def _failed(
    store: Store,
    user: StaffUser | None,
    email: str,
    address: str,
    why: str,
    now: datetime,
    *,
    count_email: bool = True,
) -> SignIn:
    """Audit a failure and count it for the address (and, ``count_email``, for the e-mail):
    a refusal, LOCKED when this failure locked the e-mail."""
    locked = None
    if count_email:
        locked = throttle.record_failure(store, _email_key(email), ACCOUNT_POLICY, now)
    throttle.record_failure(store, _address_key(address), ADDRESS_POLICY, now)
    with store.write() as db:
        actor = Actor(None if user is None else user.merchant_id, email, address)
        audit.record(db, actor, "sign_in_failed", detail={"why": why})
    if locked is not None:
        return SignIn(None, Refusal.LOCKED, now + timedelta(seconds=locked))
    return SignIn(None, Refusal.INVALID)


def _actor(user: StaffUser, address: str) -> Actor:
    return Actor(user.merchant_id, user.email, address, user.id)


def demo_user(session: Session, merchant_id: str) -> tuple[str, str]:
    """An admin of ``merchant_id`` for trying the module (``b2bgateway demo``): created, or given
    a new password, each time. Returns its e-mail and its (new, random) password."""
    email = f"admin@{merchant_id}.demo"
    password = secrets.token_urlsafe(12)
    actor = Actor(merchant_id, "cli:demo", "local")
    if find_user(session, email) is None:
        add_user(session, actor, merchant_id, email, "Administrador demo", "admin", password)
    else:
        user = reset_password(session, actor, merchant_id, email, password)
        user.active = True
    return email, password


def sign_out(session: Session, user_id: int, address: str) -> None:
    """End every session of the user (its ``session_version`` moves on)."""
    user = session.get(StaffUser, user_id)
    if user is not None:
        user.session_version += 1
        audit.record(session, _actor(user, address), "sign_out")


def user_for_session(session: Session, user_id: int, version: int) -> StaffUser | None:
    """The active user a session names, if that session is still valid."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user
