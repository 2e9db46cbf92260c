"""Constant notional (operators/execution/resize.py), worked by hand on the position of
tests/unit/test_execution_exits.py: long 0.1 BTC okx at 60,000, short 0.1 BTC binance at
60,150, N = the long leg's executed value, 6,000 USD — a carry trade (8 bp/8h × 21 beats its 28 bps
spread), so the close-spread exits leave it alone; `strategy.rebalance_drift` 0.2."""

from decimal import Decimal

from arbflow.model.execution import OrderIntent
from tests.unit.execution_support import T0, Driver, book, funding, mark, opportunity, settings, trade

D = Decimal
DECIDED = T0 + 10


def _open() -> Driver:
    driver = Driver(settings())
    driver.feed(book("okx", [("60000", "5")], [("60001", "5")], T0),
                book("binance", [("60150", "5")], [("60151", "5")], T0),
                mark("okx", "60000", "60001", "60000", T0), mark("binance", "60150", "60151", "60100", T0),
                funding("okx", "0.00002", T0 + 60_000, T0), funding("binance", "0.0001", T0 + 60_000, T0),
                opportunity(DECIDED, carry="0.0008", holding=21), trade("okx", "sell", "60000", "1.1", T0 + 30))
    [active] = [t for t in driver.trades() if t.status == "active"][-1:]
    assert active.qty == D("0.1") and active.notional == D("6000.00")
    return driver


def _rebalances(produced: list[object]) -> list[tuple[str, str, str, Decimal]]:
    return [(i.venue, i.order_type, i.side, i.qty) for i in produced
            if type(i) is OrderIntent and i.kind == "rebalance"]


def test_a_move_inside_the_band_resizes_nothing() -> None:
    driver = _open()
    # +19 %: 0.1 × 71,400.5 = 7,140.05, 19.0 % above N — inside the 20 % band
    driver.feed(book("okx", [("71400", "5")], [("71401", "5")], T0 + 1_000),
                book("binance", [("71550", "5")], [("71551", "5")], T0 + 1_000))
    assert _rebalances(driver.tick(T0 + 1_001)) == []


def test_a_trade_that_drifted_past_the_band_is_resized_back_to_its_notional_on_both_legs() -> None:
    driver = _open()
    # +25 %: 0.1 × 75,000.5 = 7,500.05 against N = 6,000: target 6,000 / 75,000.5 = 0.07999… → 0.079 (lot 0.001)
    driver.feed(book("okx", [("75000", "5")], [("75001", "5")], T0 + 1_000),
                book("binance", [("75150", "5")], [("75151", "5")], T0 + 1_000))
    produced = driver.tick(T0 + 1_001) + driver.tick(T0 + 1_002)
    # the harder leg (okx, long) sells 0.021 first, then binance buys back 0.021 of the short
    assert _rebalances(produced) == [("okx", "ioc", "sell", D("0.021")), ("binance", "ioc", "buy", D("0.021"))]
    state = driver.state
    [resized] = state.trades.values()
    assert (resized.phase, resized.qty, resized.long.position, resized.short.position) == (
        "active", D("0.079"), D("0.079"), D("0.079"))
    assert resized.notional == D("5925.03")  # 0.079 × 75,000.5, cut to cents: the ledger's reservation
    assert state.ledger.open[resized.trade_id] == D("5925.03")
    # the band is measured against N again: no second resize at the same prices
    assert _rebalances(driver.tick(T0 + 2_000)) == []
