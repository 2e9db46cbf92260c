"""`strategy.order_style` in execution (docs/architecture.md §3.7), by hand numbers through one
desk (`run_desk`: market state, signals, execution) on bar-like quotes: a close c quoted
c × (1 ∓ 1 bp) with $250,000 a side, as the backtest's quote model writes them, and no
trade prints (so a resting order can never fill).

The market: BTC alone in the universe (the desk trades the whole $20,000), Binance spot and
perp (fees spot 10 / 10, perp 2 / 5 bps maker / taker), the perp paying 3 bp per 8 h. The
scanner accepts long spot / short perp (carry 3 bp × H 21 = 63 bps > cost); the controller
caps the entry at its sector share, 15 % × 20,000 = $3,000 → 3,000 / 60,006 = 0.0499… →
0.049 BTC (the 0.001 lot). The harder leg is the long spot leg (one venue: the tie goes long).
"""

from dataclasses import replace
from decimal import Decimal as D
from typing import Any

from arbflow.model import reasons
from arbflow.model.backtest import backtest_settings
from arbflow.model.config import Config, OrderStyle, UniverseConfig
from arbflow.model.desk_config import DeskConfig, desk_config
from arbflow.model.execution import Fill, Order, PairTrade
from arbflow.model.market import ClockTick, FundingRate, Ticker
from arbflow.operators.asset_desk import AssetDesk, run_desk
from tests.unit.execution_support import T0

H8 = 8 * 3_600_000
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"


def _settings(style: OrderStyle) -> DeskConfig:
    config = backtest_settings(Config(universe=UniverseConfig(assets=("BTC",))))
    return desk_config(replace(config, strategy=replace(config.strategy, order_style=style)), "paper")


def _quote(symbol: str, close: str, ts: int) -> Ticker:
    c = D(close)
    size = (D(250_000) / c).quantize(D("1e-8"), rounding="ROUND_DOWN")
    return Ticker(venue="binance", symbol=symbol, market="spot" if symbol == SPOT else "perp", bid=c * D("0.9999"),
                  ask=c * D("1.0001"), bid_qty=size, ask_qty=size, ts_exchange=ts, ts_local=ts)


def _funding(rate: str, ts: int) -> FundingRate:
    return FundingRate(venue="binance", symbol=PERP, market="perp", rate=D(rate), interval_ms=H8,
                       next_funding_time=ts + H8, ts_local=ts)


def _close(ts: int, spot: str, perp: str, rate: str) -> list[Any]:
    """One bar close as the converter writes it — the quotes, then the settlement — and stream
    time moving past it (a clock tick 1 ms later), when its one scan runs
    (`signals.scan_on = "timestamp_complete"`, the backtest's setting)."""
    return [_quote(PERP, perp, ts), _quote(SPOT, spot, ts), _funding(rate, ts), ClockTick(ts=ts + 1)]


def _run(settings: DeskConfig, records: list[Any], desk: AssetDesk | None = None) -> tuple[AssetDesk, list[Any]]:
    out: list[Any] = []
    for record in records:
        desk, produced = run_desk(desk, record, settings)
        out += produced
    assert desk is not None
    return desk, out


def test_under_taker_both_legs_cross_the_bar_quotes_at_once_and_the_trade_is_active() -> None:
    desk, out = _run(_settings("taker"), _close(T0, "60000", "60030", "0.0003"))
    orders = [o for o in out if type(o) is Order and o.status == "new"]
    assert [(o.symbol, o.side, o.order_type, o.qty) for o in orders] == [(SPOT, "buy", "ioc", D("0.049")),
                                                                         (PERP, "sell", "ioc", D("0.049"))]
    fills = [f for f in out if type(f) is Fill]
    # spot ask 60,000 × 1.0001 = 60,006, fee 0.049 × 60,006 × 10 bps = 2.940294;
    # perp bid 60,030 × 0.9999 = 60,023.997, fee 0.049 × 60,023.997 × 5 bps = 1.4705879265
    assert [(f.symbol, f.px, f.qty, f.fee, f.liquidity) for f in fills] == [
        (SPOT, D("60006"), D("0.049"), D("2.940294"), "taker"),
        (PERP, D("60023.997"), D("0.049"), D("1.4705879265"), "taker")]
    [trade] = [t for t in out if type(t) is PairTrade and t.status == "active"]
    assert trade.notional == D("2940.29")  # 0.049 × 60,006 = 2,940.294, to the cent (down)
    assert trade.fees == D("4.4108819265")
    # the ledger: the $20,000 less the position and the fees paid
    assert desk.execution is not None and desk.execution.ledger.available == D(20_000) - D("2940.29") - trade.fees


def test_under_maker_first_the_harder_leg_rests_and_bars_never_fill_it() -> None:
    _, out = _run(_settings("maker_first"), _close(T0, "60000", "60030", "0.0003"))
    [order] = [o for o in out if type(o) is Order and o.status == "new"]
    # the spot bid 60,000 × 0.9999 = 59,994: a passive limit at its own touch
    assert (order.symbol, order.side, order.order_type, order.limit_px) == (SPOT, "buy", "limit", D("59994"))
    assert not [f for f in out if type(f) is Fill]


def test_under_taker_a_carry_turning_negative_closes_both_legs_marketable_at_the_next_close() -> None:
    settings = _settings("taker")
    desk, _ = _run(settings, _close(T0, "60000", "60030", "0.0003"))
    # the expected carry (the mean of the settled 3 bp and the new −10 bp) is −3.5 bp/8h: at or below
    # the exit threshold (−0.5 bp), so the rule exits
    _, out = _run(settings, [_quote(PERP, "60100", T0 + H8), _funding("-0.001", T0 + H8), ClockTick(ts=T0 + H8 + 1)],
                  desk)
    closing = [o for o in out if type(o) is Order and o.status == "new"]
    assert [(o.symbol, o.side, o.order_type) for o in closing] == [(SPOT, "sell", "ioc"), (PERP, "buy", "ioc")]
    # the spot leg closes at its last quote's bid (60,000 × 0.9999 = 59,994), the perp at the new ask
    # 60,100 × 1.0001 = 60,106.01; the settlement at T0 + 8 h paid the short 0.049 × mid 60,030 × 3 bp
    fills = [f for f in out if type(f) is Fill]
    assert [(f.symbol, f.px, f.liquidity) for f in fills] == [(SPOT, D("59994"), "taker"),
                                                               (PERP, D("60106.01"), "taker")]
    [closed] = [t for t in out if type(t) is PairTrade and t.status == "closed"]
    assert closed.exit_reason == reasons.EXIT_FUNDING_CONVERGED
    assert closed.funding_pnl == D("0.049") * D("60030") * D("0.0003")


def test_under_taker_a_partly_filled_first_ioc_sizes_the_second_leg_to_what_filled() -> None:
    """The execution tests' market (long okx first, short binance; $6,000 at the ask 60,001 =
    0.09999… → 0.099 BTC), with only 0.040 offered on okx at 60,001 and the rest at 60,400, beyond the IOC's
    limit (60,001 × (1 + 30 bps) = 60,181.003 → 60,181.0); a carry of 10 bp per 8 h over 21
    intervals pays for walking that book in the recheck. The first IOC takes 0.040 at 60,001
    (taker, 5 bps: 0.040 × 60,001 × 0.0005 = 1.200020), its remainder is canceled at once, and
    the second leg sells 0.040 — what filled — not 0.099."""
    from arbflow.model.config import StrategyConfig
    from tests.unit.execution_support import Driver, book, funding, mark, opportunity, settings

    driver = Driver(settings(strategy=StrategyConfig(order_style="taker")))
    driver.feed(book("okx", [("60000", "5")], [("60001", "0.040"), ("60400", "5")], T0),
                book("binance", [("60150", "5")], [("60151", "5")], T0),
                mark("okx", "60000", "60001", "60000", T0), mark("binance", "60150", "60151", "60100", T0),
                funding("okx", "0.00002", T0 + 60_000, T0), funding("binance", "0.0001", T0 + 60_000, T0))
    produced = driver.feed(opportunity(T0 + 10, carry="0.001", holding=21))
    first, second = driver.intents(produced)
    assert (first.venue, first.side, first.order_type, first.qty) == ("okx", "buy", "ioc", D("0.099"))
    assert (second.venue, second.side, second.order_type, second.qty) == ("binance", "sell", "ioc", D("0.040"))
    assert [(f.venue, f.px, f.qty, f.fee, f.liquidity) for f in driver.fills(produced)] == [
        ("okx", D(60001), D("0.040"), D("1.200020"), "taker"), ("binance", D(60150), D("0.040"), D("1.2030"), "taker")]
    assert [o.reason for o in driver.orders(produced) if o.status == "canceled"] == [reasons.IOC_REMAINDER]
    active = driver.trades(produced)[-1]
    assert (active.status, active.qty) == ("active", D("0.040"))
