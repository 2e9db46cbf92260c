"""`make bench` (plausibility): what the price-plausibility check costs the desk's market stage.

The bundled capture (172,198 Binance spot and USDⓈ-M tickers, BTC and ETH) is decoded once;
then, interleaved over `--runs` runs, every ticker is folded into a fresh market state per asset
(`operators.market_state.observe`) with the `[plausibility]` check on and off. Printed: µs per
record for both (medians over the runs), the difference per record and the ratio on/off, and the
records the check refused (0 on this data: nothing in it is implausible).
"""

import argparse
import gzip
import statistics
import time
from pathlib import Path
from typing import Any

from arbflow.model import codec
from arbflow.model.config import Config
from arbflow.model.market import Ticker
from arbflow.model.symbols import base_asset
from arbflow.operators import market_state
from arbflow.operators.market_state import MarketState

CAPTURE = Path(__file__).resolve().parents[1] / "fixtures" / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz"


def tickers() -> list[Ticker]:
    """The bundled capture's tickers, decoded."""
    out = []
    with gzip.open(CAPTURE, "rb") as handle:
        for line in handle:
            obj = codec.loads(line)
            del obj["topic"]
            out.append(codec.decode(Ticker, codec.dumps(obj), source="bench"))
    return out


def one_pass(records: list[Ticker], plausibility: Any, tolerance_ms: int) -> tuple[float, int]:
    """Seconds to fold every record into per-asset market states, and how many were refused."""
    markets: dict[str, MarketState] = {}
    refused = 0
    started = time.perf_counter()
    for record in records:
        market = markets.get(base_asset(record.symbol))
        if market is None:
            market = markets[base_asset(record.symbol)] = MarketState()
        if market_state.observe(market, record, tolerance_ms, plausibility) is not None:
            refused += 1
    return time.perf_counter() - started, refused


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    config = Config()
    records = tickers()
    on: list[float] = []
    off: list[float] = []
    refused = 0
    for _ in range(args.runs):
        seconds, refused = one_pass(records, config.plausibility, config.signals.late_tolerance_ms)
        on.append(seconds)
        off.append(one_pass(records, None, config.signals.late_tolerance_ms)[0])
    per_on = statistics.median(on) / len(records) * 1e6
    per_off = statistics.median(off) / len(records) * 1e6
    print(f"plausibility: {len(records):,} tickers × {args.runs} runs (medians): market stage {per_off:.2f} µs/record "
          f"without the check, {per_on:.2f} µs with it (+{per_on - per_off:.2f} µs, ×{per_on / per_off:.2f}); "
          f"refused {refused}")


if __name__ == "__main__":
    main()
