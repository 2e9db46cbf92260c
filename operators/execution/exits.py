"""Exit phases of a trade (docs/architecture.md §3.7, §3.9): the exit rules of an open position, soft
exits as passive limits on both legs (the queue rule applies at the paper venue), then
marketable orders for what is left; hard exits marketable at once; an imbalance between
the legs during an exit is a leg-out whose lagging leg is hedged, with the same retry ladder.
"""

from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.execution import DE_RISK_PRIORITY
from arbflow.operators.execution import ids, pricing
from arbflow.operators.execution.book import LegBook, Purpose, Trade, spread_bps
from arbflow.operators.execution.state import (
    Run,
    cancel,
    critical,
    declare_leg_out,
    end,
    expire,
    send,
    send_marketable,
    set_phase,
    tradeable,
)
from arbflow.operators.signals import funding as funding_ops

_ZERO: Final = Decimal(0)


def basis_guarded(trade: Trade) -> bool:
    """Whether a venue's basis-at-risk stop closes `trade`: a spot-long, perp-short pair, by
    the stop of its perp's venue (the basis it is short). A perp–perp spread holds no
    spot–perp basis: no venue's stop speaks for it (the study's rule too)."""
    return trade.long.market == "spot"


def exit_signal(run: Run, trade: Trade) -> pricing.ExitSignal | None:
    """The exit rule that fires for `trade` now, from the quotes, carry and basis stops the
    state tracks (operators.execution.pricing.exit_signal); None while both legs are not on."""
    state, long, short = run.state, trade.long, trade.short
    long_px, short_px = long.entry_vwap(), short.entry_vwap()
    if long_px is None or short_px is None:
        return None
    carry = funding_ops.carry(state.market.funding, (long.venue, long.symbol), (short.venue, short.symbol), run.now,
                              run.settings.signals.funding_silent_after_ms)
    view = pricing.PositionView(
        long_qty=long.position, short_qty=short.position, entry_long_px=long_px, entry_short_px=short_px,
        entry_spread_bps=spread_bps(long_px, short_px),
        projected_profit=trade.projected_profit, realised=trade.funding_pnl - long.fees - short.fees,
        exit_fees_bps=trade.exit_fees_bps, notional=trade.notional,
        spread_trade=getattr(trade, "spread_trade", True))  # a trade restored from before the field: spread
    stop = (short.venue, trade.asset) in state.basis_stops and basis_guarded(trade)
    return pricing.exit_signal(view, state.market.quotes.get((long.venue, long.symbol)),
                               state.market.quotes.get((short.venue, short.symbol)),
                               None if isinstance(carry, funding_ops.Blocked) else funding_ops.expected_carry(
                                   state.market.funding, (long.venue, long.symbol), (short.venue, short.symbol),
                                   carry.carry_8h, run.settings.strategy), stop,
                               run.settings.execution, run.settings.strategy)


def start_exit(run: Run, trade: Trade, reason: str, hard: bool) -> None:
    """Begin closing an active trade (the caller then progresses it): hard → marketable at
    once; soft → passive limits at each leg's own touch, for `leg_timeout_ms` — except under
    `strategy.order_style` taker, whose cost assumed taker exits: marketable at once too."""
    trade.reason = reason
    trade.hard_exit = (hard or trade.soft_rounds >= run.settings.execution.max_soft_exit_rounds
                       or run.settings.strategy.order_style == "taker")
    trade.round_orders = []
    if trade.hard_exit:
        trade.long.attempt = trade.short.attempt = -1
        set_phase(run, trade, "exit_market", "exiting")
        return
    set_phase(run, trade, "exit_passive", "exiting")
    for leg in (trade.long, trade.short):
        qty = tradeable(run, leg, leg.position)
        quote = run.state.market.quotes.get((leg.venue, leg.symbol))
        px = None if quote is None else pricing.passive_px(quote, leg.close_side)
        if qty > _ZERO and px is not None and send(
                run, trade, leg, purpose="exit", client_order_id=ids.exit_id(trade.trade_id, leg.name, leg.exit_seq),
                side=leg.close_side, qty=qty, order_type="limit", limit_px=px, reference_px=px, kind="exit",
                priority=DE_RISK_PRIORITY, reason=reason):
            leg.exit_seq += 1
            assert leg.order is not None
            trade.round_orders.append(leg.order)


def step_exit_passive(run: Run, trade: Trade) -> bool:
    """Wait for the round's passive orders (cancel them at the deadline, or at once when a hard
    rule fired meanwhile). Nothing filled → back to active for a new round; otherwise what
    is left goes marketable, and a gap between the legs is declared a leg-out first."""
    working = [o for o in trade.round_orders if not o.terminal]
    if working:
        if trade.hard_exit or run.now >= min(o.deadline for o in working):
            for order in working:
                cancel(run, order, reasons.ORDER_TIMEOUT)
        return False
    if not trade.hard_exit and all(o.filled == _ZERO for o in trade.round_orders):
        trade.soft_rounds += 1
        set_phase(run, trade, "active", "active")  # nothing traded: re-quote on the next update
        return False
    ahead, lagging = (trade.short, trade.long) if trade.long.position >= trade.short.position else \
        (trade.long, trade.short)
    gap = tradeable(run, lagging, lagging.position - ahead.position)
    trade.long.attempt = trade.short.attempt = -1
    set_phase(run, trade, "exit_market")
    if gap > _ZERO and lagging.order is not None:
        declare_leg_out(run, trade, ahead, lagging, gap)
    return True


def step_exit_market(run: Run, trade: Trade) -> bool:
    """Each leg still holding a tradeable quantity gets its next marketable order once its last
    order is done; both flat and nothing working → closed."""
    working = False
    for leg in (trade.long, trade.short):
        if expire(run, leg.order):
            working = True
            continue
        qty = tradeable(run, leg, abs(leg.position))  # < 0: a late fill oversold the leg; buy it back
        if qty == _ZERO:
            continue
        if not _send_close(run, trade, leg, qty):
            return False
        working = True
    if not working:
        return end(run, trade, "closed")
    return False


def _send_close(run: Run, trade: Trade, leg: LegBook, qty: Decimal) -> bool:
    """Next marketable close of `leg`; a retry while the other leg holds less is a leg-out."""
    other = trade.other(leg.name)
    leg.attempt += 1
    if leg.attempt > run.settings.execution.max_retries:
        critical(run, trade, reasons.EXIT_FAILED, f"{trade.trade_id}: {qty} of the {leg.name} leg still open after "
                 f"{run.settings.execution.max_retries} retries")
        set_phase(run, trade, "stuck")
        return False
    gap = tradeable(run, leg, leg.position - other.position)
    if leg.attempt > 0 and trade.leg_out is None and gap > _ZERO and leg.order is not None:
        declare_leg_out(run, trade, other, leg, gap)
    hedging = trade.leg_out is not None and trade.leg_out.lagging == leg.name
    if hedging:
        assert trade.leg_out is not None
        client_order_id = ids.hedge_id(trade.leg_out.orig, leg.attempt)
        reference = trade.leg_out.reference_px
    else:
        client_order_id, reference = ids.exit_id(trade.trade_id, leg.name, leg.exit_seq), None
        leg.exit_seq += 1
    purpose: Purpose = "hedge" if hedging else "exit"
    side = leg.close_side if leg.position > _ZERO else leg.open_side
    if send_marketable(run, trade, leg, purpose=purpose, client_order_id=client_order_id, side=side, qty=qty,
                       reference_px=reference, kind="hedge" if hedging else "exit",
                       reason=trade.reason or reasons.EXIT_REQUESTED):
        return True
    leg.attempt = run.settings.execution.max_retries  # no price to send at: the ladder is over
    return _send_close(run, trade, leg, qty)
