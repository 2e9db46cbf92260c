"""The engine in one process (flows/engine_run.py — what the study's portfolio report and its
sweeps run) against `arbflow backtest` (Kafka, Bytewax, the same desks) over the first four
months of the bundled 8 h bars, sliced here (2023-01-01 → 2023-05-01: 4,860 bars and 2,880
settlements, past the 30-day history the allocator needs and 3 months beyond it): the same
trades, the same ledger, the same figures — to the last digit."""

import json
import os
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest

from arbflow.connectors.captures.bar_quotes import BarConversion, QuoteModel, bar_items
from arbflow.flows.engine_run import run_engine
from arbflow.model import codec
from arbflow.model.backtest import backtest_settings, traded_universe
from arbflow.model.config import Config, parse_config
from arbflow.model.execution import PairTrade
from arbflow.operators.portfolio.performance import performance
from tests.conftest import bars_before

pytestmark = pytest.mark.integration
ARBFLOW = str(Path(sys.executable).parent / "arbflow")
END_MS = 1_682_899_200_000  # 2023-05-01 00:00 UTC


def test_the_engine_in_one_process_trades_and_books_what_the_backtest_flow_does(
        config: Config, kafka_bootstrap: str, redis_url: str, tmp_path: Path) -> None:
    history = bars_before(tmp_path / "four_months_utc.csv.gz", END_MS)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ARBFLOW_")}
    env |= {"KAFKA_BOOTSTRAP": kafka_bootstrap, "REDIS_URL": redis_url,
            "ARBFLOW_KAFKA__TOPIC_PREFIX": config.kafka.topic_prefix,
            "ARBFLOW_REDIS__KEY_PREFIX": config.redis.key_prefix,
            "ARBFLOW_RECOVERY__DIR": tempfile.mkdtemp(prefix="arbflow-recovery-")}
    out = tmp_path / "out"
    result = subprocess.run([ARBFLOW, "backtest", str(history), "--out", str(out), "--json"], env=env,
                            capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    flow_trades = {t.trade_id: t for t in (codec.decode(PairTrade, line, source="trades.jsonl")
                                           for line in (out / "trades.jsonl").read_text().splitlines())}
    flow_portfolio = json.loads((out / "portfolio.json").read_text())

    settings = backtest_settings(parse_config({}, {}))
    conversion = BarConversion()
    items = list(bar_items(history, venues=settings.venues, model=QuoteModel.from_config(settings.backtest),
                           conversion=conversion))
    settings = traded_universe(settings, conversion.assets)
    run = run_engine(settings, items)
    engine_trades = {t.trade_id: t for t in run.trades}  # the last record of each trade

    assert len(flow_trades) >= 4  # the carries the rule enters in the first months, each resized since
    assert engine_trades == flow_trades
    figures = performance(run.states, run.trades, items[0][0], max(ts for ts, _, _ in items),
                          settings.execution.starting_capital)
    flow_performance = flow_portfolio["totals"]["performance"]
    assert Decimal(flow_performance["net_pnl"]) == figures.net_pnl > 0
    assert Decimal(flow_performance["max_drawdown"]) == figures.max_drawdown
    assert flow_performance["sharpe"] == figures.sharpe
