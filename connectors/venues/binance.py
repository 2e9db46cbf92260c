"""Binance websocket payloads → records (spot and USDⓈ-M futures).

Sample spot bookTicker (no exchange timestamp; ts_exchange stays None):
    {"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000",
     "a":"61837.64000000","A":"1.54698000"}
Sample USDⓈ-M bookTicker (`E` event time, `T` transaction time, ms):
    {"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507",
     "a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}
Sample trade (`m` = buyer is the maker, so the taker sold):
    {"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000",
     "q":"0.02000000","T":1723161255342,"m":true,"M":true}
"""

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

from arbflow.connectors import payload
from arbflow.connectors.book import L2Book
from arbflow.connectors.feeds.spec import LiveSpec, field_of, hours_ms
from arbflow.model import codec, reasons, topics
from arbflow.model.market import Market, MarketTrade, OrderBook, Ticker
from arbflow.model.money import DecimalTextError, venue_decimal
from arbflow.model.rejected import Rejected
from arbflow.model.symbols import SymbolError, from_venue

VENUE = "binance"


PayloadError = payload.PayloadError
QtyScale = Callable[[Decimal, Decimal], Decimal]


def coin_m_scale(symbol: str) -> QtyScale:
    """COIN-M quantities are contracts of a USD face value (BTC 100 USD, others 10 USD);
    in coins: qty × face / price (a price that is not > 0 raises NON_POSITIVE_PRICE)."""
    return payload.usd_contracts(Decimal(100) if symbol.startswith("BTC") else Decimal(10))


def _money(data: dict[str, Any], field: str) -> Any:
    return _number(data.get(field), field)


# decimal text → its value: book prices and sizes repeat from message to message, and a
# dict lookup is ~20× cheaper than validating and parsing the text again (Decimals are
# immutable, so sharing them is safe); cleared when full, so it stays bounded
_DECIMALS: dict[str, Decimal] = {}
_DECIMALS_MAX = 50_000


def clear_caches() -> None:
    """Forget the decimal and symbol caches (a benchmark pass starts cold, as a feed does)."""
    _DECIMALS.clear()
    _SYMBOLS.clear()


def _number(text: Any, field: str) -> Decimal:
    """A decimal string → `Decimal` (exact, trailing fractional zeros dropped), refusing
    missing, non-string, malformed, non-finite and absurd values (`payload.in_range`)."""
    if type(text) is not str:
        reason = reasons.MISSING_FIELD if text is None else reasons.WRONG_TYPE
        raise PayloadError(reason, f"{field}: expected a decimal string")
    value = _DECIMALS.get(text)
    if value is not None:
        return value
    try:
        value = venue_decimal(text)
    except DecimalTextError as error:
        reason = reasons.NON_FINITE if error.non_finite else reasons.INVALID_NUMBER
        raise PayloadError(reason, f"{field}: {text!r}") from None
    if value and not -payload.MAX_EXPONENT <= value.adjusted() <= payload.MAX_EXPONENT:
        return payload.in_range(value, field, "")  # raises INVALID_NUMBER
    if len(_DECIMALS) >= _DECIMALS_MAX:
        _DECIMALS.clear()
    _DECIMALS[text] = value
    return value


# venue symbol and market → canonical symbol: resolving costs ~10 µs, a message needs ~0.1
_SYMBOLS: dict[tuple[str, str], str] = {}


def _symbol(data: dict[str, Any], market: Market) -> str:
    raw = data.get("s")
    if type(raw) is not str:
        raise PayloadError(reasons.MISSING_FIELD, "s: symbol missing")
    known = _SYMBOLS.get((raw, market))
    if known is not None:
        return known
    try:
        symbol = from_venue(VENUE, raw, market).instrument.symbol
    except SymbolError as error:
        raise PayloadError(reasons.UNKNOWN_SYMBOL, str(error)) from None
    if len(_SYMBOLS) < 100_000:  # bounded: a feed of garbage symbols cannot grow it for ever
        _SYMBOLS[(raw, market)] = symbol
    return symbol


def _event_ms(data: dict[str, Any]) -> int | None:
    """`E` when it is an integer the codec can write (validation judges its unit later)."""
    value = data.get("E")
    return value if type(value) is int and 0 <= value <= payload.MAX_INT else None


def _update_id(value: Any) -> bool:
    return type(value) is int and 0 <= value <= payload.MAX_INT


def parse_book_ticker(data: Any, market: Market, ts_local: int, *, raw: bytes | str, source: str,
                      qty_scale: QtyScale | None = None) -> Ticker | Rejected:
    """A bookTicker payload (the `data` of the combined stream) as a `Ticker`."""
    try:
        return book_ticker(data, market, ts_local, qty_scale)
    except PayloadError as bad:
        return codec.reject(bad.reason, bad.detail, source=source, raw=raw, ts=ts_local)


def book_ticker(data: Any, market: Market, ts_local: int, qty_scale: QtyScale | None = None) -> Ticker:
    """`parse_book_ticker` without the dead-letter wrapping: raises `PayloadError`."""
    if type(data) is not dict:
        raise PayloadError(reasons.WRONG_TYPE, "bookTicker: expected an object")
    bid, ask = _money(data, "b"), _money(data, "a")
    bid_qty, ask_qty = _money(data, "B"), _money(data, "A")
    if qty_scale is not None:
        bid_qty, ask_qty = qty_scale(bid, bid_qty), qty_scale(ask, ask_qty)
    return Ticker(venue=VENUE, symbol=_symbol(data, market), market=market, bid=bid, ask=ask,
                  bid_qty=bid_qty, ask_qty=ask_qty, ts_exchange=_event_ms(data), ts_local=ts_local)


def parse_trade(data: Any, market: Market, ts_local: int, *, raw: bytes | str, source: str,
                qty_scale: QtyScale | None = None) -> MarketTrade | Rejected:
    """A trade payload as a `MarketTrade`; the taker side is the opposite of the maker."""
    try:
        if type(data) is not dict:
            raise PayloadError(reasons.WRONG_TYPE, "trade: expected an object")
        maker_is_buyer = data.get("m")
        if type(maker_is_buyer) is not bool:
            raise PayloadError(reasons.MISSING_FIELD, "m: buyer-is-maker flag missing")
        px, qty = _money(data, "p"), _money(data, "q")
        return MarketTrade(venue=VENUE, symbol=_symbol(data, market), market=market, px=px,
                           qty=qty_scale(px, qty) if qty_scale is not None else qty,
                           side="sell" if maker_is_buyer else "buy",
                           trade_id=str(data.get("t")), ts_exchange=_event_ms(data), ts_local=ts_local)
    except PayloadError as bad:
        return codec.reject(bad.reason, bad.detail, source=source, raw=raw, ts=ts_local)


def agg_trade(data: Any, market: Market, ts_local: int, qty_scale: QtyScale | None = None) -> MarketTrade:
    """An aggTrade payload as a `MarketTrade` (`a` = aggregate trade id, `m` = buyer is the
    maker, so the taker sold); raises `PayloadError`. Sample:
        {"e":"aggTrade","E":1626992742497,"a":57476592,"s":"SUSHIUSDT","p":"7.6110","q":"6",
         "f":110823538,"l":110823538,"T":1626992742342,"m":true}
    """
    if type(data) is not dict:
        raise PayloadError(reasons.WRONG_TYPE, "aggTrade: expected an object")
    maker_is_buyer = data.get("m")
    if type(maker_is_buyer) is not bool:
        raise PayloadError(reasons.MISSING_FIELD, "m: buyer-is-maker flag missing")
    if type(data.get("a")) is not int:
        raise PayloadError(reasons.MISSING_FIELD, "a: aggregate trade id missing")
    px, qty = _money(data, "p"), _money(data, "q")
    return MarketTrade(venue=VENUE, symbol=_symbol(data, market), market=market, px=px,
                       qty=qty_scale(px, qty) if qty_scale is not None else qty,
                       side="sell" if maker_is_buyer else "buy", trade_id=str(data["a"]),
                       ts_exchange=_event_ms(data), ts_local=ts_local)


def parse_agg_trade(data: Any, market: Market, ts_local: int, *, raw: bytes | str, source: str,
                    qty_scale: QtyScale | None = None) -> MarketTrade | Rejected:
    """An aggTrade payload as a `MarketTrade`, or a `Rejected`."""
    try:
        return agg_trade(data, market, ts_local, qty_scale)
    except PayloadError as bad:
        return codec.reject(bad.reason, bad.detail, source=source, raw=raw, ts=ts_local)


# -- order books: REST snapshot + websocket depth diffs ---------------------------------
#
# Sample spot diff (`U` first and `u` last update id of the event):
#     {"e":"depthUpdate","E":1723161255208,"s":"BTCUSDT","U":50093239189,"u":50093239202,
#      "b":[["61737.63000000","0.00000000"]],"a":[["61837.64000000","1.54698000"]]}
# USDⓈ-M / COIN-M diffs add `T` and `pu` (the previous event's `u`); snapshots are
#     {"lastUpdateId":50093239218,"bids":[[px,qty],…],"asks":[…]}   (+ "E","T" on futures)
# Binance's rules: buffer diffs, load the snapshot, drop diffs with u <= lastUpdateId
# (futures: u < lastUpdateId), the first applied diff must straddle lastUpdateId, then
# spot diffs chain by U == previous u + 1 and futures diffs by pu == previous u.


def _levels(data: dict[str, Any], field: str, scale: QtyScale | None = None) -> tuple[tuple[Any, Any], ...]:
    raw = data.get(field)
    if type(raw) is not list:
        raise PayloadError(reasons.MISSING_FIELD, f"{field}: expected a list of [price, quantity]")
    levels = []
    known = _DECIMALS.get  # the cache lookup inlined: this loop is the normaliser's hottest
    for i, level in enumerate(raw):
        if type(level) is not list or len(level) < 2:
            raise PayloadError(reasons.WRONG_TYPE, f"{field}[{i}]: expected [price, quantity]")
        text_px, text_qty = level[0], level[1]
        price = (known(text_px) if type(text_px) is str else None) or _number(text_px, "p")
        qty = (known(text_qty) if type(text_qty) is str else None)
        if qty is None:  # not `or`: a cached zero quantity is falsy
            qty = _number(text_qty, "q")
        levels.append((price, scale(price, qty) if scale is not None else qty))
    return tuple(levels)


class DepthSync:
    """Sequencing of one Binance depth stream into an `L2Book`; emits `OrderBook` records.

    `futures` selects the USDⓈ-M/COIN-M rule (`pu` chaining). `qty_scale(price, qty)`
    converts venue quantities into base units (COIN-M contracts → coins). A gap or a
    crossed book drops the book until the next snapshot (`resyncs` counts them; live
    feeds fetch a new snapshot then, a capture has to wait for one).
    """

    MAX_BUFFER = 10_000

    def __init__(self, *, symbol: str, market: Market, futures: bool, depth: int = 20,
                 qty_scale: QtyScale | None = None) -> None:
        self.symbol, self.market, self.futures, self.depth = symbol, market, futures, depth
        self._scale = qty_scale
        self._book = L2Book()
        self._last_u: int | None = None
        self._buffer: list[tuple[dict[str, Any], int]] = []
        self._first = True
        self.resyncs = 0
        self.gaps = 0
        self.crossed = 0
        self.dropped = 0

    @property
    def synced(self) -> bool:
        return self._last_u is not None

    @property
    def pending(self) -> int:
        """Diffs buffered while waiting for a snapshot that has not come."""
        return len(self._buffer)

    def on_snapshot(self, data: dict[str, Any], ts_local: int) -> list[OrderBook]:
        """Load a REST snapshot, then replay the buffered diffs that follow it; emits one
        book stamped with the snapshot's receive time (when that state became known)."""
        if type(data) is not dict:
            raise PayloadError(reasons.WRONG_TYPE, "snapshot: expected an object")
        last_id = data.get("lastUpdateId")
        if not _update_id(last_id):
            raise PayloadError(reasons.MISSING_FIELD, "lastUpdateId: snapshot without an update id")
        self._book.load(_levels(data, "bids", self._scale), _levels(data, "asks", self._scale))
        self._last_u = last_id
        self._first = True
        buffered, self._buffer = self._buffer, []
        for diff, _ in buffered:
            if self._last_u is None:  # a gap inside the buffer: wait for the next snapshot
                break
            self._apply(diff)
        if self._last_u is None:
            return []
        return [self._emit(data, ts_local)]

    def on_diff(self, data: dict[str, Any], ts_local: int) -> list[OrderBook]:
        """Apply one depth diff; returns the new top-N book (or nothing while unsynced)."""
        if type(data) is not dict:
            raise PayloadError(reasons.WRONG_TYPE, "depth diff: expected an object")
        first_id, last_id = data.get("U"), data.get("u")
        if not _update_id(first_id) or not _update_id(last_id):
            raise PayloadError(reasons.MISSING_FIELD, "U/u: depth diff without update ids")
        if self._last_u is None:
            if len(self._buffer) < self.MAX_BUFFER:
                self._buffer.append((data, ts_local))
            else:
                self.dropped += 1
            return []
        if self._first and (last_id < self._last_u if self.futures else last_id <= self._last_u):
            return []  # older than the snapshot
        if not self._apply(data):
            return []
        return [self._emit(data, ts_local)]

    def _apply(self, data: dict[str, Any]) -> bool:
        """Check the sequence, apply the diff; False (and a resync) on a gap or crossing."""
        first_id, last_id, previous = data["U"], data["u"], self._last_u
        assert previous is not None, "only called while synced"
        if self._first:
            if last_id < previous if self.futures else last_id <= previous:
                return True  # older than the snapshot: skip
            if not first_id <= previous + (0 if self.futures else 1) <= last_id:
                return self._resync(gap=True)
            self._first = False
        elif (data.get("pu") != previous) if self.futures else (first_id != previous + 1):
            return self._resync(gap=True)
        self._book.apply(_levels(data, "b", self._scale), _levels(data, "a", self._scale))
        self._last_u = last_id
        if self._book.crossed():
            return self._resync(gap=False)
        return True

    def _emit(self, data: dict[str, Any], ts_local: int) -> OrderBook:
        bids, asks = self._book.top(self.depth)
        return OrderBook(venue=VENUE, symbol=self.symbol, market=self.market, bids=bids, asks=asks,
                         depth=self.depth, seq=self._last_u, ts_exchange=_event_ms(data), ts_local=ts_local)

    def _resync(self, *, gap: bool) -> bool:
        self.resyncs += 1
        if gap:
            self.gaps += 1
        else:
            self.crossed += 1
        self._last_u = None
        self._book.clear()
        return False


# -- cryptofeed captures: combined streams + REST depth snapshots + exchangeInfo --------
#
# Streams `<symbol>@bookTicker` → md.ticker, `<symbol>@aggTrade` → md.trade,
# `<symbol>@depth@100ms` with the `.http` depth snapshots → md.book (DepthSync);
# klines are skipped, dated COIN-M futures (`BTCUSD_211231`) too. COIN-M contract sizes
# (USD per contract) come from the capture's exchangeInfo (`BINANCE_DELIVERY.0`):
#     {"symbols":[{"symbol":"BCHUSD_PERP","pair":"BCHUSD","contractType":"PERPETUAL",…,"contractSize":10,…}]}
# so base = qty × contractSize / price (BTC 100 USD, the others 10 USD in that capture).

_MARKETS: dict[str, Market] = {"spot": "spot", "usdm": "perp", "coinm": "perp"}


class Feed:
    """A cryptofeed Binance recording: `kind` is spot, usdm (USDⓈ-M) or coinm (COIN-M).
    Raises `connectors.payload.PayloadError` (the capture machinery's error type)."""

    def __init__(self, *, kind: str, depth: int = 20) -> None:
        self.kind, self.market, self.depth = kind, _MARKETS[kind], depth
        self.counts: Counter[str] = Counter()
        self._faces: dict[str, Decimal] = {}
        self._syncs: dict[str, DepthSync] = {}

    def scale(self, venue_symbol: str) -> QtyScale | None:
        """COIN-M contracts → coins with the exchangeInfo contract size; None elsewhere."""
        if self.kind != "coinm":
            return None
        face = self._faces.get(venue_symbol)
        if face is None:
            raise payload.PayloadError(reasons.UNKNOWN_SYMBOL, f"{venue_symbol}: no contractSize in exchangeInfo",
                                       topics.MD_BOOK)
        return payload.usd_contracts(face)

    def reference(self, url: str, body: Any, ts_local: int) -> list[Any]:
        for item in (body.get("symbols") or []) if type(body) is dict else []:
            if type(item) is dict and "contractSize" in item:
                self._faces[str(item.get("symbol"))] = payload.money(item["contractSize"], "contractSize",
                                                                     topics.MD_BOOK)
        return []

    def _sync(self, venue_symbol: str) -> DepthSync:
        sync = self._syncs.get(venue_symbol)
        if sync is None:
            symbol = payload.symbol(VENUE, venue_symbol, self.market, topics.MD_BOOK).instrument.symbol
            sync = self._syncs[venue_symbol] = DepthSync(symbol=symbol, market=self.market, futures=self.kind != "spot",
                                                         depth=self.depth, qty_scale=self.scale(venue_symbol))
        return sync

    def snapshot(self, url: str, body: Any, ts_local: int) -> list[Any]:
        venue_symbol = (parse_qs(urlparse(url).query).get("symbol") or [""])[0]
        if _dated(venue_symbol):
            self.counts["skipped:binance-dated-future"] += 1
            return []
        with _translated(topics.MD_BOOK):
            return [(topics.MD_BOOK, b) for b in self._sync(venue_symbol).on_snapshot(body, ts_local)]

    def message(self, message: Any, ts_local: int) -> list[Any]:
        stream = message.get("stream") if type(message) is dict else None
        data = message.get("data") if type(message) is dict else None
        if type(stream) is not str or type(data) is not dict:
            raise payload.PayloadError(reasons.WRONG_TYPE, "expected {stream, data}", payload.UNROUTED)
        venue_symbol, _, channel = stream.upper().partition("@")
        if _dated(venue_symbol):
            self.counts["skipped:binance-dated-future"] += 1
            return []
        channel = channel.lower()
        if channel == "bookticker":
            with _translated(topics.MD_TICKER):
                return [(topics.MD_TICKER, book_ticker(data, self.market, ts_local, self.scale(venue_symbol)))]
        if channel == "aggtrade":
            with _translated(topics.MD_TRADE):
                return [(topics.MD_TRADE, agg_trade(data, self.market, ts_local, self.scale(venue_symbol)))]
        if channel.startswith("depth"):
            with _translated(topics.MD_BOOK):
                return [(topics.MD_BOOK, b) for b in self._sync(venue_symbol).on_diff(data, ts_local)]
        self.counts[f"skipped:binance-{channel}"] += 1
        return []

    def book_counts(self) -> Counter[str]:
        syncs = self._syncs.values()
        return Counter(gaps=sum(s.gaps for s in syncs), crossed=sum(s.crossed for s in syncs), checksum=0,
                       unsynced=sum(s.dropped + s.pending for s in syncs))


def _dated(venue_symbol: str) -> bool:
    return "_" in venue_symbol and not venue_symbol.endswith("_PERP")


@contextmanager
def _translated(topic: str) -> Iterator[None]:
    """Aim a `PayloadError` raised without a topic at `dlq.<topic>`."""
    try:
        yield
    except PayloadError as bad:
        bad.topic = bad.topic or topic
        raise


# -- live feeds through ccxt.pro (connectors/feeds) --------------------------------------
#
# md.ticker comes from `watch_bids_asks` (the bookTicker stream); ccxt keeps the raw
# message as `info`, so prices and sizes are Binance's own strings (b/B/a/A). Trades come
# from the `trade` stream (p/q); funding from REST premiumIndex (`lastFundingRate`), which
# states no interval — `fundingIntervalHours` appears only in fundingInfo rows.


def _live_ticker(info: Any) -> dict[str, Any]:
    return {"bid": field_of(info, "b"), "ask": field_of(info, "a"), "bid_qty": field_of(info, "B"),
            "ask_qty": field_of(info, "A")}


def _live_trade(info: Any) -> dict[str, Any]:
    return {"px": field_of(info, "p"), "qty": field_of(info, "q")}


def _live_funding(info: Any) -> dict[str, Any]:
    return {"rate": field_of(info, "lastFundingRate"), "interval_ms": hours_ms(field_of(info, "fundingIntervalHours"))}


def _live_oi(info: Any) -> dict[str, Any]:
    return {"open_interest": field_of(info, "openInterest")}  # /fapi/v1/openInterest, base units


def _live_liquidation(info: Any) -> dict[str, Any]:
    # forceOrder `o`: ap = average price, l = last filled quantity (what ccxt reads), S = order side
    return {"px": field_of(info, "ap"), "qty": field_of(info, "l")}


LIVE = LiveSpec(ccxt_id="binance", ccxt_options={"fetchMarkets": {"types": ["spot", "linear"]}},
                ticker_source={"spot": "bids_asks", "perp": "bids_asks"}, ticker_fields=_live_ticker,
                trade_fields=_live_trade, funding_fields=_live_funding, oi_fields=_live_oi,
                liquidation_fields=_live_liquidation)
