"""The portfolio controller inside the execution step (operators.execution.controller; docs/architecture.md
§3.8, §3.9 Allocation) — worked examples by hand on the market of
tests/unit/test_execution.py (long okx 60000 / short binance 60150, opportunity notional
$6,000, fees 14 bps, carry +0.0001 per 8 h, $20,000 desk).

The portfolio is this one desk ($20,000) and BTC is alone in its sector ("bitcoin"), so the
sector cap is 15 % × 20,000 = $3,000: every BTC entry is capped there, with or without a
carry history. With history the allocator keeps the pair (one pair: softmax weight 1 → ideal
$20,000, cut to the sector's $3,000) and its hysteresis passes: the mean carry over 90
intervals 0.0001 × 90 = 0.009 > 2.5 × 14 bps = 0.0035.
"""

from decimal import Decimal

from arbflow.model import reasons
from arbflow.model.config import AllocationConfig
from arbflow.operators.execution.controller import entry_cap, pair_id, reconcile
from tests.unit.execution_support import T0, Driver, book, funding, mark, opportunity, settings, trade

D = Decimal
MINUTE = 60_000
PAIR = "BTC:okx:BTC/USDT:USDT>binance:BTC/USDT:USDT"


def _driver() -> Driver:
    driver = Driver(settings(allocation=AllocationConfig()))  # the controller on; BTC alone in "bitcoin"
    _market(driver, T0)
    return driver


def _market(driver: Driver, ts: int) -> None:
    driver.feed(book("okx", [("60000", "5")], [("60001", "5")], ts),
                book("binance", [("60150", "5")], [("60151", "5")], ts),
                mark("okx", "60000", "60001", "60000", ts), mark("binance", "60150", "60151", "60100", ts),
                funding("okx", "0.00002", T0 + 8 * 60 * MINUTE, ts),
                funding("binance", "0.0001", T0 + 8 * 60 * MINUTE, ts))


def test_the_pair_id_is_the_opportunity_id_without_its_time() -> None:
    assert pair_id(opportunity(T0).opportunity_id) == PAIR


def test_an_entry_is_capped_by_the_desks_share_of_its_sector_before_there_is_any_history() -> None:
    driver = _driver()
    driver.feed(opportunity(T0 + 10))
    [intent] = driver.intents()
    [pending] = driver.trades()
    assert (pending.notional, intent.qty) == (D("3000.00"), D("0.050"))  # 3000 / 60000
    assert driver.state.controller.last is None  # the first reconcile waits for T0 + 10 to be complete
    driver.tick(T0 + 11)
    assert driver.state.controller.excluded == {PAIR: reasons.HISTORY_TOO_SHORT}


def test_with_three_minutes_of_carry_history_the_allocator_targets_the_whole_desk_of_one_sector() -> None:
    """Rejected by the scanner (the rule is out of the pair): observed, its carry counted as 0
    (CARRY_NOT_POSITIVE, nothing allocated); the same history once the rule would enter: the
    whole desk."""
    driver = _driver()
    for minute in range(6):
        _market(driver, T0 + minute * MINUTE)
        driver.feed(opportunity(T0 + minute * MINUTE + 10, accepted=False))
    driver.tick(T0 + 5 * MINUTE + 11)  # stream time moves past the last opportunity's timestamp
    assert driver.intents() == []
    allocation = driver.state.controller.last
    assert allocation is not None and allocation.ts == T0 + 5 * MINUTE + 10  # the second run, 5 min after the first
    assert driver.state.controller.excluded == {PAIR: reasons.CARRY_NOT_POSITIVE} and allocation.targets == ()
    driver.state.controller.pairs[PAIR].accepted = True  # the rule would enter now
    reconcile(driver.state.controller, T0 + 10 * MINUTE, (), D(20_000), driver.settings)
    allocation = driver.state.controller.last
    [target] = allocation.targets
    assert (target.pair_id, target.history_points, target.ideal_notional, target.target_notional, target.action) == (
        PAIR, 6, D("20000.00"), D("20000.00"), "enter")  # one sector in the desk's universe: it may hold all
    assert driver.state.controller.caps == {PAIR: D("20000.00")}


def test_a_pair_whose_carry_turns_negative_is_closed_by_the_controller_and_refused_new_entries() -> None:
    driver = _driver()
    driver.feed(opportunity(T0 + 10))
    driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))  # first leg fills; the IOC second leg too
    assert driver.trades()[-1].status == "active"
    _market(driver, T0 + 5 * MINUTE)
    produced = driver.feed(opportunity(T0 + 5 * MINUTE + 20, carry="-0.0001", accepted=False))
    produced += driver.tick(T0 + 5 * MINUTE + 21)
    exits = [i for i in driver.intents(produced) if i.kind == "exit"]
    assert {(i.venue, i.side, i.order_type, i.reason) for i in exits} == {
        ("okx", "sell", "limit", reasons.REBALANCE), ("binance", "buy", "limit", reasons.REBALANCE)}
    assert driver.state.controller.excluded == {PAIR: reasons.CARRY_NOT_POSITIVE}
    # while excluded, the pair's cap is 0: entries are refused ALLOCATION_CAP
    assert entry_cap(driver.state.controller, PAIR, "BTC", D(0), driver.settings) == 0
    [denied] = driver.denied(driver.feed(opportunity(T0 + 5 * MINUTE + 40, carry="-0.0001")))
    assert denied.reason == reasons.EXIT_IN_FLIGHT  # (the pair is still busy closing: that reason comes first)


def test_a_cap_below_the_minimum_notional_refuses_the_entry_with_allocation_cap() -> None:
    driver = _driver()
    driver.state.controller.caps[PAIR] = D("99.99")
    driver.state.controller.last_run = T0  # no reconciliation before the entry
    [denied] = driver.denied(driver.feed(opportunity(T0 + 10)))
    assert (denied.reason, denied.detail) == (reasons.ALLOCATION_CAP, "the controller allows 99.99 USD on the pair")


def test_a_carry_turning_negative_is_a_large_change_that_reconciles_once_stream_time_moves_past_it() -> None:
    driver = _driver()
    driver.feed(opportunity(T0 + 10))
    driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))
    assert driver.trades()[-1].status == "active"
    produced = driver.feed(opportunity(T0 + MINUTE, carry="-0.0001", accepted=False))  # 1 min, not 5
    assert driver.state.controller.urgent and driver.intents(produced) == []  # marked, not yet run
    produced = driver.tick(T0 + MINUTE + 1)
    assert {(i.venue, i.reason) for i in driver.intents(produced) if i.kind == "exit"} == {
        ("okx", reasons.REBALANCE), ("binance", reasons.REBALANCE)}
    assert driver.state.controller.last_run == T0 + MINUTE and not driver.state.controller.urgent


def test_urgent_changes_of_several_pairs_at_one_timestamp_make_one_reconcile_after_all_of_them() -> None:
    """A bar close moves every pair's carry at once: the candidates of one timestamp each
    mark the controller urgent, and it runs the allocator once, when time moves on."""
    driver = _driver()
    driver.feed(opportunity(T0 + 10, accepted=False), opportunity(T0 + 10, long="binance", short="okx",
                                                                   accepted=False))
    driver.tick(T0 + 11)
    first = driver.state.controller.last_run
    assert first == T0 + 10
    driver.feed(opportunity(T0 + MINUTE, carry="-0.0001", accepted=False))
    driver.feed(opportunity(T0 + MINUTE, long="binance", short="okx", carry="0.0003", accepted=False))
    assert driver.state.controller.urgent and driver.state.controller.last_run == first  # both marked, none run
    driver.feed(opportunity(T0 + MINUTE, long="binance", short="okx", carry="-0.0003", accepted=False))
    assert driver.state.controller.last_run == first
    driver.tick(T0 + MINUTE + 1)
    allocation = driver.state.controller.last
    assert allocation is not None and allocation.ts == T0 + MINUTE and not driver.state.controller.urgent
    # the one run saw the last word of every candidate of T0 + 1 min: both carries negative
    assert {e.reason for e in allocation.excluded} == {reasons.CARRY_NOT_POSITIVE}
