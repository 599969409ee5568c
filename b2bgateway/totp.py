"""The staff users' TOTP second factor (RFC 6238: 6 digits, 30-second steps, one step of drift
either side).

- **Encrypted at rest.** A secret is kept only as a Fernet token (AES-128-CBC + HMAC-SHA256, from
  ``cryptography``) made with the first key of the setting ``totp_keys`` (kept outside the
  database; older keys after it, :func:`rotate`), else with the gateway's random key ``totp_key``
  (:mod:`b2bgateway.app_secrets`, 32 bytes made once and kept in the database). A copy of
  ``staff_users`` alone (a backup of one table, a leaked export, a log of a query) no longer hands
  out second factors; with ``totp_keys`` set, neither does a copy of the whole database. A
  secret is shown while it is being enrolled, and never again.
- **A code is accepted once.** The time step of the last accepted code is kept per user
  (``totp_last_step``); a code of that step or an earlier one is refused, even inside the drift
  window, so a code seen over a shoulder or replayed from a proxy's log is worthless.
- **Enrolment is confirmed, and bound to one session.** Each enrolment makes a fresh secret kept
  only in that session (an encrypted, time-stamped token, :func:`start`), for :data:`ENROL_TIME`;
  only a code of *that* secret switches it on (``totp_ciphertext``), and every other session of
  the user then ends. A second session is shown another secret; nothing waits in the database.
  The command line issues one that is on at once (``b2bgateway users add|reset-password
  --totp``, as before).
- **At sign-in, only with a ticket.** An admin whose merchant requires a second factor and who
  has none enrols at sign-in only with a one-time ticket (:func:`issue_ticket`, valid
  :data:`TICKET_TIME`) from ``users add|reset-password --totp-ticket`` or another admin's reset:
  a phished password alone never enrols the attacker's app.
- **An admin can reset** another user's second factor: it is switched off, the user's sessions
  end, and the user enrols again (at sign-in when the merchant requires it of admins).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import pyotp
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from b2bgateway import app_secrets, audit
from b2bgateway.audit import Actor
from b2bgateway.errors import ConfigurationError
from b2bgateway.store.models import utcnow
from b2bgateway.store.staff_models import StaffUser

__all__ = [
    "DRIFT",
    "ENROL_TIME",
    "STEP",
    "TICKET_TIME",
    "Enrolment",
    "accept",
    "confirm",
    "confirm_enrolment",
    "decrypt",
    "encrypt",
    "enrolment",
    "has_ticket",
    "issue",
    "issue_ticket",
    "matching_step",
    "provisioning_uri",
    "reset",
    "rotate",
    "start",
    "ticket_matches",
    "use_keys",
    "waiting",
]

#: Seconds a code lives, and how many steps before or after now are still accepted.
STEP = 30
DRIFT = 1
ISSUER = "b2bgateway"
#: Seconds a secret shown for enrolment stays confirmable (then a new one is made).
ENROL_TIME = 10 * 60
#: How long an enrolment ticket (command line, an admin's reset) is valid.
TICKET_TIME = timedelta(hours=72)


#: Keys from the settings (``totp_keys``), newest first: see :func:`use_keys`.
_configured: tuple[Fernet, ...] = ()


def use_keys(keys: Sequence[SecretStr]) -> None:
    """Encrypt with ``keys[0]`` and decrypt with any of them (and with the database's
    ``totp_key``, kept last for what it encrypted before): the setting ``totp_keys``
    (``B2BGATEWAY_TOTP_KEYS``), so a copy of the database alone opens no secret. Empty: the
    database's key only. Called by :meth:`b2bgateway.gateway.Gateway.build` (one per process).

    :raises ConfigurationError: a key that is not a Fernet key (32 bytes, URL-safe base64).
    """
    global _configured
    made = []
    for n, key in enumerate(keys):
        try:
            made.append(Fernet(key.get_secret_value().strip().encode()))
        except (ValueError, TypeError):
            raise ConfigurationError(
                [(f"totp_keys.{n}", "not a Fernet key (32 bytes, URL-safe base64)")]
            ) from None
    _configured = tuple(made)


def _fernet(session: Session, *, create: bool) -> MultiFernet:
    stored: bytes | None
    if create and not _configured:
        stored = app_secrets.secret_in(session, app_secrets.TOTP_KEY)
    else:
        stored = app_secrets.existing_secret(session, app_secrets.TOTP_KEY)
    fernets = list(_configured)
    if stored is not None:
        fernets.append(Fernet(base64.urlsafe_b64encode(stored)))
    if not fernets:
        raise RuntimeError("no TOTP key: the app_secrets row totp_key was deleted")
    return MultiFernet(fernets)


def rotate(session: Session) -> int:
    """Encrypt every kept secret again with the first key (after a new one was put first in
    ``totp_keys``); returns how many. Then the older keys can be removed."""
    fernet = _fernet(session, create=True)
    users = session.scalars(select(StaffUser).where(StaffUser.totp_ciphertext.is_not(None)))
    count = 0
    for user in users:
        assert user.totp_ciphertext is not None
        try:
            user.totp_ciphertext = fernet.rotate(user.totp_ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise RuntimeError("a TOTP secret does not open with any configured key") from exc
        count += 1
    return count


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
    user.totp_last_step = None
    user.totp_ticket = user.totp_ticket_until = None
    user.totp_failures = 0
    audit.record(session, actor, "totp_enrolled", user.email, {"via": "cli"})
    return secret


def _ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.strip().upper().replace("-", "").encode()).hexdigest()


def issue_ticket(
    session: Session, actor: Actor, user: StaffUser, now: datetime | None = None
) -> str:
    """A one-time enrolment ticket valid for :data:`TICKET_TIME` (only its hash is kept): with it
    an admin whose merchant requires a second factor, and who has none, enrols at sign-in. The
    command line or the admin who reset the factor hands it over; a password alone is not enough."""
    ticket = base64.b32encode(secrets.token_bytes(10)).decode()
    user.totp_ticket = _ticket_digest(ticket)
    user.totp_ticket_until = (now or utcnow()) + TICKET_TIME
    audit.record(session, actor, "totp_ticket_issued", user.email, merchant_id=user.merchant_id)
    return "-".join(ticket[i : i + 4] for i in range(0, len(ticket), 4))


def has_ticket(user: StaffUser, now: datetime | None = None) -> bool:
    """Whether ``user`` holds an enrolment ticket still valid."""
    until = user.totp_ticket_until
    return user.totp_ticket is not None and until is not None and until > (now or utcnow())


def ticket_matches(user: StaffUser, ticket: str, now: datetime | None = None) -> bool:
    """Whether ``ticket`` is the user's valid enrolment ticket (compared in constant time)."""
    if not has_ticket(user, now) or not ticket.strip():
        return False
    assert user.totp_ticket is not None
    return hmac.compare_digest(user.totp_ticket, _ticket_digest(ticket))


def start(session: Session, now: datetime | None = None) -> tuple[str, str]:
    """A fresh secret for one enrolment and the token that keeps it (encrypted, stamped with its
    time): the token lives only in the enrolling session, so no one else is ever shown that
    secret, and it opens for :data:`ENROL_TIME` only. Returns (secret, token)."""
    secret = pyotp.random_base32()
    moment = int((now or utcnow()).timestamp())
    token = _fernet(session, create=True).encrypt_at_time(secret.encode(), moment).decode()
    return secret, token


def waiting(session: Session, token: str | None, now: datetime | None = None) -> str | None:
    """The secret a session's enrolment ``token`` keeps, or None: none, expired, or forged."""
    if not token:
        return None
    moment = int((now or utcnow()).timestamp())
    try:
        plain = _fernet(session, create=True).decrypt_at_time(token.encode(), ENROL_TIME, moment)
    except InvalidToken:
        return None
    return plain.decode()


def confirm_enrolment(
    session: Session,
    actor: Actor,
    user: StaffUser,
    token: str | None,
    code: str,
    now: datetime | None = None,
) -> bool:
    """Switch on the secret of the session's enrolment ``token`` if ``code`` is one of its codes
    (audited; every other session of the user ends); False otherwise. The caller holds the row."""
    if user.totp_ciphertext is not None:
        return False
    secret = waiting(session, token, now)
    step = None if secret is None else matching_step(secret, code, now)
    if secret is None or step is None:
        return False
    user.totp_ciphertext, user.totp_last_step = encrypt(session, secret), step
    user.totp_ticket = user.totp_ticket_until = None
    user.totp_failures = 0
    user.session_version += 1
    audit.record(session, actor, "totp_enrolled", user.email, {"via": "panel"})
    return True


@dataclass(frozen=True, slots=True)
class Enrolment:
    """What the enrolment page shows: the user's e-mail and the secret waiting for a code of it
    (None: the second factor is on already, and its secret is never shown again), and the token
    that keeps that secret, for the enrolling session only."""

    email: str
    secret: str | None
    token: str | None = None


def _enrolling(session: Session, user_id: int, version: int | None) -> StaffUser | None:
    user = session.get(StaffUser, user_id, with_for_update=True, populate_existing=True)
    if user is None or not user.active:
        return None
    if version is not None and user.session_version != version:
        return None
    return user


def enrolment(
    session: Session,
    user_id: int,
    token: str | None,
    version: int | None = None,
    now: datetime | None = None,
) -> Enrolment | None:
    """The enrolment of an active user (of that session ``version``, when given): the secret of
    the session's ``token`` while it is valid, else a fresh one and its token; None: no such
    user (any more)."""
    user = _enrolling(session, user_id, version)
    if user is None:
        return None
    if user.totp_ciphertext is not None:
        return Enrolment(user.email, None)
    secret = waiting(session, token, now)
    if secret is None:
        secret, token = start(session, now)
    return Enrolment(user.email, secret, token)


def confirm(
    session: Session,
    actor: Actor,
    user_id: int,
    token: str | None,
    code: str,
    now: datetime | None = None,
) -> StaffUser | None:
    """:func:`confirm_enrolment` for the user ``user_id`` (whose row is locked meanwhile): the
    user, now of a new session version, or None."""
    user = _enrolling(session, user_id, None)
    if user is None or not confirm_enrolment(session, actor, user, token, code, now):
        return None
    return user


def reset(session: Session, actor: Actor, user: StaffUser, now: datetime | None = None) -> str:
    """Switch the user's second factor off (an admin's act, audited); its sessions end. Returns
    an enrolment ticket (:func:`issue_ticket`) for the admin to hand over."""
    user.totp_ciphertext = None
    user.totp_last_step = None
    user.totp_failures = 0
    user.session_version += 1
    audit.record(session, actor, "totp_reset", user.email, merchant_id=user.merchant_id)
    return issue_ticket(session, actor, user, now)
