"""The execution state machine (docs/architecture.md §3.7, §3.9; issue 6 item 1): accepted opportunities
become two-leg trades, exits close them, and the ledger (operators.execution.ledger) keeps score.

Driven only by stream time: every handler first moves `now` to its record's time (never
backwards), lands what the paper venue did until then, settles funding that fell due and
fires timeouts; then it folds the record in. For a market record the two halves are apart,
because what fell due happens on the market as it stood before the record: `advance` moves
the time, the desk's market state takes the record (`operators.market_state`), then
`on_market` or `on_funding` folds it in; `update` does the three for an execution stage
that runs alone. A quiet market still times out through `clock.tick` records
(`on_clock`). One mutable `ExecutionState` holds the whole portfolio (the step is keyed
by one key); every handler returns the records to publish, in causal
order: `OrderIntent`, `Order` (every state change, with the venue client id), `Fill`,
`PairTrade` (every lifecycle change, leg-out and funding settlement), `PortfolioState`
(after every ledger change), `Alert`, and `EntryDenied` for refused entries.

Trade phases:
- first: the harder leg (lower liquidity rank) rests as a passive limit at its touch. Filled
  → second. Not filled within `leg_timeout_ms` → cancel; nothing executed → rejected; a
  partial fill → unwinding of exactly the executed part.
- second: a marketable IOC within `max_hedge_slippage_bps` for the first leg's executed
  quantity (rounded down to the second venue's lot). All filled → active. A remainder → a
  leg-out: hedging. Rejected (or below min_qty) → unwinding of the unmatched part at once.
- hedging / unwinding: marketable IOCs, each retry `retry_widen_bps` wider, up to
  `max_retries` retries. Hedges exhausted → critical HEDGE_FAILED, entries paused, then the
  unmatched part is unwound instead; unwinds exhausted → critical UNWIND_FAILED: stuck.
- active → exit_passive (soft triggers: passive limits on both legs with the queue rule for
  `leg_timeout_ms`; no fill at all → back to active, and after `max_soft_exit_rounds` such
  rounds the next exit is hard) → exit_market (what is left, marketable; an imbalance between
  the legs is a leg-out whose lagging leg is hedged). Hard triggers go to exit_market at once.
- active → resize_first → resize_second → active: when a timestamp completes, a trade
  whose `qty × mark` drifted more than `rebalance_drift` from its target notional is
  resized back to it by IOCs on both legs (operators.execution.resize: constant notional).
- closed / rejected: the ledger books the trade (or releases it if nothing traded).
Every move goes through `phases.move`, checked against the declared table `phases.ALLOWED`.
Timeouts cancel; a phase moves on only once its orders are done (venue confirmed), so every
quantity used for sizing is an executed quantity. Decisions look at what each leg holds
(from fills), not at what was ordered: a fill that lands after its cancel, or an overfill,
is traded back by the same unwind/exit ladders; a new fill for a trade that has already
ended is a critical LATE_FILL (entries pause: the venue must be reconciled).
"""

import functools
from collections import deque
from collections.abc import Callable
from decimal import Decimal, localcontext
from typing import Any, Final, ParamSpec, TypeVar

from arbflow.model import reasons
from arbflow.model.desk_config import DeskConfig
from arbflow.model.execution import ENTRY_PRIORITY, EntryDenied
from arbflow.model.market import ClockTick, FundingRate, MarketTrade, OrderBook, Ticker
from arbflow.model.money import MONEY, mid
from arbflow.model.signals import Opportunity
from arbflow.operators import market_state
from arbflow.operators.execution import controller, exits, ids, pricing, resize
from arbflow.operators.execution import entry as legs
from arbflow.operators.execution import ledger as ledger_ops
from arbflow.operators.execution import paper_venue as paper_fills
from arbflow.operators.execution import risk_checks as desk_risk
from arbflow.operators.execution.book import (
    LegBook,
    Trade,
    apply_fill,
    fee_usd,
    fill_record,
    order_record,
    trade_record,
)
from arbflow.operators.execution.state import (
    ExecutionState,
    Output,
    Run,
    alert,
    cancel,
    new_state,
    send,
    send_marketable,
    set_phase,
    snapshot,
)
from arbflow.operators.execution.venue_events import VenueEvent
from arbflow.operators.strategy import carry_rule

_ZERO: Final = Decimal(0)
P = ParamSpec("P")
R = TypeVar("R")

__all__ = [
    "EntryDenied",
    "ExecutionState",
    "Output",
    "Run",
    "advance",
    "new_state",
    "on_basis_stop",
    "on_clock",
    "on_funding",
    "on_market",
    "on_opportunity",
    "on_scan",
    "on_venue_event",
    "request_exit",
    "resume_entries",
    "update",
]


def _money(handler: Callable[P, R]) -> Callable[P, R]:
    """Run a handler in the 34-digit money context, so sums of fees, prices and PnL stay
    exact (the ambient default context keeps only 28 digits)."""
    @functools.wraps(handler)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with localcontext(MONEY):
            return handler(*args, **kwargs)
    return wrapped


@_money
def on_clock(state: ExecutionState, ts: int, settings: DeskConfig) -> list[Output]:
    """Stream time passes (a `clock.tick`): timeouts, paper cancels, funding settlement."""
    return _finish(_begin(state, ts, settings))


@_money
def advance(state: ExecutionState, ts: int, settings: DeskConfig) -> Run:
    """Stream time moves to `ts`, the time of a market record the market state has not taken
    yet: what fell due until then happens on the market as it stood. The returned run is
    finished by the record's handler (`on_market`, `on_funding`)."""
    return _begin(state, ts, settings)


@_money
def on_refused(run: Run) -> list[Output]:
    """After `advance`, for a record the desk's market stage refused (an implausible price):
    what fell due until its time happens; the record itself reaches neither the paper venue
    nor the exits."""
    return _finish(run)


@_money
def on_market(run: Run, record: Ticker | OrderBook | MarketTrade) -> list[Output]:
    """A market record, after `advance` and after the market state took it: feed the paper
    venue, check exits."""
    state = run.state
    key = (record.venue, record.symbol)
    if state.paper is not None:
        run.events.extend(paper_fills.on_market(state.paper, record, run.settings))
        _drain(run)
    if type(record) is not MarketTrade:
        _check_exits(run, lambda t: key in t.pair)
    return _finish(run)


@_money
def on_funding(run: Run, record: FundingRate) -> list[Output]:
    """A funding record, after `advance` (which paid the settlements due before it at the
    rate then in force) and after the market state took it: it becomes the rate in force for
    its `next_funding_time`; the carry exit is rechecked."""
    state = run.state
    key = (record.venue, record.symbol)
    if record.market == "perp" and record.next_funding_time > state.settled.get(key, 0):
        state.rates[key] = record
    _check_exits(run, lambda t: key in t.pair)
    return _finish(run)


@_money
def on_venue_event(state: ExecutionState, event: VenueEvent, settings: DeskConfig) -> list[Output]:
    """A live venue's answer (ack, fill, cancel, reject). Duplicates are dropped by fill id
    and by order state; events for ids never sent raise a warning alert."""
    run = _begin(state, event.ts, settings)
    run.events.append(event)
    return _finish(run)


@_money
def on_basis_stop(state: ExecutionState, venue: str, asset: str, stop: bool, ts: int,
                  settings: DeskConfig) -> list[Output]:
    """The basis-at-risk stop of `venue` for `asset` turned on (hard exit of every spot–perp
    trade short that venue's perp: `exits.basis_guarded`) or off."""
    run = _begin(state, ts, settings)
    if stop:
        state.basis_stops.add((venue, asset))
        _check_exits(run, lambda t: t.asset == asset and t.short.venue == venue and exits.basis_guarded(t))
    else:
        state.basis_stops.discard((venue, asset))
    return _finish(run)


@_money
def request_exit(state: ExecutionState, trade_id: str, ts: int, settings: DeskConfig, *, hard: bool = True,
                 reason: str = reasons.EXIT_REQUESTED) -> list[Output]:
    """Close a trade from outside (breaker, operator). A stuck trade restarts its ladders."""
    run = _begin(state, ts, settings)
    trade = state.trades.get(trade_id)
    if trade is not None:
        if trade.phase == "active":
            exits.start_exit(run, trade, reason, hard)
        elif trade.phase == "exit_passive" and hard:
            trade.hard_exit = True
        elif trade.phase == "stuck":
            trade.reason, trade.hard_exit, trade.leg_out = reason, True, None
            trade.long.attempt = trade.short.attempt = -1
            set_phase(run, trade, "exit_market", "exiting")
        _progress(run, trade)
    return _finish(run)


def resume_entries(state: ExecutionState) -> None:
    """Lift the entry pause a critical alert set (an operator's decision)."""
    state.paused = None


def update(state: ExecutionState | None, record: Any, settings: DeskConfig) -> tuple[ExecutionState,
                                                                                            list[Output]]:
    """The execution stage on its own: dispatch one input record to its handler; a market
    record goes into the state's own market state on the way (in a desk, the desk's market
    stage takes it instead, `operators.asset_desk`)."""
    state = state or new_state(settings)
    if type(record) is Opportunity:
        return state, on_opportunity(state, record, settings)
    if type(record) in (Ticker, OrderBook, MarketTrade):
        run = advance(state, record.ts_local, settings)
        market_state.observe(state.market, record)
        return state, on_market(run, record)
    if type(record) is FundingRate:
        run = advance(state, record.ts_local, settings)
        market_state.observe(state.market, record)
        return state, on_funding(run, record)
    if type(record) is VenueEvent:
        return state, on_venue_event(state, record, settings)
    if type(record) is ClockTick:
        return state, on_clock(state, record.ts, settings)
    raise TypeError(f"execution: no handler for {type(record).__name__}")


def _pair_key(opp: Opportunity) -> tuple[tuple[str, str], tuple[str, str]]:
    a, b = (opp.long_venue, opp.long_symbol), (opp.short_venue, opp.short_symbol)
    return (a, b) if a <= b else (b, a)


@_money
def on_scan(state: ExecutionState, opportunities: list[Opportunity], settings: DeskConfig) -> list[Output]:
    """A scan's candidates, before any of them is decided (`on_opportunity`): the controller
    observes them all, and reconciles at once when one of them is an urgent change (the
    carry rule entered or left a pair, a carry moved a lot) — so an entry the rule now wants
    is sized by an allocation that knows it, not refused by the last one, which saw the pair
    out of the rule."""
    run = _begin(state, max((o.ts for o in opportunities), default=state.now), settings)
    if settings.allocation.desk_controller:
        for opp in opportunities:
            controller.observe(state.controller, opp, settings)
        if state.controller.urgent:
            _reconcile(run)
    return _finish(run)


@_money
def on_opportunity(state: ExecutionState, opp: Opportunity, settings: DeskConfig) -> list[Output]:
    """Decide on an opportunity (docs/architecture.md §3.7). Not accepted by the scanner: ignored (it
    already carries its reason). Otherwise an entry starts, or an `EntryDenied` says why not."""
    run = _begin(state, opp.ts, settings)
    if settings.allocation.desk_controller:
        controller.observe(state.controller, opp, settings)
    if not opp.accepted:
        return _finish(run)
    _forget_old_opportunities(state, run.now - settings.execution.max_opportunity_age_ms)
    refusal = _refusal(run, opp)
    if refusal is None:
        key = _pair_key(opp)
        cap = None if not settings.allocation.desk_controller else controller.entry_cap(
            state.controller, controller.pair_id(opp.opportunity_id), opp.asset,
            sum((t.notional for t in state.trades.values()), _ZERO), settings)
        quotes = state.market.quotes
        plan = pricing.plan_entry(opp, quotes.get((opp.long_venue, opp.long_symbol)),
                                  quotes.get((opp.short_venue, opp.short_symbol)), state.ledger.available,
                                  settings, cap)
        refusal = plan if isinstance(plan, pricing.Refusal) else _start_entry(run, opp, key, plan)
    if refusal is not None:
        run.out.append(EntryDenied(opportunity_id=opp.opportunity_id, asset=opp.asset, reason=refusal.reason,
                                   detail=refusal.detail, ts=run.now))
    return _finish(run)


def _forget_old_opportunities(state: ExecutionState, oldest: int) -> None:
    """Drop the replay guards of opportunities too old to be accepted again (they are refused
    as STALE_OPPORTUNITY before anything could be sent), so the state stays small."""
    if any(ts < oldest for _, ts in state.started.values()):
        state.started = {k: v for k, v in state.started.items() if v[1] >= oldest}
    if any(ts < oldest for _, ts in state.trade_counts):
        state.trade_counts = {k: v for k, v in state.trade_counts.items() if k[1] >= oldest}


def _refusal(run: Run, opp: Opportunity) -> pricing.Refusal | None:
    state, settings = run.state, run.settings
    busy = state.trades.get(state.pairs.get(_pair_key(opp), ""))
    gated = carry_rule.spread_trade(opp.entry_spread_bps, opp.rule_carry_8h, opp.holding_intervals)
    if gated and opp.score < settings.scanner.min_score:  # the score gates spread trades only (§3.6)
        return pricing.Refusal(reasons.SCORE_TOO_LOW, f"spread trade: score {opp.score} < {settings.scanner.min_score}")
    if opp.opportunity_id in state.started:
        return pricing.Refusal(reasons.DUPLICATE_OPPORTUNITY, f"started {state.started[opp.opportunity_id][0]}")
    if run.now - opp.ts > settings.execution.max_opportunity_age_ms:
        return pricing.Refusal(reasons.STALE_OPPORTUNITY, f"{run.now - opp.ts} ms old")
    if state.paused is not None:
        return pricing.Refusal(reasons.ENTRIES_PAUSED, state.paused)
    for venue in (opp.long_venue, opp.short_venue):
        until = state.venue_paused_until.get(venue, 0)
        if run.now < until:
            return pricing.Refusal(reasons.VENUE_BREAKER, f"{venue} paused until {until} (order failures)")
    if busy is not None:
        code = reasons.POSITION_OPEN if busy.phase == "active" else reasons.EXIT_IN_FLIGHT \
            if busy.status == "exiting" else reasons.ENTRY_IN_FLIGHT
        return pricing.Refusal(code, f"trade {busy.trade_id} is {busy.phase}")
    return None


def _start_entry(run: Run, opp: Opportunity, key: tuple[tuple[str, str], tuple[str, str]],
                 plan: pricing.EntryPlan) -> pricing.Refusal | None:
    """Open the trade and send its first leg — unless the margin gate refuses it."""
    state, venues = run.state, run.settings.venues
    n = state.trade_counts.get((opp.asset, opp.ts), 0)
    trade_id = ids.trade_id(opp.asset, opp.ts, n)
    hard, easy = (venues[opp.long_venue], opp.long_market), (venues[opp.short_venue], opp.short_market)
    if plan.first == "short":
        hard, easy = easy, hard
    taker_first = run.settings.strategy.order_style == "taker"
    maker, taker = pricing.fee_bps(hard[0], hard[1], not taker_first), pricing.fee_bps(easy[0], easy[1], False)
    assert maker is not None and taker is not None
    trade = Trade(
        trade_id=trade_id, opportunity_id=opp.opportunity_id, asset=opp.asset, pair=key,
        long=LegBook(name="long", venue=opp.long_venue, symbol=opp.long_symbol, market=opp.long_market,
                     open_side="buy"),
        short=LegBook(name="short", venue=opp.short_venue, symbol=opp.short_symbol, market=opp.short_market,
                      open_side="sell"),
        first=plan.first, phase="first", status="pending", notional=plan.notional, qty=plan.first_qty,
        projected_profit=plan.projected_profit, planned_spread_bps=plan.entry_spread_bps,
        exit_fees_bps=maker + taker, ts_entry=run.now,
        spread_trade=carry_rule.spread_trade(opp.entry_spread_bps, opp.rule_carry_8h, opp.holding_intervals))
    gate = desk_risk.entry_refusal(state.trades.values(), state.market.marks, state.market.quotes, trade,
                                   _entry_prices(run, trade, plan), state.risk, run.settings)
    if gate is not None:
        return pricing.Refusal(*gate)
    state.trade_counts[(opp.asset, opp.ts)] = n + 1
    ledger_ops.reserve(state.ledger, trade_id, plan.notional)
    state.trades[trade_id], state.pairs[key] = trade, trade_id
    state.started[opp.opportunity_id] = (trade_id, opp.ts)
    run.out += [trade_record(trade, run.now), snapshot(run)]
    leg = trade.leg(plan.first)
    if taker_first:  # order_style taker: the harder leg crosses too (an IOC; the second leg takes what it filled)
        send_marketable(run, trade, leg, purpose="entry", client_order_id=ids.entry_id(trade_id, leg.name),
                        side=leg.open_side, qty=plan.first_qty, reference_px=plan.first_px, kind="entry",
                        reason="FIRST_LEG", priority=ENTRY_PRIORITY)
    else:
        send(run, trade, leg, purpose="entry", client_order_id=ids.entry_id(trade_id, leg.name), side=leg.open_side,
             qty=plan.first_qty, order_type="limit", limit_px=plan.first_px, reference_px=plan.first_px,
             kind="entry", priority=ENTRY_PRIORITY, reason="FIRST_LEG")
    return None


def _entry_prices(run: Run, trade: Trade, plan: pricing.EntryPlan) -> tuple[Decimal, Decimal]:
    """The long and short legs' expected prices: the first leg's limit, the other's touch."""
    out = []
    for leg in (trade.long, trade.short):
        quote = run.state.market.quotes.get((leg.venue, leg.symbol))
        px = plan.first_px if leg.name == plan.first else None if quote is None else pricing.touch(quote, leg.open_side)
        out.append(px if px is not None else plan.first_px)
    return out[0], out[1]


def _begin(state: ExecutionState, ts: int, settings: DeskConfig) -> Run:
    """Move stream time to `ts` and fire what fell due (see the module docstring)."""
    run = Run(state, settings)
    if ts > state.now:  # the timestamp `state.now` is complete
        if settings.allocation.desk_controller:
            _reconcile(run)
            _drain(run)
        _resize_drifted(run)
        _drain(run)
    state.now = max(state.now, ts)
    ledger_ops.observe_time(state.ledger, ts)
    if state.paper is not None:
        run.events.extend(paper_fills.advance(state.paper, state.now, run.settings))
        _drain(run)
    _settle_funding(run)
    for trade in list(state.trades.values()):
        _progress(run, trade)
    _drain(run)
    return run


def _finish(run: Run) -> list[Output]:
    _drain(run)
    _check_risk(run)
    _drain(run)
    return run.out


def _reconcile(run: Run) -> None:
    """The portfolio controller's turn (operators.execution.controller) when it is due — every
    `rebalance_interval_s`, or after an urgent change — run by `_begin` when stream time moves
    past the timestamp `run.now`: at most once per stream timestamp, after every record and
    opportunity of that timestamp, on the market as it stood then."""
    state, settings = run.state, run.settings
    if not settings.allocation.desk_controller or not controller.due(state.controller, run.now, settings):
        return
    capital = state.ledger.starting_capital + state.ledger.realised_pnl
    for adjustment in controller.reconcile(state.controller, run.now, state.trades.values(), capital, settings):
        for trade in [t for t in state.trades.values() if controller.pair_id(t.opportunity_id) == adjustment.pair_id]:
            order = trade.leg(trade.first).order
            if adjustment.kind == "cancel" and trade.phase == "first" and order is not None:
                cancel(run, order, reasons.REBALANCE)
            elif adjustment.kind == "exit" and trade.phase == "active":
                exits.start_exit(run, trade, reasons.REBALANCE, False)
                _progress(run, trade)
            elif adjustment.kind in ("increase", "reduce") and trade.phase == "active":
                target = trade.notional + adjustment.change  # the allocator's target for the pair
                qty = resize.quantity_for(run, trade, target) if target > _ZERO else None
                if qty is not None:
                    trade.target_notional = target
                    resize.start(run, trade, qty)
                    _progress(run, trade)


def _resize_drifted(run: Run) -> None:
    """Constant notional (operators.execution.resize): every active trade whose `qty × mark`
    left the `rebalance_drift` band around its target notional is resized back to it, on the
    market as it stood at the completed timestamp."""
    for trade in list(run.state.trades.values()):
        target = resize.drifted(run, trade)
        if target is not None:
            resize.start(run, trade, target)
            _progress(run, trade)


def _check_risk(run: Run) -> None:
    """The desk's margin and leakage checks (operators.execution.risk_checks), at most once per
    `execution.risk.check_interval_ms` of stream time while it holds trades or a health, alert or pause is
    standing (so they clear once the trades are gone)."""
    state, risk = run.state, run.settings.execution.risk
    watch = state.risk
    standing = state.trades or watch.active or watch.paused or watch.health is not None
    if run.now - watch.last_check < risk.check_interval_ms or not standing:
        return
    watch.last_check = run.now
    verdict = desk_risk.check(state.trades, state.market.marks, state.market.quotes, run.now, watch, run.settings)
    changed = (watch.health, watch.distance) != (verdict.health, verdict.distance)
    watch.health, watch.distance = verdict.health, verdict.distance
    asset = next((t.asset for t in state.trades.values()), None)
    for finding in desk_risk.new_findings(watch, verdict.findings, run.now):
        alert(run, finding.code, finding.severity, finding.message, venue=finding.venue, value=finding.value,
              threshold=finding.threshold, asset=asset)
    watch.paused = verdict.pause
    for pending in list(state.trades.values()):
        order = pending.leg(pending.first).order
        if verdict.abort_pending and pending.phase == "first" and order is not None:
            cancel(run, order, reasons.HEALTH_CRITICAL)
    for trade_id, reason in verdict.close:
        if (trade := state.trades.get(trade_id)) is None:
            continue
        if trade.phase == "active":
            exits.start_exit(run, trade, reason, True)
        elif trade.phase == "exit_passive" and not trade.hard_exit:
            trade.hard_exit, trade.reason = True, reason
        _progress(run, trade)
    if changed:
        run.out.append(snapshot(run))


def _drain(run: Run) -> None:
    while run.events:
        _apply_event(run, run.events.popleft())


def _apply_event(run: Run, event: VenueEvent) -> None:
    state = run.state
    order = state.orders.get(event.client_order_id)
    if order is None:
        if event.client_order_id not in state.emitted:
            alert(run, reasons.UNKNOWN_ORDER, "warning", f"{event.kind} for unknown order {event.client_order_id}")
        elif event.kind == "fill" and event.fill_id not in state.ended_fills:
            state.paused = f"{reasons.LATE_FILL}: {event.client_order_id}"  # a position nobody tracks: reconcile
            alert(run, reasons.LATE_FILL, "critical", f"{event.client_order_id}: {event.qty} at {event.px} after "
                  "its trade ended; reconcile with the venue", value=event.qty)
        return  # else: a late duplicate for a trade that has ended
    trade = state.trades[order.trade_id]
    if event.kind == "fill":
        if event.fill_id is None or event.px is None or event.fill_id in order.fill_ids or event.qty <= _ZERO:
            return
        order.fill_ids.add(event.fill_id)
        if order.filled + event.qty > order.qty:
            alert(run, reasons.OVERFILL, "warning", f"{order.client_order_id}: {order.filled + event.qty} > "
                  f"{order.qty}", trade)
        leg_out_cost = apply_fill(trade, order, event)
        ledger_ops.book(state.ledger, trade.trade_id, -fee_usd(event))
        if leg_out_cost:
            ledger_ops.leg_out(state.ledger, leg_out_cost, new_event=False)
        run.out += [fill_record(order, event), order_record(order, event.ts), snapshot(run)]
    elif order.terminal:
        return
    elif event.kind == "accepted":
        if order.status != "new":
            return
        _order_outcome(run, order.venue, failed=False)
        order.status = "open"
        run.out.append(order_record(order, event.ts))
    else:
        if event.kind == "rejected":
            _order_outcome(run, order.venue, failed=True)
        order.status = "canceled" if event.kind == "canceled" else "rejected"
        order.reason = event.reason
        run.out.append(order_record(order, event.ts))
    _progress(run, trade)


def _order_outcome(run: Run, venue: str, *, failed: bool) -> None:
    """The order-failure breaker: when more than `breaker_failure_rate` of the last
    `breaker_window` orders on `venue` were refused, entries there pause for
    `breaker_pause_ms` of stream time (a warning alert records the trigger) and the count
    starts over. Exits, hedges and unwinds are never paused."""
    settings = run.settings.execution
    window = run.state.outcomes.setdefault(venue, deque(maxlen=settings.breaker_window))
    window.append(failed)
    if len(window) < settings.breaker_window:
        return
    rate = Decimal(sum(window)) / len(window)
    if rate > settings.breaker_failure_rate:
        until = run.now + settings.breaker_pause_ms
        run.state.venue_paused_until[venue] = until
        window.clear()
        alert(run, reasons.BREAKER_ORDER_FAILURES, "warning", f"{venue}: {rate:.0%} of the last "
              f"{settings.breaker_window} orders refused; no entries there until {until}", venue=venue, value=rate)


def _progress(run: Run, trade: Trade) -> None:
    """Advance `trade` as far as its orders' states and the clock allow."""
    for _ in range(16):
        step = _STEPS.get(trade.phase)
        if step is None or not step(run, trade):
            return


def _check_exits(run: Run, touches: Callable[[Trade], bool]) -> None:
    """Evaluate the exit rules of open trades selected by `touches(trade)`."""
    state = run.state
    for trade in list(state.trades.values()):
        if trade.phase not in ("active", "exit_passive") or not touches(trade):
            continue
        signal = exits.exit_signal(run, trade)
        if signal is None:
            continue
        if trade.phase == "active":
            exits.start_exit(run, trade, signal.reason, signal.hard)
        elif signal.hard and not trade.hard_exit:
            trade.hard_exit, trade.reason = True, signal.reason
        _progress(run, trade)


def _settle_funding(run: Run) -> None:
    """At each `next_funding_time` ≤ now, pay `position × mark × rate` per open perp leg (the
    short receives when rate > 0), at the rate in force; each settlement once."""
    state = run.state
    for key, rate in list(state.rates.items()):
        due = rate.next_funding_time
        if due <= 0 or due > run.now or due <= state.settled.get(key, 0):
            continue
        state.settled[key] = due
        quote = state.market.quotes.get(key)
        mark = state.market.marks.get(key) or (None if quote is None or not quote.bids or not quote.asks else
                                        mid(quote.bids[0][0], quote.asks[0][0]))
        for trade in state.trades.values():
            for leg in (trade.long, trade.short):
                if (leg.venue, leg.symbol) != key or leg.position == _ZERO or mark is None:
                    continue
                notional = leg.position * mark
                amount = notional * rate.rate if leg.name == "short" else -(notional * rate.rate)
                trade.funding_pnl += amount
                ledger_ops.book(state.ledger, trade.trade_id, amount)
                run.out += [trade_record(trade, run.now), snapshot(run)]


_STEPS: Final = {"first": legs.step_first, "second": legs.step_second, "hedging": legs.step_hedging,
                 "active": legs.step_active,
                 "unwinding": legs.step_unwinding, "exit_passive": exits.step_exit_passive,
                 "exit_market": exits.step_exit_market, "resize_first": resize.step_resize_first,
                 "resize_second": resize.step_resize_second}
