"""Bitget legacy v1 websocket payloads → records (`spot/v1` instType `sp`, `mix/v1`
instType `mc` = USDT-margined perpetuals). This is the 2022 API, not v2.

Symbols: `EOSUSDT` (sp) → `EOS/USDT`; `DASHUSDT` (mc) → `DASH/USDT:USDT`. Quantities
are base units on both markets (Bitget v1 quotes USDT-M sizes in the base coin; the
contract list in `BITGET.0` gives no contract size, only `minTradeNum`/`volumePlace`).
Timestamps are ms (`ts` strings, `systemTime` integers).

Sample books (a `snapshot` on subscribe, then `update`s; `checksum` over the top 25):
    {"action":"update","arg":{"instType":"sp","channel":"books","instId":"CULTUSDT"},
     "data":[{"asks":[["0.00003614","600000"],…],"bids":[…],"checksum":485516490,"ts":"1649290077496"}]}
Sample trades (`[ts, px, sz, taker side]`; the `snapshot` replays recent history):
    {"action":"update","arg":{"instType":"mc","channel":"trade","instId":"UNIUSDT"},
     "data":[["1649290078916","9.977","1","sell"]]}
Sample USDT-M ticker (`capitalRate` = funding rate per 8 h, `holding` = open interest):
    {"action":"snapshot","arg":{"instType":"mc","channel":"ticker","instId":"DASHUSDT"},"data":[{
     "instId":"DASHUSDT","last":"113.370","bestAsk":"113.41","bestBid":"113.36",…,
     "capitalRate":"-0.000100","nextSettleTime":1649314800000,"systemTime":1649290077309,
     "markPrice":"113.381","indexPrice":"113.427","holding":"21957.17",…}]}

What becomes what: books → md.book; trade updates → md.trade (v1 pushes carry no trade
id, so `trade_id` is `<ts>:<px>:<sz>:<side>`, deterministic across replays); trade
snapshots are history without ids and are skipped (`skipped:bitget-trade-history`);
USDT-M tickers → md.funding (8 h interval, no predicted rate) and md.oi (`holding`).
Tickers carry no bid/ask sizes, so none becomes an md.ticker (spot tickers are skipped).

Book rules (Bitget v1 documentation, the same algorithm as OKX): a snapshot loads the
book, updates set levels (size 0 deletes); after each message the CRC32 of
`bid1px:bid1sz:ask1px:ask1sz:…` over the top 25 levels, strings as sent, must equal the
signed `checksum`, else the book is dropped until the next snapshot (`book:checksum`).
"""

from collections import Counter
from typing import Any

from arbflow.connectors import payload as p
from arbflow.connectors.feeds.spec import LiveSpec, field_of, hours_ms
from arbflow.connectors.payload import Out, PayloadError, SequencedBook
from arbflow.model import reasons, topics
from arbflow.model.market import FundingRate, Market, MarketTrade, OpenInterest

VENUE = "bitget"
FUNDING_INTERVAL_MS = 8 * 3_600_000
_MARKETS: dict[str, Market] = {"sp": "spot", "mc": "perp"}


class Feed:
    """Bitget capture state: one checksummed book per (instType, instId)."""

    def __init__(self, *, depth: int = 20) -> None:
        self.depth = depth
        self.counts: Counter[str] = Counter()
        self._books: dict[tuple[str, str], SequencedBook] = {}

    def reference(self, url: str, body: Any, ts_local: int) -> list[Out]:
        return []  # products/contracts lists: no contract size to apply

    def snapshot(self, url: str, body: Any, ts_local: int) -> list[Out]:
        self.counts["skipped:bitget-rest-snapshot"] += 1
        return []

    def message(self, message: Any, ts_local: int) -> list[Out]:
        message = p.obj(message, "message", p.UNROUTED)
        arg = message.get("arg")
        if "event" in message or type(arg) is not dict:
            self.counts[f"skipped:bitget-{message.get('event', 'unknown')}"] += 1
            return []
        channel, inst_type, inst_id = arg.get("channel"), str(arg.get("instType")).lower(), str(arg.get("instId"))
        market = _MARKETS.get(inst_type)
        action = message.get("action")
        if market is None or channel not in ("books", "trade", "ticker"):
            self.counts[f"skipped:bitget-{inst_type}-{channel}"] += 1
            return []
        if channel == "books":
            book = self._books.get((inst_type, inst_id))
            if book is None:
                symbol = p.symbol(VENUE, inst_id, market, topics.MD_BOOK).instrument.symbol
                book = self._books[(inst_type, inst_id)] = SequencedBook(venue=VENUE, symbol=symbol, market=market,
                                                                         depth=self.depth)
            data = p.first(message.get("data"), "data", topics.MD_BOOK)
            return [(topics.MD_BOOK, b) for b in on_book(book, action, data, ts_local)]
        if channel == "trade":
            if action != "update":
                self.counts["skipped:bitget-trade-history"] += 1
                return []
            symbol = p.symbol(VENUE, inst_id, market, topics.MD_TRADE).instrument.symbol
            rows = message.get("data")
            if type(rows) is not list:
                raise PayloadError(reasons.WRONG_TYPE, "data: expected a list of trades", topics.MD_TRADE)
            return [(topics.MD_TRADE, parse_trade(row, symbol, market, ts_local)) for row in rows]
        if market == "spot":
            self.counts["skipped:bitget-sp-ticker"] += 1
            return []
        symbol = p.symbol(VENUE, inst_id, market, topics.MD_FUNDING).instrument.symbol
        return parse_ticker(p.first(message.get("data"), "data", topics.MD_FUNDING), symbol, ts_local)

    def book_counts(self) -> Counter[str]:
        return p.book_counts(self._books.values())


def parse_trade(row: Any, symbol: str, market: Market, ts_local: int) -> MarketTrade:
    topic = topics.MD_TRADE
    if type(row) is not list or len(row) != 4:
        raise PayloadError(reasons.WRONG_TYPE, "trade: expected [ts, px, sz, side]", topic)
    ts, px, sz, side = row
    if side not in ("buy", "sell"):
        raise PayloadError(reasons.INVALID_VALUE, f"side: {side!r}", topic)
    return MarketTrade(venue=VENUE, symbol=symbol, market=market, px=p.money(px, "px", topic),
                       qty=p.money(sz, "sz", topic), side=side, trade_id=f"{ts}:{px}:{sz}:{side}",
                       ts_exchange=p.ms(ts, "ts", topic), ts_local=ts_local)


def parse_ticker(data: dict[str, Any], symbol: str, ts_local: int) -> list[Out]:
    """A USDT-M ticker → md.funding and md.oi."""
    topic = topics.MD_FUNDING
    ts_exchange = p.ms(data.get("systemTime"), "systemTime", topic)
    funding = FundingRate(venue=VENUE, symbol=symbol, market="perp",
                          rate=p.money(data.get("capitalRate"), "capitalRate", topic), interval_ms=FUNDING_INTERVAL_MS,
                          next_funding_time=p.ms(data.get("nextSettleTime"), "nextSettleTime", topic),
                          ts_exchange=ts_exchange, ts_local=ts_local)
    holding = p.money(data.get("holding"), "holding", topics.MD_OI)
    return [(topic, funding), (topics.MD_OI, OpenInterest(venue=VENUE, symbol=symbol, market="perp",
                                                          open_interest=holding, ts_exchange=ts_exchange,
                                                          ts_local=ts_local))]


def on_book(book: SequencedBook, action: Any, data: dict[str, Any], ts_local: int) -> list[Any]:
    """Apply one books message; the top-N book, or nothing when the book is dropped."""
    topic = topics.MD_BOOK
    bids, asks = p.levels(data.get("bids"), "bids", topic), p.levels(data.get("asks"), "asks", topic)
    checksum = data.get("checksum")
    if type(checksum) is not int:
        raise PayloadError(reasons.MISSING_FIELD, "checksum: expected an integer", topic)
    if action == "snapshot":
        book.load(bids, asks)
    elif action == "update":
        if not book.synced:
            book.unsynced += 1
            return []
        book.apply(bids, asks)
    else:
        raise PayloadError(reasons.INVALID_VALUE, f"action: {action!r}", topic)
    if book.crc32() != checksum:
        book.drop("checksum")
        return []
    return book.emit(p.ms(data.get("ts"), "ts", topic), ts_local)




# -- live feeds through ccxt.pro: Bitget v2 (connectors/feeds) ---------------------------
#
# The v2 API differs from the v1 capture above (ccxt speaks v2 only). md.ticker from
# `watch_bids_asks` (`books1`: bidPr/bidSz/askPr/askSz; USDT-M sizes in base coin), books
# from `watch_order_book` (`books`, snapshot + updates, CRC32 checked by ccxt), trades
# `trade` (price/size). Funding from REST `/api/v2/mix/market/tickers`: `fundingRate` for
# the settlement at `nextFundingTime`, `fundingRateInterval` in hours. No recorded v2
# payload is available to the tests: this path is untested (see the README).


def _live_ticker(info: Any) -> dict[str, Any]:
    return {"bid": field_of(info, "bidPr"), "ask": field_of(info, "askPr"), "bid_qty": field_of(info, "bidSz"),
            "ask_qty": field_of(info, "askSz")}


def _live_trade(info: Any) -> dict[str, Any]:
    return {"px": field_of(info, "price"), "qty": field_of(info, "size")}


def _live_funding(info: Any) -> dict[str, Any]:
    return {"rate": field_of(info, "fundingRate"), "interval_ms": hours_ms(field_of(info, "fundingRateInterval"))}


LIVE = LiveSpec(ccxt_id="bitget", ccxt_options={"fetchMarkets": {"types": ["spot", "swap"]}},
                ccxt_has={"fetchCurrencies": False}, ticker_source={"spot": "bids_asks", "perp": "bids_asks"},
                ticker_fields=_live_ticker, trade_fields=_live_trade, funding_fields=_live_funding)
