"""The execution state machine, entries: worked examples computed by hand (docs/architecture.md §3.7).

Setting for every example (tests/unit/execution_support.py): okx (rank 9) and binance
(rank 11) BTC/USDT:USDT perps, maker 2 bps, taker 5 bps, tick 0.1, lot 0.001, $20,000.
Books at T0: okx 60000 × 5 / 60001 × 5, binance 60150 × 5 / 60151 × 5. The opportunity
(long okx, short binance, spread 28 bps, fees 14 bps, carry +0.0001/8 h, notional $6,000)
sizes to min(14/28 × 20 000, 50 % × 20 000, 6 000) = $6,000; okx is harder, so the long
leg rests first: buy 6000 / 60000 = 0.100 BTC at the okx bid 60000, whose queue is 5 BTC
(fills once 1 BTC of sell prints traded at ≤ 60000).
"""

from decimal import Decimal

from arbflow.model import reasons
from arbflow.model.config import ExecutionConfig
from arbflow.model.execution import OrderIntent
from arbflow.operators.execution import engine as execution
from arbflow.operators.execution import ledger as lg
from arbflow.operators.execution import pricing
from tests.unit.execution_support import (
    PERP,
    T0,
    Driver,
    ack,
    book,
    done,
    fill,
    funding,
    mark,
    opportunity,
    settings,
    trade,
)

D = Decimal
DECIDED = T0 + 10
TRADE = f"BTC_{DECIDED}_0"
FIRST = f"entry_{TRADE}_long"
SECOND = f"entry_{TRADE}_short"


def _market(driver: Driver, ts: int = T0) -> None:
    driver.feed(book("okx", [("60000", "5")], [("60001", "5")], ts),
                book("binance", [("60150", "5")], [("60151", "5")], ts),
                mark("okx", "60000", "60001", "60000", ts), mark("binance", "60150", "60151", "60100", ts),
                funding("okx", "0.00002", T0 + 60_000, ts), funding("binance", "0.0001", T0 + 60_000, ts))


def _entered(mode: str = "paper") -> Driver:
    driver = Driver(settings(mode=mode))
    _market(driver)
    driver.feed(opportunity(DECIDED))
    return driver


def test_entry_rests_the_harder_leg_at_its_touch_when_an_opportunity_is_accepted() -> None:
    driver = _entered()
    [intent] = driver.intents()
    assert (intent.intent_id, intent.kind, intent.venue, intent.side, intent.order_type, intent.qty,
            intent.limit_px, intent.priority) == (FIRST, "entry", "okx", "buy", "limit", D("0.100"), D(60000), 2)
    [pending] = driver.trades()
    assert (pending.status, pending.notional, pending.qty) == ("pending", D("6000.00"), D("0.100"))
    assert driver.portfolio().available == D("14000.00")
    order = driver.orders()[0]
    assert order.venue_client_id == execution.ids.venue_client_id(FIRST, "okx") and len(order.venue_client_id) == 32


def test_second_leg_is_an_ioc_for_the_executed_quantity_when_the_first_leg_fills() -> None:
    driver = _entered()
    assert driver.fills(driver.feed(trade("okx", "sell", "60000", "1.0", T0 + 20))) == []  # 20 % of 5: not yet
    produced = driver.feed(trade("okx", "sell", "60000", "0.1", T0 + 30))
    first, second = driver.fills(produced)
    assert (first.px, first.qty, first.fee, first.liquidity) == (D(60000), D("0.1"), D("1.2"), "maker")
    [ioc] = driver.intents(produced)
    # 60150 × (1 − 30 bps) = 59969.55, rounded up for a sell: 59969.6
    assert (ioc.intent_id, ioc.side, ioc.order_type, ioc.qty, ioc.limit_px) == (SECOND, "sell", "ioc", D("0.100"),
                                                                                 D("59969.6"))
    assert (second.px, second.qty, second.fee) == (D(60150), D("0.1"), D("3.0075"))
    active = driver.trades(produced)[-1]
    assert (active.status, active.entry_long_px, active.entry_short_px, active.notional) == (
        "active", D(60000), D(60150), D("6000.0"))
    state = driver.portfolio()
    assert (state.available, state.realised_pnl, state.open_notional) == (D("13995.7925"), D("-4.2075"),
                                                                          D("6000.0"))


def test_round_trip_entry_funding_and_profit_exit_books_exact_pnl() -> None:
    """Entry as above (fees 1.2 + 3.0075). Funding at T0 + 60 s: the short receives
    0.1 × 60100 × 0.0001 = 0.601, the long pays 0.1 × 60000 × 0.00002 = 0.12. The books move
    to okx 60150/60151 and binance 60139/60140: closing now would earn 0.1 × 150 + 0.1 × 10 =
    16; + funding 0.481 − fees 4.2075 − expected exit fees 6000 × 7 bps = 4.2 → 8.0735 ≥ 90 %
    of the projected profit → a soft exit: sell 0.1 at the okx ask 60151, buy 0.1 at the binance
    bid 60139, both resting (queues 5 → 1 BTC each). Prints fill them (maker 1.20302 and
    1.20278). Trading PnL 0.1 × (60151 − 60000) + 0.1 × (60150 − 60139) = 16.2; realised
    16.2 + 0.481 − 6.6133 = 10.0677."""
    driver = _entered()
    driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))
    driver.tick(T0 + 60_000)
    produced = driver.feed(book("okx", [("60150", "5")], [("60151", "5")], T0 + 61_000),
                           book("binance", [("60139", "5")], [("60140", "5")], T0 + 61_001))
    exits = driver.intents(produced)
    assert [(i.intent_id, i.side, i.order_type, i.limit_px, i.reason) for i in exits] == [
        (f"exit_{TRADE}_long_0", "sell", "limit", D(60151), reasons.EXIT_PROFIT_TARGET),
        (f"exit_{TRADE}_short_0", "buy", "limit", D(60139), reasons.EXIT_PROFIT_TARGET)]
    driver.feed(trade("okx", "buy", "60151", "1.1", T0 + 61_100), trade("binance", "sell", "60139", "1.1", T0 + 61_200))
    closed = driver.trades()[-1]
    assert (closed.status, closed.exit_reason, closed.exit_long_px, closed.exit_short_px) == (
        "closed", reasons.EXIT_PROFIT_TARGET, D(60151), D(60139))
    assert (closed.basis_pnl, closed.slippage, closed.funding_pnl, closed.fees, closed.realised_pnl) == (
        D("16.2"), D(0), D("0.481"), D("6.6133"), D("10.0677"))
    state = driver.portfolio()
    assert (state.available, state.open_notional, state.realised_pnl, state.cumulative_pnl, state.win_count) == (
        D("20010.0677"), D(0), D("10.0677"), D("10.0677"), 1)
    assert lg.violations(driver.state.ledger) == []
    assert driver.state.trades == {} and driver.state.pairs == {}


def test_first_leg_timeout_with_a_partial_fill_unwinds_exactly_the_executed_part() -> None:
    """A sell print of 1.05 fills 0.05 of the resting buy (fee 0.6). At decision + 500 ms the
    clock cancels it; the 0.05 bought is sold at once by an IOC at the okx bid 60000 (limit
    60000 × (1 − 30 bps) = 59820), fee 60000 × 0.05 × 5 bps = 1.5. PnL 0 − 2.1."""
    driver = _entered()
    driver.feed(trade("okx", "sell", "60000", "1.05", T0 + 20))
    assert driver.intents(driver.tick(T0 + 500)) == []  # 490 ms: still waiting
    produced = driver.tick(DECIDED + 500)
    cancel, unwind = driver.intents(produced)
    assert (cancel.kind, cancel.intent_id, cancel.priority) == ("cancel", f"cancel:{FIRST}", 0)
    assert (unwind.intent_id, unwind.side, unwind.qty, unwind.order_type, unwind.limit_px) == (
        f"unwind_{FIRST}_0", "sell", D("0.05"), "ioc", D(59820))
    assert unwind.qty == sum(f.qty for f in driver.fills() if f.client_order_id == FIRST)
    rejected = driver.trades()[-1]
    assert (rejected.status, rejected.exit_reason, rejected.fees, rejected.realised_pnl) == (
        "rejected", reasons.FIRST_LEG_TIMEOUT, D("2.1"), D("-2.1"))
    state = driver.portfolio()
    assert (state.available, state.cumulative_pnl, state.closed_trades, state.loss_count) == (
        D("19997.9"), D("-2.1"), 1, 1)


def test_first_leg_timeout_without_fills_cancels_and_releases_the_capital() -> None:
    driver = _entered()
    produced = driver.tick(DECIDED + 500)
    assert [i.kind for i in driver.intents(produced)] == ["cancel"]
    assert driver.trades()[-1].status == "rejected" and driver.trades()[-1].exit_reason == reasons.FIRST_LEG_TIMEOUT
    state = driver.portfolio()
    assert (state.available, state.closed_trades, state.open_positions) == (D(20_000), 0, 0)


def test_second_leg_remainder_is_hedged_as_a_leg_out_with_its_cost() -> None:
    """While the first leg rests, the binance bids thin to 0.04 at 60150 then 59900. The IOC
    (limit 59969.6) sells 0.04 at 60150 (fee 1.203) and cancels 0.06: a leg-out. The hedge is
    30 bps wider (60 bps: 60150 × 0.994 = 59789.1) and sells 0.06 at 59900 (fee 1.797). Its
    cost against the planned 60150: 0.06 × 250 + 1.797 = 16.797."""
    driver = _entered()
    driver.feed(book("binance", [("60150", "0.04"), ("59900", "5")], [("60151", "5")], T0 + 15))
    produced = driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))
    second, hedge = [i for i in driver.intents(produced)]
    assert (second.intent_id, second.qty) == (SECOND, D("0.100"))
    assert (hedge.intent_id, hedge.kind, hedge.qty, hedge.limit_px) == (f"hedge_{SECOND}_1", "hedge", D("0.06"),
                                                                        D("59789.1"))
    assert [(f.px, f.qty, f.fee) for f in driver.fills(produced)][1:] == [(D(60150), D("0.04"), D("1.203")),
                                                                          (D(59900), D("0.06"), D("1.797"))]
    [alert] = driver.alerts(produced)
    assert (alert.code, alert.severity, alert.value) == (reasons.LEG_OUT, "warning", D("0.06"))
    active = driver.trades(produced)[-1]
    [leg_out] = active.leg_outs
    assert (leg_out.filled_leg, leg_out.ts_filled, leg_out.hedge_px, leg_out.hedge_qty, leg_out.cost) == (
        "long", T0 + 30, D(59900), D("0.06"), D("16.797"))
    assert (active.status, active.entry_short_px, active.leg_out_cost) == ("active", D(60000), D("16.797"))
    state = driver.portfolio()
    assert (state.leg_out_count, state.leg_out_loss) == (1, D("16.797"))


def test_a_venue_reject_of_the_second_leg_unwinds_the_first_leg_at_once_in_live_mode() -> None:
    """Live: our records go out, venue events come back. The first leg fills 0.1 at 60000
    (fee 1.2); the venue rejects the second; in the same step an IOC sells the 0.1 back; it
    fills at 59990 (fee 2.9995). PnL 0.1 × (59990 − 60000) − 4.1995 = −5.1995."""
    driver = _entered(mode="live")
    assert [i.intent_id for i in driver.intents()] == [FIRST]
    driver.feed(ack(FIRST, "okx", T0 + 12), fill(FIRST, "okx", "60000", "0.1", "1.2", T0 + 40, liquidity="maker"))
    assert [i.intent_id for i in driver.intents()] == [FIRST, SECOND]
    produced = driver.feed(done("rejected", SECOND, "binance", T0 + 45, reason="INSUFFICIENT_MARGIN"))
    [unwind] = driver.intents(produced)
    assert (unwind.intent_id, unwind.side, unwind.qty, unwind.ts) == (f"unwind_{FIRST}_0", "sell", D("0.100"),
                                                                      T0 + 45)
    driver.feed(fill(f"unwind_{FIRST}_0", "okx", "59990", "0.1", "2.9995", T0 + 60))
    rejected = driver.trades()[-1]
    assert (rejected.status, rejected.exit_reason, rejected.realised_pnl) == ("rejected",
                                                                              reasons.SECOND_LEG_REJECTED,
                                                                              D("-5.1995"))
    assert driver.portfolio().available == D("19994.8005")


def test_live_events_are_idempotent_and_unknown_orders_raise_an_alert() -> None:
    driver = _entered(mode="live")
    first_fill = fill(FIRST, "okx", "60000", "0.04", "0.48", T0 + 40, n=1, liquidity="maker")
    driver.feed(ack(FIRST, "okx", T0 + 12), first_fill)
    assert driver.feed(first_fill, ack(FIRST, "okx", T0 + 41)) == []  # the same fill again: nothing
    assert driver.state.trades[TRADE].long.bought == D("0.04")
    [alert] = driver.alerts(driver.feed(ack("entry_ETH_1_0_long", "okx", T0 + 50)))
    assert (alert.code, alert.severity) == (reasons.UNKNOWN_ORDER, "warning")


def test_overlapping_entries_on_the_same_pair_are_refused_with_reasons() -> None:
    driver = _entered()
    [denied] = driver.denied(driver.feed(opportunity(T0 + 20)))
    assert denied.reason == reasons.ENTRY_IN_FLIGHT
    [reverse] = driver.denied(driver.feed(opportunity(T0 + 21, long="binance", short="okx")))
    assert reverse.reason == reasons.ENTRY_IN_FLIGHT  # the same two instruments, the other way round
    driver.feed(trade("okx", "sell", "60000", "1.1", T0 + 30))
    [open_already] = driver.denied(driver.feed(opportunity(T0 + 40)))
    assert open_already.reason == reasons.POSITION_OPEN
    [again] = driver.denied(driver.feed(opportunity(DECIDED)))
    assert again.reason == reasons.DUPLICATE_OPPORTUNITY
    assert len(driver.intents()) == 2  # the two entry legs, nothing else


def test_entries_are_refused_with_a_reason_when_a_rule_fails() -> None:
    def denied(**changes: object) -> str:
        capital = changes.get("starting_capital", ExecutionConfig().starting_capital)
        driver = Driver(settings(execution=ExecutionConfig(starting_capital=capital)))  # type: ignore[arg-type]
        _market(driver)
        opp = {k: v for k, v in changes.items() if k != "starting_capital"}
        [refusal] = driver.denied(driver.feed(opportunity(DECIDED, **opp)))  # type: ignore[arg-type]
        assert driver.intents() == []
        return refusal.reason

    assert denied(score=69) == reasons.SCORE_TOO_LOW
    assert denied(starting_capital=D(99)) == reasons.INSUFFICIENT_CAPITAL
    assert denied(spread="14", carry="0") == reasons.NOT_PROFITABLE  # 14 bps of spread, 14 bps of fees
    assert denied(notional="99") == reasons.BELOW_MIN_SIZE
    # 28 + 1 bp × 3 = 31 bps gross > 30 sizes, but on the book: 24.80 + 3 − 30 − 0.17 ≤ 5 bps margin
    assert denied(fees="30") == reasons.NOT_PROFITABLE
    assert denied(carry="-0.0001") == reasons.NOT_PROFITABLE  # reverse carry: below the exit threshold
    # the scan saw 26 bps; the book now offers 24.8 bps, less than 25 bps of fees and 0.17 bps of exit slippage
    assert denied(fees="25", spread="26", carry="0") == reasons.NOT_PROFITABLE
    stale = Driver(settings())
    _market(stale, T0 + 5_000)
    assert stale.denied(stale.feed(opportunity(DECIDED)))[0].reason == reasons.STALE_OPPORTUNITY
    no_book = Driver(settings())
    assert no_book.denied(no_book.feed(opportunity(DECIDED)))[0].reason == reasons.NO_BOOK
    assert Driver(settings()).feed(opportunity(DECIDED, accepted=False)) == []  # the scanner's reason stands


def test_sizing_counts_the_carry_over_h_and_stops_at_what_the_hedge_book_takes() -> None:
    """Carry +0.0001/8 h over H = 3 intervals = 3 bps of income: (28 + 3 − 20)/(28 + 3) × 20 000
    = 7096.774… → $7,096.77, 0.118 BTC at 60000 (the book recheck: 24.80 + 3 − 20 − 0.17 =
    7.63 bps > 5). With the binance bids 60150 × 0.05, 60000 × 0.05, 59000 × 10, only
    3007.5 + 3000 = $6,007.50 sits within 30 bps of 60150 (sized at the 50 % cap, $10,000)."""
    driver = Driver(settings())
    _market(driver)
    driver.feed(opportunity(DECIDED, fees="20", notional="20000"))
    pending = driver.trades()[-1]
    assert (pending.notional, pending.qty) == (D("7096.77"), D("0.118"))
    # a negative carry is a cost, not income: (28 − 14 − 3)/28 × 20 000 = 7857.14 (the recheck then refuses it)
    reverse = pricing.size_notional(opportunity(DECIDED, carry="-0.0001", notional="20000"), D(20_000), settings())
    assert isinstance(reverse, D) and reverse.quantize(D("0.01")) == D("7857.14")
    thin = Driver(settings())
    _market(thin)
    thin.feed(book("binance", [("60150", "0.05"), ("60000", "0.05"), ("59000", "10")], [("60151", "5")], T0 + 1))
    # selling $6,007.50 walks to a 60,075 VWAP: 74 / 60,038 = 12.33 bps, so the fees are 8 bps here
    # (3 + 12.33 − 8 − 0.17 = 7.16 bps > 5: a 14 bps fee would fail the margin)
    thin.feed(opportunity(DECIDED, fees="8", notional="20000"))
    assert (thin.trades()[-1].notional, thin.intents()[0].qty) == (D("6007.50"), D("0.100"))


def test_replaying_the_same_inputs_is_deterministic_and_never_sends_an_id_twice() -> None:
    inputs = [book("okx", [("60000", "5")], [("60001", "5")], T0),
              book("binance", [("60150", "5")], [("60151", "5")], T0),
              funding("okx", "0.00002", T0 + 60_000, T0), funding("binance", "0.0001", T0 + 60_000, T0),
              opportunity(DECIDED), trade("okx", "sell", "60000", "1.05", T0 + 20)]
    one, two = Driver(settings()), Driver(settings())
    one.feed(*inputs)
    two.feed(*inputs)
    assert one.out == two.out
    one.tick(DECIDED + 500)
    again = one.feed(*inputs)  # recovery replays what it already saw
    assert [r for r in again if isinstance(r, OrderIntent)] == []
    ids = [i.intent_id for i in one.intents() if i.kind != "cancel"]
    assert len(ids) == len(set(ids)) == 2
    assert one.state.emitted == {FIRST, f"unwind_{FIRST}_0"}
    assert PERP in {i.symbol for i in one.intents()}


def test_a_state_restored_mid_trade_continues_identically_and_resends_nothing() -> None:
    """Bytewax snapshots pickle the state: a copy restored while the first leg rests must
    produce exactly the records the original produces, and re-fed inputs send nothing new."""
    import pickle

    driver = _entered()
    driver.feed(trade("okx", "sell", "60000", "1.05", T0 + 20))  # 0.05 of 0.1 filled
    restored = Driver(driver.settings)
    restored.state = pickle.loads(pickle.dumps(driver.state))
    rest = [trade("okx", "sell", "60000", "0.05", T0 + 25), book("okx", [("60010", "5")], [("60011", "5")], T0 + 26)]
    assert restored.feed(*rest) == driver.feed(*rest)
    replayed = restored.feed(opportunity(DECIDED), trade("okx", "sell", "60000", "1.05", T0 + 20), *rest)
    assert restored.intents(replayed) == []
    assert restored.state.emitted == driver.state.emitted == {FIRST, SECOND}


def test_fills_after_a_cancel_are_unwound_and_fills_after_the_end_raise_a_critical_alert() -> None:
    """Live: 0.05 of the first leg fills, the timeout cancels it, the venue confirms, the unwind
    of 0.05 goes out — then a fill of 0.02 that was in flight arrives for the canceled order.
    The unwind ladder takes the extra 0.02 too (unwind attempt 1). Once the trade has ended, a
    repeated fill is ignored and a new one is a LATE_FILL: critical, entries paused."""
    driver = _entered(mode="live")
    driver.feed(ack(FIRST, "okx", T0 + 12), fill(FIRST, "okx", "60000", "0.05", "0.6", T0 + 40, liquidity="maker"))
    driver.tick(DECIDED + 500)
    [unwind] = driver.intents(driver.feed(done("canceled", FIRST, "okx", T0 + 520)))
    assert (unwind.intent_id, unwind.qty) == (f"unwind_{FIRST}_0", D("0.050"))
    late = fill(FIRST, "okx", "60000", "0.02", "0.24", T0 + 530, n=2, liquidity="maker")
    assert driver.intents(driver.feed(late)) == []  # the unwind is still working
    [more] = driver.intents(driver.feed(fill(unwind.intent_id, "okx", "60000", "0.05", "1.5", T0 + 540)))
    assert (more.intent_id, more.qty) == (f"unwind_{FIRST}_1", D("0.020"))
    driver.feed(fill(more.intent_id, "okx", "60000", "0.02", "0.6", T0 + 560))
    assert driver.trades()[-1].status == "rejected" and driver.state.trades == {}
    assert driver.feed(late) == []  # a repeat of a fill already booked
    [alert] = driver.alerts(driver.feed(fill(FIRST, "okx", "60000", "0.01", "0.12", T0 + 600, n=3)))
    assert (alert.code, alert.severity) == (reasons.LATE_FILL, "critical") and driver.state.paused is not None


def test_a_venue_refusing_more_than_a_fifth_of_its_last_20_orders_is_paused_for_entries_for_60_s() -> None:
    """Live: 20 entries whose harder leg (okx) is answered — 5 refused (25 % > 20 %). The
    breaker trips on the 20th answer: a warning alert, and the next opportunity is refused
    VENUE_BREAKER; 60 s of stream time later entries go again."""
    driver = Driver(settings(mode="live"))
    ts = T0
    for n in range(20):
        ts += 2_000
        _market(driver, ts)
        produced = driver.feed(opportunity(ts + 1))
        [first] = [i for i in driver.intents(produced) if i.kind == "entry"]
        refused = done("rejected", first.intent_id, "okx", ts + 5, reason="INVALID_ORDER")
        answer = refused if n % 4 == 0 else ack(first.intent_id, "okx", ts + 5)
        produced = driver.feed(answer)
        if n % 4:  # cancel the resting leg so the pair is free for the next opportunity
            driver.tick(ts + 600)
            driver.feed(done("canceled", first.intent_id, "okx", ts + 601, reason="ORDER_TIMEOUT"))
    [alert] = [a for a in driver.alerts() if a.code == reasons.BREAKER_ORDER_FAILURES]
    assert (alert.severity, alert.venue, alert.value) == ("warning", "okx", D("0.25"))
    ts += 2_000
    _market(driver, ts)
    [denied] = driver.denied(driver.feed(opportunity(ts + 1)))
    assert denied.reason == reasons.VENUE_BREAKER
    ts += 60_000
    _market(driver, ts)
    assert [i.kind for i in driver.intents(driver.feed(opportunity(ts + 1)))] == ["entry"]
