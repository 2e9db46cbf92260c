"""Margin gates, breakers and alerts inside the execution step (operators.execution.risk_checks; docs/architecture.md
§3.8, §3.9 Margin and Breakers) — worked examples computed by hand.

Setting (tests/unit/execution_support.py): okx (rank 9), binance (rank 11) and here bybit
(rank 5) BTC/USDT:USDT perps; maintenance is a flat `rate` of the notional on every venue
("whole" tables), haircut 0 on USDT. A spread trade of notional N puts N/2 USDT on each of
its two venues, so with the trade of tests/unit/test_execution.py (long 0.1 okx at 60000,
short 0.1 binance at 60150, N = 6000):
- entry gate on binance (sell 0.1 at its bid 60150): TMM = rate × 6015, health =
  1 − 1.2 × TMM / 3000: rate 10 % → 1 − 721.8/3000 = 0.7594 < 0.8 → refused; rate 5 % →
  0.8797 → allowed (okx: 0.76 and 0.88);
- okx mark M afterwards: AE = 3000 + 0.1 × (M − 60000), TMM = 0.005 M, health =
  1 − 0.006 M / (0.1 M − 3000): M = 34000 → 1 − 204/400 = 0.49 (the reference test's "inject 0.5");
  health 0 at 0.094 M = 3000 → M = 31914.89…, a move of 6.1 % < 10 %.
"""

from decimal import Decimal

from arbflow.model import reasons
from arbflow.model.config import ExecutionConfig, ExecutionRiskConfig, MarginConfig, Tier, VenueMarginConfig
from arbflow.model.desk_config import with_fallback_tables
from arbflow.model.market import ClockTick
from arbflow.model.portfolio import Alert
from tests.unit.execution_support import (
    T0,
    VENUES,
    Driver,
    ack,
    book,
    fill,
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


def _margin(rate: str) -> MarginConfig:
    tables = VenueMarginConfig(haircuts={"USDT": (Tier(floor=D(0), rate=D(0)),)},
                               maintenance={"BTC": (Tier(floor=D(0), rate=D(rate)),)}, maintenance_method="whole")
    return MarginConfig(venues={"okx": tables, "binance": tables, "bybit": tables})


def _driver(rate: str, mode: str = "paper") -> Driver:
    venues = {**VENUES, "bybit": venue(5)}
    # checks every 100 ms of stream time (default 1 s), so a move lands inside a first leg's 500 ms
    driver = Driver(settings(mode, venues=venues, margin=_margin(rate),
                             execution=ExecutionConfig(risk=ExecutionRiskConfig(check_interval_ms=100))))
    driver.feed(book("okx", [("60000", "5")], [("60001", "5")], T0),
                book("binance", [("60150", "5")], [("60151", "5")], T0),
                book("bybit", [("60010", "5")], [("60011", "5")], T0),
                mark("okx", "60000", "60001", "60000", T0), mark("binance", "60150", "60151", "60100", T0),
                funding("okx", "0.00002", T0 + 60_000, T0), funding("binance", "0.0001", T0 + 60_000, T0),
                funding("bybit", "0.00002", T0 + 60_000, T0))
    return driver


def test_an_entry_that_would_take_health_below_0_8_is_refused_with_its_numbers() -> None:
    driver = _driver("0.10")
    produced = driver.feed(opportunity(DECIDED))
    [denied] = driver.denied(produced)
    assert denied.reason == reasons.HEALTH_BELOW_ENTRY_MIN
    # binance (judged first, by name): sell 0.1 at its bid 60150 → TMM 601.5, 1 − 721.8/3000
    assert denied.detail == "binance: projected health 0.75940000 would be below 0.8"
    assert driver.intents() == [] and driver.state.ledger.available == D(20_000)


def test_an_entry_within_the_limits_goes_ahead() -> None:
    driver = _driver("0.05")
    driver.feed(opportunity(DECIDED))
    assert [i.intent_id for i in driver.intents()] == [FIRST] and driver.denied() == []


def _active_and_pending(driver: Driver) -> str:
    """Trade A (long okx, short binance) active; trade B (long bybit, short binance) with its
    first leg resting on bybit. Returns B's first-leg order id."""
    driver.feed(opportunity(DECIDED))
    driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))
    assert driver.state.trades[TRADE].phase == "active"
    second = T0 + 50
    driver.feed(opportunity(second, long="bybit"))
    pending = driver.state.trades[f"BTC_{second}_0"]
    assert pending.phase == "first"
    assert pending.long.order is not None
    return pending.long.order.client_order_id


def test_health_forced_to_0_49_aborts_every_pending_entry_and_closes_the_weakest_position() -> None:
    driver = _driver("0.05")
    pending = _active_and_pending(driver)
    produced = driver.feed(mark("okx", "60000", "60001", "34000", T0 + 200))
    alerts = {a.code: a for a in driver.alerts(produced)}
    critical = alerts[reasons.HEALTH_CRITICAL]
    assert (critical.severity, critical.venue, critical.value, critical.threshold, critical.ts, critical.asset) == (
        "critical", "okx", D("0.49"), D("0.6"), T0 + 200, "BTC")
    near = alerts[reasons.LIQUIDATION_TOO_CLOSE]
    assert (near.venue, near.threshold) == ("okx", D("0.10")) and D("0.061") < near.value < D("0.062")
    cancels = [i for i in driver.intents(produced) if i.kind == "cancel"]
    assert [(c.intent_id, c.reason) for c in cancels] == [(f"cancel:{pending}", reasons.HEALTH_CRITICAL)]
    exits = [i for i in driver.intents(produced) if i.kind == "exit"]
    assert {(i.venue, i.side, i.qty) for i in exits} == {("okx", "sell", D("0.100")), ("binance", "buy", D("0.100"))}
    assert all(i.order_type == "ioc" for i in exits)  # a hard exit: marketable at once
    assert driver.of(type(driver.portfolio()), produced)[-1].margin_health == D("0.49")
    # entries pause while health is below the de-leveraging target
    [denied] = driver.denied(driver.feed(opportunity(T0 + 400, long="bybit")))
    assert denied.reason == reasons.HEALTH_CRITICAL


def test_an_alert_is_raised_once_while_its_condition_holds() -> None:
    driver = _driver("0.05")
    _active_and_pending(driver)
    driver.feed(mark("okx", "60000", "60001", "34000", T0 + 200))
    later = driver.feed(mark("okx", "60000", "60001", "34000", T0 + 350), ClockTick(ts=T0 + 450))
    assert [a.code for a in driver.alerts(later) if a.code == reasons.HEALTH_CRITICAL] == []


def test_a_naked_leg_for_30_s_raises_one_delta_leakage_alert_with_value_and_threshold() -> None:
    """Live, the venue never answers the second leg: the long 0.1 okx stays unhedged.
    |0.1 − 0| × 60000 (okx mark) = 6000 USD > max(100, 1 % × 6000) for 30 s."""
    driver = _driver("0.05", mode="live")
    driver.feed(opportunity(DECIDED))
    driver.feed(ack(FIRST, "okx", T0 + 12), fill(FIRST, "okx", "60000", "0.1", "1.2", T0 + 40, liquidity="maker"))
    early = [a for t in range(1, 30) for a in driver.alerts(driver.tick(T0 + 40 + t * 1_000))]
    assert [a for a in early if a.code == reasons.DELTA_LEAKAGE] == []
    late = [a for t in range(30, 40) for a in driver.alerts(driver.tick(T0 + 40 + t * 1_000))]
    [leak] = [a for a in late if a.code == reasons.DELTA_LEAKAGE]
    assert (leak.severity, leak.value, leak.threshold, leak.asset) == ("warning", D("6000.00"), D(100), "BTC")
    assert leak.ts - (T0 + 1_010) >= 30_000


def test_health_is_1_with_collateral_only_and_none_once_the_trades_are_gone() -> None:
    driver = _driver("0.05")
    driver.feed(opportunity(DECIDED))  # the first leg rests: its 3000 USDT per venue, no position
    assert driver.state.risk.health == 1
    produced = driver.tick(T0 + 5_000)  # timed out at T0 + 510, nothing executed: rejected
    assert [a for a in driver.alerts(produced) if isinstance(a, Alert)] == []
    assert driver.state.risk.health is None and driver.portfolio().margin_health is None


def test_a_venue_without_margin_tables_uses_the_conservative_fallback() -> None:
    margin = with_fallback_tables(MarginConfig(), ["binance", "hyperliquid"])
    assert margin.venues["binance"] is MarginConfig().venues["binance"]
    fallback = margin.venues["hyperliquid"]
    assert set(fallback.maintenance) == {"*"} and fallback.haircuts["*"][0].rate == D("0.9")
    assert fallback.maintenance["*"][0].rate == D("0.01")  # Binance's 50× table: 1 % from the first dollar
