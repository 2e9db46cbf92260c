"""The execution state machine, open positions: funding settlement, each exit rule, leg-outs
on exits, retry ladders and the critical path (docs/architecture.md §3.7, §3.9), worked by hand.

Every example starts from the position of tests/unit/test_execution.py: long 0.1 BTC okx at
60000 (maker fee 1.2), short 0.1 BTC binance at 60150 (taker fee 3.0075), notional $6,000;
entry spread (60150 − 60000) / 60075 × 10⁴ = 24.97 bps. Funding: okx 0.00002, binance
0.0001 per 8 h (carry +0.00008), both settling at T0 + 60 s; marks 60000 and 60100.
"""

from dataclasses import replace
from decimal import Decimal
from typing import Any

from arbflow.model import reasons
from arbflow.model.config import FeeSchedule
from arbflow.model.market import OrderBook
from arbflow.operators.execution import engine as execution
from arbflow.operators.execution import ledger as lg
from tests.unit.execution_support import (
    T0,
    WORKED_RULE,
    Driver,
    book,
    funding,
    mark,
    opportunity,
    settings,
    trade,
    venue,
)

D = Decimal
DECIDED = T0 + 10
TRADE = f"BTC_{DECIDED}_0"
FIRST = f"entry_{TRADE}_long"
SECOND = f"entry_{TRADE}_short"


def _open(mode: str = "paper", **opportunity_fields: Any) -> Driver:
    driver = Driver(settings(mode=mode))
    driver.feed(book("okx", [("60000", "5")], [("60001", "5")], T0),
                book("binance", [("60150", "5")], [("60151", "5")], T0),
                mark("okx", "60000", "60001", "60000", T0), mark("binance", "60150", "60151", "60100", T0),
                funding("okx", "0.00002", T0 + 60_000, T0), funding("binance", "0.0001", T0 + 60_000, T0),
                opportunity(DECIDED, **opportunity_fields), trade("okx", "sell", "60000", "1.1", T0 + 30))
    assert driver.trades()[-1].status == "active"
    return driver


def test_funding_settles_once_at_next_funding_time_with_the_rate_in_force() -> None:
    driver = _open()
    assert driver.trades(driver.tick(T0 + 59_999)) == []
    settled = driver.trades(driver.tick(T0 + 60_000))
    # short leg receives 0.1 × 60100 × 0.0001 = 0.601; long leg pays 0.1 × 60000 × 0.00002 = 0.12
    assert [t.funding_pnl for t in settled] == [D("-0.12"), D("0.481")]
    assert driver.portfolio().realised_pnl == D("-4.2075") + D("0.481")
    assert driver.feed(funding("binance", "0.0001", T0 + 60_000, T0 + 60_001)) == []  # re-sent: no second payment
    assert driver.trades(driver.tick(T0 + 61_000)) == []
    driver.feed(funding("binance", "-0.0002", T0 + 120_000, T0 + 62_000),
                funding("okx", "0.00002", T0 + 120_000, T0 + 62_000))
    later = driver.trades(driver.tick(T0 + 120_000))
    # negative rate: the short pays 0.1 × 60100 × 0.0002 = 1.202; the long pays 0.12 again
    # (the negative carry also started a soft exit at T0 + 62 s; its round ends on this tick)
    assert [t.funding_pnl for t in later][:2] == [D("0.361"), D("-0.841")]
    assert lg.violations(driver.state.ledger) == []


def test_funding_convergence_is_a_soft_exit_with_passive_limits() -> None:
    driver = _open()
    produced = driver.feed(funding("binance", "0.00001", T0 + 60_000, T0 + 1_000))  # carry −0.00001 < 0
    assert [(i.intent_id, i.side, i.order_type, i.limit_px, i.reason) for i in driver.intents(produced)] == [
        (f"exit_{TRADE}_long_0", "sell", "limit", D(60001), reasons.EXIT_FUNDING_CONVERGED),
        (f"exit_{TRADE}_short_0", "buy", "limit", D(60150), reasons.EXIT_FUNDING_CONVERGED)]
    assert driver.trades(produced)[-1].status == "exiting"


def test_a_small_positive_carry_is_held_when_it_is_below_the_entry_bar() -> None:
    # carry 0.00003 − 0.00002 = 0.00001 ≥ exit_carry_8h 0: the carry rule holds (hysteresis; the
    # old fixed threshold, 0.00005, would have exited here)
    driver = _open()
    produced = driver.feed(funding("binance", "0.00003", T0 + 60_000, T0 + 1_000))
    assert driver.intents(produced) == [] and driver.trades()[-1].status == "active"


def test_spread_widening_beyond_50_bps_is_a_soft_exit() -> None:
    driver = _open()
    # close spread (60601 − 60000) / 60300.5 × 10⁴ = 99.67 bps > 24.97 + 50, < 24.97 + 100
    produced = driver.feed(book("binance", [("60600", "5")], [("60601", "5")], T0 + 1_000))
    assert {(i.order_type, i.reason) for i in driver.intents(produced)} == {("limit", reasons.EXIT_SPREAD_WIDENED)}


def test_stop_loss_beyond_100_bps_exits_marketable_at_once_with_exact_pnl() -> None:
    """Close spread (60901 − 60000) / 60450.5 × 10⁴ = 149 bps > 24.97 + 100: IOCs on both legs.
    Sell 0.1 okx at 60000 (fee 3.0), buy 0.1 binance at 60901 (fee 3.04505). Trading PnL
    0 + 0.1 × (60150 − 60901) = −75.1; fees 1.2 + 3.0075 + 3.0 + 3.04505 = 10.25255."""
    driver = _open()
    produced = driver.feed(book("binance", [("60900", "5")], [("60901", "5")], T0 + 1_000))
    assert [(i.intent_id, i.order_type, i.side, i.limit_px) for i in driver.intents(produced)] == [
        (f"exit_{TRADE}_long_0", "ioc", "sell", D(59820)),  # 60000 × (1 − 30 bps)
        (f"exit_{TRADE}_short_0", "ioc", "buy", D("61083.7"))]  # 60901 × (1 + 30 bps), rounded down
    closed = driver.trades(produced)[-1]
    assert (closed.status, closed.exit_reason, closed.basis_pnl, closed.fees, closed.realised_pnl) == (
        "closed", reasons.EXIT_STOP_LOSS, D("-75.1"), D("10.25255"), D("-85.35255"))
    state = driver.portfolio()
    assert (state.available, state.cumulative_pnl, state.loss_count) == (D("19914.64745"), D("-85.35255"), 1)


def test_a_carry_trade_is_not_stopped_by_its_close_spread_nor_by_a_venues_basis_stop() -> None:
    """The same open trade as a carry trade (its carry over H, 8 bp × 21 = 168 bps, beats its 28 bps
    entry spread): the close spread at 149 bps, past the stop, exits nothing; a perp–perp spread
    holds no spot–perp basis, so no venue's basis-at-risk stop closes it either."""
    driver = _open(carry="0.0008", holding=21)
    produced = driver.feed(book("binance", [("60900", "5")], [("60901", "5")], T0 + 1_000))
    assert driver.intents(produced) == [] and driver.trades()[-1].status == "active"
    for name in ("binance", "okx"):
        produced = execution.on_basis_stop(driver.state, name, "BTC", True, T0 + 2_000, driver.settings)
        assert driver.intents(produced) == [] and driver.trades()[-1].status == "active"


def _spot_perp_carry() -> Driver:
    """Long 0.1 BTC spot, short 0.1 BTC perp, both on okx, entered under order style taker
    (two IOCs against the books), the rule of WORKED_RULE."""
    spot_fees = FeeSchedule(maker_bps=D(8), taker_bps=D(10))
    venues = {"okx": replace(venue(9), spot=spot_fees), "binance": venue(11)}
    driver = Driver(settings(venues=venues, strategy=replace(WORKED_RULE, order_style="taker")))
    spot = OrderBook(venue="okx", symbol="BTC/USDT", market="spot", bids=((D(59_990), D(5)),),
                     asks=((D(60_000), D(5)),), depth=20, ts_local=T0)
    carry = replace(opportunity(DECIDED, long="okx", short="okx", spread="10", carry="0.0008", holding=21),
                    opportunity_id=f"BTC:okx:BTC/USDT>okx:BTC/USDT:USDT@{DECIDED}", long_symbol="BTC/USDT",
                    long_market="spot")
    driver.feed(spot, book("okx", [("60060", "5")], [("60061", "5")], T0),
                mark("okx", "60060", "60061", "60060", T0), funding("okx", "0.0008", T0 + 60_000, T0), carry)
    assert driver.trades()[-1].status == "active"
    return driver


def test_the_basis_stop_of_its_perps_venue_closes_a_spot_perp_carry_marketable_at_once() -> None:
    driver = _spot_perp_carry()
    assert execution.on_basis_stop(driver.state, "binance", "BTC", True, T0 + 1_000, driver.settings) == []
    produced = execution.on_basis_stop(driver.state, "okx", "BTC", True, T0 + 1_000, driver.settings)
    assert {(i.order_type, i.reason) for i in driver.intents(produced)} == {("ioc", reasons.EXIT_BASIS_STOP)}
    assert driver.trades(produced)[-1].status == "closed"


def test_soft_exit_with_one_leg_filled_hedges_the_other_as_a_leg_out() -> None:
    """Funding converges: sell 0.1 at the okx ask 60001 and buy 0.1 at the binance bid 60150,
    resting. A buy print of 1.1 at 60001 fills the okx leg (maker 1.20002); binance gets no
    print. 500 ms later the binance order is canceled and the short is bought back by a hedge
    IOC at the ask 60151 (fee 3.00755): leg-out cost 0.1 × (60151 − 60150) + 3.00755 = 3.10755.
    Against the reference prices (60000, 60150 in; 60001 and the planned 60150 out) the basis
    PnL is 0.1, the executed trading PnL 0: slippage 0.1, the leg-out's price cost."""
    driver = _open()
    driver.feed(funding("binance", "0.00001", T0 + 60_000, T0 + 1_000))
    driver.feed(trade("okx", "buy", "60001", "1.1", T0 + 1_100))
    assert driver.intents(driver.tick(T0 + 1_400)) == []
    produced = driver.tick(T0 + 1_500)
    cancel, hedge = driver.intents(produced)
    assert (cancel.kind, cancel.intent_id) == ("cancel", f"cancel:exit_{TRADE}_short_0")
    assert (hedge.intent_id, hedge.side, hedge.qty, hedge.limit_px) == (f"hedge_exit_{TRADE}_short_0_0", "buy",
                                                                        D("0.100"), D("60331.4"))
    closed = driver.trades(produced)[-1]
    [leg_out] = closed.leg_outs
    assert (leg_out.filled_leg, leg_out.hedge_px, leg_out.hedge_qty, leg_out.cost) == ("long", D(60151), D("0.1"),
                                                                                         D("3.10755"))
    assert (closed.status, closed.basis_pnl, closed.slippage, closed.fees, closed.realised_pnl) == (
        "closed", D("0.1"), D("0.1"), D("8.41507"), D("-8.41507"))
    assert (driver.portfolio().leg_out_count, driver.portfolio().leg_out_loss) == (1, D("3.10755"))


def test_soft_exits_without_fills_requote_then_turn_hard_after_three_rounds() -> None:
    driver = _open()
    driver.feed(funding("binance", "0.00001", T0 + 60_000, T0 + 1_000))
    for n in range(1, 4):
        driver.tick(T0 + 1_000 * n + 500)  # the round times out with nothing filled: back to active
        assert driver.state.trades[TRADE].phase == "active"
        if n < 3:
            driver.feed(book("okx", [("60000", "5")], [("60001", "5")], T0 + 1_000 * (n + 1)))
    produced = driver.feed(book("okx", [("60000", "5")], [("60001", "5")], T0 + 4_000))
    assert [(i.intent_id, i.order_type) for i in driver.intents(produced)] == [
        (f"exit_{TRADE}_long_3", "ioc"), (f"exit_{TRADE}_short_3", "ioc")]
    assert driver.trades()[-1].status == "closed"


def test_hedges_retry_30_bps_wider_three_times_then_alert_pause_and_unwind() -> None:
    """The binance bids thin to 0.04 at 60150 after the entry decision. The second leg sells
    0.04; hedges at 60, 90, 120 bps (59789.1, 59608.7, 59428.2) find nothing; a critical
    HEDGE_FAILED pauses entries and the 0.06 the okx leg holds in excess is sold back. The
    matched 0.04 stays open."""
    driver = Driver(settings())
    driver.feed(book("okx", [("60000", "5")], [("60001", "5")], T0),
                book("binance", [("60150", "5")], [("60151", "5")], T0), opportunity(DECIDED),
                book("binance", [("60150", "0.04")], [("60151", "5")], T0 + 15))
    produced = driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))
    assert [(i.intent_id, i.qty, i.limit_px) for i in driver.intents(produced)] == [
        (SECOND, D("0.100"), D("59969.6")),
        (f"hedge_{SECOND}_1", D("0.06"), D("59789.1")), (f"hedge_{SECOND}_2", D("0.06"), D("59608.7")),
        (f"hedge_{SECOND}_3", D("0.06"), D("59428.2")), (f"unwind_{FIRST}_0", D("0.060"), D(59820))]
    [leg_out, failed] = driver.alerts(produced)
    assert (leg_out.code, failed.code, failed.severity) == (reasons.LEG_OUT, reasons.HEDGE_FAILED, "critical")
    active = driver.trades(produced)[-1]
    assert (active.status, active.qty, active.notional) == ("active", D("0.04"), D("2400.00"))
    assert driver.denied(driver.feed(opportunity(T0 + 100, long="binance", short="okx")))[0].reason in (
        reasons.ENTRIES_PAUSED, reasons.POSITION_OPEN)
    execution.resume_entries(driver.state)
    assert driver.state.paused is None


def test_a_stuck_unwind_alerts_and_an_operator_exit_flattens_it_later() -> None:
    """Hedges find no binance bid in the paper book; the fallback unwind finds no okx bid to
    price from: HEDGE_FAILED then UNWIND_FAILED, the trade is stuck (long 0.1, short 0.04).
    Once books are back, an operator's exit closes both legs."""
    driver = Driver(settings())
    driver.feed(book("okx", [("60000", "5")], [("60001", "5")], T0),
                book("binance", [("60150", "5")], [("60151", "5")], T0), opportunity(DECIDED),
                book("binance", [("60150", "0.04")], [("60151", "5")], T0 + 15),
                book("okx", [], [("60001", "5")], T0 + 16))
    produced = driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))
    assert [(a.code, a.severity) for a in driver.alerts(produced)] == [
        (reasons.LEG_OUT, "warning"), (reasons.HEDGE_FAILED, "critical"), (reasons.UNWIND_FAILED, "critical")]
    stuck = driver.state.trades[TRADE]
    assert (stuck.phase, stuck.long.position, stuck.short.position) == ("stuck", D("0.1"), D("0.04"))
    assert driver.trades(produced)[-1].status == "pending"
    assert driver.feed(book("okx", [("59990", "5")], [("59991", "5")], T0 + 700),
                       book("binance", [("60140", "5")], [("60141", "5")], T0 + 700)) == []  # stuck: no action
    flattened = execution.request_exit(driver.state, TRADE, T0 + 701, driver.settings)
    assert [(i.venue, i.side, i.qty) for i in driver.intents(flattened)] == [("okx", "sell", D("0.100")),
                                                                            ("binance", "buy", D("0.040"))]
    final = driver.trades(flattened)[-1]
    assert (final.status, final.exit_reason) == ("closed", reasons.EXIT_REQUESTED)
    assert lg.violations(driver.state.ledger) == [] and driver.state.trades == {}
