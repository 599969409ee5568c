"""Sending the queued customers' e-mails (:mod:`b2bgateway.mail`) through each merchant's SMTP
server (``[merchants.X.email]``), from ``b2bgateway worker``.

Rows are leased one at a time (FOR UPDATE SKIP LOCKED on PostgreSQL, ``BEGIN IMMEDIATE`` on
SQLite), from the claim's own time and for longer than one e-mail can take (:data:`LEASE`), so
several workers never send one twice. The lease's end is the claim's token: each claim sets it
later than the one before (a row is only claimed once its lease ended), and the outcome is
written only if the row still holds the token it was claimed with. Each is rendered (by the
caller's ``render``, the web layer's templates) and sent outside any transaction; a pass stops
claiming after :data:`PASS_BUDGET`, so one merchant's slow server does not hold up the worker's
other work. A server that refuses (4xx or 5xx), cannot be reached or fails the TLS handshake:
retried with back-off (10 s doubling, capped at an hour); after :data:`MAX_ATTEMPTS` the e-mail
is a dead letter that ``b2bgateway mail list|replay`` shows and sends again. A recipient that is
not one address is a dead letter at once. The payment is never touched.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage as Mime
from email.utils import formatdate, make_msgid
from typing import Any

from sqlalchemy import select, update

from b2bgateway.email_settings import EmailSettings
from b2bgateway.notifications import backoff
from b2bgateway.settings import MerchantConfig
from b2bgateway.store import Store
from b2bgateway.store.email_models import EmailMessage
from b2bgateway.store.models import utcnow

__all__ = [
    "LEASE",
    "MAX_ATTEMPTS",
    "PASS_BUDGET",
    "Outgoing",
    "Rendered",
    "Sent",
    "compose",
    "deliver_due",
    "smtp_send",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # 10 s doubling: about an hour and a half of retries
#: One e-mail's worst case, with room: about ten SMTP exchanges (connect, EHLO, STARTTLS, AUTH,
#: MAIL, RCPT, DATA and its content, QUIT), each allowed ``timeout_seconds`` (at most 120 s),
#: plus rendering the receipt's PDF. Claimed one at a time, so a lease covers one e-mail.
LEASE = timedelta(minutes=30)
#: A worker's pass claims no more e-mail after this long (reconciliation, expiry and outbound
#: events wait for it): an unreachable server costs a pass one timeout per e-mail, not minutes.
PASS_BUDGET = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A queued e-mail as the renderer gets it."""

    id: int
    merchant: MerchantConfig
    payment_id: str
    kind: str
    recipient: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Rendered:
    """What the renderer makes of it: Spanish subject, plain text, HTML and attachments
    (``(file name, MIME type, bytes)``)."""

    subject: str
    text: str
    html: str
    attachments: tuple[tuple[str, str, bytes], ...] = ()


#: ``None``: nothing to send any more (instructions of a payment that was paid meanwhile)
Renderer = Callable[[Outgoing], Rendered | None]
#: ``(settings, message, recipient)``: raises unless the server accepted the message
Sender = Callable[[EmailSettings, Mime, str], None]


@dataclass
class Sent:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    #: claimed, then found taken over by another worker when its outcome was written (its lease
    #: had ended): that outcome is not recorded
    lost: int = 0


def compose(merchant: MerchantConfig, recipient: str, rendered: Rendered) -> Mime:
    """The MIME message: text and HTML alternatives, attachments, the merchant's sender."""
    settings = merchant.settings.email
    assert settings is not None
    name = settings.from_name or merchant.settings.portal.display_name or ""
    message = Mime()
    message["Subject"] = rendered.subject
    message["From"] = Address(display_name=name, addr_spec=settings.from_address)
    message["To"] = Address(addr_spec=recipient)
    if settings.reply_to:
        message["Reply-To"] = settings.reply_to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.from_address.rsplit("@", 1)[1])
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    for filename, mime_type, content in rendered.attachments:
        main, sub = mime_type.split("/", 1)
        message.add_attachment(content, maintype=main, subtype=sub, filename=filename)
    return message


def _tls_context(settings: EmailSettings) -> ssl.SSLContext:
    return ssl.create_default_context(
        cafile=None if settings.ca_file is None else str(settings.ca_file)
    )


def smtp_send(settings: EmailSettings, message: Mime, recipient: str) -> None:
    """Send to ``recipient`` alone (one RCPT) through the merchant's server; raises on any
    refusal or failure until the server accepted the message. What happens after that (QUIT
    refused or unanswered) does not make it unsent."""
    port = settings.effective_port
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(
            settings.host, port, timeout=settings.timeout_seconds, context=_tls_context(settings)
        )
    else:
        client = smtplib.SMTP(settings.host, port, timeout=settings.timeout_seconds)
    try:
        if settings.security == "starttls":
            client.starttls(context=_tls_context(settings))
        if settings.username is not None and settings.password is not None:
            client.login(settings.username, settings.password.get_secret_value())
        client.send_message(message, to_addrs=[recipient])
    except BaseException:
        client.close()  # no QUIT: the connection may be what failed (a timeout would wait again)
        raise
    # Accepted: sent, whatever QUIT gets (``with client`` would raise when the server answers
    # QUIT with other than 221, or not at all, and the e-mail would be sent again).
    try:
        client.quit()
    except (smtplib.SMTPException, OSError):
        client.close()


def _error_text(exc: Exception) -> str:
    """What went wrong, for operators: the server's answer, never a credential."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = sorted({str(code) for code, _ in exc.recipients.values()})
        return f"SMTP recipient refused ({', '.join(codes)})"
    if isinstance(exc, smtplib.SMTPResponseException):
        detail = (
            exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) else ""
        )
        return f"SMTP {exc.smtp_code} {detail}"[:300]
    return f"{type(exc).__name__}: {exc}"[:300]


def _claim(store: Store, now: datetime) -> tuple[int, datetime] | None:
    """Lease the head of the due queue: its id and the lease's end (the claim's token)."""
    with store.write() as session:
        at = max(now, utcnow())  # the claim's time, not the pass's start
        stmt = (
            select(EmailMessage.id)
            .where(EmailMessage.state == "pending", EmailMessage.next_attempt_at <= at)
            # due order, from the index on (state, next_attempt_at), as outbound events
            .order_by(EmailMessage.next_attempt_at, EmailMessage.id)
            .limit(1)
        )
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        message_id = session.scalar(stmt)
        if message_id is None:
            return None
        lease = at + LEASE
        session.execute(
            update(EmailMessage).where(EmailMessage.id == message_id).values(next_attempt_at=lease)
        )
        return message_id, lease


def deliver_due(
    store: Store,
    merchants: Mapping[str, MerchantConfig],
    render: Renderer,
    *,
    send: Sender = smtp_send,
    now: datetime | None = None,
    limit: int = 100,
    budget: timedelta = PASS_BUDGET,
) -> Sent:
    """Render and send what is due, one e-mail at a time, until ``limit`` e-mails or
    ``budget`` of time; record each outcome."""
    started = utcnow()
    now = now or started
    result = Sent()
    for _ in range(limit):
        if utcnow() - started >= budget:
            break
        claimed = _claim(store, now)
        if claimed is None:
            break
        _send_one(store, merchants, render, send, now, *claimed, result)
    return result


def _attempt(render: Renderer, send: Sender, row: Outgoing | None) -> tuple[str, str | None]:
    """``(state, error)`` of one attempt: sent, skipped, pending with the error, or dead (a
    recipient that is not one address: retrying cannot help)."""
    if row is None:
        return "pending", "the merchant has no e-mail settings any more"
    try:
        Address(addr_spec=row.recipient)
    except (ValueError, IndexError):  # e.g. "a,b@x.com": two recipients, or none
        return "dead", f"the recipient {row.recipient!r} is not one e-mail address"[:300]
    try:
        rendered = render(row)
        if rendered is None:
            return "skipped", "no longer current when its turn came"
        settings = row.merchant.settings.email
        assert settings is not None
        send(settings, compose(row.merchant, row.recipient, rendered), row.recipient)
    except (smtplib.SMTPException, OSError) as exc:  # refused, unreachable, TLS: retried
        log.warning("e-mail %s (%s) not sent: %s", row.id, row.kind, _error_text(exc))
        return "pending", _error_text(exc)
    except Exception as exc:  # a rendering failure: retried too, with its traceback logged
        log.exception("e-mail %s (%s) could not be made", row.id, row.kind)
        return "pending", _error_text(exc)
    return "sent", None


def _send_one(
    store: Store,
    merchants: Mapping[str, MerchantConfig],
    render: Renderer,
    send: Sender,
    now: datetime,
    message_id: int,
    lease: datetime,
    result: Sent,
) -> None:
    with store.read() as session:
        message = session.get(EmailMessage, message_id)
        assert message is not None
        merchant = merchants.get(message.merchant_id)
        row = None
        if merchant is not None and merchant.settings.email is not None:
            row = Outgoing(
                message.id,
                merchant,
                message.payment_id,
                message.kind,
                message.recipient,
                dict(message.data or {}),
            )
        attempts = message.attempts
    state, error = _attempt(render, send, row)
    with store.write() as session:
        message = session.get(
            EmailMessage, message_id, with_for_update=True, populate_existing=True
        )
        assert message is not None
        if message.state != "pending" or message.next_attempt_at != lease:
            # our lease ended and another worker claimed it: its outcome is the one recorded
            log.warning("e-mail %s: lease lost to another worker, outcome not recorded", message_id)
            result.lost += 1
            return
        message.attempts = attempts + 1
        message.last_error = error
        if state == "sent":
            message.state, message.sent_at, message.data = "sent", utcnow(), {}
            result.sent += 1
        elif state == "skipped":  # the data (a pay link opens the customer's page) goes too
            message.state, message.data = "skipped", {}
            result.skipped += 1
        elif state == "dead" or message.attempts >= MAX_ATTEMPTS:
            message.state, message.data = "dead", {}
            result.dead += 1
            log.error(
                "e-mail %s to a customer of %s is a dead letter: %s",
                message_id,
                message.merchant_id,
                error,
            )
        else:
            message.next_attempt_at = max(now, utcnow()) + backoff(message.attempts)
            result.retried += 1
