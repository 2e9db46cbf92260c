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
from arbflow.connectors.book import L2Book, LevelError
from arbflow.connectors.feeds.spec import LiveSpec, field_of, hours_ms
from arbflow.model import codec, reasons, topics
from arbflow.model.builders import positional
from arbflow.model.market import Level, Market, MarketTrade, OrderBook, Ticker
from arbflow.model.money import (
    PLAIN_DECIMALS,
    DecimalTextError,
    clear_plain_decimals,
    plain_decimal,
    plain_decimal_miss,
    venue_decimal,
)
from arbflow.model.rejected import Rejected
from arbflow.model.symbols import SymbolError, from_venue

VENUE = "binance"


PayloadError = payload.PayloadError
QtyScale = Callable[[Decimal, Decimal], Decimal]
# a stream's route: (topic, parser of one record, parser of several records, quantity scale);
# one of the two parsers is None (see Feed.message)
Route = tuple[str, Callable[[Any, Market, int, QtyScale | None], Any] | None,
              Callable[[dict[str, Any], int], list[Any]] | None, QtyScale | None]


def coin_m_scale(symbol: str) -> QtyScale:
    """COIN-M quantities are contracts of a USD face value (BTC 100 USD, others 10 USD);
    in coins: qty × face / price (a price that is not > 0 raises NON_POSITIVE_PRICE)."""
    return payload.usd_contracts(Decimal(100) if symbol.startswith("BTC") else Decimal(10))


def _money(data: dict[str, Any], field: str) -> Any:
    return _number(data.get(field), field)


# -- the fast path -------------------------------------------------------------------------
#
# Every parser below tries the common case first and falls back to the checked code for
# anything else, so the fast path never decides a rejection: a valid message takes it when
# each decimal text is already in `model.money.PLAIN_DECIMALS` (a hit is a text that was
# read and range-checked before, see `plain_decimal`) and its symbol in `_SYMBOLS`; a miss,
# a missing or mistyped field (KeyError/TypeError, e.g. an unhashable list where a text
# belongs) goes to the checked path, which reads, caches and judges it. Records are built
# with `model.builders.positional` (the same frozen records, without the keyword
# `__init__`; they validate nothing there either).

_TICKER = positional(Ticker, ("venue", "symbol", "market", "bid", "ask", "bid_qty", "ask_qty", "ts_exchange",
                              "ts_local"))
_TRADE = positional(MarketTrade, ("venue", "symbol", "market", "px", "qty", "side", "trade_id", "ts_exchange",
                                  "ts_local"))
_BOOK = positional(OrderBook, ("venue", "symbol", "market", "bids", "asks", "depth", "seq", "ts_exchange",
                               "ts_local"))
_MAX_INT = payload.MAX_INT


def clear_caches() -> None:
    """Forget the decimal and symbol caches (a benchmark pass starts cold, as a feed does)."""
    clear_plain_decimals()
    for symbols in _SYMBOLS.values():
        symbols.clear()


def _number(text: Any, field: str) -> Decimal:
    """A decimal string → `Decimal` (exact, trailing fractional zeros dropped), refusing
    missing, non-string, malformed, non-finite and absurd values (`payload.in_range`)."""
    value = plain_decimal(text)
    if value is not None:
        return value
    if type(text) is not str:
        reason = reasons.MISSING_FIELD if text is None else reasons.WRONG_TYPE
        raise PayloadError(reason, f"{field}: expected a decimal string")
    try:
        value = venue_decimal(text)
    except DecimalTextError as error:
        reason = reasons.NON_FINITE if error.non_finite else reasons.INVALID_NUMBER
        raise PayloadError(reason, f"{field}: {text!r}") from None
    return payload.in_range(value, field, "")  # raises INVALID_NUMBER: an absurd magnitude


# market → venue symbol → canonical symbol: resolving costs ~10 µs, a lookup ~0.05
_SYMBOLS: dict[str, dict[str, str]] = {"spot": {}, "perp": {}}


def _symbol(data: dict[str, Any], market: Market) -> str:
    raw = data.get("s")
    if type(raw) is not str:
        raise PayloadError(reasons.MISSING_FIELD, "s: symbol missing")
    symbols = _SYMBOLS.setdefault(market, {})
    known = symbols.get(raw)
    if known is not None:
        return known
    try:
        symbol = from_venue(VENUE, raw, market).instrument.symbol
    except SymbolError as error:
        raise PayloadError(reasons.UNKNOWN_SYMBOL, str(error)) from None
    if len(symbols) < 100_000:  # bounded: a feed of garbage symbols cannot grow it for ever
        symbols[raw] = symbol
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
    if qty_scale is None and type(data) is dict:
        known = PLAIN_DECIMALS.get
        try:
            text_bid, text_ask, text_bid_qty, text_ask_qty = data["b"], data["a"], data["B"], data["A"]
            symbol = _SYMBOLS[market][data["s"]]
            bid, ask, bid_qty, ask_qty = known(text_bid), known(text_ask), known(text_bid_qty), known(text_ask_qty)
        except (KeyError, TypeError):
            pass  # missing, unhashable, or a symbol not seen yet: the checked path says what is wrong
        else:  # a text not in the cache yet is read (and judged) on its own, in the checked path's order
            if bid is None:
                bid = plain_decimal_miss(text_bid) if type(text_bid) is str else None
                if bid is None:
                    bid = _number(text_bid, "b")  # raises
            if ask is None:
                ask = plain_decimal_miss(text_ask) if type(text_ask) is str else None
                if ask is None:
                    ask = _number(text_ask, "a")  # raises
            if bid_qty is None:
                bid_qty = plain_decimal_miss(text_bid_qty) if type(text_bid_qty) is str else None
                if bid_qty is None:
                    bid_qty = _number(text_bid_qty, "B")  # raises
            if ask_qty is None:
                ask_qty = plain_decimal_miss(text_ask_qty) if type(text_ask_qty) is str else None
                if ask_qty is None:
                    ask_qty = _number(text_ask_qty, "A")  # raises
            event = data.get("E")
            if type(event) is not int or not 0 <= event <= _MAX_INT:
                event = None
            return _TICKER(VENUE, symbol, market, bid, ask, bid_qty, ask_qty, event, ts_local)
    return _book_ticker_checked(data, market, ts_local, qty_scale)


def _book_ticker_checked(data: Any, market: Market, ts_local: int, qty_scale: QtyScale | None) -> Ticker:
    if type(data) is not dict:
        raise PayloadError(reasons.WRONG_TYPE, "bookTicker: expected an object")
    bid, ask = _money(data, "b"), _money(data, "a")
    bid_qty, ask_qty = _money(data, "B"), _money(data, "A")
    if qty_scale is not None:
        bid_qty, ask_qty = qty_scale(bid, bid_qty), qty_scale(ask, ask_qty)
    return _TICKER(VENUE, _symbol(data, market), market, bid, ask, bid_qty, ask_qty, _event_ms(data), ts_local)


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
        return _TRADE(VENUE, _symbol(data, market), market, px, qty_scale(px, qty) if qty_scale is not None else qty,
                      "sell" if maker_is_buyer else "buy", str(data.get("t")), _event_ms(data), ts_local)
    except PayloadError as bad:
        return codec.reject(bad.reason, bad.detail, source=source, raw=raw, ts=ts_local)


def agg_trade(data: Any, market: Market, ts_local: int, qty_scale: QtyScale | None = None) -> MarketTrade:
    """An aggTrade payload as a `MarketTrade` (`a` = aggregate trade id, `m` = buyer is the
    maker, so the taker sold); raises `PayloadError`. Sample:
        {"e":"aggTrade","E":1626992742497,"a":57476592,"s":"SUSHIUSDT","p":"7.6110","q":"6",
         "f":110823538,"l":110823538,"T":1626992742342,"m":true}
    """
    if qty_scale is None and type(data) is dict:
        known = PLAIN_DECIMALS.get
        try:
            text_px, text_qty, agg_id, maker_is_buyer = data["p"], data["q"], data["a"], data["m"]
            symbol = _SYMBOLS[market][data["s"]]
            px, qty = known(text_px), known(text_qty)
        except (KeyError, TypeError):
            pass  # missing, unhashable, or a symbol not seen yet: the checked path says what is wrong
        else:
            if type(agg_id) is int and type(maker_is_buyer) is bool:
                if px is None:
                    px = plain_decimal_miss(text_px) if type(text_px) is str else None
                    if px is None:
                        px = _number(text_px, "p")  # raises
                if qty is None:
                    qty = plain_decimal_miss(text_qty) if type(text_qty) is str else None
                    if qty is None:
                        qty = _number(text_qty, "q")  # raises
                event = data.get("E")
                if type(event) is not int or not 0 <= event <= _MAX_INT:
                    event = None
                return _TRADE(VENUE, symbol, market, px, qty, "sell" if maker_is_buyer else "buy", str(agg_id),
                              event, ts_local)
    return _agg_trade_checked(data, market, ts_local, qty_scale)


def _agg_trade_checked(data: Any, market: Market, ts_local: int, qty_scale: QtyScale | None) -> MarketTrade:
    if type(data) is not dict:
        raise PayloadError(reasons.WRONG_TYPE, "aggTrade: expected an object")
    maker_is_buyer = data.get("m")
    if type(maker_is_buyer) is not bool:
        raise PayloadError(reasons.MISSING_FIELD, "m: buyer-is-maker flag missing")
    if type(data.get("a")) is not int:
        raise PayloadError(reasons.MISSING_FIELD, "a: aggregate trade id missing")
    px, qty = _money(data, "p"), _money(data, "q")
    return _TRADE(VENUE, _symbol(data, market), market, px, qty_scale(px, qty) if qty_scale is not None else qty,
                  "sell" if maker_is_buyer else "buy", str(data["a"]), _event_ms(data), ts_local)


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


def _levels(data: dict[str, Any], field: str, scale: QtyScale | None = None) -> list[Level]:
    """The `[[price, quantity], …]` list `field` as levels (quantities through `scale`);
    raises `PayloadError` for a missing list, a malformed level or a bad number."""
    raw = data.get(field)
    if scale is None and type(raw) is list:
        levels = _plain_levels(raw)
        if levels is not None:
            return levels
    if type(raw) is not list:
        raise PayloadError(reasons.MISSING_FIELD, f"{field}: expected a list of [price, quantity]")
    checked = []
    for i, level in enumerate(raw):
        if type(level) is not list or len(level) < 2:
            raise PayloadError(reasons.WRONG_TYPE, f"{field}[{i}]: expected [price, quantity]")
        price, qty = _number(level[0], "p"), _number(level[1], "q")
        checked.append((price, scale(price, qty) if scale is not None else qty))
    return checked


def _plain_levels(raw: list[Any]) -> list[Level] | None:
    """The fast path of `_levels` (the normaliser's hottest loop): levels that are lists of
    two texts, each looked up in the decimal cache (a miss is read by `_number`, which
    refuses a bad number as the checked loop would); None for any other shape (then the
    checked loop runs and says what is wrong)."""
    known = PLAIN_DECIMALS.get
    levels = []
    append = levels.append
    try:
        for level in raw:
            if type(level) is not list:
                return None
            text_px, text_qty = level
            price = known(text_px)
            if price is None:
                price = _number(text_px, "p")
            qty = known(text_qty)
            if qty is None:
                qty = _number(text_qty, "q")
            append((price, qty))
    except (TypeError, ValueError):  # an unhashable text, or not exactly two items
        return None
    return levels


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
        if self._scale is None:
            self._apply_texts(data)
        else:
            self._book.apply(_levels(data, "b", self._scale), _levels(data, "a", self._scale))
        self._last_u = last_id
        if self._book.crossed():
            return self._resync(gap=False)
        return True

    def _apply_texts(self, data: dict[str, Any]) -> None:
        """The diff's levels straight into the book (`L2Book.apply_texts`, one pass over
        the texts). A bad level refuses the diff with the checked path's reason, and since
        the levels before it are already in the book, the book is dropped (a gap: the
        sequence is broken where this diff was not applied) until the next snapshot."""
        bids, asks = data.get("b"), data.get("a")
        for field, raw in (("b", bids), ("a", asks)):
            if type(raw) is not list:
                raise PayloadError(reasons.MISSING_FIELD, f"{field}: expected a list of [price, quantity]")
        try:
            self._book.apply_texts(bids, asks, _number)  # type: ignore[arg-type]
        except LevelError as bad:
            self._resync(gap=True)
            raise PayloadError(reasons.WRONG_TYPE, str(bad)) from None
        except PayloadError:
            self._resync(gap=True)
            raise

    def _emit(self, data: dict[str, Any], ts_local: int) -> OrderBook:
        bids, asks = self._book.top(self.depth)
        return _BOOK(VENUE, self.symbol, self.market, bids, asks, self.depth, self._last_u, _event_ms(data), ts_local)

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
        self._routes: dict[str, Route] = {}  # stream name → (topic, handler); see `message`

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
        self._routes.clear()  # routes hold quantity scales made from the contract sizes
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
        """One combined-stream message `{"stream", "data"}` → `[(topic, record), …]`.

        The stream name is looked up in the feed's routes (venue symbol, channel, market
        and quantity scale decided once per stream); a stream seen for the first time, or a
        message that is not a `{stream: str, data: dict}` pair, goes through `_route`."""
        try:
            data = message["data"]
            topic, one, many, scale = self._routes[message["stream"]]
        except (KeyError, TypeError):
            return self._route(message, ts_local)
        if type(data) is not dict:
            return self._route(message, ts_local)
        try:
            if one is not None:
                return [(topic, one(data, self.market, ts_local, scale))]
            return [(topic, record) for record in many(data, ts_local)]  # type: ignore[misc]
        except PayloadError as bad:
            bad.topic = bad.topic or topic
            raise

    def _route(self, message: Any, ts_local: int) -> list[Any]:
        """Route a message the slow way and remember the stream's route."""
        stream = message.get("stream") if type(message) is dict else None
        data = message.get("data") if type(message) is dict else None
        if type(stream) is not str or type(data) is not dict:
            raise payload.PayloadError(reasons.WRONG_TYPE, "expected {stream, data}", payload.UNROUTED)
        venue_symbol, _, channel = stream.upper().partition("@")
        channel = channel.lower()
        route: Route
        if _dated(venue_symbol):
            route = ("", None, self._skipper("skipped:binance-dated-future"), None)
        elif channel in ("bookticker", "aggtrade"):
            topic = topics.MD_TICKER if channel == "bookticker" else topics.MD_TRADE
            with _translated(topic):
                route = (topic, book_ticker if channel == "bookticker" else agg_trade, None, self.scale(venue_symbol))
        elif channel.startswith("depth"):
            with _translated(topics.MD_BOOK):
                route = (topics.MD_BOOK, None, self._sync(venue_symbol).on_diff, None)
        else:
            route = ("", None, self._skipper(f"skipped:binance-{channel}"), None)
        if len(self._routes) < 10_000:  # bounded: a feed of garbage stream names cannot grow it for ever
            self._routes[stream] = route
        topic, one, many, scale = route
        with _translated(topic):
            if one is not None:
                return [(topic, one(data, self.market, ts_local, scale))]
            return [(topic, record) for record in many(data, ts_local)]  # type: ignore[misc]

    def _skipper(self, count: str) -> Callable[[dict[str, Any], int], list[Any]]:
        def skip(data: dict[str, Any], ts_local: int) -> list[Any]:
            self.counts[count] += 1
            return []
        return skip

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
