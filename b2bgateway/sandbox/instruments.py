"""What the sandbox hands out to pay with: CLABEs, references, authorization codes, expiries.

They look like the real thing, so a portal's screens and a merchant's ERP can be tried with them:
a CLABE has a valid check digit (a bank's form refuses one without), a SPEI reference is 7
digits, a cash reference 14, an authorization code 6.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from b2bgateway.sandbox.records import Card

__all__ = [
    "CLABE_WEIGHTS",
    "STP_PREFIX",
    "authorization_code",
    "card_paid",
    "clabe_check_digit",
    "expiry",
    "is_valid_clabe",
    "new_clabe",
    "numeric_reference",
    "tracking_key",
]

#: A CLABE's check digit weighs its first 17 digits by 3, 7, 1, 3, 7, 1...
CLABE_WEIGHTS = (3, 7, 1)
#: STP (bank code 646, plaza 180): the bank most collection CLABEs in Mexico belong to.
STP_PREFIX = "646180"


def clabe_check_digit(first17: str) -> str:
    """The 18th digit of a CLABE: 10 minus the sum of the weighted digits (each mod 10), mod 10."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("a CLABE's check digit is computed over 17 digits")
    total = sum(int(d) * CLABE_WEIGHTS[i % 3] % 10 for i, d in enumerate(first17))
    return str((10 - total % 10) % 10)


def is_valid_clabe(clabe: str) -> bool:
    """Whether ``clabe`` has 18 digits and the right check digit."""
    return len(clabe) == 18 and clabe.isdigit() and clabe_check_digit(clabe[:17]) == clabe[17]


def numeric_reference(digits: int) -> str:
    """A random reference of exactly ``digits`` digits (no leading zero, so no digit is lost
    when a bank's form or a spreadsheet reads it as a number)."""
    return str(10 ** (digits - 1) + secrets.randbelow(9 * 10 ** (digits - 1)))


def new_clabe() -> str:
    """A fresh STP CLABE for one charge, as collection processors give one per reference."""
    first17 = STP_PREFIX + numeric_reference(11)
    return first17 + clabe_check_digit(first17)


def tracking_key() -> str:
    """A SPEI tracking key (clave de rastreo) for a simulated transfer: ``SANDBOX`` + 20 digits."""
    return "SANDBOX" + numeric_reference(20)


def authorization_code(seed: str) -> str:
    """A 6-digit authorization code derived from ``seed`` (an attempt or charge id), so
    retrieving the charge again reports the same code."""
    digest = hashlib.sha256(seed.encode()).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def expiry(moment: datetime, requested: datetime | None, longest: timedelta) -> datetime:
    """When a charge started at ``moment`` expires: the gateway's ``requested`` expiry, but no
    later than the sandbox's own ``longest`` (a processor caps how long a voucher or a page
    lives)."""
    cap = moment + longest
    return cap if requested is None else min(requested, cap)


def card_paid(card: Card, seed: str, stamp: str) -> dict[str, Any]:
    """The ``charges`` columns of a charge ``card`` just paid at ``stamp``: the card, and its
    authorization code derived from ``seed`` (the attempt or charge id, so it is stable)."""
    return dict(
        card_brand=card.brand,
        card_last4=card.last4,
        card_funding=card.funding,
        authorization_code=authorization_code(seed),
        paid_at=stamp,
    )
