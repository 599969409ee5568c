"""A real SMTP server on 127.0.0.1 for the e-mail tests (aiosmtpd, in a thread): it records what
it accepts, can refuse (``refuse = "451 ..."``), can answer QUIT with something else than 221
(``quit_reply``), and can speak STARTTLS with a login."""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import subprocess
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["Recorder", "SmtpServer", "free_port", "self_signed"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Recorder:
    """The server's handler: accepts (or refuses) each message and keeps what it accepted."""

    refuse: str | None = None  # e.g. "451 4.3.0 Intenta más tarde"
    received: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    quit_reply: str = "221 Bye"

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:
        return self.quit_reply

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return self.refuse
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(message)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3creto-smtp"
        if ok:
            self.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)


class SmtpServer:
    """``with SmtpServer() as server:`` a server on ``server.port`` until the block ends."""

    def __init__(self, tls_context: ssl.SSLContext | None = None, login: bool = False) -> None:
        self.recorder = Recorder()
        self.port = free_port()
        smtp: dict[str, Any] = {}
        if tls_context is not None:
            smtp |= {"tls_context": tls_context, "require_starttls": True}
        if login:
            smtp |= {"authenticator": self.recorder.authenticate, "auth_require_tls": True}
        self.controller = Controller(self.recorder, hostname="127.0.0.1", port=self.port, **smtp)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop listening (a server that is down); once."""
        if self.controller.server is not None:
            self.controller.stop()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (openssl), the certificate its own CA."""
    cert, key = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    subprocess.run(
        [  # noqa: S607
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key
