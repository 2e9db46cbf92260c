"""The strategy path on extreme but valid inputs (issue 15, "Bad input and failures"): random
8 h histories of one venue's spot and perp — prices from 0.01 to 1e6 and jumps between closes,
rates from ±1e-12 to ±3 % per 8 h, zero volumes — converted by the quote model (the rows the
plausibility rules refuse go to the dead letters, the rest on) and run through
the paper desks (flows/engine_run.py, the desks of `arbflow backtest`): nothing raises, every
ledger state keeps its invariant, and the desks trade only what the quotes could fill."""

import gzip
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arbflow.connectors.captures.bar_quotes import BarConversion, QuoteModel, bar_items
from arbflow.connectors.captures.row_policy import RowPolicy
from arbflow.flows.engine_run import EngineRun, run_engine
from arbflow.model.backtest import backtest_settings
from arbflow.model.config import Config, UniverseConfig

HEADER = "ts_ms_utc,time_as_published,exchange,asset,pair,market,open,high,low,close,volume,funding_rate\n"
T0 = 1672531200000
H8 = 28_800_000
PRICES = st.sampled_from(["0.01", "0.5", "17", "16500", "60000", "999999.99", "1000000"])
RATES = st.sampled_from(["1e-12", "-1e-12", "0", "0.0001", "-0.0001", "0.0003", "0.03", "-0.03"])


def _run(tmp: Path, closes: list[tuple[str, str, str]]) -> EngineRun:
    path = tmp / "extreme_utc.csv.gz"
    rows = []
    for k, (spot, premium, rate) in enumerate(closes):
        ts = T0 + k * H8
        perp = Decimal(spot) * Decimal(premium)
        rows += [f"{ts},x,binance,BTC,BTC/USDT,spot,{spot},{spot},{spot},{spot},0,",
                 f"{ts},x,binance,BTC,BTCUSDT,perp_linear,{perp},{perp},{perp},{perp},0,{rate}"]
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(HEADER + "".join(row + "\n" for row in rows))
    config = backtest_settings(Config(universe=UniverseConfig(assets=("BTC",))))
    conversion = BarConversion()
    policy = RowPolicy(strict=False, plausibility=config.plausibility)  # an implausible jump: a dead letter
    items = list(bar_items(path, venues=config.venues, model=QuoteModel.from_config(config.backtest),
                           conversion=conversion, policy=policy))
    run = run_engine(config, items)
    for state in run.states:
        assert state.available + state.open_notional == state.starting_capital + state.realised_pnl
    for order in run.orders:
        assert order.filled_qty <= order.qty
    return run


def test_a_1e6_price_paying_3_percent_an_interval_is_traded_and_booked_exactly(tmp_path: Path) -> None:
    run = _run(tmp_path, [("1000000", "1.0003", "0.03")] * 12)
    [trade] = {t.trade_id: t for t in run.trades}.values()
    assert trade.status == "active" and trade.funding_pnl > 0
    assert trade.qty * Decimal(1_000_000) <= Decimal(20_000)  # sized within the capital at a 1e6 price


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                  HealthCheck.too_slow])
@given(st.lists(st.tuples(PRICES, st.sampled_from(["0.999", "1", "1.0003", "1.02"]), RATES), min_size=6,
                max_size=24))
def test_extreme_histories_run_through_the_desks_without_raising(tmp_path_factory, closes) -> None:  # type: ignore[no-untyped-def]
    _run(Path(tmp_path_factory.mktemp("extreme")), closes)
