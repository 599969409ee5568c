"""Merchants' API keys: how a new one is made (``b2bgateway keys generate``) and which of the
configured ones are too weak for a key that guards payments and refunds.

A key is ``prefix`` + 32 characters drawn by :mod:`secrets` from 62 letters and digits (about
190 bits). Keys of fewer than :data:`MIN_LENGTH` characters are still accepted, so that an
upgrade does not lock every portal out, but each is named at start-up until it is rotated
(docs/operations.md, "API keys").
"""

from __future__ import annotations

import re
import secrets
import string

from b2bgateway.settings import DEMO_MERCHANT, Settings

__all__ = ["ALPHABET", "MIN_LENGTH", "RANDOM_LENGTH", "generate", "weak_key_warnings", "weak_keys"]

ALPHABET = string.ascii_letters + string.digits
#: Characters of a new key after its prefix.
RANDOM_LENGTH = 32
#: The least a key should have (the issue's "at least 24 random characters").
MIN_LENGTH = 24
DEFAULT_PREFIX = "sk_live_"
_DEMO_KEY = DEMO_MERCHANT["demo"]["api_keys"][0]


def generate(prefix: str = DEFAULT_PREFIX) -> str:
    """A new API key: ``prefix`` and :data:`RANDOM_LENGTH` random letters and digits.

    :raises ValueError: a prefix with other characters than letters, digits and ``_``, or
        longer than 32 (it goes into TOML files, environment variables and headers).
    """
    if not re.fullmatch(r"[A-Za-z0-9_]{0,32}", prefix):
        raise ValueError("letters, digits and _ only, at most 32")
    return prefix + "".join(secrets.choice(ALPHABET) for _ in range(RANDOM_LENGTH))


def weak_keys(settings: Settings) -> list[str]:
    """Where each configured key shorter than :data:`MIN_LENGTH` is (``merchants.X.api_keys[i]``),
    never the key itself. The built-in demo key is left out (``serve`` warns about it anyway)."""
    found = []
    for merchant_id, merchant in settings.merchants.items():
        for index, key in enumerate(merchant.api_keys):
            value = key.get_secret_value()
            if len(value) < MIN_LENGTH and value != _DEMO_KEY:
                found.append(f"merchants.{merchant_id}.api_keys[{index}]")
    return found


def weak_key_warnings(settings: Settings) -> list[str]:
    """One line per weak key, saying where it is and what to do (``serve``, ``config check``)."""
    return [
        f"{where} has fewer than {MIN_LENGTH} characters: make a new key with "
        "`b2bgateway keys generate` and rotate it (docs/operations.md, API keys)"
        for where in weak_keys(settings)
    ]
