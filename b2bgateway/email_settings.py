"""``[merchants.X.email]``: the SMTP server through which the gateway e-mails the merchant's
customers (receipts, SPEI and cash instructions, payment links). No table: no e-mail, nothing
queued (:mod:`b2bgateway.mail`)."""

from __future__ import annotations

import ipaddress
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FilePath,
    SecretStr,
    StringConstraints,
    model_validator,
)

__all__ = ["DEFAULT_PORTS", "EmailSettings", "email_check"]

_EMAIL = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, max_length=320, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$"
    ),
]
_HOST = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$"
    ),
]
_NAME = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\r\n]+$"),
]

#: security -> the port it is usually served on
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


class EmailSettings(BaseModel):
    """One merchant's SMTP server and sender."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    host: _HOST
    port: int | None = Field(default=None, ge=1, le=65535)  # None: 587, 465 or 25 per security
    #: ``starttls`` (upgrade a plain connection, port 587), ``tls`` (TLS from the start, port
    #: 465), ``none`` (plain text: only for a relay on the same machine or network)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: Annotated[str, StringConstraints(min_length=1, max_length=320)] | None = None
    password: SecretStr | None = None
    from_address: _EMAIL
    #: the sender's name (default: the supplier's ``portal.display_name``)
    from_name: _NAME | None = None
    reply_to: _EMAIL | None = None
    timeout_seconds: float = Field(default=20.0, gt=0, le=120)
    #: a PEM file of the certificate authorities to trust for this server (a private relay);
    #: default: the system's
    ca_file: FilePath | None = None

    @model_validator(mode="after")
    def _credentials_together(self) -> EmailSettings:
        if (self.username is None) != (self.password is None):
            raise ValueError("username and password go together (both or neither)")
        if self.username is not None and self.security == "none":
            raise ValueError(
                "credentials are never sent in plain text: use security starttls or tls"
            )
        return self

    @property
    def effective_port(self) -> int:
        return self.port if self.port is not None else DEFAULT_PORTS[self.security]


def email_check(merchant_id: str, email: EmailSettings | None) -> tuple[str, str | None]:
    """What ``b2bgateway config check`` says of a merchant's customer e-mail (never the
    password), and its warning when the e-mail would cross a network in plain text."""
    if email is None:
        return "off (no [merchants.<id>.email]: no receipts or instructions are e-mailed)", None
    login = f", as {email.username}" if email.username else ""
    server = f"{email.host}:{email.effective_port}"
    note = f"SMTP {server} ({email.security}{login}), from {email.from_address}"
    if email.security != "none" or _local(email.host):
        return note, None
    return note, (
        f"merchant {merchant_id}: e-mail security is none towards {email.host}: customers' "
        "e-mails (receipts, payment links) cross the network in plain text; use starttls or tls "
        "unless that relay is on this machine or its private network"
    )


def _local(host: str) -> bool:
    """This machine or a private network (a name may resolve anywhere: not local)."""
    if host.lower() == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return address.is_loopback or address.is_private
