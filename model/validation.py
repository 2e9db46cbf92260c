"""Semantic validation of decoded records (the codec checks types; this checks meaning).

`parse_record(topic, data, universe)` is the single entry used by every consumer of a
topic: decode, then validate, returning the record or a `Rejected` with a reason code:
non-positive prices, negative sizes, crossed or unsorted books, timestamps that are not
milliseconds, unknown venues and symbols, impossible funding, inconsistent candles (including
a bar published before it closes). Pure: no I/O, no clock.
"""

import dataclasses
from collections.abc import Iterable
from decimal import Decimal
from typing import Any, Final

from arbflow.model import codec, reasons
from arbflow.model.config import Config, PlausibilityConfig
from arbflow.model.execution import Fill, Order, OrderIntent, PairTrade, VenueEvent
from arbflow.model.market import Candle, FundingRate, Liquidation, MarketTrade, OpenInterest, OrderBook, Ticker
from arbflow.model.plausibility import funding_problem
from arbflow.model.rejected import Rejected
from arbflow.model.signals import BasisPoint, Opportunity
from arbflow.model.symbols import SymbolError, parse_symbol
from arbflow.model.timestamps import classify_timestamp
from arbflow.model.topics import record_type

MAX_FUNDING_RATE_8H: Final = PlausibilityConfig().max_funding_rate_8h  # the default cap (model/plausibility.py)
MIN_FUNDING_INTERVAL_MS: Final = 60_000
MAX_FUNDING_INTERVAL_MS: Final = 86_400_000
_ZERO: Final = Decimal(0)
MAX_MAGNITUDE: Final = Decimal("1e15")  # prices, sizes and notionals; beyond it the record is not a market's

_PRICES: Final[dict[type, tuple[str, ...]]] = {
    Ticker: ("bid", "ask", "last", "mark", "index"),
    MarketTrade: ("px",), Liquidation: ("px",), Fill: ("px",), VenueEvent: ("px",),
    Candle: ("open", "high", "low", "close"), OrderIntent: ("limit_px",), Order: ("limit_px", "avg_px"),
    BasisPoint: ("spot_mid", "perp_mid"), Opportunity: ("long_px", "short_px"),
    PairTrade: ("entry_long_px", "entry_short_px", "exit_long_px", "exit_short_px"),
}
_SIZES: Final[dict[type, tuple[str, ...]]] = {
    Ticker: ("bid_qty", "ask_qty"), OpenInterest: ("open_interest", "value"), Candle: ("volume",),
    OrderIntent: ("qty",), Order: ("qty", "filled_qty"), Fill: ("qty",), VenueEvent: ("qty",),
    PairTrade: ("notional", "qty"), Opportunity: ("notional", "depth_long", "depth_short"),
}
_POSITIVE_SIZES: Final[dict[type, tuple[str, ...]]] = {MarketTrade: ("qty",), Liquidation: ("qty",)}
_INSTRUMENT_TYPES: Final = frozenset({Ticker, OrderBook, MarketTrade, FundingRate, OpenInterest, Liquidation,
                                      Candle, OrderIntent, Order, Fill})


class Universe:
    """The venues and instruments arbflow knows (from `Config`); memoises symbol checks."""

    def __init__(self, venues: Iterable[str], assets: Iterable[str], quotes: Iterable[str], *,
                 max_funding_rate_8h: Decimal = MAX_FUNDING_RATE_8H) -> None:
        self.venues = frozenset(venues)
        self.assets = frozenset(assets)
        self.quotes = frozenset(quotes)
        self.max_funding_rate_8h = max_funding_rate_8h  # plausibility.max_funding_rate_8h
        self._symbols: dict[str, tuple[str, str] | str] = {}

    @classmethod
    def from_config(cls, config: Config) -> "Universe":
        return cls(config.venues, config.universe.assets, config.universe.quotes,
                   max_funding_rate_8h=config.plausibility.max_funding_rate_8h)

    def symbol_market(self, symbol: str) -> tuple[str, str] | str:
        """(market, "") for a known symbol, else the detail of why it is unknown."""
        verdict = self._symbols.get(symbol)
        if verdict is None:
            verdict = self._symbols[symbol] = self._judge(symbol)
        return verdict

    def _judge(self, symbol: str) -> tuple[str, str] | str:
        try:
            instrument = parse_symbol(symbol)
        except SymbolError as error:
            return str(error)
        if instrument.base not in self.assets:
            return f"asset {instrument.base} of {symbol} is not in universe.assets"
        if instrument.quote not in self.quotes:
            return f"quote {instrument.quote} of {symbol} is not in universe.quotes"
        return (instrument.market, "")


def _timestamp_fields(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls) if f.name.startswith("ts") or f.name == "next_funding_time")


_TIMESTAMPS: dict[type, tuple[str, ...]] = {}


def check(record: Any, universe: Universe) -> tuple[str, str] | None:
    """(reason, detail) of the first rule `record` breaks, or None when it is valid."""
    cls = type(record)
    if cls in _INSTRUMENT_TYPES:
        if record.venue not in universe.venues:
            return reasons.UNKNOWN_VENUE, f"venue {record.venue!r} is not configured"
        verdict = universe.symbol_market(record.symbol)
        if type(verdict) is str:
            return reasons.UNKNOWN_SYMBOL, verdict
        market = getattr(record, "market", None)
        if market is not None and verdict[0] != market:
            return reasons.MARKET_MISMATCH, f"{record.symbol} is {verdict[0]}, record says {market}"
    for name in _PRICES.get(cls, ()):
        value = getattr(record, name)
        if value is not None and value <= _ZERO:
            return reasons.NON_POSITIVE_PRICE, f"{name} = {value} is not > 0"
        if value is not None and value > MAX_MAGNITUDE:
            return reasons.VALUE_OUT_OF_RANGE, f"{name} = {value} is above {MAX_MAGNITUDE:f}"
    for name in _SIZES.get(cls, ()):
        value = getattr(record, name)
        if value is not None and value < _ZERO:
            return reasons.NEGATIVE_SIZE, f"{name} = {value} is negative"
        if value is not None and value > MAX_MAGNITUDE:
            return reasons.VALUE_OUT_OF_RANGE, f"{name} = {value} is above {MAX_MAGNITUDE:f}"
    for name in _POSITIVE_SIZES.get(cls, ()):
        value = getattr(record, name)
        if value > MAX_MAGNITUDE:
            return reasons.VALUE_OUT_OF_RANGE, f"{name} = {value} is above {MAX_MAGNITUDE:f}"
        if value < _ZERO:
            return reasons.NEGATIVE_SIZE, f"{name} = {value} is negative"
        if value == _ZERO:
            return reasons.ZERO_SIZE, f"{name} is 0"
    names = _TIMESTAMPS.get(cls)
    if names is None:
        names = _TIMESTAMPS[cls] = _timestamp_fields(cls)
    for name in names:
        value = getattr(record, name)
        if value is not None and not (value == 0 and name == "next_funding_time"):
            unit = classify_timestamp(value)
            if unit is not None:
                return unit, f"{name} = {value} is not milliseconds since the epoch"
    if cls is Ticker and record.bid >= record.ask:
        return reasons.CROSSED_BOOK, f"bid {record.bid} >= ask {record.ask}"
    if cls is OrderBook:
        return _check_book(record)
    if cls is FundingRate:
        return _check_funding(record, universe.max_funding_rate_8h)
    if cls is Candle:
        return _check_candle(record)
    return None


def _check_book(book: OrderBook) -> tuple[str, str] | None:
    for side, levels, descending in (("bids", book.bids, True), ("asks", book.asks, False)):
        previous = None
        for i, (px, qty) in enumerate(levels):
            if px <= _ZERO:
                return reasons.NON_POSITIVE_PRICE, f"{side}[{i}] price {px} is not > 0"
            if px > MAX_MAGNITUDE or qty > MAX_MAGNITUDE:
                return reasons.VALUE_OUT_OF_RANGE, f"{side}[{i}] {px} × {qty} is above {MAX_MAGNITUDE:f}"
            if qty < _ZERO:
                return reasons.NEGATIVE_SIZE, f"{side}[{i}] quantity {qty} is negative"
            if previous is not None and (px >= previous if descending else px <= previous):
                return reasons.UNSORTED_BOOK, f"{side}[{i}] price {px} is out of order"
            previous = px
    if book.bids and book.asks and book.bids[0][0] >= book.asks[0][0]:
        return reasons.CROSSED_BOOK, f"best bid {book.bids[0][0]} >= best ask {book.asks[0][0]}"
    if book.depth < 1 or len(book.bids) > book.depth or len(book.asks) > book.depth:
        return reasons.INVALID_VALUE, f"depth {book.depth} is < 1 or below the number of levels"
    return None


def _check_funding(funding: FundingRate, max_rate_8h: Decimal) -> tuple[str, str] | None:
    if funding.market == "spot":
        if funding.rate != _ZERO or funding.next_funding_time != 0 or funding.interval_ms != 0 \
                or funding.predicted_rate is not None:
            return reasons.INVALID_SENTINEL, "spot funding must be rate 0, interval 0, next_funding_time 0"
        return None
    if not MIN_FUNDING_INTERVAL_MS <= funding.interval_ms <= MAX_FUNDING_INTERVAL_MS:
        return reasons.IMPOSSIBLE_INTERVAL, f"interval_ms {funding.interval_ms} is outside 1 min .. 24 h"
    for name in ("rate", "predicted_rate"):
        problem = funding_problem(name, getattr(funding, name), funding.interval_ms, max_rate_8h)
        if problem is not None:
            return reasons.IMPOSSIBLE_RATE, problem
    if funding.next_funding_time == 0:
        return reasons.INVALID_SENTINEL, "a perp needs next_funding_time (0 is the spot sentinel)"
    return None


def _check_candle(candle: Candle) -> tuple[str, str] | None:
    if candle.high < max(candle.open, candle.close):
        return reasons.INCONSISTENT_CANDLE, f"high {candle.high} is below open {candle.open} or close {candle.close}"
    if candle.low > min(candle.open, candle.close):
        return reasons.INCONSISTENT_CANDLE, f"low {candle.low} is above open {candle.open} or close {candle.close}"
    if candle.interval_ms <= 0 or candle.ts_close != candle.ts_open + candle.interval_ms:
        return reasons.INCONSISTENT_CANDLE, (f"ts_close {candle.ts_close} is not ts_open {candle.ts_open} + "
                                             f"interval_ms {candle.interval_ms} (> 0)")
    if candle.ts_local < candle.ts_close:
        return reasons.INCONSISTENT_CANDLE, f"ts_local {candle.ts_local} is before the bar closes at {candle.ts_close}"
    return None


def parse_record(topic: str, data: bytes | str, universe: Universe, *, source: str | None = None) -> Any:
    """Decode and validate one message of `topic`: the record, or a `Rejected`."""
    where = source or topic
    try:
        cls = record_type(topic)
    except KeyError:
        return codec.reject(reasons.UNKNOWN_TOPIC, f"no record type for topic {topic!r}", source=where, raw=data)
    record = codec.decode(cls, data, source=where)
    if type(record) is Rejected or cls is Rejected:
        return record
    problem = check(record, universe)
    if problem is None:
        return record
    return codec.reject(problem[0], problem[1], source=where, raw=data, ts=_event_ts(record))


def _event_ts(record: Any) -> int | None:
    for name in ("ts_local", "ts", "ts_exchange"):
        value = getattr(record, name, None)
        if type(value) is int:
            return value
    return None
