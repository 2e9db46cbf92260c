"""cryptofeed: Binance / BinanceFutures websocket message normalisation, driven offline.

Run (from the repository root): .peers-venv/bin/python -m bench.peer_harness.cryptofeed_peer

How it is driven (no network):
  * Symbols.set() pre-populates the exchangeInfo symbol map the feed would otherwise GET at construction.
  * Binance(...) / BinanceFutures(...) are constructed with async callbacks that only count.
  * For every raw message string: `await feed.message_handler(raw, None, local_ts)` inside ONE event loop
    (one coroutine loops over the whole batch). That is the function cryptofeed's connection handler
    calls per websocket frame: yapic json.loads(parse_float=Decimal) -> dispatch -> _ticker / _trade /
    _book -> Ticker / Trade objects (Cython) or OrderBook update -> callback.
  * trades: cryptofeed subscribes to `aggTrade`, not `trade`; the capture has `trade`. Each trade message is
    rewritten (untimed) to the aggTrade shape cryptofeed reads: "e":"trade"->"e":"aggTrade", "t"->"a".
  * depth: the book is seeded exactly like Binance._snapshot() does (OrderBook from the REST snapshot,
    last_update_id) but without the HTTP call and untimed; then every chained depthUpdate goes through
    message_handler -> _check_update_id -> Decimal levels applied to the OrderBook -> book_callback.
"""
import asyncio
import logging
import sys
from decimal import Decimal

from cryptofeed.defines import BINANCE, BINANCE_FUTURES, L2_BOOK, PERPETUAL, SPOT, TICKER, TRADES
from cryptofeed.exchanges import Binance, BinanceFutures
from cryptofeed.symbols import Symbols
from cryptofeed.types import OrderBook

from bench.peer_harness import common as c

logging.getLogger("feedhandler").setLevel(logging.ERROR)

COUNT = {"n": 0, "warn": 0}


async def _count(obj, receipt_ts):
    COUNT["n"] += 1


class _WarnCounter(logging.Handler):
    def emit(self, record):
        COUNT["warn"] += 1


logging.getLogger("feedhandler").addHandler(_WarnCounter(level=logging.WARNING))


def make_feed(market: str):
    if market == "spot":
        Symbols.set(BINANCE, {"BTC-USDT": "BTCUSDT", "ETH-USDT": "ETHUSDT"},
                    {"tick_size": {}, "instrument_type": {"BTC-USDT": SPOT, "ETH-USDT": SPOT}})
        cls, syms = Binance, ["BTC-USDT", "ETH-USDT"]
    else:
        Symbols.set(BINANCE_FUTURES, {"BTC-USDT-PERP": "BTCUSDT", "ETH-USDT-PERP": "ETHUSDT"},
                    {"tick_size": {}, "instrument_type": {"BTC-USDT-PERP": PERPETUAL, "ETH-USDT-PERP": PERPETUAL}})
        cls, syms = BinanceFutures, ["BTC-USDT-PERP", "ETH-USDT-PERP"]
    return cls(symbols=syms, channels=[TICKER, TRADES, L2_BOOK],
               callbacks={TICKER: _count, TRADES: _count, L2_BOOK: _count})


def seed_book(feed, seq: c.DepthSeq):
    """What Binance._snapshot() does after its HTTP read (json.loads(parse_float=Decimal) included)."""
    from yapic import json
    resp = json.loads(seq.snapshot, parse_float=Decimal)
    std = feed.exchange_symbol_to_std_symbol(seq.symbol)
    feed.last_update_id[std] = resp["lastUpdateId"]
    feed._l2_book[std] = OrderBook(feed.id, std, max_depth=feed.max_depth,
                                   bids={Decimal(u[0]): Decimal(u[1]) for u in resp["bids"]},
                                   asks={Decimal(u[0]): Decimal(u[1]) for u in resp["asks"]})


def cases_for(mk: c.Market, loop):
    feed = make_feed(mk.name)
    lts = mk.local_ts

    def drive(batch):
        async def go():
            h = feed.message_handler
            for m, ts in batch:
                await h(m, None, ts)
            return len(batch)
        return loop.run_until_complete(go())

    bt = c.cycle_to([(m, lts[m]) for m in mk.book_ticker])
    tr = c.cycle_to([(c.to_agg(m, stream=False), lts[m]) for m in mk.trade])
    passes, _ = c.depth_passes(mk)

    dd = {s.symbol: [(m, lts[m]) for m in s.diffs] for s in mk.depth}

    def depth_segments():
        segs = []
        for _ in range(passes):
            for s in mk.depth:
                segs.append((lambda s=s: seed_book(feed, s), lambda _st, s=s: drive(dd[s.symbol])))
        return segs

    name = f"cryptofeed {type(feed).__name__}.message_handler"
    return [
        (name, mk.name, "bookTicker", lambda: c.simple(bt, drive)),
        (name, mk.name, "trade", lambda: c.simple(tr, drive)),
        (name, mk.name, "depth", depth_segments),
    ]


def sanity(mk, loop):
    """Every message must produce exactly one callback and no warning/book reset."""
    feed = make_feed(mk.name)
    for s in mk.depth:
        seed_book(feed, s)
    lts = mk.local_ts
    msgs = ([(m, lts[m]) for m in mk.book_ticker[:2000]]
            + [(c.to_agg(m, stream=False), lts[m]) for m in mk.trade[:2000]]
            + [(m, lts[m]) for s in mk.depth for m in s.diffs])
    COUNT["n"] = COUNT["warn"] = 0

    async def go():
        for m, ts in msgs:
            await feed.message_handler(m, None, ts)
    loop.run_until_complete(go())
    assert COUNT["n"] == len(msgs) and COUNT["warn"] == 0, (mk.name, COUNT, len(msgs))
    print(f"sanity {mk.name}: {len(msgs)} msgs -> {COUNT['n']} callbacks, 0 warnings", file=sys.stderr)


def main():
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    cases = []
    for name in ("spot", "usdm"):
        mk = c.load_market(name)
        sanity(mk, loop)
        cases += c.baseline_cases(mk, with_json=False, with_standins=False)
        cases += cases_for(mk, loop)
    c.run_and_print(cases)


if __name__ == "__main__":
    main()
