"""Entry phases of a trade (docs/architecture.md §3.7, §3.9): the harder leg resting, the second leg
marketable for the first leg's executed quantity, leg-out hedges, unwinds, activation.

Each `step_*` looks at the trade's orders and the clock and does what is due; it returns
True when the trade moved to a phase whose step should run at once. Quantities are base
units rounded down to the venue lot when an order is sent (`tradeable`); prices come from
the quotes the state tracks.
"""

from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.market import Side
from arbflow.operators.execution import ids
from arbflow.operators.execution import ledger as ledger_ops
from arbflow.operators.execution.book import LegBook, Trade
from arbflow.operators.execution.state import (
    Run,
    critical,
    declare_leg_out,
    end,
    expire,
    send_marketable,
    set_phase,
    snapshot,
    tradeable,
)

_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")


def step_first(run: Run, trade: Trade) -> bool:
    """The harder leg works (resting under `order_style` maker_first, an IOC under taker);
    filled → second leg; done otherwise → unwind what executed (maker_first: a partial fill
    at the timeout), or the second leg for what executed (taker: the IOC's remainder is
    canceled at once, no timeout to blame), or reject the trade when nothing did."""
    leg = trade.leg(trade.first)
    if expire(run, leg.order):
        return False
    if leg.order is None:  # never sent (duplicate client id, or no quote to price an IOC): nothing to wait for
        return end(run, trade, "rejected")
    taker = leg.order.order_type == "ioc"
    if leg.order.status == "filled" or (taker and tradeable(run, trade.other(trade.first), leg.position) > _ZERO):
        return _start_second(run, trade)
    trade.reason = reasons.FIRST_LEG_REJECTED if leg.order.status == "rejected" else \
        reasons.IOC_REMAINDER if taker else reasons.FIRST_LEG_TIMEOUT
    if tradeable(run, leg, leg.position) > _ZERO:
        return start_unwind(run, trade)
    return end(run, trade, "rejected")


def _start_second(run: Run, trade: Trade) -> bool:
    first, second = trade.leg(trade.first), trade.other(trade.first)
    qty = tradeable(run, second, first.position)
    second.attempt = 0
    if qty == _ZERO or not send_marketable(
            run, trade, second, purpose="second", client_order_id=ids.entry_id(trade.trade_id, second.name),
            side=second.open_side, qty=qty, reference_px=None, kind="entry", reason="SECOND_LEG"):
        trade.reason = reasons.SECOND_LEG_REJECTED
        return start_unwind(run, trade)
    set_phase(run, trade, "second")
    return False


def step_second(run: Run, trade: Trade) -> bool:
    """The second leg's IOC is done: matched → active; rejected → unwind the unmatched part;
    a remainder → leg-out and the first hedge."""
    first, second = trade.leg(trade.first), trade.other(trade.first)
    if expire(run, second.order):
        return False
    assert second.order is not None
    gap = tradeable(run, second, first.position - second.position)
    if gap == _ZERO:
        return _matched(run, trade)
    if second.order.status == "rejected":
        trade.reason = reasons.SECOND_LEG_REJECTED
        return start_unwind(run, trade)
    declare_leg_out(run, trade, first, second, gap)
    set_phase(run, trade, "hedging")
    return _send_hedge(run, trade, second, gap)


def _send_hedge(run: Run, trade: Trade, leg: LegBook, qty: Decimal) -> bool:
    """Next hedge attempt on the lagging leg; exhausted → HEDGE_FAILED and unwind instead."""
    assert trade.leg_out is not None
    leg.attempt += 1
    if leg.attempt <= run.settings.execution.max_retries and send_marketable(
            run, trade, leg, purpose="hedge", client_order_id=ids.hedge_id(trade.leg_out.orig, leg.attempt),
            side=leg.open_side, qty=qty, reference_px=trade.leg_out.reference_px, kind="hedge",
            reason=reasons.LEG_OUT):
        return False
    critical(run, trade, reasons.HEDGE_FAILED, f"{trade.trade_id}: {qty} of the {leg.name} leg not hedged after "
             f"{run.settings.execution.max_retries} retries; unwinding the other leg")
    trade.reason = reasons.HEDGE_FAILED
    return start_unwind(run, trade)


def step_hedging(run: Run, trade: Trade) -> bool:
    """A hedge is done: matched → active, else the next (wider) hedge."""
    first, second = trade.leg(trade.first), trade.other(trade.first)
    if expire(run, second.order):
        return False
    gap = tradeable(run, second, first.position - second.position)
    if gap == _ZERO:
        return _matched(run, trade)
    return _send_hedge(run, trade, second, gap)


def _matched(run: Run, trade: Trade) -> bool:
    """The second leg caught up: active, unless a venue filled it beyond the first (unwind that)."""
    if _unwind_target(run, trade) is not None:
        trade.reason = reasons.OVERFILL
        return start_unwind(run, trade)
    return _activate(run, trade)


def step_active(run: Run, trade: Trade) -> bool:
    """An open position whose legs no longer match — a fill that landed after its order's
    cancel, once the hedge had already matched the legs — trades the excess back at once
    (OVERFILL), as an entry does; otherwise nothing to do until an exit rule fires."""
    if _unwind_target(run, trade) is None:
        return False
    trade.reason = reasons.OVERFILL
    return start_unwind(run, trade)


def _unwind_target(run: Run, trade: Trade) -> tuple[LegBook, Decimal, Side] | None:
    """The leg to trade next so that both legs hold their matched quantity `max(0, min(long,
    short))`: (leg, tradeable quantity, side) — the harder leg first; None when they match."""
    target = max(_ZERO, min(trade.long.position, trade.short.position))
    for leg in (trade.leg(trade.first), trade.other(trade.first)):
        excess = leg.position - target
        qty = tradeable(run, leg, abs(excess))
        if qty > _ZERO:
            return leg, qty, leg.close_side if excess > _ZERO else leg.open_side
    return None


def start_unwind(run: Run, trade: Trade) -> bool:
    set_phase(run, trade, "unwinding")
    trade.long.attempt = trade.short.attempt = -1
    return _send_unwind(run, trade)


def _send_unwind(run: Run, trade: Trade) -> bool:
    """Next unwind attempt (30 bps wider each retry); exhausted → UNWIND_FAILED, stuck."""
    picked = _unwind_target(run, trade)
    if picked is None:
        return _balanced(run, trade)
    leg, qty, side = picked
    leg.attempt += 1
    if leg.order is None:
        orig = ids.entry_id(trade.trade_id, leg.name)
    else:
        orig = leg.order.client_order_id if leg.attempt == 0 else _unwind_orig(leg.order.client_order_id)
    if leg.attempt <= run.settings.execution.max_retries and send_marketable(
            run, trade, leg, purpose="unwind", client_order_id=ids.unwind_id(orig, leg.attempt), side=side, qty=qty,
            reference_px=None, kind="unwind", reason=trade.reason or reasons.SECOND_LEG_REJECTED):
        return False
    critical(run, trade, reasons.UNWIND_FAILED, f"{trade.trade_id}: {qty} of the {leg.name} leg not unwound "
             f"after {run.settings.execution.max_retries} retries")
    set_phase(run, trade, "stuck")
    return False


def _unwind_orig(client_order_id: str) -> str:
    """`unwind_{orig}_{k}` → `orig` (retries keep naming the order they unwind)."""
    return client_order_id.removeprefix("unwind_").rsplit("_", 1)[0]


def step_unwinding(run: Run, trade: Trade) -> bool:
    """An unwind is done: the legs match → active (or ended when nothing is held), else the
    next (wider) unwind."""
    working = [expire(run, leg.order) for leg in (trade.long, trade.short)]  # both: each may need its cancel
    if any(working):
        return False
    return _send_unwind(run, trade)


def _balanced(run: Run, trade: Trade) -> bool:
    """Both legs match: an active position if something is held, else the trade ends."""
    held = min(trade.long.position, trade.short.position)
    if tradeable(run, trade.long, held) > _ZERO and tradeable(run, trade.short, held) > _ZERO:
        return _activate(run, trade)
    return end(run, trade, "rejected")


def _activate(run: Run, trade: Trade) -> bool:
    """Both legs hold the same tradeable quantity: the position is open at the notional its
    long leg executed (the ledger's reservation is resized to it, to the cent)."""
    long = trade.long
    trade.qty = min(long.position, trade.short.position)
    vwap = long.entry_vwap()
    assert vwap is not None
    notional = (long.entry_value() if long.position == long.bought else trade.qty * vwap).quantize(_CENT)
    ledger_ops.resize(run.state.ledger, trade.trade_id, notional)
    trade.notional, trade.leg_out = notional, None
    if getattr(trade, "target_notional", None) is None:  # the first activation: N for the constant-notional resizes
        trade.target_notional = notional
    set_phase(run, trade, "active", "active")
    run.out.append(snapshot(run))
    return False
