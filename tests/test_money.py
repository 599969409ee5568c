from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from b2bgateway.errors import InvalidAmount
from b2bgateway.money import Money, currencies, exponent, parse_amount

CURRENCIES = sorted(currencies())


def test_table_comes_from_iso_4217_not_a_hand_list():
    table = currencies()
    assert len(table) > 150
    assert table["MXN"] == 2
    assert table["USD"] == 2
    assert table["JPY"] == 0
    assert table["KWD"] == 3
    assert table["CLF"] == 4
    assert table["COP"] == 2  # ISO says 2 even where CLDR shows none
    assert "XAU" not in table  # gold has no minor unit


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("1234.5", "MXN", Decimal("1234.50")),
        ("1234.50", "MXN", Decimal("1234.50")),
        (Decimal("42.42"), "USD", Decimal("42.42")),
        (7, "MXN", Decimal("7.00")),
        ("500", "JPY", Decimal("500")),
        ("1.234", "KWD", Decimal("1.234")),
        ("-10.00", "MXN", Decimal("-10.00")),
        ("0", "MXN", Decimal("0.00")),
    ],
)
def test_accepts_exact_amounts(value, currency, expected):
    money = Money(value, currency)
    assert money.amount == expected
    assert str(money.amount) == str(expected)


@pytest.mark.parametrize(
    "value",
    [
        12.5,
        0.1,
        float("nan"),
        True,
        None,
        [1],
        "1e3",
        "NaN",
        "Infinity",
        " ",
        "",
        "1,000.00",
        "12.5.1",
        "+3",
        "١٢",
    ],
)
def test_refuses_floats_and_non_decimals(value):
    with pytest.raises(InvalidAmount) as info:
        Money(value, "MXN")
    assert info.value.code == "invalid_amount"


@pytest.mark.parametrize(
    ("value", "currency"),
    [
        ("12.345", "MXN"),
        ("0.001", "USD"),
        ("1.5", "JPY"),
        ("1.2345", "KWD"),
        (Decimal("0.005"), "MXN"),
    ],
)
def test_refuses_more_decimals_than_the_currency_has(value, currency):
    with pytest.raises(InvalidAmount) as info:
        Money(value, currency)
    assert info.value.code == "too_many_decimals"


def test_trailing_zeros_beyond_the_exponent_are_refused_not_rounded():
    # "12.500" is numerically exact, but an API that accepts it would accept "12.501" tomorrow.
    with pytest.raises(InvalidAmount):
        parse_amount("12.500", "MXN")


@pytest.mark.parametrize("currency", ["mxn", "XXX1", "ZZZ", "", "XAU"])
def test_refuses_unknown_currencies(currency):
    with pytest.raises(InvalidAmount) as info:
        Money("1", currency)
    assert info.value.code == "invalid_currency"


def test_minor_units():
    assert Money("1234.50", "MXN").to_minor_units() == 123450
    assert Money("500", "JPY").to_minor_units() == 500
    assert Money("1.234", "KWD").to_minor_units() == 1234
    assert Money.from_minor_units(123450, "MXN") == Money("1234.50", "MXN")
    assert Money.from_minor_units(-1, "MXN").amount == Decimal("-0.01")


def test_processor_exponent_override_is_exact_or_refused():
    # A processor that counts a 0-decimal currency in hundredths (Stripe does for some).
    assert Money("500", "JPY").to_minor_units(exponent_override=2) == 50000
    with pytest.raises(InvalidAmount):
        Money("12.34", "MXN").to_minor_units(exponent_override=0)


def test_from_minor_units_refuses_non_integers():
    with pytest.raises(InvalidAmount):
        Money.from_minor_units(12.0, "MXN")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmount):
        Money.from_minor_units(True, "MXN")


def test_arithmetic_stays_in_one_currency():
    assert Money("10.00", "MXN") + Money("0.50", "MXN") == Money("10.50", "MXN")
    assert Money("10.00", "MXN") - Money("0.50", "MXN") == Money("9.50", "MXN")
    assert Money("1.00", "MXN") < Money("1.01", "MXN")
    with pytest.raises(InvalidAmount) as info:
        Money("1.00", "MXN") + Money("1.00", "USD")
    assert info.value.code == "currency_mismatch"


def test_json_carries_a_string():
    assert Money("1234.5", "MXN").to_json() == {"amount": "1234.50", "currency": "MXN"}


@given(
    currency=st.sampled_from(CURRENCIES), units=st.integers(min_value=-(10**15), max_value=10**15)
)
def test_minor_units_round_trip_every_currency(currency, units):
    money = Money.from_minor_units(units, currency)
    assert money.to_minor_units() == units
    assert Money(str(money.amount), currency) == money
    assert -money.amount.as_tuple().exponent == exponent(currency)


@given(
    currency=st.sampled_from(CURRENCIES),
    units=st.integers(min_value=-(10**12), max_value=10**12),
    places=st.integers(min_value=0, max_value=5),
)
def test_kept_exactly_or_refused_never_truncated(currency, units, places):
    value = Decimal(units).scaleb(-places)
    try:
        money = Money(value, currency)
    except InvalidAmount:
        assert places > exponent(currency)
    else:
        assert places <= exponent(currency)
        assert money.amount == value


def test_from_minor_units_with_a_finer_processor_exponent():
    assert Money.from_minor_units(50000, "JPY", exponent_override=2) == Money("500", "JPY")
    with pytest.raises(InvalidAmount):
        Money.from_minor_units(50001, "JPY", exponent_override=2)


@given(
    units=st.integers(min_value=-(10**13), max_value=10**13),
    currency=st.sampled_from(["MXN", "USD", "JPY", "BHD", "CLF"]),
)
def test_minor_units_text_is_the_amounts_decimal_string(units, currency):
    assert Money.minor_units_text(units, currency) == str(
        Money.from_minor_units(units, currency).amount
    )


@pytest.mark.parametrize("digits", [27, 28, 40])
def test_an_amount_with_more_digits_than_a_decimal_holds_is_invalid_not_a_crash(digits):
    """A 27-digit amount once escaped as decimal.InvalidOperation (a 502 to a processor that then
    retried for ever): every amount parsed from any side fails with InvalidAmount."""
    with pytest.raises(InvalidAmount):
        Money("9" * digits, "MXN")
    with pytest.raises(InvalidAmount):
        Money(int("9" * digits), "MXN")
