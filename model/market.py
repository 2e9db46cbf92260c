"""Market-data records: what the md.* topics carry (docs/architecture.md §4).

Conventions for every record here:
- prices and quantities are `Decimal`, quantities in base-asset units (contract size
  already applied by the connector);
- `ts_local` is the receipt time at our side and `ts_exchange` the venue's own event time
  (None when the venue sends none, e.g. Binance spot bookTicker), both integer ms UTC;
- `symbol` is the canonical ccxt unified symbol (`BTC/USDT`, `BTC/USDT:USDT`).

`ts_local` is the replay order: it is the one clock shared by every stream a recorder saw.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Market = Literal["spot", "perp"]
Side = Literal["buy", "sell"]
Level = tuple[Decimal, Decimal]  # (price, quantity)


@dataclass(frozen=True, slots=True, kw_only=True)
class Ticker:
    """Best bid/ask of one instrument on one venue. Invariant: 0 < bid < ask."""

    venue: str
    symbol: str
    market: Market
    bid: Decimal
    ask: Decimal
    bid_qty: Decimal
    ask_qty: Decimal
    last: Decimal | None = None
    mark: Decimal | None = None
    index: Decimal | None = None
    ts_exchange: int | None = None
    ts_local: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderBook:
    """Top-N levels of a book. Bids descending, asks ascending, best bid < best ask.

    `depth` is the N the book was cut to (it may hold fewer levels); `seq` is the venue's
    update id of the last applied diff when it has one.
    """

    venue: str
    symbol: str
    market: Market
    bids: tuple[Level, ...]
    asks: tuple[Level, ...]
    depth: int
    seq: int | None = None
    ts_exchange: int | None = None
    ts_local: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class MarketTrade:
    """One public trade print. `side` is the taker's side."""

    venue: str
    symbol: str
    market: Market
    px: Decimal
    qty: Decimal
    side: Side
    trade_id: str
    ts_exchange: int | None = None
    ts_local: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class FundingRate:
    """Funding of one instrument. `rate` is per interval (not per 8h), as a fraction.

    Spot instruments carry the sentinel `rate == 0`, `next_funding_time == 0`,
    `interval_ms == 0` (docs/architecture.md §3.2). `predicted_rate` is None when the venue gives
    none; it is never 0-as-unknown. `next_funding_time` is integer ms UTC.
    """

    venue: str
    symbol: str
    market: Market
    rate: Decimal
    predicted_rate: Decimal | None = None
    interval_ms: int
    next_funding_time: int
    ts_exchange: int | None = None
    ts_local: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Candle:
    """One closed OHLCV bar `[ts_open, ts_close)` of one instrument on one venue.

    Invariants: `0 < low <= min(open, close)`, `high >= max(open, close)`, `volume >= 0`,
    `interval_ms > 0`, `ts_close == ts_open + interval_ms`, and `ts_local >= ts_close`: a
    bar is only known once it has closed, so publishing it at `ts_close` (as the history
    converters do) carries no look-ahead. Prices are in the quote currency. `volume` is in
    the venue's own unit as the venue (or ccxt) reports it — base units for spot and linear
    perps, for inverse perps whatever the venue counts (contracts or base); it is not
    converted, so compare volumes only within one venue and market.
    """

    venue: str
    symbol: str
    market: Market
    interval_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    ts_open: int
    ts_close: int
    ts_local: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenInterest:
    """Open interest in base units; `value` is the quote-currency value when given."""

    venue: str
    symbol: str
    market: Market
    open_interest: Decimal
    value: Decimal | None = None
    ts_exchange: int | None = None
    ts_local: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Liquidation:
    """A forced-liquidation print. `side` is the side of the liquidation order."""

    venue: str
    symbol: str
    market: Market
    px: Decimal
    qty: Decimal
    side: Side
    ts_exchange: int | None = None
    ts_local: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ClockTick:
    """Stream time (docs/architecture.md §3.9): emitted every 100 ms so timeouts fire without data.

    Live connectors stamp it from the wall clock; replay synthesises it from the data.
    """

    ts: int
    schema_version: int = 1
