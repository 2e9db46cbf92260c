"""The backtest path under Bytewax's test harness: a small 8 h bar history converted by the
quote model (`convert_bars`) and run through the trading flow with the backtest's settings
(`backtest_settings`: order style taker) — the desk enters a carry by crossing both legs of
a close's quotes, as `arbflow backtest` does."""

import gzip
from pathlib import Path
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from arbflow.connectors.captures.bar_quotes import convert_bars
from arbflow.connectors.kafka import Consumed
from arbflow.flows.signal_flow import signal_steps
from arbflow.model import codec, topics
from arbflow.model.backtest import backtest_settings
from arbflow.model.config import Config, UniverseConfig
from arbflow.model.execution import Fill, PairTrade

HEADER = "ts_ms_utc,time_as_published,exchange,asset,pair,market,open,high,low,close,volume,funding_rate\n"
T0 = 1672531200000  # 2023-01-01 00:00 UTC
H8 = 28_800_000


def _history(path: Path, closes: int) -> Path:
    """Binance BTC spot at 60,000 and its perp at 60,030 paying 3 bp per 8 h, for `closes` bars."""
    rows = []
    for k in range(closes):
        ts = T0 + k * H8
        rows += [f"{ts},x,binance,BTC,BTC/USDT,spot,1,1,1,60000,1,",
                 f"{ts},x,binance,BTC,BTCUSDT,perp_linear,1,1,1,60030,1,0.0003"]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(HEADER + "".join(row + "\n" for row in rows))
    return path


def test_the_backtest_flow_enters_a_carry_with_taker_fills_at_the_close_quotes(tmp_path: Path) -> None:
    config = backtest_settings(Config(universe=UniverseConfig(assets=("BTC",))))
    replay = tmp_path / "bars.jsonl.gz"
    convert_bars(_history(tmp_path / "bars_utc.csv.gz", 3), replay, venues=config.venues, backtest=config.backtest)
    with gzip.open(replay, "rb") as handle:
        lines = [codec.loads(line) for line in handle]
    messages = []
    for offset, line in enumerate(lines):
        topic = str(line.pop("topic"))
        messages.append(Consumed(topic, 0, offset, b"BTC", codec.dumps(line), int(line["ts_local"])))  # type: ignore[arg-type]
    flow = Dataflow("test_backtest_flow")
    _, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)), config, trade=True, mode="paper")
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    run_main(flow)
    wanted: dict[str, Any] = {topics.EXEC_FILL: Fill, topics.EXEC_TRADE: PairTrade}
    out = [codec.decode(wanted[topic], value, source=topic) for topic, _, value in items if topic in wanted]
    fills = [f for f in out if type(f) is Fill]
    # the spot leg buys at 60,000 × 1.0001, the perp leg sells at 60,030 × 0.9999, both as taker
    assert [(f.symbol, f.side, str(f.px), f.liquidity) for f in fills] == [
        ("BTC/USDT", "buy", "60006.0000", "taker"), ("BTC/USDT:USDT", "sell", "60023.9970", "taker")]
    assert fills[0].qty == fills[1].qty > 0
    assert [t.status for t in out if type(t) is PairTrade][:2] == ["pending", "active"]
