"""Sending the queued customers' e-mails (:mod:`b2bgateway.mail`) through each merchant's SMTP
server (``[merchants.X.email]``), from ``b2bgateway worker``.

Rows are leased like outbound events (FOR UPDATE SKIP LOCKED on PostgreSQL, ``BEGIN IMMEDIATE``
on SQLite), so several workers never send one twice. Each is rendered (by the caller's
``render``, the web layer's templates) and sent outside any transaction. A server that refuses
(4xx or 5xx), cannot be reached or fails the TLS handshake: retried with back-off (10 s doubling,
capped at an hour); after :data:`MAX_ATTEMPTS` the e-mail is a dead letter that
``b2bgateway mail list|replay`` shows and sends again. The payment is never touched.
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
    "MAX_ATTEMPTS",
    "Outgoing",
    "Rendered",
    "Sent",
    "compose",
    "deliver_due",
    "smtp_send",
]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # 10 s doubling: about an hour and a half of retries
LEASE = timedelta(minutes=5)
CLAIM_BATCH = 10


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
Sender = Callable[[EmailSettings, Mime], None]


@dataclass
class Sent:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0


def compose(merchant: MerchantConfig, recipient: str, rendered: Rendered) -> Mime:
    """The MIME message: text and HTML alternatives, attachments, the merchant's sender."""
    settings = merchant.settings.email
    assert settings is not None
    name = settings.from_name or merchant.settings.portal.display_name or ""
    message = Mime()
    message["Subject"] = rendered.subject
    message["From"] = Address(display_name=name, addr_spec=settings.from_address)
    message["To"] = recipient
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


def smtp_send(settings: EmailSettings, message: Mime) -> None:
    """Send through the merchant's server; raises on any refusal or failure."""
    port = settings.effective_port
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(
            settings.host, port, timeout=settings.timeout_seconds, context=_tls_context(settings)
        )
    else:
        client = smtplib.SMTP(settings.host, port, timeout=settings.timeout_seconds)
    with client:
        if settings.security == "starttls":
            client.starttls(context=_tls_context(settings))
        if settings.username is not None and settings.password is not None:
            client.login(settings.username, settings.password.get_secret_value())
        client.send_message(message)


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


def _claim(store: Store, now: datetime, limit: int) -> list[int]:
    with store.write() as session:
        stmt = (
            select(EmailMessage.id)
            .where(EmailMessage.state == "pending", EmailMessage.next_attempt_at <= now)
            .order_by(EmailMessage.id)
            .limit(limit)
        )
        if store.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.scalars(stmt))
        if ids:
            session.execute(
                update(EmailMessage)
                .where(EmailMessage.id.in_(ids))
                .values(next_attempt_at=now + LEASE)
            )
        return ids


def deliver_due(
    store: Store,
    merchants: Mapping[str, MerchantConfig],
    render: Renderer,
    *,
    send: Sender = smtp_send,
    now: datetime | None = None,
    limit: int = 100,
) -> Sent:
    """Render and send what is due; record each outcome."""
    now = now or utcnow()
    result = Sent()
    handled = 0
    while handled < limit:
        claimed = _claim(store, now, min(CLAIM_BATCH, limit - handled))
        if not claimed:
            break
        handled += len(claimed)
        for message_id in claimed:
            _send_one(store, merchants, render, send, now, message_id, result)
    return result


def _attempt(render: Renderer, send: Sender, row: Outgoing | None) -> tuple[str, str | None]:
    """``(state, error)`` of one attempt: sent, skipped, or pending with the error."""
    if row is None:
        return "pending", "the merchant has no e-mail settings any more"
    try:
        rendered = render(row)
        if rendered is None:
            return "skipped", "no longer current when its turn came"
        settings = row.merchant.settings.email
        assert settings is not None
        send(settings, compose(row.merchant, row.recipient, rendered))
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
        message = session.get(EmailMessage, message_id)
        assert message is not None
        message.attempts = attempts + 1
        message.last_error = error
        if state == "sent":
            message.state, message.sent_at, message.data = "sent", utcnow(), {}
            result.sent += 1
        elif state == "skipped":
            message.state = "skipped"
            result.skipped += 1
        elif message.attempts >= MAX_ATTEMPTS:
            message.state = "dead"
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
