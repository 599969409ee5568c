"""The staff users' TOTP second factor (RFC 6238: 6 digits, 30-second steps, one step of drift
either side).

- **Encrypted at rest.** A secret is kept only as a Fernet token (AES-128-CBC + HMAC-SHA256, from
  ``cryptography``) made with the gateway's random key ``totp_key`` (:mod:`b2bgateway.app_secrets`,
  32 bytes made once and kept in the database). A copy of ``staff_users`` alone (a backup of one
  table, a leaked export, a log of a query) no longer hands out second factors. It is shown once,
  while it is being enrolled, and never again.
- **A code is accepted once.** The time step of the last accepted code is kept per user
  (``totp_last_step``); a code of that step or an earlier one is refused, even inside the drift
  window, so a code seen over a shoulder or replayed from a proxy's log is worthless.
- **Enrolment is confirmed.** A new secret waits (``totp_pending``) until the user types a code
  it makes; only then is it switched on (``totp_ciphertext``). The command line issues one that
  is on at once (``b2bgateway users add|reset-password --totp``, as before).
- **An admin can reset** another user's second factor: it is switched off, the user's sessions
  end, and the user enrols again (at sign-in when the merchant requires it of admins).
"""

from __future__ import annotations

import base64
import hmac
import time
from dataclasses import dataclass
from datetime import datetime

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.orm import Session

from b2bgateway import app_secrets, audit
from b2bgateway.audit import Actor
from b2bgateway.store.staff_models import StaffUser

__all__ = [
    "DRIFT",
    "STEP",
    "Enrolment",
    "accept",
    "confirm",
    "confirm_enrolment",
    "decrypt",
    "encrypt",
    "enrolment",
    "enrolment_secret",
    "issue",
    "matching_step",
    "provisioning_uri",
    "reset",
]

#: Seconds a code lives, and how many steps before or after now are still accepted.
STEP = 30
DRIFT = 1
ISSUER = "b2bgateway"


def _fernet(session: Session, *, create: bool) -> Fernet:
    if create:
        key = app_secrets.secret_in(session, app_secrets.TOTP_KEY)
    else:
        found = app_secrets.existing_secret(session, app_secrets.TOTP_KEY)
        if found is None:
            raise RuntimeError("no TOTP key: the app_secrets row totp_key was deleted")
        key = found
    return Fernet(base64.urlsafe_b64encode(key))


def encrypt(session: Session, secret: str) -> str:
    """``secret`` (base32) as a token to keep (makes the key if there is none yet: a write)."""
    return _fernet(session, create=True).encrypt(secret.encode()).decode()


def decrypt(session: Session, token: str) -> str:
    """The base32 secret a token keeps. :raises RuntimeError: the key is gone or another."""
    try:
        return _fernet(session, create=False).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise RuntimeError("a TOTP secret does not open with this gateway's totp_key") from exc


def provisioning_uri(secret: str, email: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def _step(now: datetime | None) -> int:
    moment = time.time() if now is None else now.timestamp()
    return int(moment // STEP)


def matching_step(secret: str, code: str, now: datetime | None = None) -> int | None:
    """The newest time step within the drift window whose code is ``code``, or None."""
    code = code.strip()
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    current = _step(now)
    for step in range(current + DRIFT, current - DRIFT - 1, -1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def accept(session: Session, user: StaffUser, code: str, now: datetime | None = None) -> bool:
    """Whether ``code`` is the user's and newer than the last one accepted; if so it is the last
    one now. The caller holds the user's row locked (its write transaction), so two requests with
    one code cannot both pass."""
    if user.totp_ciphertext is None:
        return False
    step = matching_step(decrypt(session, user.totp_ciphertext), code, now)
    if step is None or (user.totp_last_step is not None and step <= user.totp_last_step):
        return False
    user.totp_last_step = step
    return True


def issue(session: Session, actor: Actor, user: StaffUser) -> str:
    """A new secret, on at once (the command line prints it once); returns it."""
    secret = pyotp.random_base32()
    user.totp_ciphertext = encrypt(session, secret)
    user.totp_pending = None
    user.totp_last_step = None
    audit.record(session, actor, "totp_enrolled", user.email, {"via": "cli"})
    return secret


def enrolment_secret(session: Session, user: StaffUser) -> str:
    """The secret waiting for the user's confirmation (made now if there is none): shown as a QR
    code and as text until a code confirms it."""
    if user.totp_pending is not None:
        return decrypt(session, user.totp_pending)
    secret = pyotp.random_base32()
    user.totp_pending = encrypt(session, secret)
    return secret


def confirm_enrolment(
    session: Session, actor: Actor, user: StaffUser, code: str, now: datetime | None = None
) -> bool:
    """Switch the waiting secret on if ``code`` is one of its codes (audited); False otherwise."""
    if user.totp_pending is None:
        return False
    step = matching_step(decrypt(session, user.totp_pending), code, now)
    if step is None:
        return False
    user.totp_ciphertext, user.totp_pending, user.totp_last_step = user.totp_pending, None, step
    audit.record(session, actor, "totp_enrolled", user.email, {"via": "panel"})
    return True


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the enrolment page shows: the user's e-mail and the secret waiting for a code of it
    (None: the second factor is on already, and its secret is never shown again)."""

    email: str
    secret: str | None


def _enrolling(session: Session, user_id: int, version: int | None) -> StaffUser | None:
    user = session.get(StaffUser, user_id, with_for_update=True, populate_existing=True)
    if user is None or not user.active:
        return None
    if version is not None and user.session_version != version:
        return None
    return user


def enrolment(session: Session, user_id: int, version: int | None = None) -> Enrolment | None:
    """The enrolment of an active user (of that session ``version``, when given), its waiting
    secret made now if needed (a write transaction); None: no such user (any more)."""
    user = _enrolling(session, user_id, version)
    if user is None:
        return None
    if user.totp_ciphertext is not None:
        return Enrolment(user.email, None)
    return Enrolment(user.email, enrolment_secret(session, user))


def confirm(
    session: Session, actor: Actor, user_id: int, code: str, now: datetime | None = None
) -> bool:
    """:func:`confirm_enrolment` for the user ``user_id`` (whose row is locked meanwhile)."""
    user = _enrolling(session, user_id, None)
    if user is None or user.totp_ciphertext is not None:
        return False
    return confirm_enrolment(session, actor, user, code, now)


def reset(session: Session, actor: Actor, user: StaffUser) -> None:
    """Switch the user's second factor off (an admin's act, audited); its sessions end."""
    user.totp_ciphertext = None
    user.totp_pending = None
    user.totp_last_step = None
    user.session_version += 1
    audit.record(session, actor, "totp_reset", user.email, merchant_id=user.merchant_id)
