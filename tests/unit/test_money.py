"""Exact decimal helpers (model/money.py, docs/architecture.md §3.1)."""

from decimal import Decimal, DivisionByZero

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.model import money
from arbflow.model.money import (
    PLAIN_DECIMALS,
    DecimalTextError,
    is_dust,
    mid,
    parse_decimal,
    plain_decimal,
    ratio,
    round_to_lot,
    round_to_tick,
    to_bps,
    venue_decimal,
)
from tests.strategies import decimals

EXAMPLES = settings(max_examples=150, deadline=None, database=None)
SELL_BUG = ("BUG model/money.py round_to_tick: sells must round UP to the tick, but "
            "`-MONEY.divide_int(-price, tick)` truncates toward zero, i.e. rounds down (= floor) for positive "
            "prices; use ceiling, e.g. `(price / tick).to_integral_value(rounding=ROUND_CEILING)` in MONEY")

# -- parse_decimal ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("1", (0, (1,), 0)),
    ("-1.5", (1, (1, 5), -1)),
    ("1E+2", (0, (1,), 2)),
    ("1e-8", (0, (1,), -8)),
    (".5", (0, (5,), -1)),
    ("5.", (0, (5,), 0)),
    ("0", (0, (0,), 0)),
    ("-0", (1, (0,), 0)),
    ("0.00000000", (0, (0,), -8)),
    ("61837.63000000", (0, (6, 1, 8, 3, 7, 6, 3, 0, 0, 0, 0, 0, 0), -8)),
])
def test_parse_decimal_returns_exact_value_when_text_is_a_plain_number(
        text: str, expected: tuple[int, tuple[int, ...], int]) -> None:
    assert parse_decimal(text).as_tuple() == expected


@pytest.mark.parametrize("text", [
    " 1", "1 ", "\t1", "1\n",  # whitespace
    "1_000", "1_0",  # underscores
    "+1", "+1.5",  # leading plus
    "١٢", "１", "٣.٥",  # non-ASCII digits (Arabic-Indic, full-width)
    "abc", "", "1.2.3", "--1", "1e", "e5", "0x10", "1,5", ".", "-",
])
def test_parse_decimal_raises_when_text_is_not_a_plain_number(text: str) -> None:
    with pytest.raises(DecimalTextError) as raised:
        parse_decimal(text)
    assert raised.value.non_finite is False


@pytest.mark.parametrize("text", ["NaN", "nan", "-NaN", "sNaN", "Infinity", "-Infinity", "inf", "-inf", "Inf"])
def test_parse_decimal_raises_non_finite_when_text_is_nan_or_infinity(text: str) -> None:
    with pytest.raises(DecimalTextError) as raised:
        parse_decimal(text)
    assert raised.value.non_finite is True


@EXAMPLES
@given(value=st.decimals(allow_nan=False, allow_infinity=False))
def test_parse_decimal_reads_back_str_when_value_is_any_finite_decimal(value: Decimal) -> None:
    assert parse_decimal(str(value)).as_tuple() == value.as_tuple()


# -- venue_decimal ----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("61837.63000000", (0, (6, 1, 8, 3, 7, 6, 3), -2)),
    ("0.00000000", (0, (0,), 0)),
    ("100.00", (0, (1, 0, 0), 0)),
    ("100", (0, (1, 0, 0), 0)),
    ("0.50", (0, (5,), -1)),
    (".500", (0, (5,), -1)),
    ("-0.500", (1, (5,), -1)),
    ("-0.000", (1, (0,), 0)),
    ("1.50E+5", (0, (1, 5, 0), 3)),  # exponent strings are left as written
    ("2.5000e-3", (0, (2, 5, 0, 0, 0), -7)),
    ("1E+2", (0, (1,), 2)),
])
def test_venue_decimal_drops_trailing_fraction_zeros_when_text_has_a_point(
        text: str, expected: tuple[int, tuple[int, ...], int]) -> None:
    assert venue_decimal(text).as_tuple() == expected


@pytest.mark.parametrize("text", ["abc", "NaN", " 1.0", "1_0.0"])
def test_venue_decimal_raises_when_text_is_not_a_plain_number(text: str) -> None:
    with pytest.raises(DecimalTextError):
        venue_decimal(text)


@EXAMPLES
@given(value=decimals("-1000000", "1000000"))
def test_venue_decimal_keeps_the_value_when_fraction_zeros_are_dropped(value: Decimal) -> None:
    assert venue_decimal(str(value)) == value


def _reference_venue_decimal(text: str) -> Decimal:
    """venue_decimal as it was before its fast path: parse, then drop trailing fraction zeros."""
    value = parse_decimal(text)
    if "." in text and "e" not in text and "E" not in text:
        trimmed = text.rstrip("0").rstrip(".")
        return Decimal(trimmed if trimmed not in ("", "-") else "0")
    return value


def _outcome(read: object, text: str) -> object:
    try:
        value = read(text)  # type: ignore[operator]
    except DecimalTextError as error:
        return ("error", error.non_finite)
    return None if value is None else value.as_tuple()


# texts made of what venues send and what they must not: digits, points, signs, exponents,
# blanks, underscores, a non-ASCII digit, NaN/Infinity
WIRE_TEXTS = st.one_of(
    st.text(alphabet="0123456789.-+eE _٣", max_size=12),
    st.sampled_from(["-0", "-0.000", "0.00000000", ".0", ".", "5.", "1.2.3", "1.5.", "00.0", "1E+2", "1.50E+5",
                     "2.5000e-3", "NaN", "-Infinity", "1e31", "1e-31", "9" * 40 + ".10"]),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.builds(lambda d, zeros: f"{d:f}" + ("" if "." in f"{d:f}" else ".") + "0" * zeros,
              st.decimals(min_value=0, max_value=10**9, places=4), st.integers(0, 8)),
)


@settings(max_examples=2000, deadline=None, database=None)
@given(text=WIRE_TEXTS)
def test_venue_decimal_fast_path_reads_every_text_as_the_reference_does(text: str) -> None:
    assert _outcome(venue_decimal, text) == _outcome(_reference_venue_decimal, text)


@settings(max_examples=1000, deadline=None, database=None)
@given(text=WIRE_TEXTS)
def test_plain_decimal_gives_venue_decimal_exactly_cold_and_cached(text: str) -> None:
    money.clear_plain_decimals()
    cold = _outcome(plain_decimal, text)
    try:
        reference = _reference_venue_decimal(text)
    except DecimalTextError:
        assert cold is None  # not a number: the caller's checked reading says why
    else:
        assert cold == (reference.as_tuple() if money.in_range(reference) else None)
    assert _outcome(plain_decimal, text) == cold  # the second read, from the seen-once dict when kept
    assert _outcome(plain_decimal, text) == cold  # the third, from the cache when kept
    if text in PLAIN_DECIMALS:  # only in-range values are kept: a hit needs no further check
        assert money.in_range(PLAIN_DECIMALS[text])


@pytest.mark.parametrize(("text", "expected"), [
    ("-0", (1, (0,), 0)),
    ("-0.000", (1, (0,), 0)),
    ("0.00000000", (0, (0,), 0)),
    ("1.50E+5", (0, (1, 5, 0), 3)),
    ("61837.63000000", (0, (6, 1, 8, 3, 7, 6, 3), -2)),
    ("100.00", (0, (1, 0, 0), 0)),
])
def test_plain_decimal_keeps_sign_of_zero_exponent_and_drops_only_fraction_zeros(
        text: str, expected: tuple[int, tuple[int, ...], int]) -> None:
    money.clear_plain_decimals()
    assert plain_decimal(text).as_tuple() == expected
    assert plain_decimal(text).as_tuple() == expected
    assert PLAIN_DECIMALS[text].as_tuple() == expected
    assert plain_decimal(text) is PLAIN_DECIMALS[text]


@pytest.mark.parametrize("text", ["1e31", "0.0000000000000000000000000000001", "1" * 32 + ".5", "NaN", "abc", "",
                                  " 1.5", "1.5.", "."])
def test_plain_decimal_leaves_absurd_magnitudes_and_non_numbers_to_the_checked_reading(text: str) -> None:
    money.clear_plain_decimals()
    for _ in range(2):
        assert plain_decimal(text) is None
    assert plain_decimal(None) is None and plain_decimal(15) is None
    assert len(PLAIN_DECIMALS) == len(money._SEEN_ONCE) == 0


def test_plain_decimal_keeps_a_text_from_its_second_read_and_stays_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(money, "PLAIN_DECIMALS_MAX", 8)
    monkeypatch.setattr(money, "_SEEN_ONCE_MAX", 4)
    money.clear_plain_decimals()
    first = plain_decimal("1.50")
    assert "1.50" not in PLAIN_DECIMALS  # read once: not kept yet
    assert plain_decimal("1.50") is first and PLAIN_DECIMALS["1.50"] is first
    for i in range(5):  # five texts read once: the seen-once dict (4) was emptied on the way
        plain_decimal(f"2.{i}")
    assert len(money._SEEN_ONCE) <= 4 and "2.0" not in PLAIN_DECIMALS
    for i in range(9):  # nine kept texts in a cache of 8: the older half goes
        plain_decimal(f"{i}.50")
        plain_decimal(f"{i}.50")
    assert list(PLAIN_DECIMALS) == ["4.50", "5.50", "6.50", "7.50", "8.50"]
    money.clear_plain_decimals()


# -- round_to_tick ----------------------------------------------------------------------


@pytest.mark.parametrize(("price", "tick", "expected"), [
    ("100.37", "0.05", "100.35"),
    ("61837.63", "0.5", "61837.5"),
    ("100.3", "1", "100"),
    ("0.123", "0.01", "0.12"),
    ("0.00012349", "0.0000001", "0.0001234"),
])
def test_round_to_tick_rounds_down_when_side_is_buy(price: str, tick: str, expected: str) -> None:
    result = round_to_tick(Decimal(price), Decimal(tick), "buy")
    assert result == Decimal(expected)
    assert result.as_tuple().exponent == Decimal(tick).as_tuple().exponent  # written at the tick's precision


@pytest.mark.parametrize(("price", "tick", "expected"), [
    ("100.37", "0.05", "100.40"),
    ("61837.63", "0.5", "61838.0"),
    ("100.3", "1", "101"),
    ("0.123", "0.01", "0.13"),
    ("0.00012341", "0.0000001", "0.0001235"),
])
def test_round_to_tick_rounds_up_when_side_is_sell(price: str, tick: str, expected: str) -> None:
    result = round_to_tick(Decimal(price), Decimal(tick), "sell")
    assert result == Decimal(expected), f"{SELL_BUG}: sell {price} at tick {tick} gave {result}"


@pytest.mark.parametrize("side", ["buy", "sell"])
@pytest.mark.parametrize(("price", "tick"), [("100.35", "0.05"), ("61837.5", "0.5"), ("101", "1"),
                                             ("0.12", "0.01"), ("100.350000", "0.05")])
def test_round_to_tick_keeps_the_price_when_it_is_on_a_tick(price: str, tick: str, side: str) -> None:
    assert round_to_tick(Decimal(price), Decimal(tick), side) == Decimal(price)  # type: ignore[arg-type]


TICKS = st.sampled_from([Decimal("0.00001"), Decimal("0.01"), Decimal("0.05"), Decimal("0.5"), Decimal("1"),
                         Decimal("25")])


@EXAMPLES
@given(price=decimals("0.00000001", "10000000"), tick=TICKS)
def test_round_to_tick_never_pays_more_when_side_is_buy(price: Decimal, tick: Decimal) -> None:
    result = round_to_tick(price, tick, "buy")
    assert result <= price
    assert price - result < tick
    assert result % tick == 0


@EXAMPLES
@given(price=decimals("0.00000001", "10000000"), tick=TICKS)
def test_round_to_tick_never_sells_cheaper_when_side_is_sell(price: Decimal, tick: Decimal) -> None:
    result = round_to_tick(price, tick, "sell")
    assert result >= price, f"{SELL_BUG}: sell {price} at tick {tick} gave {result}"
    assert result - price < tick
    assert result % tick == 0


# -- round_to_lot -----------------------------------------------------------------------


@pytest.mark.parametrize(("qty", "lot", "expected"), [
    ("1.2345", "0.01", "1.23"),
    ("1.239", "0.01", "1.23"),  # down, not to nearest
    ("0.0009", "0.001", "0.000"),
    ("5.000", "0.001", "5.000"),
    ("7.9", "1", "7"),
    ("1234", "100", "1200"),
    ("-1.2345", "0.01", "-1.23"),  # toward zero: never more than asked in either direction
])
def test_round_to_lot_rounds_toward_zero_when_qty_is_not_a_whole_lot(qty: str, lot: str, expected: str) -> None:
    assert round_to_lot(Decimal(qty), Decimal(lot)) == Decimal(expected)


LOTS = st.sampled_from([Decimal("0.00000001"), Decimal("0.001"), Decimal("0.01"), Decimal("0.5"), Decimal("1"),
                        Decimal("100")])


@EXAMPLES
@given(qty=decimals("0", "1000000"), lot=LOTS)
def test_round_to_lot_stays_within_one_lot_below_when_qty_is_non_negative(qty: Decimal, lot: Decimal) -> None:
    result = round_to_lot(qty, lot)
    assert result <= qty
    assert qty - result < lot
    assert result % lot == 0


# -- is_dust, mid, ratio, to_bps --------------------------------------------------------


@pytest.mark.parametrize(("qty", "min_qty", "dust"), [
    ("0.0009", "0.001", True),
    ("0.001", "0.001", False),  # exactly min_qty is tradable
    ("0", "0.001", True),
    ("-0.0009", "0.001", True),  # a short remainder is dust too
    ("-0.002", "0.001", False),
    ("5", "0.001", False),
])
def test_is_dust_compares_magnitude_with_min_qty_when_called(qty: str, min_qty: str, dust: bool) -> None:
    assert is_dust(Decimal(qty), Decimal(min_qty)) is dust


@pytest.mark.parametrize(("bid", "ask", "expected"), [
    ("1", "2", "1.5"),
    ("61837.6", "61837.7", "61837.65"),
    ("0.1", "0.2", "0.15"),
    ("1.00000001", "1.00000002", "1.000000015"),
    ("3000", "3000", "3000"),
])
def test_mid_is_exact_when_prices_are_venue_decimals(bid: str, ask: str, expected: str) -> None:
    assert mid(Decimal(bid), Decimal(ask)) == Decimal(expected)


def test_ratio_uses_34_digits_when_division_is_inexact() -> None:
    assert ratio(Decimal(1), Decimal(3)) == Decimal("0." + "3" * 34)


def test_ratio_raises_when_denominator_is_zero() -> None:
    with pytest.raises(DivisionByZero):
        ratio(Decimal(1), Decimal(0))


@pytest.mark.parametrize(("fraction", "expected"), [("0.0012", "12"), ("-0.00005", "-0.5"), ("1", "10000")])
def test_to_bps_multiplies_by_ten_thousand_when_called(fraction: str, expected: str) -> None:
    assert to_bps(Decimal(fraction)) == Decimal(expected)
