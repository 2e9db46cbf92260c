"""`make bench` (execution): the paper execution stage in process, on a synthetic two-venue
market that trades again and again — so the figures are about the desk, not the broker.

Each episode (per asset, 8 s of stream time, tickers every 100 ms on Binance and Bybit):
Bybit's perp bids ≈ 25 bps over Binance's and pays 0.03 %/8 h more funding for 4 s (the
scan accepts, the desk rests the harder leg on Bybit, trade prints fill it, the second leg
crosses on Binance), then the books converge and the funding delta goes (the soft exit
closes the trade). Printed:

- decision-to-order latency: wall time of the desk step (`operators.asset_desk.run_desk`) for
  the records whose step decided an entry and emitted its first order — p50 / p99 in µs
  (the broker and the flow's plumbing add the tick-to-Redis latency of bench.tick_latency);
- ledger updates/s: `PortfolioState`s emitted per second of desk time spent in the steps
  that emitted them (every fill, fee and settlement moves the ledger);
- µs per market record while a trade is open, and the trades opened and closed.

Medians over `--runs`; each run replays `--episodes` episodes for 3 assets.
"""

import argparse
import statistics
import time
from decimal import Decimal as D
from typing import Any

from arbflow.model.config import parse_config
from arbflow.model.desk_config import desk_config
from arbflow.model.execution import OrderIntent, PairTrade
from arbflow.model.market import FundingRate, MarketTrade, Ticker
from arbflow.model.portfolio import PortfolioState
from arbflow.operators.asset_desk import AssetDesk, run_desk

T0 = 1_723_165_200_000
H8 = 8 * 3_600_000
ASSETS = {"BTC": D(60_000), "ETH": D(3_000), "SOL": D(150)}


def market(episodes: int) -> list[Any]:
    """The synthetic market, in event-time order (see the module docstring)."""
    records: list[Any] = []
    for asset, px in ASSETS.items():
        symbol, depth = f"{asset}/USDT:USDT", (D(600_000) / px).quantize(D(1))
        for venue, rate in (("binance", "0.0001"), ("bybit", "0.0004")):
            records.append(FundingRate(venue=venue, symbol=symbol, market="perp", rate=D(rate), interval_ms=H8,
                                       next_funding_time=T0 + H8, ts_local=T0 - 1_000))
        wide, tick = (px * D("1.0025")).quantize(D("0.01")), D("0.01")
        for episode in range(episodes):
            start = T0 + episode * 8_000
            for step in range(80):
                ts = start + step * 100
                bybit_bid = wide if step < 40 else px
                records.append(Ticker(venue="binance", symbol=symbol, market="perp", bid=px, ask=px + tick,
                                      bid_qty=depth, ask_qty=depth, ts_exchange=ts - 5, ts_local=ts))
                records.append(Ticker(venue="bybit", symbol=symbol, market="perp", bid=bybit_bid,
                                      ask=bybit_bid + tick, bid_qty=depth, ask_qty=depth, ts_exchange=ts - 5,
                                      ts_local=ts + 1))
                if step % 4 == 2:  # takers on both sides of both books: resting orders fill
                    for venue, side, level in (("bybit", "buy", bybit_bid + tick), ("bybit", "sell", bybit_bid),
                                               ("binance", "buy", px + tick), ("binance", "sell", px)):
                        records.append(MarketTrade(venue=venue, symbol=symbol, market="perp", px=level,
                                                   qty=depth * D("0.3"), side=side,
                                                   trade_id=f"{asset}{ts}{venue}{side}", ts_exchange=ts + 20,
                                                   ts_local=ts + 25))
                if step in (0, 40):  # the carry is there while the spread is, and gone with it
                    records.append(FundingRate(venue="bybit", symbol=symbol, market="perp",
                                               rate=D("0.0004") if step == 0 else D("0.0001"), interval_ms=H8,
                                               next_funding_time=T0 + H8, ts_local=ts))
    return sorted(records, key=lambda r: r.ts_local)


def run_once(records: list[Any]) -> dict[str, Any]:
    config = parse_config({"scanner": {"min_score": 0}, "signals": {"funding_silent_after_s": 0}}, {})
    desk = desk_config(config, "paper")
    desks: dict[str, AssetDesk | None] = dict.fromkeys(ASSETS)
    decision_us: list[float] = []
    ledger_updates, ledger_s, open_us = 0, 0.0, []
    trades: dict[str, PairTrade] = {}
    for record in records:
        asset = record.symbol.split("/", 1)[0]
        started = time.perf_counter()
        desks[asset], out = run_desk(desks[asset], record, desk)
        elapsed = time.perf_counter() - started
        if any(type(o) is OrderIntent and o.kind == "entry" for o in out):
            decision_us.append(elapsed * 1e6)
        states = sum(1 for o in out if type(o) is PortfolioState)
        if states:
            ledger_updates += states
            ledger_s += elapsed
        if any(t.status in ("active", "exiting") for t in trades.values() if t.asset == asset):
            open_us.append(elapsed * 1e6)
        for o in out:
            if type(o) is PairTrade:
                trades[o.trade_id] = o
    decision_us.sort()
    return {"decisions": len(decision_us), "p50_us": statistics.median(decision_us) if decision_us else 0.0,
            "p99_us": decision_us[int(0.99 * (len(decision_us) - 1))] if decision_us else 0.0,
            "ledger_per_s": ledger_updates / ledger_s if ledger_s else 0.0,
            "open_record_us": statistics.median(open_us) if open_us else 0.0,
            "opened": len(trades), "closed": sum(1 for t in trades.values() if t.status == "closed")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs (default 3); medians are printed")
    parser.add_argument("--episodes", type=int, default=40, help="trading episodes per asset (default 40)")
    args = parser.parse_args()
    records = market(args.episodes)
    results = [run_once(records) for _ in range(args.runs)]

    def med(key: str) -> float:
        return statistics.median(r[key] for r in results)

    last = results[-1]
    print(f"execution (paper, in process): {len(records):,} records, {last['opened']} trades opened, "
          f"{last['closed']} closed, {last['decisions']} entry decisions per run")
    print(f"  decision-to-order latency  p50 {med('p50_us'):,.0f} µs   p99 {med('p99_us'):,.0f} µs")
    print(f"  ledger updates/s           {med('ledger_per_s'):,.0f}")
    print(f"  per market record with a trade open: {med('open_record_us'):,.1f} µs  (medians of {args.runs} runs)")


if __name__ == "__main__":
    main()
