"""Hyperliquid websocket payloads → records (USDC-settled perps; `BTC` → `BTC/USDC:USDC`).

Sample l2Book (full top-20 snapshot on every message; `n` = number of orders at the level):
    {"channel":"l2Book","data":{"coin":"BTC","time":1737918843542,"levels":[
        [{"n":5,"px":"105055.0","sz":"3.03622"},…],     ← bids, best first
        [{"n":3,"px":"105056.0","sz":"0.5"},…]]}}       ← asks, best first
Sample trades (`side` is the taker's: B buy, A sell; the first message after subscribing
replays recent trades, so `ts_exchange` can be well before receipt):
    {"channel":"trades","data":[{"coin":"BTC","px":"105056.0","side":"B","sz":"0.00219",
      "tid":121451470284048,"time":1737918794873,"hash":"0x…","users":[…]}]}

Hyperliquid has no best-bid/offer channel in this capture; `ticker_from_book` derives the
md.ticker record from the book's top level.
"""

from collections.abc import Mapping
from typing import Any

from arbflow.connectors import payload
from arbflow.connectors.feeds.spec import LiveSpec, field_of
from arbflow.model import reasons
from arbflow.model.market import MarketTrade, OrderBook, Ticker
from arbflow.model.money import DecimalTextError, venue_decimal
from arbflow.model.symbols import SymbolError, from_venue

VENUE = "hyperliquid"


PayloadError = payload.PayloadError  # raised without a topic; the caller knows which it was


def _decimal(value: Any, where: str) -> Any:
    if type(value) is not str:
        raise PayloadError(reasons.WRONG_TYPE, f"{where}: expected a decimal string")
    try:
        return payload.in_range(venue_decimal(value), where, "")
    except DecimalTextError as error:
        raise PayloadError(reasons.NON_FINITE if error.non_finite else reasons.INVALID_NUMBER,
                           f"{where}: {value!r}") from None


def _symbol(coin: Any) -> str:
    if type(coin) is not str:
        raise PayloadError(reasons.MISSING_FIELD, "coin: missing")
    try:
        return from_venue(VENUE, coin, "perp").instrument.symbol
    except SymbolError as error:
        raise PayloadError(reasons.UNKNOWN_SYMBOL, str(error)) from None


def _time(value: Any) -> int:
    if type(value) is not int or not 0 <= value <= payload.MAX_INT:
        raise PayloadError(reasons.MISSING_FIELD, "time: missing exchange time")
    return value


def parse_l2_book(data: Any, ts_local: int, depth: int = 20) -> OrderBook:
    """An l2Book payload as an `OrderBook` (it is a full snapshot; no sequencing needed)."""
    if type(data) is not dict or type(data.get("levels")) is not list or len(data["levels"]) != 2:
        raise PayloadError(reasons.WRONG_TYPE, "l2Book: expected {coin, time, levels: [bids, asks]}")
    sides = []
    for name, levels in zip(("bids", "asks"), data["levels"], strict=True):
        if type(levels) is not list:
            raise PayloadError(reasons.WRONG_TYPE, f"levels.{name}: expected a list")
        sides.append(tuple((_decimal(lv.get("px"), f"{name}[{i}].px"), _decimal(lv.get("sz"), f"{name}[{i}].sz"))
                           for i, lv in enumerate(levels[:depth]) if type(lv) is dict))
    return OrderBook(venue=VENUE, symbol=_symbol(data.get("coin")), market="perp", bids=sides[0], asks=sides[1],
                     depth=depth, ts_exchange=_time(data.get("time")), ts_local=ts_local)


def ticker_from_book(book: OrderBook) -> Ticker | None:
    """Best bid/ask of a book as a `Ticker`; None when a side is empty."""
    if not book.bids or not book.asks:
        return None
    (bid, bid_qty), (ask, ask_qty) = book.bids[0], book.asks[0]
    return Ticker(venue=VENUE, symbol=book.symbol, market="perp", bid=bid, ask=ask, bid_qty=bid_qty, ask_qty=ask_qty,
                  ts_exchange=book.ts_exchange, ts_local=book.ts_local)


def parse_trades(data: Any, ts_local: int) -> list[MarketTrade]:
    """A trades payload (a list) as `MarketTrade`s."""
    if type(data) is not list:
        raise PayloadError(reasons.WRONG_TYPE, "trades: expected a list")
    trades = []
    for i, item in enumerate(data):
        if type(item) is not dict or item.get("side") not in ("B", "A"):
            raise PayloadError(reasons.INVALID_VALUE, f"trades[{i}].side: expected B or A")
        trades.append(MarketTrade(venue=VENUE, symbol=_symbol(item.get("coin")), market="perp",
                                  px=_decimal(item.get("px"), f"trades[{i}].px"),
                                  qty=_decimal(item.get("sz"), f"trades[{i}].sz"),
                                  side="buy" if item["side"] == "B" else "sell", trade_id=str(item.get("tid")),
                                  ts_exchange=_time(item.get("time")), ts_local=ts_local))
    return trades


# -- live feeds through ccxt.pro (connectors/feeds) --------------------------------------
#
# Perps only (USDC-settled). ccxt's market id is an index; the coin name (`baseName`) is
# the venue symbol. No best-bid/offer channel: md.ticker is the top of `watch_order_book`
# (l2Book snapshots). Trades px/sz. Funding from REST `metaAndAssetCtxs` (`funding`, per
# hour); the venue states no interval and no predicted rate (`premium` is not one), and
# ccxt computes the next settlement as the next full hour of the local clock.


def _live_venue_symbol(ccxt_market: Mapping[str, Any]) -> str:
    return str(ccxt_market.get("baseName") or ccxt_market["base"])


def _live_trade(info: Any) -> dict[str, Any]:
    return {"px": field_of(info, "px"), "qty": field_of(info, "sz")}


def _live_funding(info: Any) -> dict[str, Any]:
    return {"rate": field_of(info, "funding")}


def _live_oi(info: Any) -> dict[str, Any]:
    return {"open_interest": field_of(info, "openInterest")}  # metaAndAssetCtxs, in coins


LIVE = LiveSpec(ccxt_id="hyperliquid", ccxt_options={"fetchMarkets": {"types": ["swap"]}},
                ticker_source={"perp": "book"}, spot_quotes=(), perp_settles=("USDC",),
                venue_symbol=_live_venue_symbol, trade_fields=_live_trade, funding_fields=_live_funding,
                oi_fields=_live_oi)
