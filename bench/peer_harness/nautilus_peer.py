"""nautilus_trader: Binance websocket message normalisation (msgspec structs -> Cython/Rust model objects).

Run (from the repository root): .peers-venv/bin/python -m bench.peer_harness.nautilus_peer

Three levels are measured, each per raw websocket frame (bytes, as nautilus' Rust websocket client hands them over):
  A. "decode+parse": msgspec.json.Decoder(<Msg struct>).decode(raw) then msg.data.parse_to_quote_tick /
     parse_to_trade_tick / parse_to_order_book_deltas(instrument_id, ts_init=LiveClock.timestamp_ns()).
     Structs: BinanceQuoteMsg (bookTicker, spot and futures), BinanceSpotTradeMsg / BinanceFuturesTradeMsg
     (@trade), BinanceOrderBookMsg (depth diffs). Output: QuoteTick / TradeTick / OrderBookDeltas.
  B. "DataClient._handle_ws_message": a real BinanceSpotDataClient / BinanceFuturesDataClient built offline
     (LiveClock, MessageBus, Cache, BinanceHttpClient pointed at 127.0.0.1:1 - never called, websocket never
     connected), with the instance's _handle_data replaced by a counter (so no MessageBus/DataEngine).
     This is exactly what nautilus runs per frame: BinanceDataMsgWrapper decode -> substring dispatch on the
     stream name -> second (typed) decode -> BinanceSymbol -> InstrumentId cache -> parse_to_*.
  C. depth only: B + OrderBook(L2_MBP).apply_deltas(deltas) on a book seeded (untimed) from the REST snapshot
     via BinanceDepth.parse_to_order_book_snapshot - comparable to cryptofeed, which maintains its book.
"""
import asyncio
import logging
import sys

import msgspec
from nautilus_trader.adapters.binance.common.schemas.market import BinanceDepth, BinanceOrderBookMsg, BinanceQuoteMsg
from nautilus_trader.adapters.binance.config import BinanceDataClientConfig
from nautilus_trader.adapters.binance.futures.data import BinanceFuturesDataClient
from nautilus_trader.adapters.binance.futures.providers import BinanceFuturesInstrumentProvider
from nautilus_trader.adapters.binance.futures.schemas.market import BinanceFuturesTradeMsg
from nautilus_trader.adapters.binance.http.client import BinanceHttpClient
from nautilus_trader.adapters.binance.spot.data import BinanceSpotDataClient
from nautilus_trader.adapters.binance.spot.providers import BinanceSpotInstrumentProvider
from nautilus_trader.adapters.binance.spot.schemas.market import BinanceSpotTradeMsg
from nautilus_trader.cache.cache import Cache
from nautilus_trader.common.component import LiveClock, MessageBus
from nautilus_trader.model.book import OrderBook
from nautilus_trader.model.enums import BookType
from nautilus_trader.model.identifiers import TraderId

from bench.peer_harness import common as c

COUNT = {"n": 0}


def make_client(market, loop, clock):
    msgbus = MessageBus(trader_id=TraderId("BENCH-001"), clock=clock)
    http = BinanceHttpClient(clock=clock, api_key="x", api_secret="y", base_url="https://127.0.0.1:1")
    if market == "spot":
        prov = BinanceSpotInstrumentProvider(client=http, clock=clock)
        cls = BinanceSpotDataClient
    else:
        prov = BinanceFuturesInstrumentProvider(client=http, clock=clock)
        cls = BinanceFuturesDataClient
    dc = cls(loop=loop, client=http, msgbus=msgbus, cache=Cache(), clock=clock, instrument_provider=prov,
             base_url_ws="wss://127.0.0.1:1", config=BinanceDataClientConfig())
    out = []
    dc._handle_data = out.append          # instance attribute shadows the method: no msgbus publish
    return dc, out


def cases_for(mk: c.Market, loop, clock):
    dc, sink = make_client(mk.name, loop, clock)
    iid = {s: dc._get_cached_instrument_id(s) for s in ("BTCUSDT", "ETHUSDT")}
    ts_ns = clock.timestamp_ns

    bt = c.cycle_to([m.encode() for m in mk.book_ticker])   # encode once, then cycle references (same
    tr = c.cycle_to([m.encode() for m in mk.trade])         # object layout as the str batches)
    passes, _ = c.depth_passes(mk)
    dd = {s.symbol: [m.encode() for m in s.diffs] for s in mk.depth}
    dp = [m for _ in range(passes) for s in mk.depth for m in dd[s.symbol]]

    dq = msgspec.json.Decoder(BinanceQuoteMsg)
    dt = msgspec.json.Decoder(BinanceSpotTradeMsg if mk.name == "spot" else BinanceFuturesTradeMsg)
    db = msgspec.json.Decoder(BinanceOrderBookMsg)

    def a_quote(batch):
        dec = dq.decode
        for raw in batch:
            msg = dec(raw)
            msg.data.parse_to_quote_tick(instrument_id=iid[msg.data.s], ts_init=ts_ns())
        return len(batch)

    def a_trade(batch):
        dec = dt.decode
        for raw in batch:
            msg = dec(raw)
            msg.data.parse_to_trade_tick(instrument_id=iid[msg.data.s], ts_init=ts_ns())
        return len(batch)

    def a_depth(batch):
        dec = db.decode
        for raw in batch:
            msg = dec(raw)
            msg.data.parse_to_order_book_deltas(instrument_id=iid[msg.data.s], ts_init=ts_ns())
        return len(batch)

    def b_handler(batch):
        h = dc._handle_ws_message
        for raw in batch:
            h(raw)
        sink.clear()
        return len(batch)

    dec_snap = msgspec.json.Decoder(BinanceDepth)

    def seed(s):
        book = OrderBook(iid[s.symbol], BookType.L2_MBP)
        book.apply_deltas(dec_snap.decode(s.snapshot).parse_to_order_book_snapshot(iid[s.symbol], ts_ns()))
        return book

    def c_segments():
        segs = []
        for _ in range(passes):
            for s in mk.depth:
                def body(book, s=s):
                    h, apply = dc._handle_ws_message, book.apply_deltas
                    for raw in dd[s.symbol]:
                        h(raw)
                        apply(sink.pop())
                    return len(dd[s.symbol])
                segs.append((lambda s=s: seed(s), body))
        return segs

    A, B = "nautilus A: msgspec decode + parse_to_*", "nautilus B: DataClient._handle_ws_message"
    cases = [
        ("orjson.loads(bytes)", mk.name, "bookTicker", lambda: c.simple(bt, c.b_orjson)),
        ("orjson.loads(bytes)", mk.name, "trade", lambda: c.simple(tr, c.b_orjson)),
        ("orjson.loads(bytes)", mk.name, "depth", lambda: c.simple(dp, c.b_orjson)),
        (A, mk.name, "bookTicker", lambda: c.simple(bt, a_quote)),
        (A, mk.name, "trade", lambda: c.simple(tr, a_trade)),
        (A, mk.name, "depth", lambda: c.simple(dp, a_depth)),
        (B, mk.name, "bookTicker", lambda: c.simple(bt, b_handler)),
        (B, mk.name, "trade", lambda: c.simple(tr, b_handler)),
        (B, mk.name, "depth", lambda: c.simple(dp, b_handler)),
        ("nautilus C: B + OrderBook(L2_MBP).apply_deltas", mk.name, "depth", c_segments),
    ]

    # sanity: one object per message from the real handler, and the maintained book stays uncrossed
    # and equals the exchange's own bookTicker at the end of the capture
    from nautilus_trader.model.data import OrderBookDeltas, QuoteTick, TradeTick
    for raw in bt[:2000] + tr[:2000]:
        dc._handle_ws_message(raw)
    assert len(sink) == 4000 and isinstance(sink[0], QuoteTick) and isinstance(sink[-1], TradeTick), len(sink)
    sink.clear()
    for s in mk.depth:
        book = seed(s)
        for raw in dd[s.symbol]:
            dc._handle_ws_message(raw)
            d = sink.pop()
            assert isinstance(d, OrderBookDeltas)
            book.apply_deltas(d)
        assert book.best_bid_price() < book.best_ask_price()
        print(f"sanity {mk.name} {s.symbol}: {len(dd[s.symbol])} diffs applied, final best "
              f"{book.best_bid_price()} / {book.best_ask_price()}", file=sys.stderr)
    return cases


def main():
    logging.disable(logging.CRITICAL)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    clock = LiveClock()
    cases = []
    for name in ("spot", "usdm"):
        mk = c.load_market(name)
        cases += c.baseline_cases(mk, with_json=False, with_standins=False)
        cases += cases_for(mk, loop, clock)
    c.run_and_print(cases)


if __name__ == "__main__":
    main()
