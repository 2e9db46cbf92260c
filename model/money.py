"""Exact decimal helpers. Money is `Decimal` end to end; strings on the wire.

All arithmetic that can be inexact (division) goes through `MONEY`, a fixed context with
34 significant digits (IEEE decimal128) that traps invalid operations and division by
zero, so results do not depend on a thread's ambient context. Rounding to a venue's tick
and lot happens only at the venue boundary, through `round_to_tick` / `round_to_lot`.
"""

import re
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)
from typing import Literal

MONEY = Context(prec=34, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation, DivisionByZero, Overflow])
ZERO = Decimal(0)
ONE = Decimal(1)
TWO = Decimal(2)
BPS_PER_UNIT = Decimal(10_000)

_DECIMAL_TEXT = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?", re.ASCII)


class DecimalTextError(ValueError):
    """A decimal string that is not a finite plain number. `non_finite` tells which."""

    def __init__(self, text: str, *, non_finite: bool) -> None:
        super().__init__(text)
        self.non_finite = non_finite


def parse_decimal(text: str) -> Decimal:
    """Parse a wire decimal: optional minus, digits, optional fraction and exponent.

    Stricter than `Decimal()`, which also takes whitespace, underscores, a leading `+`
    and non-ASCII digits; NaN/Infinity raise `DecimalTextError(non_finite=True)`.
    """
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DecimalTextError(text, non_finite=False) from None
    if not value.is_finite():
        raise DecimalTextError(text, non_finite=True)
    suspicious = not text.isascii() or "_" in text or text[0] == "+" or text != text.strip()
    if suspicious and _DECIMAL_TEXT.fullmatch(text) is None:
        raise DecimalTextError(text, non_finite=False)
    return value


def mid(bid: Decimal, ask: Decimal) -> Decimal:
    """Arithmetic mid price `(bid + ask) / 2`, exact for venue prices."""
    return MONEY.divide(MONEY.add(bid, ask), TWO)


def ratio(numerator: Decimal, denominator: Decimal) -> Decimal:
    """`numerator / denominator` in the money context (34 digits, half-even)."""
    return MONEY.divide(numerator, denominator)


def to_bps(fraction: Decimal) -> Decimal:
    """A fraction expressed in basis points (× 10⁴), exact."""
    return MONEY.multiply(fraction, BPS_PER_UNIT)


def round_to_tick(price: Decimal, tick: Decimal, side: Literal["buy", "sell"]) -> Decimal:
    """Round a limit price to the venue tick, never to a worse price for us.

    Buys round down, sells round up, so rounding never makes an order more aggressive.
    """
    steps = MONEY.divide(price, tick).to_integral_value(rounding=ROUND_FLOOR if side == "buy" else ROUND_CEILING)
    return MONEY.multiply(steps, tick).quantize(tick)


def round_to_lot(qty: Decimal, lot: Decimal) -> Decimal:
    """Round a quantity down to the venue lot (ROUND_DOWN: never trade more than asked)."""
    return (MONEY.divide_int(qty, lot) * lot).quantize(lot, rounding=ROUND_DOWN)


def is_dust(qty: Decimal, min_qty: Decimal) -> bool:
    """Quantities below the venue's `min_qty` count as zero (docs/architecture.md §3.1)."""
    return abs(qty) < min_qty


def venue_decimal(text: str) -> Decimal:
    """A venue's decimal string without trailing fractional zeros (`"61837.63000000"` →
    `61837.63`); the value is unchanged, only the written precision is dropped. Texts with
    a sign or an exponent keep them as written (`"-0.000"` → `-0`, `"1.50E+5"` → `1.50E+5`).

    The common venue form — ASCII digits with at most one point — is read with one
    `Decimal()` of the trimmed text; anything else goes through `parse_decimal`."""
    if text.isascii() and not text.strip("0123456789."):
        head, point, tail = text.partition(".")
        if point:
            if not head and not tail:
                raise DecimalTextError(text, non_finite=False)  # "." alone
            tail = tail.rstrip("0")
            text_trimmed = f"{head}.{tail}" if tail else (head or "0")
        else:
            text_trimmed = text
        try:
            return Decimal(text_trimmed)
        except InvalidOperation:  # "", "1.2.3"
            raise DecimalTextError(text, non_finite=False) from None
    value = parse_decimal(text)
    if "." in text and "e" not in text and "E" not in text:
        trimmed = text.rstrip("0").rstrip(".")
        return Decimal(trimmed if trimmed not in ("", "-") else "0")
    return value


# -- the venue-text cache: repeated price/size texts → Decimal ---------------------------
#
# Book prices and sizes repeat from message to message; a dict lookup costs a fraction of
# reading the text again, and Decimals are immutable, so sharing one is safe. The venue
# parsers look `PLAIN_DECIMALS` up inline in their loops and call `plain_decimal` only on
# a miss. Invariant: every entry is `text → venue_decimal(text)` (same sign, digits and
# exponent, so the text round-trip is the same as without the cache) for a finite value
# whose magnitude is in range (zero, or `MAX_EXPONENT` ≥ adjusted exponent ≥
# −`MAX_EXPONENT`): a hit needs no further check.
#
# A text enters `PLAIN_DECIMALS` on its second read: the first one keeps it in the small
# `_SEEN_ONCE` (cleared when full). Sizes are often new texts that never come back (a
# quarter to a third of Binance's); they would push the repeating prices out and make the
# dict big and slow (cache misses). Both are bounded; a full `PLAIN_DECIMALS` drops its
# older half.

MAX_EXPONENT = 30  # no venue sends |x| >= 1e31 or a non-zero |x| < 1e-30
PLAIN_DECIMALS: dict[str, Decimal] = {}
PLAIN_DECIMALS_MAX = 65_536
_SEEN_ONCE: dict[str, Decimal] = {}
_SEEN_ONCE_MAX = 16_384


def in_range(value: Decimal) -> bool:
    """True for zero and for magnitudes within 1e-30 … < 1e31 (see `MAX_EXPONENT`)."""
    return not value or -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT


def plain_decimal(text: object) -> Decimal | None:
    """`venue_decimal(text)` through the bounded cache when `text` is a decimal text whose
    value is in range (`in_range`); None for anything else — not a text, not a number,
    non-finite, absurd — so the caller's checked reading says why (nothing is kept then)."""
    if type(text) is not str:
        return None
    value = PLAIN_DECIMALS.get(text)
    if value is not None:
        return value
    return plain_decimal_miss(text)


def plain_decimal_miss(text: str) -> Decimal | None:
    """`plain_decimal` for a text its caller already looked up in `PLAIN_DECIMALS` and
    did not find (the hot loops do the lookup inline); `text` must be a `str`."""
    value = _SEEN_ONCE.pop(text, None)
    if value is not None:  # the second read: keep it
        if len(PLAIN_DECIMALS) >= PLAIN_DECIMALS_MAX:  # full: keep the newer half (in place)
            newer = list(PLAIN_DECIMALS.items())[PLAIN_DECIMALS_MAX // 2:]
            PLAIN_DECIMALS.clear()
            PLAIN_DECIMALS.update(newer)
        PLAIN_DECIMALS[text] = value
        return value
    digits = text.replace(".", "", 1)
    if text.isascii() and digits.isdigit():
        # venue_decimal's common case inlined (a miss costs as much as the rest of a message):
        # ASCII digits and at most one point; trailing fractional zeros dropped — "3.7800"
        # reads "3.78", "100.00" reads "100." (= 100), ".000" is left to venue_decimal
        try:
            value = Decimal(text.rstrip("0") if text[-1] == "0" and len(digits) != len(text) else text)
        except InvalidOperation:  # only "." was left: ".000"
            value = venue_decimal(text)
        # ≤ 31 characters: at most 31 integer digits and 29 zeros after the point, in range
        if len(text) > 31 and value and not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
            return None
    else:
        try:
            value = venue_decimal(text)
        except DecimalTextError:
            return None
        if value and not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
            return None
    if len(_SEEN_ONCE) >= _SEEN_ONCE_MAX:
        _SEEN_ONCE.clear()
    _SEEN_ONCE[text] = value
    return value


def clear_plain_decimals() -> None:
    """Empty the cache (a benchmark pass starts cold, as a new feed does)."""
    PLAIN_DECIMALS.clear()
    _SEEN_ONCE.clear()
