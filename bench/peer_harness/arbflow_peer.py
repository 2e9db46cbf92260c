"""arbflow's Binance normaliser in the peer harness: the same messages, the same timing, the
same orjson reference as the cryptofeed (and NautilusTrader) cases.

arbflow path (connectors/venues/binance.py `Feed.message`): orjson.loads(str) -> Feed.message ->
Ticker / MarketTrade records (exact Decimal) / DepthSync -> OrderBook top-20 record per diff.
Trades go in as aggTrade (the same rewrite the cryptofeed case uses). The depth book is seeded,
untimed, from the capture's REST snapshot through Feed.snapshot; every timed pass starts with cold
decimal and symbol caches (`binance.clear_caches()`, untimed), as a feed that has just started.

Needs only orjson besides the repository itself (run from the repository root, which puts
`arbflow` on the path).
"""
import sys

import orjson

from arbflow.connectors.venues import binance
from bench.peer_harness import common as c

NAME = "arbflow binance.Feed.message (Decimal records)"


def cases_for(mk: c.Market):
    kind = "spot" if mk.name == "spot" else "usdm"
    lts = {m: int(ts * 1e9) for m, ts in mk.local_ts.items()}
    loads = orjson.loads

    def drive(feed, batch):
        msg = feed.message
        n = 0
        for m, ts in batch:
            n += len(msg(loads(m), ts)) >= 0
        return n

    def fresh():
        binance.clear_caches()
        return binance.Feed(kind=kind)

    bt = c.cycle_to([(m, lts[m]) for m in mk.book_ticker])
    tr = c.cycle_to([(c.to_agg(m), lts[m]) for m in mk.trade])
    passes, _ = c.depth_passes(mk)

    def depth_segments():
        segs = []
        for _ in range(passes):
            for s in mk.depth:
                def setup(s=s):
                    feed = fresh()
                    feed.snapshot(f"https://x/depth?symbol={s.symbol}", loads(s.snapshot), 0)
                    return feed
                segs.append((setup, lambda feed, s=s: drive(feed, [(m, lts[m]) for m in s.diffs])))
        return segs

    return [
        (NAME, mk.name, "bookTicker", lambda: [(lambda: fresh(), lambda f: drive(f, bt))]),
        (NAME, mk.name, "trade", lambda: [(lambda: fresh(), lambda f: drive(f, tr))]),
        (NAME, mk.name, "depth", depth_segments),
    ]


def sanity(mk: c.Market):
    """Every diff chains (no gap, no crossing) and yields one book; every bookTicker and
    trade frame yields exactly one record."""
    kind = "spot" if mk.name == "spot" else "usdm"
    feed = binance.Feed(kind=kind)
    out = 0
    for s in mk.depth:
        feed.snapshot(f"https://x/depth?symbol={s.symbol}", orjson.loads(s.snapshot), 0)
        for m in s.diffs:
            out += len(feed.message(orjson.loads(m), 1))
    counts = feed.book_counts()
    assert counts["gaps"] == 0 and counts["crossed"] == 0, counts
    n_diffs = sum(len(s.diffs) for s in mk.depth)
    assert out == n_diffs, (mk.name, out, n_diffs)
    for kind_msgs, conv in ((mk.book_ticker[:2000], lambda m: m), (mk.trade[:2000], c.to_agg)):
        got = sum(len(feed.message(orjson.loads(conv(m)), 1)) for m in kind_msgs)
        assert got == len(kind_msgs), (mk.name, got, len(kind_msgs), dict(feed.counts))
    print(f"sanity arbflow {mk.name}: {n_diffs} diffs -> {out} book records, {dict(counts)}", file=sys.stderr)


def main():
    cases = []
    for name in ("spot", "usdm"):
        mk = c.load_market(name)
        sanity(mk)
        cases += c.baseline_cases(mk, with_json=False, with_standins=True)
        cases += cases_for(mk)
    c.run_and_print(cases)


if __name__ == "__main__":
    main()
