"""Money: a ``Decimal`` amount and an ISO 4217 currency, and the one place that knows minor units.

Every amount in b2bgateway is a :class:`Money`. Exponents (how many decimals a currency has) come
from the ISO 4217 table shipped by the ``iso4217`` package, never from a hand-written list. Floats
are refused, and so is any amount with more decimals than its currency has: nothing is ever
rounded or truncated silently.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from iso4217 import Currency

from b2bgateway.errors import InvalidAmount

__all__ = ["MAX_MINOR_UNITS", "Money", "currencies", "exponent", "parse_amount"]

#: The largest amount the API accepts, in minor units (100 billion MXN). Sums of many such
#: amounts still fit the 64-bit integers the database keeps them in.
MAX_MINOR_UNITS = 10**13


@functools.cache
def currencies() -> Mapping[str, int]:
    """ISO 4217 currency codes that have an exponent, mapped to it (``{"MXN": 2, "JPY": 0, ...}``).

    Codes whose minor unit is "N.A." in the standard (gold, SDR, test codes) are not money we
    charge.
    """
    return {c.code: c.exponent for c in Currency if isinstance(c.exponent, int)}


def exponent(currency: str) -> int:
    """Number of decimals of ``currency``; raises :class:`InvalidAmount` for an unknown code."""
    try:
        return currencies()[currency]
    except (KeyError, TypeError):
        raise InvalidAmount(
            f"{currency!r} is not an ISO 4217 currency code (upper case, e.g. 'MXN')",
            code="invalid_currency",
        ) from None


def _decimals(value: Decimal) -> int:
    exp = value.as_tuple().exponent
    assert isinstance(exp, int)  # finite values only reach here
    return max(0, -exp)


def parse_amount(value: Any, currency: str) -> Decimal:
    """Turn ``value`` (a ``Decimal``, an ``int`` or a decimal string) into an exact ``Decimal``.

    Refuses floats, booleans, non-finite values and more decimals than ``currency`` has. The result
    carries exactly the currency's number of decimals (``"12.5"`` in MXN becomes
    ``Decimal("12.50")``).
    """
    places = exponent(currency)
    if isinstance(value, bool | float):
        raise InvalidAmount(
            f'amounts are decimal strings such as "12.50", not {type(value).__name__}s',
            code="invalid_amount",
        )
    if isinstance(value, int):
        amount = Decimal(value)
    elif isinstance(value, Decimal):
        amount = value
    elif isinstance(value, str):
        text = value.strip()
        # Decimal() accepts "1e3", "NaN", " 1_000 " and other spellings we don't want in an API.
        if not text or not all(ch in "0123456789.-" for ch in text):
            raise InvalidAmount(f"{value!r} is not a decimal amount", code="invalid_amount")
        try:
            amount = Decimal(text)
        except InvalidOperation:
            raise InvalidAmount(
                f"{value!r} is not a decimal amount", code="invalid_amount"
            ) from None
    else:
        raise InvalidAmount(
            f"an amount must be a decimal string, not {type(value).__name__}", code="invalid_amount"
        )
    if not amount.is_finite():
        raise InvalidAmount(f"{value!r} is not a finite amount", code="invalid_amount")
    if _decimals(amount) > places:
        raise InvalidAmount(
            f"{value} has more decimals than {currency} allows ({places})",
            code="too_many_decimals",
        )
    try:
        return amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # more digits than a Decimal context holds: no real amount has them
        raise InvalidAmount(f"{value!r} is too large an amount", code="invalid_amount") from None


@dataclass(frozen=True, slots=True)
class Money:
    """An exact amount of one currency. Build it with a ``Decimal``, an ``int`` or a decimal string.

    >>> Money("1234.5", "MXN")
    Money(amount=Decimal('1234.50'), currency='MXN')
    >>> Money("1234.50", "MXN").to_minor_units()
    123450
    """

    amount: Decimal
    currency: str

    def __init__(self, amount: Decimal | int | str, currency: str) -> None:
        object.__setattr__(self, "currency", currency)
        object.__setattr__(self, "amount", parse_amount(amount, currency))

    # -- minor units: the only conversion in the project -------------------------------------
    def to_minor_units(self, *, exponent_override: int | None = None) -> int:
        """The amount as an integer count of minor units (``Money("12.34", "MXN")`` -> ``1234``).

        ``exponent_override`` is for a processor that counts a currency differently from ISO 4217;
        an amount that cannot be expressed exactly with it is refused, never rounded.
        """
        places = exponent(self.currency) if exponent_override is None else exponent_override
        scaled = self.amount.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise InvalidAmount(
                f"{self} cannot be expressed in whole minor units with {places} decimals",
                code="too_many_decimals",
            )
        return int(scaled)

    @classmethod
    def from_minor_units(
        cls, units: int, currency: str, *, exponent_override: int | None = None
    ) -> Money:
        """Inverse of :meth:`to_minor_units`."""
        if type(units) is int and exponent_override is None:
            # The common case (a database integer, ISO's decimals), first: statements make
            # tens of thousands of these.
            return cls._exact(Decimal(units).scaleb(-exponent(currency)), currency)
        if isinstance(units, bool) or not isinstance(units, int):
            raise InvalidAmount(
                f"minor units are integers, not {type(units).__name__}", code="invalid_amount"
            )
        iso = exponent(currency)
        places = iso if exponent_override is None else exponent_override
        value = Decimal(units).scaleb(-places)
        if places == iso:
            return cls._exact(value, currency)  # exactly ISO's decimals by construction
        if places > iso:
            # A processor counting in finer units than ISO: exact only if nothing is lost.
            exact = value.quantize(Decimal(1).scaleb(-iso))
            if exact != value:
                raise InvalidAmount(
                    f"{units} minor units of {currency} (at {places} decimals) is not a whole "
                    f"amount in {iso} decimals",
                    code="too_many_decimals",
                )
            value = exact
        return cls(value, currency)

    @staticmethod
    def minor_units_text(units: int, currency: str) -> str:
        """``str(Money.from_minor_units(units, currency).amount)`` without building the Money
        (``123450, "MXN"`` -> ``"1234.50"``): for the many amounts of a statement."""
        return str(Decimal(units).scaleb(-exponent(currency)))

    @classmethod
    def _exact(cls, amount: Decimal, currency: str) -> Money:
        # Statements build tens of thousands of these from database integers: skip re-parsing.
        money = object.__new__(cls)
        object.__setattr__(money, "currency", currency)
        object.__setattr__(money, "amount", amount)
        return money

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    # -- arithmetic within one currency --------------------------------------------------------
    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise InvalidAmount(
                f"cannot combine {self.currency} with {other.currency}", code="currency_mismatch"
            )
        return other

    def __add__(self, other: Money) -> Money:
        return Money(self.amount + self._same(other).amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        return Money(self.amount - self._same(other).amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __lt__(self, other: Money) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: Money) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: Money) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: Money) -> bool:
        return self.amount >= self._same(other).amount

    def is_positive(self) -> bool:
        return self.amount > 0

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"

    def to_json(self) -> dict[str, str]:
        """``{"amount": "1234.50", "currency": "MXN"}``: the amount as a string, never a number."""
        return {"amount": str(self.amount), "currency": self.currency}
