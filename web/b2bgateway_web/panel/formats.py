"""Amounts and moments as the payments module writes them (es-MX), cheap enough for a page of 50
rows and an export of 100,000.

Babel's ``format_currency`` parses the locale and the pattern and quantizes a Decimal on every
call (60-180 us each on the shared test box); here the locale's pattern, symbols and month names
are read once per locale and currency, and an amount in minor units is written with integer
arithmetic. Each formatter checks itself against Babel on sample values when it is built and
uses Babel's own function instead if they differ (a locale whose pattern this does not cover),
so the text is always Babel's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal

from babel import Locale
from babel.dates import format_datetime
from babel.numbers import (
    format_currency,
    get_currency_precision,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

from b2bgateway.money import exponent

__all__ = ["LOCALE", "datetime_formatter", "money_formatter", "plain_amount"]

LOCALE = "es_MX"
#: How the list, a payment's page and the exports write a moment (the merchant's local time).
MOMENT = "d MMM y, HH:mm"
_SAMPLES = (0, 1, 5, 99, 100, 12345, 100000, 123456789, 100000000000, -1, -250, -123456789)


def _babel_money(currency: str, locale: str) -> Callable[[int], str]:
    scale = Decimal(10) ** -exponent(currency)  # the gateway's minor units (ISO 4217)

    def write(units: int) -> str:
        return str(format_currency(Decimal(units) * scale, currency, locale=locale))

    return write


@functools.lru_cache(maxsize=64)
def money_formatter(currency: str, locale: str = LOCALE) -> Callable[[int], str]:
    """minor units of ``currency`` (:func:`b2bgateway.money.exponent` decimals) -> the text
    Babel's ``format_currency`` gives for the amount."""
    babel = _babel_money(currency, locale)
    pattern = Locale.parse(locale).currency_formats["standard"]
    digits = exponent(currency)
    if pattern.grouping != (3, 3) or pattern.int_prec[0] != 1:
        return babel
    if digits != get_currency_precision(currency):  # Babel shows it with other decimals
        return babel
    divisor = 10**digits
    symbol = get_currency_symbol(currency, locale)
    group = get_group_symbol(locale)
    point = get_decimal_symbol(locale)
    positive = (pattern.prefix[0].replace("¤", symbol), pattern.suffix[0].replace("¤", symbol))
    negative = (pattern.prefix[1].replace("¤", symbol), pattern.suffix[1].replace("¤", symbol))

    def write(units: int) -> str:
        before, after = negative if units < 0 else positive
        whole, fraction = divmod(abs(units), divisor)
        text = f"{whole:,}".replace(",", group)
        if digits:
            text = f"{text}{point}{fraction:0{digits}d}"
        return f"{before}{text}{after}"

    if all(write(units) == babel(units) for units in _SAMPLES):
        return write
    return babel


@functools.lru_cache(maxsize=16)
def datetime_formatter(locale: str = LOCALE) -> Callable[[datetime], str]:
    """An aware local moment -> Babel's ``format_datetime(moment, "d MMM y, HH:mm")``."""

    def babel(moment: datetime) -> str:
        return str(format_datetime(moment, MOMENT, locale=locale))

    months = Locale.parse(locale).months["format"]["abbreviated"]
    names = {month: months[month] for month in range(1, 13)}

    def write(moment: datetime) -> str:
        return f"{moment.day} {names[moment.month]} {moment.year}, {moment:%H:%M}"

    samples = [datetime(2026, month, month + 9, month * 2 - 1, month * 4) for month in range(1, 13)]
    if all(write(moment) == babel(moment) for moment in samples):
        return write
    return babel


def plain_amount(units: int, currency: str) -> str:
    """minor units -> the amount as ``str(Money.from_minor_units(units, currency).amount)``
    writes it (``1234.50``: no symbol, no grouping; the exports' number), without a Decimal."""
    digits = exponent(currency)
    if not digits:
        return str(units)
    whole, fraction = divmod(abs(units), 10**digits)
    return f"{'-' if units < 0 else ''}{whole}.{fraction:0{digits}d}"
