"""The payments module's own formatters write what Babel writes (they read Babel's patterns once
instead of on every call), and the exports' amounts are what ``Money`` prints."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_datetime
from babel.numbers import format_currency

from b2bgateway.money import Money, exponent
from b2bgateway_web.panel.formats import datetime_formatter, money_formatter, plain_amount

CURRENCIES = ("MXN", "USD", "EUR", "JPY", "BHD", "CLF", "HUF", "COP")
AMOUNTS = [0, 1, -1, 5, 99, 100, 101, 99999, 100000, 123456789, 10**15, -(10**12) - 7]


def _amounts(seed: int) -> list[int]:
    draw = random.Random(seed)
    return AMOUNTS + [draw.randint(-(10**13), 10**13) for _ in range(500)]


@pytest.mark.parametrize("currency", CURRENCIES)
def test_money_is_written_as_babel_writes_it(currency):
    write = money_formatter(currency)
    for units in _amounts(len(currency)):
        amount = Decimal(units).scaleb(-exponent(currency))
        assert write(units) == format_currency(amount, currency, locale="es_MX"), units


def test_the_fast_path_is_taken_for_the_usual_currencies():
    assert money_formatter("MXN")(123450) == "$1,234.50"
    assert money_formatter("MXN").__qualname__.endswith("write")  # not Babel's per call
    assert money_formatter("USD")(-5) == "-USD0.05"


def test_moments_are_written_as_babel_writes_them():
    write = datetime_formatter()
    zone = ZoneInfo("America/Mexico_City")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for step in range(2000):
        moment = (start + timedelta(minutes=263 * step)).astimezone(zone)
        assert write(moment) == format_datetime(moment, "d MMM y, HH:mm", locale="es_MX")
    assert write(datetime(2026, 9, 4, 7, 5, tzinfo=zone)) == "4 sep 2026, 07:05"


@pytest.mark.parametrize("currency", CURRENCIES)
def test_plain_amounts_are_what_money_prints(currency):
    for units in _amounts(7):
        assert plain_amount(units, currency) == str(Money.from_minor_units(units, currency).amount)
