"""Staff users of the payments module: roles, Argon2id passwords, an optional TOTP second factor
(:mod:`b2bgateway.totp`), and every change audited. Signing in: :mod:`b2bgateway.signin`.

Roles: ``admin`` (everything: refunds, voids, cancels, replays, users, the audit log),
``cobranza`` (view, record manual payments, make payment links) and ``consulta`` (view only).
"""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from b2bgateway import audit
from b2bgateway.audit import Actor
from b2bgateway.errors import InvalidRequest, NotFound
from b2bgateway.store.models import AuthFailure
from b2bgateway.store.staff_models import ROLES, StaffUser

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "PERMISSIONS",
    "ROLES",
    "StaffUser",
    "account_key",
    "actor_of",
    "add_user",
    "can",
    "demo_user",
    "disable_user",
    "find_user",
    "list_users",
    "merchant_user",
    "network_key",
    "pair_key",
    "reset_password",
    "sign_out",
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

_hasher = PasswordHasher()  # Argon2id with the library's current parameters
#: Verified when the e-mail is unknown, so an unknown e-mail takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("b2bgateway: no such user")


def can(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequest(f"the password needs at least {MIN_PASSWORD_LENGTH} characters")


def find_user(session: Session, email: str) -> StaffUser | None:
    return session.scalar(select(StaffUser).where(StaffUser.email == email.strip().lower()))


def merchant_user(session: Session, merchant_id: str, email: str) -> StaffUser:
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
) -> StaffUser:
    """Create a staff user (a second factor: :func:`b2bgateway.totp.issue` or enrolment).

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
    user = merchant_user(session, merchant_id, email)
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
) -> StaffUser:
    """A new password; unlocks the account (from every network, and its code entry) and ends its
    sessions."""
    user = merchant_user(session, merchant_id, email)
    _check_password(password)
    user.password_hash = _hasher.hash(password)
    user.totp_failures = 0
    session.execute(
        delete(AuthFailure).where(
            or_(
                AuthFailure.address == account_key(user.email),
                AuthFailure.address.startswith(pair_key(user.email, ""), autoescape=True),
            )
        )
    )
    user.session_version += 1
    audit.record(session, actor, "password_reset", user.email, merchant_id=merchant_id)
    return user


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:size]


# Counter rows in ``auth_failures`` (b2bgateway.signin); e-mails hashed (they fit, none is kept).
def pair_key(email: str, network: str) -> str:
    """One e-mail's failures from one network; every network's rows of it share a prefix."""
    return f"panel-email:{_digest(email, 24)}:" + (_digest(network, 23) if network else "")


def account_key(email: str) -> str:
    """One e-mail's failures from every network (the account-wide ceiling)."""
    return "panel-account:" + _digest(email, 48)


def network_key(network: str) -> str:
    """One network's failures, whatever e-mails it tries."""
    return "panel:" + network[:58]


def actor_of(user: StaffUser, address: str) -> Actor:
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
        audit.record(session, actor_of(user, address), "sign_out")


def user_for_session(session: Session, user_id: int, version: int) -> StaffUser | None:
    """The active user a session names, if that session is still valid."""
    user = session.get(StaffUser, user_id)
    if user is None or not user.active or user.session_version != version:
        return None
    return user
