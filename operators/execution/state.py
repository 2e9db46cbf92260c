"""The execution step's state and the verbs every phase uses (docs/architecture.md §3.7, §3.9): sending
and canceling orders (with deterministic client ids, never the same one twice), alerts,
portfolio snapshots, leg-out declarations and the end of a trade in the ledger.

`ExecutionState` is one mutable object for the whole portfolio, owned by the execution step
(Bytewax snapshots pickle it); the quotes, marks and funding it decides with are its desk's
market state (`market`), which the desk keeps current. `Run` is one handler call: the
state, its settings, the records produced so far and the venue events still to fold in
(paper mode answers in-process, so an order sent inside a call may be answered inside the
same call).
"""

from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final, Literal

from arbflow.model import reasons
from arbflow.model.desk_config import DeskConfig
from arbflow.model.execution import (
    CANCEL_PRIORITY,
    DE_RISK_PRIORITY,
    EntryDenied,
    Fill,
    IntentKind,
    Order,
    OrderIntent,
    OrderType,
    PairTrade,
    TradeStatus,
)
from arbflow.model.market import FundingRate, Side
from arbflow.model.portfolio import Alert, PortfolioState
from arbflow.operators.execution import ids, phases, pricing
from arbflow.operators.execution import ledger as ledger_ops
from arbflow.operators.execution import paper_venue as paper_fills
from arbflow.operators.execution.book import (
    LegBook,
    LegOutBook,
    Purpose,
    Trade,
    WorkingOrder,
    intent_record,
    order_record,
    pnl,
    trade_record,
)
from arbflow.operators.execution.controller import DeskController
from arbflow.operators.execution.risk_checks import RiskWatch
from arbflow.operators.execution.venue_events import OrderRequest, VenueEvent
from arbflow.operators.market_state import MarketState

_ZERO: Final = Decimal(0)
_UNREALISED_STEP: Final = Decimal("1e-8")  # USD; the walked close prices carry 34 digits
_ANNOUNCED: Final[frozenset[phases.Phase]] = frozenset({"stuck", "closed", "rejected"})


Output = OrderIntent | Order | Fill | PairTrade | PortfolioState | Alert | EntryDenied


@dataclass(slots=True)
class ExecutionState:
    """Everything the execution step knows. Snapshots pickle it as a whole."""

    ledger: ledger_ops.Ledger
    paper: paper_fills.PaperVenue | None
    now: int = 0
    market: MarketState = field(default_factory=MarketState)  # its desk's; its own when it runs alone
    rates: dict[tuple[str, str], FundingRate] = field(default_factory=dict)  # the rate in force per perp
    settled: dict[tuple[str, str], int] = field(default_factory=dict)  # last settled funding time
    basis_stops: set[tuple[str, str]] = field(default_factory=set)  # (venue, asset)
    trades: dict[str, Trade] = field(default_factory=dict)  # trades not yet ended
    pairs: dict[tuple[tuple[str, str], tuple[str, str]], str] = field(default_factory=dict)
    orders: dict[str, WorkingOrder] = field(default_factory=dict)  # orders of trades not yet ended
    emitted: set[str] = field(default_factory=set)  # every client order id ever sent
    ended_fills: set[str] = field(default_factory=set)  # fill ids of orders of ended trades
    # opportunity id → (trade id, opportunity ts), and trades started per (asset, ts): kept while
    # an opportunity of that age could still be accepted (older ones are refused as stale anyway)
    started: dict[str, tuple[str, int]] = field(default_factory=dict)
    trade_counts: dict[tuple[str, int], int] = field(default_factory=dict)
    paused: str | None = None  # why entries are paused (None = not paused)
    # the order-failure breaker: each venue's last outcomes (True = refused) and its pause end
    outcomes: dict[str, deque[bool]] = field(default_factory=dict)
    venue_paused_until: dict[str, int] = field(default_factory=dict)
    risk: RiskWatch = field(default_factory=RiskWatch)  # margin gates and alerts (operators.execution.risk_checks)
    controller: DeskController = field(default_factory=DeskController)  # operators.execution.controller


@dataclass(slots=True)
class Run:
    """One handler call: the state, its settings, the outputs and queued venue events."""

    state: ExecutionState
    settings: DeskConfig
    out: list[Output] = field(default_factory=list)
    events: deque[VenueEvent] = field(default_factory=deque)

    @property
    def now(self) -> int:
        return self.state.now


def new_state(settings: DeskConfig, market: MarketState | None = None) -> ExecutionState:
    """An empty portfolio with the desk's capital; a paper venue in paper mode. It reads
    `market` (its desk's market state), or a market state of its own."""
    return ExecutionState(ledger=ledger_ops.new_ledger(settings.capital),
                          paper=paper_fills.PaperVenue() if settings.mode == "paper" else None,
                          market=MarketState() if market is None else market)


def send(run: Run, trade: Trade, leg: LegBook, *, purpose: Purpose, client_order_id: str, side: Side, qty: Decimal,
         order_type: OrderType, limit_px: Decimal | None, reference_px: Decimal, kind: IntentKind, priority: int,
         reason: str) -> bool:
    """Emit one order (intent + Order "new") and hand it to the paper venue in paper mode.
    A client id already emitted is never sent again (critical alert instead)."""
    state = run.state
    if client_order_id in state.emitted:
        alert(run, reasons.DUPLICATE_CLIENT_ID, "critical", f"{client_order_id} was already sent", trade)
        return False
    state.emitted.add(client_order_id)
    order = WorkingOrder(
        client_order_id=client_order_id, venue_client_id=ids.venue_client_id(client_order_id, leg.venue),
        trade_id=trade.trade_id, leg=leg.name, purpose=purpose, venue=leg.venue, symbol=leg.symbol,
        market=leg.market, side=side, order_type=order_type, qty=qty, limit_px=limit_px,
        reference_px=reference_px, ts_sent=run.now, deadline=run.now + run.settings.execution.leg_timeout_ms)
    state.orders[client_order_id] = leg.order = order
    run.out += [intent_record(order, kind, priority, reason, run.now), order_record(order, run.now)]
    if state.paper is not None:
        run.events.extend(paper_fills.submit(state.paper, OrderRequest(
            client_order_id=client_order_id, venue=leg.venue, symbol=leg.symbol, market=leg.market, side=side,
            order_type=order.order_type, qty=qty, limit_px=limit_px, ts=run.now), run.settings))
    return True


def cancel(run: Run, order: WorkingOrder, reason: str) -> None:
    """Ask the venue to cancel `order` (`CANCEL_PRIORITY`), once; its end comes as a venue event."""
    if order.terminal or order.cancel_sent:
        return
    order.cancel_sent = True
    run.out.append(intent_record(order, "cancel", CANCEL_PRIORITY, reason, run.now))
    if run.state.paper is not None:
        run.events.extend(paper_fills.cancel(run.state.paper, order.client_order_id, run.now, run.settings, reason))


def send_marketable(run: Run, trade: Trade, leg: LegBook, *, purpose: Purpose, client_order_id: str, side: Side,
                    qty: Decimal, reference_px: Decimal | None, kind: IntentKind, reason: str,
                    priority: int = DE_RISK_PRIORITY) -> bool:
    """A marketable IOC for `qty` within `max_hedge_slippage_bps + attempt × retry_widen_bps`
    of the current touch, at `priority` (`DE_RISK_PRIORITY` unless it opens a trade); False
    when the leg has no quote to price it from."""
    quote = run.state.market.quotes.get((leg.venue, leg.symbol))
    touch = None if quote is None else pricing.touch(quote, side)
    if touch is None:
        return False
    execution = run.settings.execution
    width = execution.max_hedge_slippage_bps + max(leg.attempt, 0) * execution.retry_widen_bps
    limit = pricing.marketable_limit(touch, side, width, run.settings.venues[leg.venue].tick_size)
    return send(run, trade, leg, purpose=purpose, client_order_id=client_order_id, side=side, qty=qty,
                order_type="ioc", limit_px=limit, reference_px=touch if reference_px is None else reference_px,
                kind=kind, priority=priority, reason=reason)


def tradeable(run: Run, leg: LegBook, qty: Decimal) -> Decimal:
    """`qty` rounded down to the leg venue's lot, 0 below its min_qty."""
    return pricing.tradeable(qty, run.settings.venues[leg.venue])


def expire(run: Run, order: WorkingOrder | None) -> bool:
    """True while `order` works; past its deadline it is canceled (once)."""
    if order is None or order.terminal:
        return False
    if run.now >= order.deadline:
        cancel(run, order, reasons.ORDER_TIMEOUT)
    return True


def declare_leg_out(run: Run, trade: Trade, ahead: LegBook, lagging: LegBook, gap: Decimal) -> None:
    """`ahead` holds `gap` more than `lagging`, whose order did not fill in time: a leg-out
    (logged, counted, and its hedges' cost tracked from the lagging order's reference price)."""
    assert lagging.order is not None
    trade.leg_out = LegOutBook(filled_leg=ahead.name, lagging=lagging.name, orig=lagging.order.client_order_id,
                               ts_filled=ahead.ts_last_fill or run.now, reference_px=lagging.order.reference_px,
                               hedge_qty=gap, remaining=gap)
    trade.leg_outs.append(trade.leg_out)
    ledger_ops.leg_out(run.state.ledger, _ZERO, new_event=True)
    alert(run, reasons.LEG_OUT, "warning", f"{trade.trade_id}: {ahead.name} leg ahead by {gap}; hedging the "
          f"{lagging.name} leg", trade, lagging.venue, gap)
    run.out += [trade_record(trade, run.now), snapshot(run)]


def end(run: Run, trade: Trade, status: Literal["closed", "rejected"]) -> bool:
    """Close the trade in the ledger (or release it when it never traded), publish its final
    record and forget it; its pair is free again."""
    state = run.state
    result = pnl(trade)
    trade.ts_exit = run.now
    if trade.traded():
        ledger_ops.close(state.ledger, trade.trade_id, result.trading, result.realised, result.leg_out_cost, run.now)
    else:
        ledger_ops.release(state.ledger, trade.trade_id)
    set_phase(run, trade, status, status)
    run.out.append(snapshot(run))
    del state.trades[trade.trade_id]
    if state.pairs.get(trade.pair) == trade.trade_id:
        del state.pairs[trade.pair]
    for client_order_id in [k for k, o in state.orders.items() if o.trade_id == trade.trade_id]:
        state.ended_fills |= state.orders.pop(client_order_id).fill_ids
    return False


def set_phase(run: Run, trade: Trade, phase: phases.Phase, status: TradeStatus | None = None) -> None:
    """Move the trade to `phase` (and `status`, when given) through `phases.move`, which
    raises on a move its table does not declare; a `PairTrade` record goes out when the
    status changes, the trade is stuck, or it ends."""
    changed = status is not None and trade.status != status
    phases.move(trade, phase, status)
    if changed or phase in _ANNOUNCED:
        run.out.append(trade_record(trade, run.now))


def _unrealised(run: Run) -> Decimal:
    """Σ over active trades of their mark to close on the tracked quotes. A trade is marked
    only when its two legs' quotes are at most `scanner.quote_max_age_ms` apart in stream
    time; otherwise it keeps its last mark (`Trade.mark`): a bar history publishes a close's
    quotes one after the other, and a spot leg at T − 8 h against a perp at T is a price
    move, not a P&L."""
    total = _ZERO
    skew = run.settings.scanner.quote_max_age_ms
    for trade in run.state.trades.values():
        long_px, short_px = trade.long.entry_vwap(), trade.short.entry_vwap()
        quotes = run.state.market.quotes
        long_q = quotes.get((trade.long.venue, trade.long.symbol))
        short_q = quotes.get((trade.short.venue, trade.short.symbol))
        if trade.phase != "active" or long_px is None or short_px is None or long_q is None or short_q is None:
            continue
        if abs(long_q.ts - short_q.ts) > skew:
            total += getattr(trade, "mark", _ZERO)
            continue
        view = pricing.PositionView(long_qty=trade.long.position, short_qty=trade.short.position,
                                    entry_long_px=long_px, entry_short_px=short_px, entry_spread_bps=_ZERO,
                                    projected_profit=_ZERO, realised=_ZERO, exit_fees_bps=_ZERO, notional=_ZERO)
        priced = pricing.close_prices(long_q, short_q, view)
        if priced is not None:
            trade.mark = pricing.mark_to_close(view, *priced)
            total += trade.mark
    return total.quantize(_UNREALISED_STEP)


def snapshot(run: Run) -> PortfolioState:
    """The portfolio now, unrealised PnL marked to close on the tracked books."""
    risk = run.state.risk
    return ledger_ops.snapshot(run.state.ledger, run.now, _unrealised(run), risk.health, risk.distance)


def alert(run: Run, code: str, severity: str, message: str, trade: Trade | None = None, venue: str | None = None,
          value: Decimal | None = None, threshold: Decimal | None = None, asset: str | None = None) -> None:
    run.out.append(Alert(code=code, severity=severity, message=message, venue=venue,  # type: ignore[arg-type]
                         asset=asset if trade is None else trade.asset, value=value, threshold=threshold, ts=run.now))


def critical(run: Run, trade: Trade, code: str, message: str) -> None:
    """A critical alert (its message starts with the trade id); new entries pause until
    `execution.resume_entries`."""
    run.state.paused = f"{code}: {message}"
    alert(run, code, "critical", message, trade)
