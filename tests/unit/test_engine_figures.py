"""`walk_forward.engine_figures`: an engine run's ledger records cut into windows as the
study's walk-forward cuts its curve, worked by hand. Capital 10,000 USD; one desk."""

from decimal import Decimal

from arbflow.model.execution import Order, PairTrade
from arbflow.model.portfolio import PortfolioState
from arbflow.operators.study.walk_forward import Window, engine_figures

D = Decimal
DAY = 86_400_000
T0 = 1_672_531_200_000  # 2023-01-01
CAPITAL = D(10_000)


def _state(day: int, pnl: str) -> PortfolioState:
    return PortfolioState(starting_capital=CAPITAL, available=CAPITAL, open_notional=D(0), realised_pnl=D(pnl),
                          unrealised_pnl=D(0), cumulative_pnl=D(0), open_positions=1, closed_trades=0, win_count=0,
                          loss_count=0, leg_out_count=0, leg_out_loss=D(0), asset="BTC", ts=T0 + day * DAY)


def _trade(day: int, funding: str, fees: str) -> PairTrade:
    return PairTrade(trade_id="BTC_1", asset="BTC", long_venue="okx", long_symbol="BTC/USDT", short_venue="okx",
                     short_symbol="BTC/USDT:USDT", status="active", notional=D(5_000), qty=D("0.1"),
                     projected_profit=D(0), funding_pnl=D(funding), fees=D(fees), ts_entry=T0, ts=T0 + day * DAY)


def _order(day: int, qty: str, px: str) -> Order:
    return Order(client_order_id=f"o{day}", venue_client_id=f"v{day}", trade_id="BTC_1", venue="okx",
                 symbol="BTC/USDT", side="buy", order_type="ioc", qty=D(qty), status="filled", filled_qty=D(qty),
                 avg_px=D(px), ts=T0 + day * DAY)


STATES = [_state(0, "-10"), _state(10, "20"), _state(20, "10"), _state(30, "60")]
TRADES = [_trade(0, "0", "10"), _trade(10, "30", "10"), _trade(20, "30", "10"), _trade(30, "80", "10"),
          _trade(31, "80", "15")]
ORDERS = [_order(0, "0.1", "50000"), _order(31, "0.02", "50000")]


def test_a_window_after_the_split_starts_from_the_equity_before_it() -> None:
    later = engine_figures(STATES, TRADES, ORDERS, Window(name="from day 15", start_ms=T0 + 15 * DAY), CAPITAL)
    assert later is not None
    # equity 10,020 at day 10 → 10,060 at day 30: +40 over 20 days = 0.4 % × 365 / 20 = 7.3 % a year
    assert later.annual_return == D("0.073")
    # from the peak 10,020 down to 10,010 at day 20: 10 / 10,020
    assert round(later.max_drawdown, 8) == round(D(10) / D(10_020), 8)
    # funding 80 − 30 = 50 inside; fees 15 − 10 = 5 (the day-31 fee is after the last ledger update but inside)
    assert (later.funding, later.fees, later.fee_share) == (D(50), D(5), D("0.1"))
    # traded 0.02 × 50,000 = 1,000 in 20 days: 0.1 × 365 / 20 = 1.825 a year
    assert later.turnover == D("1.825")


def test_the_whole_run_starts_from_the_capital_and_a_window_without_updates_is_none() -> None:
    whole = engine_figures(STATES, TRADES, ORDERS, Window(name="whole"), CAPITAL)
    assert whole is not None and whole.funding == D(80) and whole.fees == D(15)
    assert whole.turnover == D("0.02") * D(50_000) / CAPITAL * D(365) / D(30) + D("0.1") * D(50_000) / CAPITAL * \
        D(365) / D(30)
    assert engine_figures(STATES, TRADES, ORDERS, Window(name="before", end_ms=T0 - 1), CAPITAL) is None
