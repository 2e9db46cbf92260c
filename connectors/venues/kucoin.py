"""KuCoin spot websocket (v1) and REST level-2 snapshot (v3) payloads → records.

Symbols: `BCHSV-USDT` → `BCHSV/USDT`. Quantities are base units. Timestamps: ticker
`time` ms, match `time` ns (→ ms, truncated), snapshot `time` ms; level2 updates carry
no time, so books built from them have `ts_exchange` None (their `seq` is the sequence).

Sample ticker (`sequence` is the order book sequence the best prices belong to):
    {"data":{"sequence":"1613277183873","bestAsk":"242.951","size":"0.08000012",
     "bestBidSize":"0.68148185","price":"243.65","time":1619378326330,"bestAskSize":"4.51280965",
     "bestBid":"242.654"},"subject":"trade.ticker","topic":"/market/ticker:BCHSV-USDT","type":"message"}
Sample match (`side` is the taker's):
    {"data":{"symbol":"DAPPT-BTC","sequence":"1612701563869","side":"buy","size":"81.8814",
     "price":"0.0000001117","takerOrderId":"…","time":"1619378327739050725","type":"match",
     "makerOrderId":"…","tradeId":"6085c09769bc506996295e36"},"subject":"trade.l3match",
     "topic":"/market/match:DAPPT-BTC","type":"message"}
Sample level2 update (`[price, size, sequence]`; price "0" only advances the sequence):
    {"data":{"sequenceStart":1613277183875,"symbol":"BCHSV-USDT","changes":{"asks":[["244.351","150",
     "1613277183875"]],"bids":[]},"sequenceEnd":1613277183875},"subject":"trade.l2update",
     "topic":"/market/level2:BCHSV-USDT","type":"message"}
Sample REST snapshot (`/api/v3/market/orderbook/level2?symbol=…`):
    {"code":"200000","data":{"time":1619378326628,"sequence":"1613277183892",
     "bids":[["242.649","5"],…],"asks":[…]}}

Book rules (KuCoin's documentation): buffer updates, load the snapshot at `sequence`,
then apply changes in sequence order, skipping those at or below the book's sequence;
every applied change must be exactly the book's sequence + 1 (a change at price 0 only
advances it). A jump drops the book until the next snapshot (`book:gaps`).
"""

from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlparse

from arbflow.connectors import payload as p
from arbflow.connectors.feeds.spec import LiveSpec, field_of
from arbflow.connectors.payload import Out, PayloadError, SequencedBook
from arbflow.model import reasons, topics
from arbflow.model.market import MarketTrade, Ticker

VENUE = "kucoin"
MAX_BUFFER = 10_000


class Feed:
    """KuCoin capture state: one book (and its pre-snapshot buffer) per symbol."""

    def __init__(self, *, depth: int = 20) -> None:
        self.depth = depth
        self.counts: Counter[str] = Counter()
        self._books: dict[str, SequenceBook] = {}

    def reference(self, url: str, body: Any, ts_local: int) -> list[Out]:
        return []  # the symbols list: spot sizes need no conversion

    def _book(self, name: Any) -> "SequenceBook":
        book = self._books.get(name)
        if book is None:
            symbol = p.symbol(VENUE, name, "spot", topics.MD_BOOK).instrument.symbol
            book = self._books[name] = SequenceBook(venue=VENUE, symbol=symbol, market="spot", depth=self.depth)
        return book

    def snapshot(self, url: str, body: Any, ts_local: int) -> list[Out]:
        topic = topics.MD_BOOK
        name = (parse_qs(urlparse(url).query).get("symbol") or [""])[0]
        data = p.obj(p.obj(body, "response", topic).get("data"), "data", topic)
        book = self._book(name)
        bids, asks = p.levels(data.get("bids"), "bids", topic), p.levels(data.get("asks"), "asks", topic)
        return [(topic, b) for b in book.on_snapshot(bids, asks, p.integer(data.get("sequence"), "sequence", topic),
                                                     p.ms(data.get("time"), "time", topic), ts_local)]

    def message(self, message: Any, ts_local: int) -> list[Out]:
        message = p.obj(message, "message", p.UNROUTED)
        channel, _, name = str(message.get("topic")).partition(":")
        if message.get("type") != "message":
            self.counts[f"skipped:kucoin-{message.get('type')}"] += 1
            return []
        if channel == "/market/level2":
            data = p.obj(message.get("data"), "data", topics.MD_BOOK)
            return [(topics.MD_BOOK, b) for b in self._book(name).on_update(data, ts_local)]
        if channel == "/market/ticker":
            return [(topics.MD_TICKER, parse_ticker(p.obj(message.get("data"), "data", topics.MD_TICKER), name,
                                                    ts_local))]
        if channel == "/market/match":
            return [(topics.MD_TRADE, parse_match(p.obj(message.get("data"), "data", topics.MD_TRADE), ts_local))]
        self.counts[f"skipped:kucoin-{channel}"] += 1
        return []

    def book_counts(self) -> Counter[str]:
        return p.book_counts(self._books.values())


def parse_ticker(data: dict[str, Any], name: str, ts_local: int) -> Ticker:
    topic = topics.MD_TICKER
    return Ticker(venue=VENUE, symbol=p.symbol(VENUE, name, "spot", topic).instrument.symbol, market="spot",
                  bid=p.money(data.get("bestBid"), "bestBid", topic),
                  ask=p.money(data.get("bestAsk"), "bestAsk", topic),
                  bid_qty=p.money(data.get("bestBidSize"), "bestBidSize", topic),
                  ask_qty=p.money(data.get("bestAskSize"), "bestAskSize", topic),
                  last=p.money(data.get("price"), "price", topic), ts_exchange=p.ms(data.get("time"), "time", topic),
                  ts_local=ts_local)


def parse_match(data: dict[str, Any], ts_local: int) -> MarketTrade:
    topic = topics.MD_TRADE
    side = data.get("side")
    if side not in ("buy", "sell"):
        raise PayloadError(reasons.INVALID_VALUE, f"side: {side!r}", topic)
    return MarketTrade(venue=VENUE, symbol=p.symbol(VENUE, data.get("symbol"), "spot", topic).instrument.symbol,
                       market="spot", px=p.money(data.get("price"), "price", topic),
                       qty=p.money(data.get("size"), "size", topic), side=side, trade_id=str(data.get("tradeId")),
                       ts_exchange=p.ms(data.get("time"), "time", topic, unit="ns"), ts_local=ts_local)


class SequenceBook(SequencedBook):
    """KuCoin's REST-snapshot + per-change sequence rule (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.buffer: list[dict[str, Any]] = []

    def on_snapshot(self, bids: list[p.TextLevel], asks: list[p.TextLevel], sequence: int, ts_exchange: int,
                    ts_local: int) -> list[Any]:
        self.load(bids, asks, sequence)
        buffered, self.buffer = self.buffer, []
        for update in buffered:
            if not self.synced:
                self.unsynced += 1
            else:
                self._apply(update)
        return self.emit(ts_exchange, ts_local) if self.synced else []

    def on_update(self, update: dict[str, Any], ts_local: int) -> list[Any]:
        if not self.synced:
            if len(self.buffer) < MAX_BUFFER:
                self.buffer.append(update)
            else:
                self.unsynced += 1
            return []
        before = self.seq
        if not self._apply(update) or self.seq == before:
            return []
        return self.emit(None, ts_local)

    def _apply(self, update: dict[str, Any]) -> bool:
        """Apply the changes past the book's sequence; False when the book was dropped."""
        topic = topics.MD_BOOK
        changes = p.obj(update.get("changes"), "changes", topic)
        rows = []
        for side in ("bids", "asks"):
            side_rows = changes.get(side) or []
            if type(side_rows) is not list:
                raise PayloadError(reasons.WRONG_TYPE, f"changes.{side}: expected a list", topic)
            for row in side_rows:
                if type(row) is not list or len(row) != 3:
                    raise PayloadError(reasons.WRONG_TYPE, f"{side}: expected [price, size, sequence]", topic)
                rows.append((p.integer(row[2], f"{side}.sequence", topic), side, row))
        for sequence, side, row in sorted(rows, key=lambda r: r[0]):
            assert self.seq is not None, "a synced book has a sequence"
            if sequence <= self.seq:
                continue
            if sequence != self.seq + 1:
                self.drop("gap")
                return False
            if row[0] != "0":
                [level] = p.levels([row[:2]], side, topic)
                self.apply([level] if side == "bids" else [], [level] if side == "asks" else [])
            self.seq = sequence
        if self.book.crossed():
            self.drop("crossed")
            return False
        return True


# -- live feeds through ccxt.pro (connectors/feeds) --------------------------------------
#
# Spot md.ticker from `watch_ticker` on the `/market/ticker` topic (bestBid/bestBidSize/
# bestAsk/bestAskSize/price, `time` ms — the sample above; ccxt's default topic
# `/market/snapshot` carries no sizes). Books from `watch_order_book` (`/market/level2`
# changes + the REST level-2 snapshot; ccxt orders them by `sequence`). Trades
# `/market/match` (price/size). Perps (USDT-margined `XBTUSDTM`) come through the same
# ccxt class from KuCoin's futures API (`/contractMarket/tickerV2` best bid/offer,
# `/contractMarket/level2`) with funding streamed over `funding-fee` (`watch_funding_rate`,
# rate and interval from the push's `fr` / `gl`) and ccxt's `fetch_funding_rates` as the
# fallback poll; no recording of that API exists in our data, so the perp path is untested
# and its other raw fields are not mapped (the normaliser uses ccxt's numbers). ccxt's currency list and its per-symbol
# fee lookup (all tickers) are not loaded.


def _live_ticker(info: Any) -> dict[str, Any]:
    data = field_of(info, "data") if isinstance(field_of(info, "data"), dict) else info
    return {"bid": field_of(data, "bestBid") or field_of(data, "bestBidPrice"),
            "ask": field_of(data, "bestAsk") or field_of(data, "bestAskPrice"),
            "bid_qty": field_of(data, "bestBidSize"), "ask_qty": field_of(data, "bestAskSize"),
            "last": field_of(data, "price")}


def _live_trade(info: Any) -> dict[str, Any]:
    return {"px": field_of(info, "price"), "qty": field_of(info, "size")}


def _live_funding(info: Any) -> dict[str, Any]:
    """Perp funding. The websocket `funding-fee` row (ccxt.pro `watch_funding_rate`; ccxt's
    sample `{"s":"ETHUSDTM","fr":"0.000035","ft":1782806400000,"nt":1782835200000,
    "gl":28800000,…}`) carries the rate as a string and the interval in ms (`gl`); the REST
    rows (`granularity` / `currentGranularity` ms) send the rate as a JSON number, so
    ccxt's is used. Unrecorded: no KuCoin futures payload exists in our data."""
    granularity = next((v for v in (field_of(info, k) for k in ("gl", "granularity", "currentGranularity"))
                        if type(v) is int), None)
    return {"rate": field_of(info, "fr"), "interval_ms": granularity}


LIVE = LiveSpec(ccxt_id="kucoin", ccxt_options={"fetchMarkets": {"types": ["spot", "swap"], "fetchTickersFees": False},
                                                "watchTicker": {"spotMethod": "/market/ticker"}},
                ccxt_has={"fetchCurrencies": False}, ticker_source={"spot": "ticker", "perp": "bids_asks"},
                ticker_fields=_live_ticker, trade_fields=_live_trade, funding_fields=_live_funding)
