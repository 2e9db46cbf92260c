"""What every venue parser shares: the payload error, field readers, and a sequenced book.

Venue modules (`connectors/venues/<venue>.py`) may not import each other, so the pieces
they all need live here: `PayloadError` (a reason code from `model.reasons`, a detail and
the topic the record was meant for), readers that turn a venue's decimal strings — or, in
JSON decoded with `parse_float=Decimal`, its numbers — into `Decimal` without floats, and
`SequencedBook`, an `L2Book` in venue units that also keeps each level's text exactly as
sent (for checksums) and counts gaps, checksum failures and crossings.

Units: prices in the quote currency; quantities in the venue's unit until `QtyScale`
turns them into base units (contracts × size, or USD contracts ÷ price for inverse).
"""

import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any, Literal

from arbflow.connectors.book import L2Book
from arbflow.model import reasons, topics
from arbflow.model.market import Market, OrderBook
from arbflow.model.money import MAX_EXPONENT, DecimalTextError, parse_decimal, plain_decimal, ratio, venue_decimal
from arbflow.model.symbols import SymbolError, VenueSymbol, from_venue

QtyScale = Callable[[Decimal, Decimal], Decimal]  # (price, venue qty) → base qty
Out = tuple[str, Any]  # (topic, record)
TextLevel = tuple[Decimal, Decimal, str, str]  # price, qty (venue units), both as sent
UNROUTED = topics.DLQ_REPLAY.removeprefix(topics.DLQ_PREFIX)  # a message that fits no topic → dlq.replay


class PayloadError(Exception):
    """A payload that cannot become a record; `reason` is a code from model.reasons and
    `topic` the topic the record was meant for (its dead letter goes to `dlq.<topic>`).

    Raised, it rejects the whole message; returned as `(topic, error)` among a feed's
    outputs, it rejects one item of a list (`raw` is then that item's text). A parser
    that cannot know the topic leaves it empty for its caller to fill in."""

    def __init__(self, reason: str, detail: str, topic: str = "", raw: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.topic, self.raw = reason, detail, topic, raw


# MAX_EXPONENT (model.money): no venue sends |x| >= 1e31 or a non-zero |x| < 1e-30 (see `in_range`)
MAX_INT = 2**63 - 1  # what the codec (orjson) can write


def in_range(value: Decimal, where: str, topic: str) -> Decimal:
    """`value` unless its magnitude is absurd: `|x| >= 1e31`, or non-zero `|x| < 1e-30`.
    Such numbers are no price or size, and arithmetic on them overflows the decimal
    context (`qty × contract size`) or, turned into an int, takes minutes
    (`int(Decimal("1e999999999"))`); refused with INVALID_NUMBER."""
    if value and not -MAX_EXPONENT <= value.adjusted() <= MAX_EXPONENT:
        raise PayloadError(reasons.INVALID_NUMBER, f"{where}: {value} is out of range", topic)
    return value


def money(value: Any, where: str, topic: str) -> Decimal:
    """A decimal string, a JSON integer or a JSON number decoded as Decimal → `Decimal`.
    Booleans, floats and anything else are refused (never `Decimal(a_float)`); so are
    magnitudes outside `in_range`. Texts go through the shared cache
    (`model.money.plain_decimal`): a hit is a text already read and range-checked."""
    if type(value) is str:
        read = plain_decimal(value)
        if read is not None:
            return read
        try:  # the checked reading says why not
            return in_range(venue_decimal(value), where, topic)
        except DecimalTextError as error:
            reason = reasons.NON_FINITE if error.non_finite else reasons.INVALID_NUMBER
            raise PayloadError(reason, f"{where}: {value!r}", topic) from None
    if type(value) is int:
        return in_range(Decimal(value), where, topic)
    if type(value) is Decimal:
        if not value.is_finite():
            raise PayloadError(reasons.NON_FINITE, f"{where}: {value}", topic)
        return in_range(value, where, topic)
    reason = reasons.MISSING_FIELD if value is None else reasons.WRONG_TYPE
    raise PayloadError(reason, f"{where}: expected a decimal, got {type(value).__name__}", topic)


def text(value: Any) -> str:
    """The number as the venue wrote it (JSON numbers were decoded to exact Decimals)."""
    return value if type(value) is str else str(value)


def integer(value: Any, where: str, topic: str) -> int:
    """An integer sent as a JSON integer or a decimal-digit string, within 64 bits."""
    if type(value) is str and value.isascii() and value.isdigit() and len(value) <= 19:
        value = int(value)
    if type(value) is int:
        if not -MAX_INT <= value <= MAX_INT:
            raise PayloadError(reasons.INVALID_NUMBER, f"{where}: {value} is out of the 64-bit range", topic)
        return value
    reason = reasons.MISSING_FIELD if value is None else reasons.WRONG_TYPE
    raise PayloadError(reason, f"{where}: expected an integer, got {value!r}", topic)


def ms(value: Any, where: str, topic: str, unit: str = "ms") -> int:
    """A venue timestamp in `unit` (`s`, `ms`, `us`, `ns`; int, digit string or a
    fractional string such as Gate's `"1619093543708.2642"`) → integer ms, truncated."""
    if type(value) is str and "." in value:
        try:
            exact = parse_decimal(value)
        except DecimalTextError:
            raise PayloadError(reasons.INVALID_NUMBER, f"{where}: {value!r}", topic) from None
    elif type(value) is Decimal:
        exact = value
    else:
        exact = Decimal(integer(value, where, topic))
    if not exact.is_finite():
        raise PayloadError(reasons.NON_FINITE, f"{where}: {value!r}", topic)
    in_range(exact, where, topic)
    scale = {"s": Decimal(1000), "ms": Decimal(1), "us": Decimal("0.001"), "ns": Decimal("0.000001")}[unit]
    result = int(exact * scale)
    if not -MAX_INT <= result <= MAX_INT:
        raise PayloadError(reasons.INVALID_NUMBER, f"{where}: {value!r} is out of the 64-bit range", topic)
    return result


def obj(value: Any, where: str, topic: str) -> dict[str, Any]:
    if type(value) is not dict:
        raise PayloadError(reasons.WRONG_TYPE, f"{where}: expected an object", topic)
    return value


def first(value: Any, where: str, topic: str) -> dict[str, Any]:
    """The single object of a one-element `data` list (OKX, Bitget)."""
    if type(value) is not list or len(value) != 1:
        raise PayloadError(reasons.WRONG_TYPE, f"{where}: expected a list of one object", topic)
    return obj(value[0], f"{where}[0]", topic)


def symbol(venue: str, venue_symbol: Any, market: Market, topic: str) -> VenueSymbol:
    """Canonical instrument of a venue symbol; unknown symbols are UNKNOWN_SYMBOL."""
    if type(venue_symbol) is not str:
        raise PayloadError(reasons.MISSING_FIELD, "symbol missing", topic)
    try:
        return from_venue(venue, venue_symbol, market)
    except SymbolError as error:
        raise PayloadError(reasons.UNKNOWN_SYMBOL, str(error), topic) from None


def levels(raw: Any, where: str, topic: str) -> list[TextLevel]:
    """`[[price, qty, …], …]` → levels keeping the texts as sent (extra fields ignored)."""
    if type(raw) is not list:
        raise PayloadError(reasons.MISSING_FIELD, f"{where}: expected a list of [price, quantity]", topic)
    out = []
    for i, level in enumerate(raw):
        if type(level) is not list or len(level) < 2:
            raise PayloadError(reasons.WRONG_TYPE, f"{where}[{i}]: expected [price, quantity]", topic)
        px, qty = money(level[0], f"{where}[{i}].price", topic), money(level[1], f"{where}[{i}].qty", topic)
        if px <= 0 or qty < 0:
            raise PayloadError(reasons.NON_POSITIVE_PRICE if px <= 0 else reasons.NEGATIVE_SIZE,
                               f"{where}[{i}]: {level[0]} x {level[1]}", topic)
        out.append((px, qty, text(level[0]), text(level[1])))
    return out


def contracts(size: Decimal) -> QtyScale:
    """Linear contracts of `size` base units each: base = qty × size."""
    return lambda _price, qty: qty * size


def usd_contracts(face: Decimal) -> QtyScale:
    """Inverse contracts of `face` quote units each: base = qty × face / price. A price
    that is not > 0 has no base quantity: PayloadError(NON_POSITIVE_PRICE)."""

    def scale(price: Decimal, qty: Decimal) -> Decimal:
        if price <= 0:
            raise PayloadError(reasons.NON_POSITIVE_PRICE, f"price {price}: no base quantity for inverse contracts")
        return ratio(qty * face, price)

    return scale


def interleaved_crc32(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """OKX/Bitget book checksum: `bid1px:bid1sz:ask1px:ask1sz:bid2…` over the levels given
    (the top 25 per side; a shorter side just ends), CRC32 as a signed 32-bit integer."""
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts += bids[i]
        if i < len(asks):
            parts += asks[i]
    value = zlib.crc32(":".join(parts).encode())
    return value - (1 << 32) if value >= 1 << 31 else value


class SequencedBook:
    """One instrument's book in venue units, with the texts of each level and the failure
    counters. The venue decides *when* to load, apply, check and drop; a dropped book
    publishes nothing until `load` is called again (the next snapshot).

    Counters: `gaps` (sequence breaks), `checksum` (mismatches), `crossed` (best bid >=
    best ask after an update), `unsynced` (updates that arrived while there was no book).
    """

    def __init__(self, *, venue: str, symbol: str, market: Market, depth: int, scale: QtyScale | None = None) -> None:
        self.venue, self.symbol, self.market, self.depth, self.scale = venue, symbol, market, depth, scale
        self.book = L2Book()
        self._text: tuple[dict[Decimal, tuple[str, str]], dict[Decimal, tuple[str, str]]] = ({}, {})
        self.synced = False
        self.seq: int | None = None
        self.gaps = self.checksum = self.crossed = self.unsynced = 0

    def load(self, bids: Iterable[TextLevel], asks: Iterable[TextLevel], seq: int | None = None) -> None:
        self.book.clear()
        self._text[0].clear()
        self._text[1].clear()
        self.synced, self.seq = True, seq
        self.apply(bids, asks, seq)

    def apply(self, bids: Iterable[TextLevel], asks: Iterable[TextLevel], seq: int | None = None) -> None:
        """Set each level (quantity 0 deletes it); `seq` becomes the book's sequence."""
        sides = (list(bids), list(asks))
        for texts, side in zip(self._text, sides, strict=True):
            for px, qty, px_text, qty_text in side:
                if qty == 0:
                    texts.pop(px, None)
                else:
                    texts[px] = (px_text, qty_text)
        self.book.apply([(px, qty) for px, qty, _, _ in sides[0]], [(px, qty) for px, qty, _, _ in sides[1]])
        if seq is not None:
            self.seq = seq

    def crc32(self, count: int = 25) -> int:
        bids, asks = self.book.top(count)
        return interleaved_crc32([self._text[0][px] for px, _ in bids], [self._text[1][px] for px, _ in asks])

    def drop(self, kind: Literal["gap", "checksum", "crossed"]) -> None:
        """Forget the book after a `gap`, a `checksum` mismatch or a `crossed` book."""
        if kind == "gap":
            self.gaps += 1
        elif kind == "checksum":
            self.checksum += 1
        else:
            self.crossed += 1
        self.book.clear()
        self._text[0].clear()
        self._text[1].clear()
        self.synced, self.seq = False, None

    def emit(self, ts_exchange: int | None, ts_local: int) -> list[OrderBook]:
        """The top-N book in base units, or nothing (and a `crossed` drop) if it crossed."""
        if self.book.crossed():
            self.drop("crossed")
            return []
        bids, asks = self.book.top(self.depth)
        if self.scale is not None:
            scale = self.scale
            bids = tuple((px, scale(px, qty)) for px, qty in bids)
            asks = tuple((px, scale(px, qty)) for px, qty in asks)
        return [OrderBook(venue=self.venue, symbol=self.symbol, market=self.market, bids=bids, asks=asks,
                          depth=self.depth, seq=self.seq, ts_exchange=ts_exchange, ts_local=ts_local)]


def book_counts(books: Iterable[Any]) -> Counter[str]:
    """Summed book counters of a feed; updates still buffered at the end (no snapshot
    came) count as unsynced."""
    books = list(books)
    counts = Counter({name: sum(getattr(b, name) for b in books) for name in ("gaps", "checksum", "crossed",
                                                                              "unsynced")})
    counts["unsynced"] += sum(len(getattr(b, "buffer", ())) for b in books)  # only venues that buffer
    return counts
