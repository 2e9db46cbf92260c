"""Gate.io v4 websocket and REST payloads → records (spot `GATEIO`, USDT futures `GATEIO_FUTURES`).

Symbols: `BTC_USDT` → `BTC/USDT` (spot) or `BTC/USDT:USDT` (USDT-settled perp).
Quantities: spot amounts are base units; futures sizes are contracts of
`quanto_multiplier` base units each, read from the REST contract list
(`/api/v4/futures/usdt/contracts`, the capture's `GATEIO_FUTURES.0`): base = size ×
multiplier. A futures message for a contract missing from that list is rejected
(UNKNOWN_SYMBOL). Futures trade sizes are signed (negative = the taker sold).

Sample spot order_book_update (`t` ms, `U`/`u` first/last update id):
    {"time":1619093532,"channel":"spot.order_book_update","event":"update","result":{"t":1619093532978,
     "e":"depthUpdate","E":1619093532,"s":"HAI_ETH","U":2691446,"u":2691446,
     "b":[["0.00010322","5360.209"],…],"a":[…]}}
Sample futures order_book_update (sizes in contracts):
    {"time":1684930165,"time_ms":1684930165353,"channel":"futures.order_book_update","event":"update",
     "result":{"U":203083178,"a":[{"p":"0.3047","s":8393},…],"b":[],"s":"RDNT_USDT","t":1684930165247,
     "u":203083178}}
Sample REST snapshots (`with_id=true`; spot levels `[p, s]`, futures `{"p","s"}`):
    {"id":2691446,"current":…,"update":…,"asks":[["0.00010396","5876.967"],…],"bids":[…]}
    {"current":1684930166.384,"update":1684930166.35,"asks":[{"s":803,"p":"0.2974"},…],…,"id":203083287}
Sample futures book_ticker (`B`/`A` contracts, `u` the book's update id):
    {"channel":"futures.book_ticker","event":"update","result":{"t":1684930165621,"u":6159967,
     "s":"PHB_USDT","b":"0.7379","B":814,"a":"0.739","A":677}}
Sample spot trade (`side` is the taker's; `create_time_ms` fractional ms):
    {"channel":"spot.trades","event":"update","result":{"id":816995772,"create_time":1619093543,
     "create_time_ms":"1619093543708.2642","side":"sell","currency_pair":"DIS_USDT",
     "amount":"0.2010000000","price":"121.5800000000"}}
Sample contract (REST list; rates per `funding_interval` seconds, `funding_next_apply` in s):
    {"name":"KNC_USDT","quanto_multiplier":"1","funding_rate":"0.0001","funding_rate_indicative":"0.0001",
     "funding_interval":28800,"funding_next_apply":1684944000,"mark_price":"0.6104",
     "index_price":"0.610333","position_size":51137,…}
→ md.funding (`predicted_rate` = the indicative rate) and md.oi (`position_size` contracts
× multiplier), stamped with the response's receive time. Mark and index prices have no
field in those records and are not carried.

Spot `spot.tickers` carries best bid/ask without sizes, so it cannot be an md.ticker
(counted `skipped:gate-spot.tickers`); candlesticks are skipped likewise.

Book rules (Gate's documentation, spot and futures alike): buffer updates, load the REST
snapshot (`id`), drop buffered updates with `u <= id`; the first applied update must
satisfy `U <= id + 1 <= u`, each later one `U == previous u + 1`. A break drops the book
until the next snapshot (`book:gaps`); the capture holds one snapshot per symbol.
"""

import json
from collections import Counter
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

from arbflow.connectors import payload as p
from arbflow.connectors.feeds.spec import LiveSpec, field_of
from arbflow.connectors.payload import Out, PayloadError, QtyScale, SequencedBook
from arbflow.model import reasons, topics
from arbflow.model.market import FundingRate, Market, MarketTrade, OpenInterest, Side, Ticker

VENUE = "gate"
MAX_BUFFER = 10_000
_SIDES: dict[str, Side] = {"buy": "buy", "sell": "sell"}


class Feed:
    """Gate capture state: contract multipliers, one book (and its buffer) per symbol."""

    def __init__(self, *, futures: bool, depth: int = 20) -> None:
        self.futures, self.depth = futures, depth
        self.market: Market = "perp" if futures else "spot"
        self.prefix = "futures." if futures else "spot."
        self.counts: Counter[str] = Counter()
        self._multipliers: dict[str, Decimal] = {}
        self._books: dict[str, UpdateIdBook] = {}

    def _scale(self, name: str, topic: str) -> QtyScale | None:
        if not self.futures:
            return None
        if name not in self._multipliers:
            raise PayloadError(reasons.UNKNOWN_SYMBOL, f"{name}: not in the contract list", topic)
        return p.contracts(self._multipliers[name])

    def _book(self, name: Any, topic: str) -> "UpdateIdBook":
        if type(name) is not str:
            raise PayloadError(reasons.MISSING_FIELD, f"s: expected a contract name, got {name!r:.40}", topic)
        book = self._books.get(name)
        if book is None:
            symbol = p.symbol(VENUE, name, self.market, topic).instrument.symbol
            book = self._books[name] = UpdateIdBook(venue=VENUE, symbol=symbol, market=self.market,
                                                    depth=self.depth, scale=self._scale(name, topic))
        return book

    def reference(self, url: str, body: Any, ts_local: int) -> list[Out]:
        """The futures contract list → multipliers, md.funding and md.oi (spot: nothing)."""
        if not self.futures:
            return []
        if type(body) is not list:
            raise PayloadError(reasons.WRONG_TYPE, "contracts: expected a list", topics.MD_FUNDING)
        out: list[Out] = []
        for contract in body:
            try:
                out += parse_contract(p.obj(contract, "contract", topics.MD_FUNDING), ts_local, self._multipliers)
            except PayloadError as bad:
                bad.raw = json.dumps(contract, default=str)
                out.append((bad.topic, bad))
        return out

    def snapshot(self, url: str, body: Any, ts_local: int) -> list[Out]:
        query = parse_qs(urlparse(url).query)
        name = (query.get("contract") or query.get("currency_pair") or [""])[0]
        body = p.obj(body, "order_book", topics.MD_BOOK)
        book = self._book(name, topics.MD_BOOK)
        bids, asks = _levels(body.get("bids"), "bids"), _levels(body.get("asks"), "asks")
        # futures snapshots say when the book last changed (`update`, float seconds); spot ones do not
        updated = p.ms(body["update"], "update", topics.MD_BOOK, unit="s") if "update" in body else None
        snapshot_id = p.integer(body.get("id"), "id", topics.MD_BOOK)
        return [(topics.MD_BOOK, b) for b in book.on_snapshot(bids, asks, snapshot_id, ts_local, updated)]

    def message(self, message: Any, ts_local: int) -> list[Out]:
        message = p.obj(message, "message", p.UNROUTED)
        channel = str(message.get("channel")).removeprefix(self.prefix)
        if message.get("event") != "update":
            self.counts[f"skipped:gate-{message.get('event')}"] += 1
            return []
        result = message.get("result")
        if channel == "order_book_update":
            result = p.obj(result, "result", topics.MD_BOOK)
            return [(topics.MD_BOOK, b) for b in self._book(result.get("s"), topics.MD_BOOK).on_update(result,
                                                                                                         ts_local)]
        if channel == "trades":
            trades = result if type(result) is list else [result]
            return [(topics.MD_TRADE, self._trade(p.obj(t, "trade", topics.MD_TRADE), ts_local)) for t in trades]
        if channel == "book_ticker" and self.futures:
            return [(topics.MD_TICKER, self._ticker(p.obj(result, "result", topics.MD_TICKER), ts_local))]
        self.counts[f"skipped:gate-{self.prefix}{channel}"] += 1
        return []

    def book_counts(self) -> Counter[str]:
        return p.book_counts(self._books.values())

    def _ticker(self, data: dict[str, Any], ts_local: int) -> Ticker:
        topic = topics.MD_TICKER
        name = data.get("s")
        symbol = p.symbol(VENUE, name, "perp", topic).instrument.symbol
        scale = self._scale(str(name), topic)
        bid, ask = p.money(data.get("b"), "b", topic), p.money(data.get("a"), "a", topic)
        bid_qty, ask_qty = p.money(data.get("B"), "B", topic), p.money(data.get("A"), "A", topic)
        if scale is not None:
            bid_qty, ask_qty = scale(bid, bid_qty), scale(ask, ask_qty)
        return Ticker(venue=VENUE, symbol=symbol, market="perp", bid=bid, ask=ask, bid_qty=bid_qty, ask_qty=ask_qty,
                      ts_exchange=p.ms(data.get("t"), "t", topic), ts_local=ts_local)

    def _trade(self, data: dict[str, Any], ts_local: int) -> MarketTrade:
        topic = topics.MD_TRADE
        if self.futures:  # {"size": -108, "price": "…", "contract": "…", "create_time_ms": …, "id": …}
            name, size = data.get("contract"), p.money(data.get("size"), "size", topic)
            side: Side = "sell" if size < 0 else "buy"
            px = p.money(data.get("price"), "price", topic)
            scale = self._scale(str(name), topic)
            qty = scale(px, abs(size)) if scale else abs(size)
        else:
            name, taker = data.get("currency_pair"), _SIDES.get(str(data.get("side")))
            if taker is None:
                raise PayloadError(reasons.INVALID_VALUE, f"side: {data.get('side')!r}", topic)
            side = taker
            px, qty = p.money(data.get("price"), "price", topic), p.money(data.get("amount"), "amount", topic)
        symbol = p.symbol(VENUE, name, self.market, topic).instrument.symbol
        return MarketTrade(venue=VENUE, symbol=symbol, market=self.market, px=px, qty=qty, side=side,
                           trade_id=str(data.get("id")),
                           ts_exchange=p.ms(data.get("create_time_ms"), "create_time_ms", topic), ts_local=ts_local)


def parse_contract(data: dict[str, Any], ts_local: int, multipliers: dict[str, Decimal]) -> list[Out]:
    """One futures contract → (md.funding, md.oi); records its multiplier on the way."""
    topic = topics.MD_FUNDING
    name = data.get("name")
    symbol = p.symbol(VENUE, name, "perp", topic).instrument.symbol
    multiplier = multipliers[str(name)] = p.money(data.get("quanto_multiplier"), "quanto_multiplier", topic)
    indicative = data.get("funding_rate_indicative")
    funding = FundingRate(venue=VENUE, symbol=symbol, market="perp",
                          rate=p.money(data.get("funding_rate"), "funding_rate", topic),
                          predicted_rate=p.money(indicative, "funding_rate_indicative", topic)
                          if indicative not in (None, "") else None,
                          interval_ms=p.ms(data.get("funding_interval"), "funding_interval", topic, unit="s"),
                          next_funding_time=p.ms(data.get("funding_next_apply"), "funding_next_apply", topic, unit="s"),
                          ts_local=ts_local)
    out: list[Out] = [(topic, funding)]
    if "position_size" in data:
        size = p.money(data.get("position_size"), "position_size", topics.MD_OI)
        out.append((topics.MD_OI, OpenInterest(venue=VENUE, symbol=symbol, market="perp",
                                               open_interest=size * multiplier, ts_local=ts_local)))
    return out


def _levels(raw: Any, where: str) -> list[p.TextLevel]:
    """Spot `[[p, s]]` or futures `[{"p", "s"}]` levels."""
    if type(raw) is list:
        raw = [[lv.get("p"), lv.get("s")] if type(lv) is dict else lv for lv in raw]
    return p.levels(raw, where, topics.MD_BOOK)


class UpdateIdBook(SequencedBook):
    """Gate's REST-snapshot + `U`/`u` update sequencing (see the module docstring)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.buffer: list[tuple[dict[str, Any], int]] = []
        self._first = True

    def on_snapshot(self, bids: list[p.TextLevel], asks: list[p.TextLevel], snapshot_id: int,
                    ts_local: int, ts_exchange: int | None = None) -> list[Any]:
        """Load the snapshot and replay the buffered updates after it; one book (stamped
        with the snapshot's receive time, and the exchange time of the last update applied
        or else of the snapshot) unless the replay broke the sequence."""
        self.load(bids, asks, snapshot_id)
        self._first = True
        buffered, self.buffer = self.buffer, []
        for update, _ in buffered:
            if not self.synced:
                self.unsynced += 1
                continue
            before = self.seq
            if self._apply(update) and self.seq != before:
                ts_exchange = p.ms(update.get("t"), "t", topics.MD_BOOK)
        return self.emit(ts_exchange, ts_local) if self.synced else []

    def on_update(self, update: dict[str, Any], ts_local: int) -> list[Any]:
        if not self.synced:
            if len(self.buffer) < MAX_BUFFER:
                self.buffer.append((update, ts_local))
            else:
                self.unsynced += 1
            return []
        seq = self.seq
        if not self._apply(update) or seq == self.seq:
            return []
        return self.emit(p.ms(update.get("t"), "t", topics.MD_BOOK), ts_local)

    def _apply(self, update: dict[str, Any]) -> bool:
        """Check the ids and apply; False when skipped (stale) or dropped (gap, crossing)."""
        topic = topics.MD_BOOK
        first, last = p.integer(update.get("U"), "U", topic), p.integer(update.get("u"), "u", topic)
        previous = self.seq
        assert previous is not None, "a loaded book has the snapshot id"
        if last <= previous:
            return True  # older than the snapshot: skipped
        if (not first <= previous + 1) if self._first else first != previous + 1:
            self.drop("gap")
            return False
        self._first = False
        self.apply(_levels(update.get("b"), "b"), _levels(update.get("a"), "a"), last)
        if self.book.crossed():
            self.drop("crossed")
            return False
        return True


# -- live feeds through ccxt.pro (connectors/feeds) --------------------------------------
#
# md.ticker from `watch_bids_asks` (`spot.book_ticker` / `futures.book_ticker`: b/B best
# bid and size, a/A best ask and size, `t` ms; futures sizes in contracts — the normaliser
# applies ccxt's `contractSize`, i.e. `quanto_multiplier`). Books from `watch_order_book`
# (futures: `futures.order_book_update` + the REST snapshot, ccxt checks `U`/`u`; spot:
# ccxt's `spot.obu` order book v2). Trades `spot.trades` (price/amount, `side`) and
# `futures.trades` (`size` signed: negative = the taker sold; ccxt gives the side).
# Funding from REST `/futures/usdt/contracts`: `funding_rate` settles at
# `funding_next_apply`, `funding_rate_indicative` is Gate's estimate of the next one,
# `funding_interval` is in seconds. ccxt's currency list (`/spot/currencies`) is not loaded.


def _unsigned(size: Any) -> Any:
    """A futures trade size without its sign (the side carries it); None when odd."""
    if type(size) is str:
        return size.removeprefix("-")
    return abs(size) if type(size) is int else None


def _live_ticker(info: Any) -> dict[str, Any]:
    return {"bid": field_of(info, "b"), "ask": field_of(info, "a"), "bid_qty": field_of(info, "B"),
            "ask_qty": field_of(info, "A")}


def _live_trade(info: Any) -> dict[str, Any]:
    amount = field_of(info, "amount")
    return {"px": field_of(info, "price"), "qty": amount if amount is not None else _unsigned(field_of(info, "size"))}


def _live_funding(info: Any) -> dict[str, Any]:
    interval_s = field_of(info, "funding_interval")
    predicted = field_of(info, "funding_rate_indicative")
    return {"rate": field_of(info, "funding_rate"), "predicted_rate": predicted or None,
            "interval_ms": interval_s * 1000 if type(interval_s) is int and interval_s > 0 else None}


LIVE = LiveSpec(ccxt_id="gate", ccxt_options={"fetchMarkets": {"types": ["spot", "swap"]},
                                              "swap": {"fetchMarkets": {"settlementCurrencies": ["usdt"]}}},
                ccxt_has={"fetchCurrencies": False}, ticker_source={"spot": "bids_asks", "perp": "bids_asks"},
                ticker_fields=_live_ticker, trade_fields=_live_trade, funding_fields=_live_funding)
