"""The run's performance figures, against numbers worked out by hand."""

import math
import statistics
from decimal import Decimal as D

from arbflow.model.execution import LegOut, PairTrade
from arbflow.model.portfolio import PortfolioState
from arbflow.operators.portfolio.performance import DAY_MS, performance

T0 = 1_723_161_600_000  # 2024-08-09 00:00 UTC


def _state(asset: str, ts: int, realised: str, open_notional: str = "0", unrealised: str = "0") -> PortfolioState:
    capital = D(10_000)
    return PortfolioState(starting_capital=capital, available=capital + D(realised) - D(open_notional),
                          open_notional=D(open_notional), realised_pnl=D(realised), unrealised_pnl=D(unrealised),
                          cumulative_pnl=D(realised), open_positions=0, closed_trades=0, win_count=0, loss_count=0,
                          leg_out_count=0, leg_out_loss=D(0), asset=asset, ts=ts)


def _trade(trade_id: str, pnl: str, status: str = "closed", leg_out_cost: str = "0") -> PairTrade:
    leg_outs = (LegOut(filled_leg="long", ts_filled=T0, hedge_qty=D(1), cost=D(leg_out_cost)),) if D(leg_out_cost) \
        else ()
    return PairTrade(trade_id=trade_id, asset="BTC", long_venue="binance", long_symbol="BTC/USDT:USDT",
                     short_venue="bybit", short_symbol="BTC/USDT:USDT", status=status, notional=D(1000), qty=D(1),
                     projected_profit=D(5), realised_pnl=D(pnl), leg_outs=leg_outs, leg_out_cost=D(leg_out_cost),
                     ts_entry=T0, ts=T0)  # type: ignore[arg-type]


def test_a_short_run_gives_return_drawdown_and_utilisation_but_no_apr_or_sharpe() -> None:
    # two desks of 10,000: BTC +30 then -20 (equity 30 → 10 → peak 30), ETH 5,000 open for half the hour
    states = [_state("BTC", T0 + 600_000, "30"), _state("ETH", T0 + 1_800_000, "0", open_notional="5000"),
              _state("BTC", T0 + 2_400_000, "10"), _state("ETH", T0 + 3_600_000, "0")]
    result = performance(states, [_trade("a", "30"), _trade("b", "-20", leg_out_cost="4"), _trade("c", "0", "active")],
                         T0, T0 + 3_600_000)
    assert result.starting_capital == D(20_000) and result.net_pnl == D(10)
    assert result.final_equity == D(20_010)  # capital + P&L, not the P&L
    assert result.total_return == D(10) / D(20_000)  # 0.05 %
    assert result.apr is None and result.sharpe is None  # one hour of data is not annualised
    assert result.max_drawdown == D(-20) and result.max_drawdown_frac == D(-20) / D(20_000)
    # 5,000 open from 0:30 to 1:00 of a one-hour run: 2,500 mean over 20,000 of capital
    assert result.utilisation == D("0.125")
    assert (result.trades, result.closed, result.win_rate) == (3, 2, D("0.5"))
    assert result.average_profit == D(5) and result.leg_out_cost == D(4)
    assert result.leg_out_rate == D(1) / D(3)


def test_a_multi_day_run_is_annualised_and_has_a_daily_sharpe() -> None:
    # one desk of 10,000; equity at the day closes 10, 30, 20, 50 → daily changes 10, 20, -10, 30 USD
    states = [_state("BTC", T0 + d * DAY_MS + 3_600_000, pnl) for d, pnl in enumerate(("10", "30", "20", "50"))]
    result = performance(states, [], T0, T0 + 4 * DAY_MS - 1)
    assert result.total_return == D("0.005")
    assert result.apr == D("0.005") * (365 * DAY_MS) / (4 * DAY_MS - 1)
    changes = [0.001, 0.002, -0.001, 0.003]
    assert result.sharpe is not None
    assert math.isclose(result.sharpe, statistics.fmean(changes) / statistics.stdev(changes) * math.sqrt(365))
    assert result.win_rate is None and result.leg_out_rate is None


def test_no_ledger_at_all_is_neutral_not_an_error() -> None:
    result = performance([], [], None, None)
    assert result.total_return is None and result.max_drawdown == 0 and result.utilisation is None
    assert result.as_json()["total_return"] is None and result.as_json()["max_drawdown"] == "0"
