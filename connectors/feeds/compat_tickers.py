"""Tickers written to Redis by the earlier collectors → `Ticker` records. Pure: no I/O.

The existing collectors' Redis schema names the keys they
write — `{venue}:{market}:tickers:{symbol}`, one per instrument:

| key prefix | venue | venue symbol in the key | sizes in |
|---|---|---|---|
| `binance:linear:tickers:` | binance | `BTCUSDT` | base units |
| `bybit:linear:tickers:` | bybit | `BTCUSDT` | base units |
| `kucoin:futures:tickers:` | kucoin | `XBTUSDTM` | contracts |
| `okx:swap:tickers:` | okx | `BTC-USDT-SWAP` | contracts |
| `bitget:usdt:tickers:` | bitget | `BTCUSDT` | base units |
| `gate:futures:tickers:` | gate | `BTC_USDT` | contracts |
| `hyperliquid:perps:tickers:` | hyperliquid | `BTC` | base units |
| `paradex:perps:tickers:` | paradex | `BTC-USD-PERP` | base units |

Every key is a perpetual. That schema is silent on the *value*; this module accepts what a
collector plausibly stores, and says so in docs/ingest.md:
- a JSON string (`SET`) or a hash (`HSET`, field → string);
- the venue's own ticker object (the websocket `data` row), optionally still inside its
  envelope (`data` object or one-row list, Gate's `result`); envelope fields such as Bybit's
  `ts` count as the event time when the row has none;
- or a normalised object with `bid`/`ask`/`bid_qty`/`ask_qty` (aliases below).
Field names tried per venue are in `_SHAPES` (first shape whose bid and ask fields are
present wins; the generic shape is tried last). Sizes are taken in the venue's unit for
every shape — what the venue sends — and venues quoting contracts are converted with
`CONTRACT_SIZES` (base units per contract; defaults for BTC/ETH/SOL, overridable).

Numbers: decimal strings, JSON integers or JSON numbers read as `Decimal` (never a float).
`ts_exchange`: the first timestamp field present, integer ms (KuCoin futures' `ts` is ns
and is divided by 10⁶); a value in s/µs/ns elsewhere is refused with its reason.
Failure modes: `PayloadError(reason)` for a value that is not JSON, lacks bid/ask/sizes,
or holds a bad number; `KeyIgnored(reason)` for a key that cannot be mapped.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from arbflow.connectors.payload import PayloadError, money
from arbflow.model import reasons, topics
from arbflow.model.market import Ticker
from arbflow.model.money import ratio
from arbflow.model.symbols import SymbolError, from_venue
from arbflow.model.timestamps import classify_timestamp

KEY_PREFIXES: Final[dict[str, str]] = {
    "binance": "binance:linear:tickers:", "bybit": "bybit:linear:tickers:", "kucoin": "kucoin:futures:tickers:",
    "okx": "okx:swap:tickers:", "bitget": "bitget:usdt:tickers:", "gate": "gate:futures:tickers:",
    "hyperliquid": "hyperliquid:perps:tickers:", "paradex": "paradex:perps:tickers:",
}
COMPAT_VENUES: Final = tuple(KEY_PREFIXES)
SCAN_PATTERN: Final = "*:tickers:*"  # one SCAN walks the whole keyspace whatever the pattern
CONTRACT_VENUES: Final = frozenset({"okx", "gate", "kucoin"})
# Base units per contract, by venue symbol. DEFAULTS TO BE CHECKED AGAINST THE VENUE: OKX
# `ctVal` (BTC/ETH as in fixtures/stub/okx/public_instruments_SWAP.json), Gate
# `quanto_multiplier`, KuCoin `multiplier`, as the venues listed them.
CONTRACT_SIZES: Final[dict[str, dict[str, Decimal]]] = {
    "okx": {"BTC-USDT-SWAP": Decimal("0.01"), "ETH-USDT-SWAP": Decimal("0.1"), "SOL-USDT-SWAP": Decimal("1")},
    "gate": {"BTC_USDT": Decimal("0.0001"), "ETH_USDT": Decimal("0.01"), "SOL_USDT": Decimal("1")},
    "kucoin": {"XBTUSDTM": Decimal("0.001"), "ETHUSDTM": Decimal("0.01"), "SOLUSDTM": Decimal("0.1")},
}
# Why a key was ignored (counted, never published).
UNKNOWN_LAYOUT: Final = "UNKNOWN_LAYOUT"  # not one of KEY_PREFIXES
UNKNOWN_SYMBOL: Final = reasons.UNKNOWN_SYMBOL  # the venue symbol maps to no canonical perp
NO_CONTRACT_SIZE: Final = "NO_CONTRACT_SIZE"  # a contract venue's symbol without a known size
_ONE: Final = Decimal(1)
_NS_PER_MS: Final = 1_000_000


class KeyIgnored(Exception):
    """A key this source does not read; `reason` is one of the codes above."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


@dataclass(frozen=True, slots=True, kw_only=True)
class CompatKey:
    """One collector key resolved: venue, the venue's symbol, arbflow's canonical symbol,
    and the factors turning venue sizes into base units and venue prices into base prices."""

    key: str
    venue: str
    venue_symbol: str
    symbol: str
    base: str
    contract_size: Decimal = _ONE
    multiplier: Decimal = _ONE


def parse_key(key: str, key_prefix: str = "",
              contract_sizes: Mapping[str, Mapping[str, Decimal]] = CONTRACT_SIZES) -> CompatKey:
    """Resolve a key (`key_prefix` + layout) or raise `KeyIgnored`."""
    body = key.removeprefix(key_prefix) if key_prefix else key
    venue = next((v for v, layout in KEY_PREFIXES.items() if body.startswith(layout) and len(body) > len(layout)),
                 None)
    if venue is None:
        raise KeyIgnored(UNKNOWN_LAYOUT, f"{key!r} is not a collector ticker key")
    venue_symbol = body[len(KEY_PREFIXES[venue]):]
    try:
        resolved = from_venue(venue, venue_symbol, "perp")
    except SymbolError as error:
        raise KeyIgnored(UNKNOWN_SYMBOL, str(error)) from None
    if resolved.instrument.market != "perp" or resolved.instrument.inverse:
        raise KeyIgnored(UNKNOWN_SYMBOL, f"{venue} {venue_symbol} is not a linear perpetual")
    size = _ONE
    if venue in CONTRACT_VENUES:
        known = contract_sizes.get(venue, {}).get(venue_symbol)
        if known is None:
            raise KeyIgnored(NO_CONTRACT_SIZE, f"{venue} {venue_symbol}: sizes are contracts and no contract "
                                               "size is configured")
        size = known
    return CompatKey(key=key, venue=venue, venue_symbol=venue_symbol, symbol=resolved.instrument.symbol,
                     base=resolved.instrument.base, contract_size=size, multiplier=resolved.multiplier)


@dataclass(frozen=True, slots=True)
class _Shape:
    """Field names of one payload shape, each a tuple of candidates tried in order."""

    bid: tuple[str, ...]
    ask: tuple[str, ...]
    bid_qty: tuple[str, ...]
    ask_qty: tuple[str, ...]
    last: tuple[str, ...] = ()
    mark: tuple[str, ...] = ()
    index: tuple[str, ...] = ()
    ts: tuple[str, ...] = ()
    ts_ns: bool = False  # the venue's timestamp field is nanoseconds


_GENERIC: Final = _Shape(
    bid=("bid", "bidPrice", "best_bid", "bestBid"), ask=("ask", "askPrice", "best_ask", "bestAsk"),
    bid_qty=("bid_qty", "bidQty", "bid_size", "bidSize", "bidVolume", "bestBidSize"),
    ask_qty=("ask_qty", "askQty", "ask_size", "askSize", "askVolume", "bestAskSize"),
    last=("last", "lastPrice", "last_price"), mark=("mark", "markPrice", "mark_price"),
    index=("index", "indexPrice", "index_price"),
    ts=("ts_exchange", "timestamp", "ts", "time", "E", "T", "last_updated_at"))
_SHAPES: Final[dict[str, tuple[_Shape, ...]]] = {
    # bookTicker (websocket b/B/a/A with E/T; REST bidPrice/bidQty/… with time)
    "binance": (_Shape(bid=("b",), ask=("a",), bid_qty=("B",), ask_qty=("A",), ts=("E", "T")),),
    # v5 tickers row; `ts` sits in the envelope
    "bybit": (_Shape(bid=("bid1Price",), ask=("ask1Price",), bid_qty=("bid1Size",), ask_qty=("ask1Size",),
                     last=("lastPrice",), mark=("markPrice",), index=("indexPrice",), ts=("ts",)),),
    # futures tickerV2 / ticker (ts in ns)
    "kucoin": (_Shape(bid=("bestBidPrice",), ask=("bestAskPrice",), bid_qty=("bestBidSize",),
                      ask_qty=("bestAskSize",), last=("price",), ts=("ts",), ts_ns=True),),
    # v5 tickers row
    "okx": (_Shape(bid=("bidPx",), ask=("askPx",), bid_qty=("bidSz",), ask_qty=("askSz",), last=("last",),
                   ts=("ts",)),),
    # v2 ticker (bidPr/askPr) and v1 (bestBid/bestAsk, systemTime)
    "bitget": (_Shape(bid=("bidPr",), ask=("askPr",), bid_qty=("bidSz",), ask_qty=("askSz",), last=("lastPr",),
                      mark=("markPrice",), index=("indexPrice",), ts=("ts",)),
               _Shape(bid=("bestBid",), ask=("bestAsk",), bid_qty=("bidSz", "bestBidSize"),
                      ask_qty=("askSz", "bestAskSize"), last=("last",), mark=("markPrice",), index=("indexPrice",),
                      ts=("systemTime", "ts"))),
    # futures.book_ticker (b/B/a/A, t) and futures.tickers (highest_bid/lowest_ask)
    "gate": (_Shape(bid=("b",), ask=("a",), bid_qty=("B",), ask_qty=("A",), ts=("t", "time_ms")),
             _Shape(bid=("highest_bid",), ask=("lowest_ask",), bid_qty=("highest_size",), ask_qty=("lowest_size",),
                    last=("last",), mark=("mark_price",), index=("index_price",), ts=("time_ms",))),
    # `bbo` channel, flattened by _flatten_hyperliquid
    "hyperliquid": (),
    # bbo channel (bid/bid_size/ask/ask_size/last_updated_at): the generic shape
    "paradex": (),
}


def decode(value: bytes | dict[bytes, bytes]) -> dict[str, Any]:
    """A Redis value as a dict: JSON text (numbers as `Decimal`) or a hash (strings)."""
    if isinstance(value, dict):
        return {k.decode("utf-8", "replace"): v.decode("utf-8", "replace") for k, v in value.items()}
    try:
        obj = json.loads(value, parse_float=Decimal, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError, nesting too deep
        raise PayloadError(reasons.MALFORMED_JSON, f"not JSON: {error}", topics.MD_TICKER) from None
    if not isinstance(obj, dict):
        raise PayloadError(reasons.MALFORMED_JSON, f"a JSON {type(obj).__name__}, not an object", topics.MD_TICKER)
    return obj


def _refuse_constant(name: str) -> Any:
    raise PayloadError(reasons.NON_FINITE, f"{name} in the payload", topics.MD_TICKER)


def _unwrap(obj: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(ticker row, envelope): the `data` object or one-row list, or Gate's `result`."""
    for name in ("data", "result"):
        inner = obj.get(name)
        if isinstance(inner, list) and len(inner) == 1 and isinstance(inner[0], dict):
            inner = inner[0]
        if isinstance(inner, dict):
            return inner, obj
    return obj, {}


def _flatten_hyperliquid(row: dict[str, Any]) -> dict[str, Any]:
    """Hyperliquid `bbo` ({coin, time, bbo: [bid, ask]}, each {px, sz, n} or null) → flat fields."""
    bbo = row.get("bbo")
    if not isinstance(bbo, list):
        return row
    if len(bbo) != 2 or not all(isinstance(level, dict) for level in bbo):
        raise PayloadError(reasons.MISSING_FIELD, "bbo: expected [bid, ask] levels, a side is empty",
                           topics.MD_TICKER)
    bid, ask = bbo
    return {"bid": bid.get("px"), "bid_qty": bid.get("sz"), "ask": ask.get("px"), "ask_qty": ask.get("sz"),
            "time": row.get("time")}


def _first(row: Mapping[str, Any], names: tuple[str, ...]) -> tuple[str, Any] | None:
    for name in names:
        value = row.get(name)
        if value is not None and value != "":
            return name, value
    return None


def _timestamp(row: Mapping[str, Any], envelope: Mapping[str, Any], shape: _Shape) -> int | None:
    found = _first(row, shape.ts) or _first(envelope, shape.ts)
    if found is None:
        return None
    name, value = found
    if type(value) is str and value.isascii() and value.isdigit():
        value = int(value)
    if type(value) is not int:
        raise PayloadError(reasons.WRONG_TYPE, f"{name}: expected integer ms, got {value!r}", topics.MD_TICKER)
    if shape.ts_ns:
        value //= _NS_PER_MS
    unit = classify_timestamp(value)
    if unit is not None:
        raise PayloadError(unit, f"{name} = {value} is not milliseconds since the epoch", topics.MD_TICKER)
    return value


def ticker(key: CompatKey, obj: dict[str, Any], ts_local: int) -> Ticker:
    """The decoded value of `key` as a `Ticker` (not yet validated: see `model.validation`)."""
    row, envelope = _unwrap(obj)
    if key.venue == "hyperliquid":
        row = _flatten_hyperliquid(row)
    shape = next((s for s in (*_SHAPES[key.venue], _GENERIC)
                  if _first(row, s.bid) is not None and _first(row, s.ask) is not None), None)
    if shape is None:
        raise PayloadError(reasons.MISSING_FIELD, f"no bid/ask field known for {key.venue}", topics.MD_TICKER)

    def value(names: tuple[str, ...], unified: str, required: bool) -> Decimal | None:
        found = _first(row, names)
        if found is None:
            if required:
                raise PayloadError(reasons.MISSING_FIELD, f"{unified}: none of {', '.join(names)}",
                                   topics.MD_TICKER)
            return None
        return money(found[1], f"{unified} ({found[0]})", topics.MD_TICKER)

    def px(names: tuple[str, ...], unified: str, required: bool = False) -> Decimal | None:
        raw = value(names, unified, required)
        return ratio(raw, key.multiplier) if raw is not None and key.multiplier != _ONE else raw

    def qty(names: tuple[str, ...], unified: str) -> Decimal:
        raw = value(names, unified, True)
        assert raw is not None
        scale = key.contract_size * key.multiplier
        return raw * scale if scale != _ONE else raw

    bid, ask = px(shape.bid, "bid", True), px(shape.ask, "ask", True)
    assert bid is not None and ask is not None
    return Ticker(venue=key.venue, symbol=key.symbol, market="perp", bid=bid, ask=ask,
                  bid_qty=qty(shape.bid_qty, "bid_qty"), ask_qty=qty(shape.ask_qty, "ask_qty"),
                  last=px(shape.last, "last"), mark=px(shape.mark, "mark"), index=px(shape.index, "index"),
                  ts_exchange=_timestamp(row, envelope, shape), ts_local=ts_local)
