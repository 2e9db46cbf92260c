"""ccxt.pro unified structures → md.* records. Pure: no I/O; `ts_local` is an argument.

Inputs are what ccxt returns: tickers (`bid`, `ask`, `bidVolume`, `askVolume`, `last`,
`markPrice`, `indexPrice`, `timestamp`, `info`), order books (`bids`/`asks` as
`[[price, amount], …]`, `nonce`, `timestamp`), trades (`id`, `side`, `price`, `amount`,
`timestamp`, `info`), funding rates (`fundingRate`, `fundingTimestamp`,
`nextFundingRate`, `timestamp`, `info`), open interest (`openInterestAmount` in contracts,
`openInterestValue`, `timestamp`, `info`) and liquidations (`price`, `contracts`, `side`,
`timestamp`, `info`).

Numbers — never `Decimal(a_float)`:
- ticker prices/sizes, trade px/qty, funding rates: the venue's own string from `info`
  where the venue spec (`connectors.feeds.spec`) names it; otherwise (or when the venue
  sent a JSON number) `str()` of ccxt's float, the shortest text that round-trips — exact
  for the ≤ 15-significant-digit decimals venues send;
- order-book levels and the contract size: always `str()` of ccxt's floats (ccxt keeps no
  raw text for book levels).

Units: prices in the quote currency per base unit; quantities in base units =
venue quantity × `contractSize` (ccxt's market; OKX swaps 0.01 BTC per contract) ×
the symbol multiplier (`1000PEPE` → PEPE), prices ÷ the multiplier. Timestamps: ccxt's
`timestamp` (venue time, ms) becomes `ts_exchange`; a value in s/µs/ns is refused with
the `model.timestamps` reason; `ts_local` is the caller's clock.

Failure modes: the builders raise `PayloadError(reason, detail, topic)` with a code from
`model.reasons`; `finish` validates a built record (`model.validation.check`: crossed or
unsorted books, non-positive prices, unknown symbols…) and returns it or a `Rejected`
carrying the raw venue payload.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from arbflow.connectors.payload import PayloadError, money
from arbflow.model import codec, reasons, topics
from arbflow.model.market import FundingRate, Level, Liquidation, Market, MarketTrade, OpenInterest, OrderBook, Ticker
from arbflow.model.money import ratio
from arbflow.model.rejected import Rejected
from arbflow.model.symbols import SymbolError, base_asset, from_venue
from arbflow.model.timestamps import classify_timestamp
from arbflow.model.validation import Universe, check

_ONE = Decimal(1)
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class FeedMarket:
    """One instrument a feed watches: ccxt's symbol, arbflow's canonical one, and the
    factors that turn venue quantities into base units."""

    venue: str
    ccxt_symbol: str
    symbol: str
    market: Market
    contract_size: Decimal = _ONE
    multiplier: Decimal = _ONE

    @property
    def key(self) -> str:
        """The Kafka key: the canonical base asset."""
        return base_asset(self.symbol)


def feed_market(venue: str, ccxt_market: Mapping[str, Any], venue_symbol: str) -> FeedMarket:
    """The `FeedMarket` of a ccxt market; UNKNOWN_SYMBOL when arbflow has no canonical
    symbol for it (dated futures, options, inverse contracts are not ingested)."""
    market: Market = "spot" if ccxt_market.get("spot") else "perp"
    if market == "perp" and not (ccxt_market.get("swap") and ccxt_market.get("linear")):
        raise PayloadError(reasons.UNKNOWN_SYMBOL, f"{ccxt_market.get('symbol')} is not a linear perpetual")
    try:
        resolved = from_venue(venue, venue_symbol, market)
    except SymbolError as error:
        raise PayloadError(reasons.UNKNOWN_SYMBOL, str(error)) from None
    size = _number(ccxt_market.get("contractSize"), "contractSize", "") if market == "perp" else None
    return FeedMarket(venue=venue, ccxt_symbol=str(ccxt_market["symbol"]), symbol=resolved.instrument.symbol,
                      market=market, contract_size=size if size is not None and size > 0 else _ONE,
                      multiplier=resolved.multiplier)


def _number(value: Any, where: str, topic: str) -> Decimal | None:
    """ccxt's number (float or int) as a Decimal through `str()`; None when absent."""
    if value is None:
        return None
    if type(value) is float:
        if not math.isfinite(value):
            raise PayloadError(reasons.NON_FINITE, f"{where}: {value}", topic)
        return money(str(value), where, topic)
    if type(value) is int:
        return Decimal(value)
    raise PayloadError(reasons.WRONG_TYPE, f"{where}: expected a number, got {type(value).__name__}", topic)


def _exact(raw: Any, number: Any, where: str, topic: str) -> Decimal | None:
    """The venue's string when there is one, else ccxt's number (see the module docstring)."""
    if raw is None or raw == "":
        return _number(number, where, topic)
    if type(raw) is float:  # the venue sent a JSON number: its text is gone, str() is exact
        return _number(raw, where, topic)
    return money(raw, where, topic)


def _required(value: Decimal | None, where: str, topic: str) -> Decimal:
    if value is None:
        raise PayloadError(reasons.MISSING_FIELD, f"{where}: missing", topic)
    return value


def _ts(value: Any, where: str, topic: str) -> int | None:
    if value is None:
        return None
    if type(value) is not int:
        raise PayloadError(reasons.WRONG_TYPE, f"{where}: expected integer ms, got {value!r}", topic)
    unit = classify_timestamp(value)
    if unit is not None:
        raise PayloadError(unit, f"{where} = {value} is not milliseconds since the epoch", topic)
    return value


def _qty(m: FeedMarket, qty: Decimal) -> Decimal:
    return qty * m.contract_size * m.multiplier if m.contract_size != _ONE or m.multiplier != _ONE else qty


def _px(m: FeedMarket, px: Decimal) -> Decimal:
    return ratio(px, m.multiplier) if m.multiplier != _ONE else px


def ticker(m: FeedMarket, t: Mapping[str, Any], fields: Mapping[str, Any], ts_local: int) -> Ticker:
    """A ccxt ticker (from `watch_ticker` or `watch_bids_asks`) as a `Ticker`."""
    topic = topics.MD_TICKER

    def value(name: str, unified: str) -> Decimal | None:
        return _exact(fields.get(name), t.get(unified), name, topic)

    bid, ask = _required(value("bid", "bid"), "bid", topic), _required(value("ask", "ask"), "ask", topic)
    bid_qty = _required(value("bid_qty", "bidVolume"), "bid_qty", topic)
    ask_qty = _required(value("ask_qty", "askVolume"), "ask_qty", topic)
    last, mark, index = value("last", "last"), value("mark", "markPrice"), value("index", "indexPrice")
    return Ticker(venue=m.venue, symbol=m.symbol, market=m.market, bid=_px(m, bid), ask=_px(m, ask),
                  bid_qty=_qty(m, bid_qty), ask_qty=_qty(m, ask_qty),
                  last=None if last is None else _px(m, last), mark=None if mark is None else _px(m, mark),
                  index=None if index is None else _px(m, index),
                  ts_exchange=_ts(t.get("timestamp"), "ts_exchange", topic), ts_local=ts_local)


def _levels(m: FeedMarket, raw: Any, depth: int, side: str) -> tuple[Level, ...]:
    topic = topics.MD_BOOK
    if not isinstance(raw, list):
        raise PayloadError(reasons.MISSING_FIELD, f"{side}: expected a list of levels", topic)
    out = []
    for i, level in enumerate(raw[:depth]):
        px = _number(level[0] if isinstance(level, list | tuple) and len(level) >= 2 else None, f"{side}[{i}]", topic)
        qty = _number(level[1], f"{side}[{i}].qty", topic) if px is not None else None
        if px is None or qty is None:
            raise PayloadError(reasons.WRONG_TYPE, f"{side}[{i}]: expected [price, amount]", topic)
        out.append((_px(m, px), _qty(m, qty)))
    return tuple(out)


def book(m: FeedMarket, ob: Mapping[str, Any], depth: int, ts_local: int) -> OrderBook:
    """The top `depth` levels of a ccxt order book as an `OrderBook`; `seq` is ccxt's
    `nonce` (the venue's update id: Binance `u`, OKX `seqId`) when it keeps one."""
    topic = topics.MD_BOOK
    nonce = ob.get("nonce")
    return OrderBook(venue=m.venue, symbol=m.symbol, market=m.market, bids=_levels(m, ob.get("bids"), depth, "bids"),
                     asks=_levels(m, ob.get("asks"), depth, "asks"), depth=depth,
                     seq=nonce if type(nonce) is int else None,
                     ts_exchange=_ts(ob.get("timestamp"), "ts_exchange", topic), ts_local=ts_local)


def ticker_from_book(book_record: OrderBook) -> Ticker | None:
    """Best bid/ask of a published book as a `Ticker` (venues without a BBO channel);
    None while a side is empty."""
    if not book_record.bids or not book_record.asks:
        return None
    (bid, bid_qty), (ask, ask_qty) = book_record.bids[0], book_record.asks[0]
    return Ticker(venue=book_record.venue, symbol=book_record.symbol, market=book_record.market, bid=bid, ask=ask,
                  bid_qty=bid_qty, ask_qty=ask_qty, ts_exchange=book_record.ts_exchange,
                  ts_local=book_record.ts_local)


def trade(m: FeedMarket, tr: Mapping[str, Any], fields: Mapping[str, Any], ts_local: int) -> MarketTrade:
    """A ccxt public trade as a `MarketTrade` (`side` = the taker's, as ccxt reports)."""
    topic = topics.MD_TRADE
    side = tr.get("side")
    if side not in ("buy", "sell"):
        raise PayloadError(reasons.INVALID_VALUE, f"side: {side!r} is not buy or sell", topic)
    trade_id = tr.get("id")
    if trade_id is None or trade_id == "":
        raise PayloadError(reasons.MISSING_FIELD, "id: trade without an id", topic)
    px = _required(_exact(fields.get("px"), tr.get("price"), "px", topic), "px", topic)
    qty = _required(_exact(fields.get("qty"), tr.get("amount"), "qty", topic), "qty", topic)
    return MarketTrade(venue=m.venue, symbol=m.symbol, market=m.market, px=_px(m, px), qty=_qty(m, qty), side=side,
                       trade_id=str(trade_id), ts_exchange=_ts(tr.get("timestamp"), "ts_exchange", topic),
                       ts_local=ts_local)


def funding(m: FeedMarket, fr: Mapping[str, Any], fields: Mapping[str, Any], interval_ms: int,
            ts_local: int) -> FundingRate:
    """A ccxt funding rate as a `FundingRate`: `rate` for the settlement at
    `next_funding_time` (ccxt's `fundingTimestamp`); `predicted_rate` only when the venue
    sends one (its field, else ccxt's `nextFundingRate`), never 0-as-unknown."""
    topic = topics.MD_FUNDING
    rate = _required(_exact(fields.get("rate"), fr.get("fundingRate"), "rate", topic), "rate", topic)
    predicted = _exact(fields.get("predicted_rate"), fr.get("nextFundingRate"), "predicted_rate", topic)
    next_time = _ts(fr.get("fundingTimestamp"), "next_funding_time", topic)
    if next_time is None:
        raise PayloadError(reasons.MISSING_FIELD, "next_funding_time: ccxt gave no fundingTimestamp", topic)
    return FundingRate(venue=m.venue, symbol=m.symbol, market=m.market, rate=rate, predicted_rate=predicted,
                       interval_ms=interval_ms, next_funding_time=next_time,
                       ts_exchange=_ts(fr.get("timestamp"), "ts_exchange", topic), ts_local=ts_local)


def open_interest(m: FeedMarket, oi: Mapping[str, Any], fields: Mapping[str, Any], ts_local: int) -> OpenInterest:
    """A ccxt open-interest structure as an `OpenInterest`: `open_interest` in base units
    (venue contracts × contract size × multiplier, like every size); `value` in the quote
    currency only when the venue spec names a field for it (ccxt's `openInterestValue` may
    be in USD for a USDT market, so it is not used as a fallback)."""
    topic = topics.MD_OI
    amount = _required(_exact(fields.get("open_interest"), oi.get("openInterestAmount"), "open_interest", topic),
                       "open_interest", topic)
    value = _exact(fields.get("value"), None, "value", topic)
    return OpenInterest(venue=m.venue, symbol=m.symbol, market=m.market, open_interest=_qty(m, amount), value=value,
                        ts_exchange=_ts(oi.get("timestamp"), "ts_exchange", topic), ts_local=ts_local)


def liquidation(m: FeedMarket, liq: Mapping[str, Any], fields: Mapping[str, Any], ts_local: int) -> Liquidation:
    """A ccxt liquidation as a `Liquidation`: `side` is the liquidation order's (ccxt's
    `side`), `px` its (average) price, `qty` in base units."""
    topic = topics.MD_LIQUIDATION
    side = fields.get("side") or liq.get("side")
    if side not in ("buy", "sell"):
        raise PayloadError(reasons.INVALID_VALUE, f"side: {side!r} is not buy or sell", topic)
    px = _required(_exact(fields.get("px"), liq.get("price"), "px", topic), "px", topic)
    qty = _required(_exact(fields.get("qty"), liq.get("contracts"), "qty", topic), "qty", topic)
    return Liquidation(venue=m.venue, symbol=m.symbol, market=m.market, px=_px(m, px), qty=_qty(m, qty), side=side,
                       ts_exchange=_ts(liq.get("timestamp"), "ts_exchange", topic), ts_local=ts_local)


def spot_funding(m: FeedMarket, ts_local: int) -> FundingRate:
    """The spot sentinel (docs/architecture.md §3.2): rate 0, interval 0, next_funding_time 0."""
    return FundingRate(venue=m.venue, symbol=m.symbol, market="spot", rate=_ZERO, interval_ms=0,
                       next_funding_time=0, ts_local=ts_local)


def raw_text(value: Any) -> str:
    """The raw payload of a refusal as JSON text (repr when it is not JSON data)."""
    try:
        return codec.dumps(value).decode()
    except (codec.EncodeError, TypeError):
        return repr(value)


def finish(topic: str, record: Any, universe: Universe, *, source: str, raw: Any) -> Any:
    """`record` when it passes `model.validation.check`, else a `Rejected` for dlq.<topic>."""
    problem = check(record, universe)
    if problem is None:
        return record
    return codec.reject(problem[0], problem[1], source=source, raw=raw_text(raw),
                        ts=getattr(record, "ts_local", None))


def rejected(error: PayloadError, *, source: str, raw: Any, ts_local: int) -> Rejected:
    """The dead letter of a payload that could not become a record."""
    return codec.reject(error.reason, error.detail, source=source, raw=raw_text(raw), ts=ts_local)
