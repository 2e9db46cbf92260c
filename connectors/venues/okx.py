"""OKX v5 public websocket payloads → records (spot and perpetual swaps).

Symbols: `BTC-USDT` spot → `BTC/USDT`; `UNI-USD-SWAP` inverse perp → `UNI/USD:UNI`;
`BTC-USDT-SWAP` linear perp → `BTC/USDT:USDT`. Dated futures (`BTC-USD-220527`) and
options have no canonical symbol in arbflow: their messages are counted as
`skipped:okx-dated-or-option` and not converted.

Quantities: spot sizes are base units. Swap sizes are contracts whose value comes from
the REST instrument list (`/api/v5/public/instruments`, the capture's `OKX.0`): linear
swaps hold `ctVal` base units per contract (base = sz × ctVal); inverse swaps are worth
`ctVal` USD (`ctValCcy` = USD) each (base = sz × ctVal / px). A swap seen before its
instrument record is rejected (UNKNOWN_SYMBOL): its size cannot be converted.

Sample ticker (sizes in contracts for swaps; `ts` ms as a string):
    {"arg":{"channel":"tickers","instId":"BTC-USDT"},"data":[{"instType":"SPOT","instId":"BTC-USDT",
     "last":"30236","lastSz":"0.0002","askPx":"30228.7","askSz":"1.55896972","bidPx":"30228.6",
     "bidSz":"0.23393",…,"ts":"1652459224956"}]}
Sample trades (`side` is the taker's):
    {"arg":{"channel":"trades","instId":"UNI-USD-SWAP"},"data":[{"instId":"UNI-USD-SWAP",
     "tradeId":"12883020","px":"5.123","sz":"100","side":"sell","ts":"1652459215150"}]}
Sample books (400 levels; `[px, sz, liquidated orders (deprecated), orders]`):
    {"arg":{"channel":"books","instId":"BTC-USDT"},"action":"snapshot"|"update","data":[{
     "asks":[["30243.5","1.2112","0","4"],…],"bids":[["30237.2","0","0","0"],…],
     "ts":"1652459225453","checksum":-652563973}]}

Book rules (OKX's documentation): a `snapshot` loads the book, an `update` sets levels
(size "0" deletes). After every message the CRC32 of the top 25 levels per side, as
`bid1px:bid1sz:ask1px:ask1sz:…` with the strings as sent, must equal `checksum` (signed
32-bit); a mismatch drops the book until the next snapshot (`book:checksum`). Newer
messages carry `seqId`/`prevSeqId` (absent from this 2022 capture): when present,
`prevSeqId` must equal the previous `seqId`, else the book is dropped (`book:gaps`).
OKX sends a snapshot only on (re)subscription, so a dropped book stays dropped in a capture.
"""

from collections import Counter
from decimal import Decimal
from typing import Any

from arbflow.connectors import payload as p
from arbflow.connectors.feeds.spec import LiveSpec, field_of
from arbflow.connectors.payload import Out, PayloadError, QtyScale, SequencedBook
from arbflow.model import reasons, topics
from arbflow.model.market import Market, MarketTrade, Ticker

VENUE = "okx"


def market_of(inst_id: str) -> Market | None:
    """`X-Y` spot, `X-Y-SWAP` perp, anything else (dated futures, options) None."""
    parts = inst_id.split("-")
    if len(parts) == 2:
        return "spot"
    if len(parts) == 3 and parts[2] == "SWAP":
        return "perp"
    return None


def contract_scale(instrument: dict[str, Any]) -> QtyScale | None:
    """The base-unit conversion of one REST instrument record (None for spot)."""
    if instrument.get("instType") != "SWAP":
        return None
    value = p.money(instrument.get("ctVal"), "ctVal", topics.MD_BOOK)
    if instrument.get("ctType") == "inverse":
        return p.usd_contracts(value)
    return p.contracts(value)


class Feed:
    """OKX capture state: contract sizes from the instrument lists, one book per instId."""

    def __init__(self, *, depth: int = 20) -> None:
        self.depth = depth
        self.counts: Counter[str] = Counter()
        self._scales: dict[str, QtyScale | None] = {}
        self._books: dict[str, SequencedBook] = {}

    def reference(self, url: str, body: Any, ts_local: int) -> list[Out]:
        """An instruments list: remember each swap's contract conversion (emits nothing)."""
        instruments = p.obj(body, "instruments", topics.MD_BOOK).get("data") or []
        if type(instruments) is not list:
            raise PayloadError(reasons.WRONG_TYPE, "data: expected a list of instruments", topics.MD_BOOK)
        for instrument in instruments:
            if type(instrument) is dict and instrument.get("instType") in ("SPOT", "SWAP"):
                self._scales[str(instrument.get("instId"))] = contract_scale(instrument)
        return []

    def snapshot(self, url: str, body: Any, ts_local: int) -> list[Out]:
        self.counts["skipped:okx-rest-snapshot"] += 1
        return []

    def message(self, message: Any, ts_local: int) -> list[Out]:
        message = p.obj(message, "message", p.UNROUTED)
        arg = message.get("arg")
        if "event" in message or type(arg) is not dict:
            self.counts[f"skipped:okx-{message.get('event', 'unknown')}"] += 1
            return []
        channel, inst_id = str(arg.get("channel")), str(arg.get("instId"))
        topic = {"tickers": topics.MD_TICKER, "trades": topics.MD_TRADE, "books": topics.MD_BOOK}.get(channel)
        if topic is None:
            self.counts[f"skipped:okx-{channel}"] += 1
            return []
        market = market_of(inst_id)
        if market is None:
            self.counts["skipped:okx-dated-or-option"] += 1
            return []
        symbol = p.symbol(VENUE, inst_id, market, topic).instrument.symbol
        if market == "perp" and inst_id not in self._scales:
            raise PayloadError(reasons.UNKNOWN_SYMBOL, f"{inst_id}: no contract size in the instrument list", topic)
        scale = self._scales.get(inst_id)
        if channel == "tickers":
            return [(topic, parse_ticker(p.first(message.get("data"), "data", topic), symbol, market, scale, ts_local))]
        if channel == "trades":
            data = message.get("data")
            if type(data) is not list:
                raise PayloadError(reasons.WRONG_TYPE, "data: expected a list of trades", topic)
            return [(topic, parse_trade(p.obj(t, "trade", topic), symbol, market, scale, ts_local)) for t in data]
        book = self._books.get(inst_id)
        if book is None:
            book = self._books[inst_id] = SequencedBook(venue=VENUE, symbol=symbol, market=market,
                                                        depth=self.depth, scale=scale)
        return [(topic, b) for b in on_book(book, message.get("action"), p.first(message.get("data"), "data", topic),
                                            ts_local)]

    def book_counts(self) -> Counter[str]:
        return p.book_counts(self._books.values())


def _scaled(scale: QtyScale | None, px: Decimal, qty: Decimal) -> Decimal:
    return scale(px, qty) if scale is not None else qty


def parse_ticker(data: dict[str, Any], symbol: str, market: Market, scale: QtyScale | None,
                 ts_local: int) -> Ticker:
    topic = topics.MD_TICKER
    bid, ask = p.money(data.get("bidPx"), "bidPx", topic), p.money(data.get("askPx"), "askPx", topic)
    last = data.get("last")
    return Ticker(venue=VENUE, symbol=symbol, market=market, bid=bid, ask=ask,
                  bid_qty=_scaled(scale, bid, p.money(data.get("bidSz"), "bidSz", topic)),
                  ask_qty=_scaled(scale, ask, p.money(data.get("askSz"), "askSz", topic)),
                  last=p.money(last, "last", topic) if last not in (None, "") else None,
                  ts_exchange=p.ms(data.get("ts"), "ts", topic), ts_local=ts_local)


def parse_trade(data: dict[str, Any], symbol: str, market: Market, scale: QtyScale | None,
                ts_local: int) -> MarketTrade:
    topic = topics.MD_TRADE
    side = data.get("side")
    if side not in ("buy", "sell"):
        raise PayloadError(reasons.INVALID_VALUE, f"side: {side!r}", topic)
    px = p.money(data.get("px"), "px", topic)
    return MarketTrade(venue=VENUE, symbol=symbol, market=market, px=px,
                       qty=_scaled(scale, px, p.money(data.get("sz"), "sz", topic)), side=side,
                       trade_id=str(data.get("tradeId")), ts_exchange=p.ms(data.get("ts"), "ts", topic),
                       ts_local=ts_local)


def on_book(book: SequencedBook, action: Any, data: dict[str, Any], ts_local: int) -> list[Any]:
    """Apply one books message (see the module docstring for the rules); the top-N book,
    or nothing when the book is (or has just been) dropped."""
    topic = topics.MD_BOOK
    bids, asks = p.levels(data.get("bids"), "bids", topic), p.levels(data.get("asks"), "asks", topic)
    checksum = data.get("checksum")
    if type(checksum) is not int:
        raise PayloadError(reasons.MISSING_FIELD, "checksum: expected an integer", topic)
    seq, prev = data.get("seqId"), data.get("prevSeqId")
    if action == "snapshot":
        book.load(bids, asks, seq if type(seq) is int else None)
    elif action == "update":
        if not book.synced:
            book.unsynced += 1
            return []
        if type(prev) is int and book.seq is not None and prev != book.seq:
            book.drop("gap")
            return []
        book.apply(bids, asks, seq if type(seq) is int else None)
    else:
        raise PayloadError(reasons.INVALID_VALUE, f"action: {action!r}", topic)
    if book.crc32() != checksum:
        book.drop("checksum")
        return []
    return book.emit(p.ms(data.get("ts"), "ts", topic), ts_local)


# -- live feeds through ccxt.pro (connectors/feeds) --------------------------------------
#
# md.ticker from `watch_ticker` (the `tickers` channel above: bidPx/bidSz/askPx/askSz/last,
# swap sizes in contracts — the normaliser applies ccxt's `contractSize`, i.e. `ctVal`).
# Funding from REST `public/funding-rate`: `fundingRate` for the settlement at
# `fundingTime`, `nextFundingRate` (the forecast for the one after, "" when OKX gives none)
# and `nextFundingTime`; the interval is OKX's own `nextFundingTime − fundingTime`.


def _live_ticker(info: Any) -> dict[str, Any]:
    return {"bid": field_of(info, "bidPx"), "ask": field_of(info, "askPx"), "bid_qty": field_of(info, "bidSz"),
            "ask_qty": field_of(info, "askSz"), "last": field_of(info, "last")}


def _live_trade(info: Any) -> dict[str, Any]:
    return {"px": field_of(info, "px"), "qty": field_of(info, "sz")}


def _live_funding(info: Any) -> dict[str, Any]:
    this, after = str(field_of(info, "fundingTime") or ""), str(field_of(info, "nextFundingTime") or "")
    interval = int(after) - int(this) if this.isdigit() and after.isdigit() and int(after) > int(this) else None
    predicted = field_of(info, "nextFundingRate")
    return {"rate": field_of(info, "fundingRate"), "predicted_rate": predicted or None, "interval_ms": interval}


def _live_oi(info: Any) -> dict[str, Any]:
    return {"open_interest": field_of(info, "oi")}  # public/open-interest: oi in contracts (× ctVal)


LIVE = LiveSpec(ccxt_id="okx", ccxt_options={"fetchMarkets": {"types": ["spot", "swap"]}},
                ticker_source={"spot": "ticker", "perp": "ticker"}, ticker_fields=_live_ticker,
                trade_fields=_live_trade, funding_fields=_live_funding, oi_fields=_live_oi)
