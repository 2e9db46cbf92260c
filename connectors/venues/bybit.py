"""Bybit legacy v2 websocket payloads → records (perpetuals; `realtime_public` = USDT
linear, `realtime` = inverse). This is the 2021 API, not v5.

Symbols: `BCHUSDT` → `BCH/USDT:USDT` (linear), `BTCUSD` → `BTC/USD:BTC` (inverse).
Quantities: linear sizes are base units (JSON numbers such as `"size":0.14`, decoded as
exact Decimals); inverse sizes are contracts of 1 USD each (Bybit's documented contract
value; the v2 `symbols` list in `BYBIT.0` states no contract size), so base = size / price.
Timestamps: trades `trade_time_ms` (ms); book deltas `timestamp_e6` (µs → ms).

Sample trade (`side` is the taker's; inverse prices may be JSON numbers):
    {"topic":"trade.BCHUSDT","data":[{"symbol":"BCHUSDT","tick_direction":"MinusTick",
     "price":"1053.90","size":0.14,"timestamp":"2021-04-17T16:43:05.000Z",
     "trade_time_ms":"1618677785116","side":"Buy","trade_id":"01cacfe9-…"}]}
Sample orderBookL2_25 snapshot (linear wraps the list in `order_book`, inverse does not):
    {"topic":"orderBookL2_25.BCHUSDT","type":"snapshot","data":{"order_book":[{"price":"1053.05",
     "symbol":"BCHUSDT","id":"10530500","side":"Buy","size":2.63},…]},
     "cross_seq":"864131773","timestamp_e6":"1618677786389362"}
Sample delta (deletes carry no size):
    {"topic":"orderBookL2_25.BTCUSD","type":"delta","data":{"delete":[{"price":"60604.00",
     "symbol":"BTCUSD","id":606040000,"side":"Buy"}],"update":[{"price":"60616.50",…,"size":8297714}],
     "insert":[{"price":"60590.50",…,"size":7500}],"transactTimeE6":0},
     "cross_seq":5938954563,"timestamp_e6":1618677785537926}

Book rules: v2 levels are keyed by `id` (one id per price). A snapshot loads the 25
levels per side; a delta deletes, updates and inserts by id. `cross_seq` must increase
from message to message (it skips values: it counts matching-engine events of the whole
instrument, not book messages), and a delete or update must name an id the book holds;
either break means a lost message → the book is dropped until the next snapshot
(`book:gaps`). Bybit v2 has no checksum; Bybit resends a snapshot only on resubscription.
"""

from collections import Counter
from decimal import Decimal
from typing import Any

from arbflow.connectors import payload as p
from arbflow.connectors.feeds.spec import LiveSpec, field_of, hours_ms
from arbflow.connectors.payload import Out, PayloadError, SequencedBook, TextLevel
from arbflow.model import reasons, topics
from arbflow.model.market import MarketTrade, Side

VENUE = "bybit"
_SIDES: dict[str, Side] = {"Buy": "buy", "Sell": "sell"}


class Feed:
    """Bybit capture state: one id-keyed book per symbol."""

    def __init__(self, *, depth: int = 20) -> None:
        self.depth = depth
        self.counts: Counter[str] = Counter()
        self._books: dict[str, IdBook] = {}

    def reference(self, url: str, body: Any, ts_local: int) -> list[Out]:
        return []  # the v2 symbols list holds no contract size (1 USD inverse contracts are documented)

    def snapshot(self, url: str, body: Any, ts_local: int) -> list[Out]:
        self.counts["skipped:bybit-rest-snapshot"] += 1
        return []

    def message(self, message: Any, ts_local: int) -> list[Out]:
        message = p.obj(message, "message", p.UNROUTED)
        channel, _, venue_symbol = str(message.get("topic")).partition(".")
        if channel == "trade":
            data = message.get("data")
            if type(data) is not list:
                raise PayloadError(reasons.WRONG_TYPE, "data: expected a list of trades", topics.MD_TRADE)
            return [(topics.MD_TRADE, parse_trade(p.obj(t, "trade", topics.MD_TRADE), ts_local)) for t in data]
        if channel == "orderBookL2_25":
            book = self._books.get(venue_symbol)
            if book is None:
                symbol = p.symbol(VENUE, venue_symbol, "perp", topics.MD_BOOK).instrument.symbol
                book = self._books[venue_symbol] = IdBook(venue=VENUE, symbol=symbol, market="perp",
                                                          depth=self.depth, scale=_scale(venue_symbol))
            return [(topics.MD_BOOK, b) for b in book.on_message(message, ts_local)]
        self.counts["skipped:bybit-" + ("response" if "success" in message else channel)] += 1
        return []

    def book_counts(self) -> Counter[str]:
        return p.book_counts(self._books.values())


def _scale(venue_symbol: str) -> p.QtyScale | None:
    """Inverse symbols (`…USD`) trade 1-USD contracts; linear ones trade base units."""
    return p.usd_contracts(Decimal(1)) if venue_symbol.endswith("USD") else None


def parse_trade(data: dict[str, Any], ts_local: int) -> MarketTrade:
    topic = topics.MD_TRADE
    venue_symbol = data.get("symbol")
    resolved = p.symbol(VENUE, venue_symbol, "perp", topic)
    side = _SIDES.get(str(data.get("side")))
    if side is None:
        raise PayloadError(reasons.INVALID_VALUE, f"side: {data.get('side')!r}", topic)
    px, qty = p.money(data.get("price"), "price", topic), p.money(data.get("size"), "size", topic)
    scale = _scale(str(venue_symbol))
    return MarketTrade(venue=VENUE, symbol=resolved.instrument.symbol, market="perp", px=px,
                       qty=scale(px, qty) if scale is not None else qty, side=side,
                       trade_id=str(data.get("trade_id")),
                       ts_exchange=p.ms(data.get("trade_time_ms"), "trade_time_ms", topic), ts_local=ts_local)


def _rows(data: dict[str, Any], name: str) -> list[Any]:
    """The `delete`/`update`/`insert` rows of a delta (absent or null: none)."""
    rows = data.get(name)
    if rows is None:
        return []
    if type(rows) is not list:
        raise PayloadError(reasons.WRONG_TYPE, f"data.{name}: expected a list of levels", topics.MD_BOOK)
    return rows


class IdBook(SequencedBook):
    """A `SequencedBook` addressed by Bybit level id (id → (side, price, price text))."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._ids: dict[str, tuple[str, Decimal, str]] = {}  # id → (side, price, price as sent)

    def on_message(self, message: dict[str, Any], ts_local: int) -> list[Any]:
        topic = topics.MD_BOOK
        cross_seq = p.integer(message.get("cross_seq"), "cross_seq", topic)
        ts_exchange = p.ms(message.get("timestamp_e6"), "timestamp_e6", topic, unit="us")
        data = message.get("data")
        if message.get("type") == "snapshot":
            rows = data.get("order_book") if type(data) is dict else data
            if type(rows) is not list:
                raise PayloadError(reasons.WRONG_TYPE, "data: expected a list of levels", topic)
            self._ids.clear()
            levels = [self._level(p.obj(r, "level", topic), insert=True) for r in rows]
            self.load([lv for side, lv in levels if side == "Buy"], [lv for side, lv in levels if side == "Sell"],
                      cross_seq)
            return self.emit(ts_exchange, ts_local)
        if message.get("type") != "delta" or type(data) is not dict:
            raise PayloadError(reasons.INVALID_VALUE, f"type: {message.get('type')!r}", topic)
        if not self.synced:
            self.unsynced += 1
            return []
        if self.seq is not None and cross_seq <= self.seq:
            self.drop("gap")
            return []
        try:
            changes = [self._level(p.obj(r, "level", topic), delete=True) for r in _rows(data, "delete")]
            changes += [self._level(p.obj(r, "level", topic)) for r in _rows(data, "update")]
            changes += [self._level(p.obj(r, "level", topic), insert=True) for r in _rows(data, "insert")]
        except KeyError:  # an id the book does not hold: a delta was lost
            self.drop("gap")
            return []
        self.apply([lv for side, lv in changes if side == "Buy"], [lv for side, lv in changes if side == "Sell"],
                   cross_seq)
        return self.emit(ts_exchange, ts_local)

    def _level(self, row: dict[str, Any], *, insert: bool = False, delete: bool = False) -> tuple[str, TextLevel]:
        """(side, level) of one row; KeyError when a delete/update names an unknown id."""
        topic = topics.MD_BOOK
        level_id = str(row.get("id"))
        if insert:
            side = row.get("side")
            if type(side) is not str or side not in _SIDES:
                raise PayloadError(reasons.INVALID_VALUE, f"side: {side!r}", topic)
            px_raw = row.get("price")
            self._ids[level_id] = (str(side), p.money(px_raw, "price", topic), p.text(px_raw))
        side, px, px_text = self._ids[level_id]
        if delete:
            del self._ids[level_id]
            return side, (px, Decimal(0), px_text, "0")
        size = row.get("size")
        qty = p.money(size, "size", topic)
        if qty < 0:
            raise PayloadError(reasons.NEGATIVE_SIZE, f"size: {size}", topic)
        return side, (px, qty, px_text, p.text(size))


# -- live feeds through ccxt.pro: Bybit v5 (connectors/feeds) ----------------------------
#
# The v5 API differs from the v2 capture above. Linear md.ticker from `watch_ticker`
# (`tickers.<symbol>`: bid1Price/bid1Size/ask1Price/ask1Size/lastPrice/markPrice/indexPrice;
# ccxt merges the deltas into `info`). Spot tickers carry no best bid/offer, and spot
# md.ticker is the top of `watch_order_book` — not `watch_bids_asks`: ccxt keeps one book
# per symbol, so the `orderbook.1` snapshots behind watch_bids_asks would reset the
# `orderbook.50` book (a crossed or one-level book). Book levels are ccxt's numbers via
# str(). Trades `publicTrade.<symbol>` (p/v). Funding from REST `/v5/market/tickers`
# (`fundingRate`, `nextFundingTime`, `fundingIntervalHour`).


def _live_ticker(info: Any) -> dict[str, Any]:
    return {"bid": field_of(info, "bid1Price"), "ask": field_of(info, "ask1Price"),
            "bid_qty": field_of(info, "bid1Size"), "ask_qty": field_of(info, "ask1Size"),
            "last": field_of(info, "lastPrice"), "mark": field_of(info, "markPrice"),
            "index": field_of(info, "indexPrice")}


def _live_trade(info: Any) -> dict[str, Any]:
    return {"px": field_of(info, "p"), "qty": field_of(info, "v")}


def _live_funding(info: Any) -> dict[str, Any]:
    return {"rate": field_of(info, "fundingRate"), "interval_ms": hours_ms(field_of(info, "fundingIntervalHour"))}


def _live_oi(info: Any) -> dict[str, Any]:
    return {"open_interest": field_of(info, "openInterest")}  # /v5/market/open-interest, linear: base units


def _live_liquidation(info: Any) -> dict[str, Any]:
    # allLiquidation (p, v, S) or liquidation (price, size, side). Bybit's side is the
    # liquidated *position's* ("Buy": a long was liquidated), so the order's is the other.
    position = field_of(info, "S") or field_of(info, "side")
    order_side = {"Buy": "sell", "Sell": "buy"}.get(str(position))
    return {"px": field_of(info, "p") or field_of(info, "price"), "qty": field_of(info, "v") or field_of(info, "size"),
            "side": order_side}


LIVE = LiveSpec(ccxt_id="bybit", ccxt_options={"fetchMarkets": {"types": ["spot", "linear"]}},
                ticker_source={"spot": "book", "perp": "ticker"}, ticker_fields=_live_ticker,
                trade_fields=_live_trade, funding_fields=_live_funding, oi_fields=_live_oi,
                liquidation_fields=_live_liquidation)
