"""Constant notional for open trades (docs/execution.md "Constant notional"): a trade holds a
fixed quantity, so its notional drifts with the price; once `qty × mark` is more than
`[strategy] rebalance_drift` (20 %) away from the trade's target notional N, both legs are
resized back to N — the study's rule, so the engine and the study earn on the same notional.

- N = the notional at which the trade first went active (`Trade.target_notional`), or the
  portfolio controller's target since it last resized the pair (its "increase" and
  "reduce" adjustments resize an open trade at once, `engine._reconcile`: the allocator's
  own band and gain test decided that move); mark = the mid of the long leg's quote, at
  the stream time a timestamp completes (`engine._begin`);
- target quantity = N / mark rounded down to the lot; Δ = target − held; nothing when Δ
  rounds to 0 or, for a growth, the ledger has less available than Δ × mark;
- orders: marketable IOCs (`kind` "rebalance", ids `resize_{trade}_{leg}_{k}`), the harder
  leg first for |Δ| (open side to grow, close side to shrink), then the other leg for
  what the first executed; both matched → active at the new quantity, the ledger's
  reservation resized to `qty × mark`; the first leg executing nothing → active as before;
  the second leg short → the unwind ladder brings both legs to the smaller quantity (the
  entry's own leg-out path), and the trade is active there;
- fees are the fills' own (taker), booked like every fill; funding settles on the new
  quantity from the next settlement on.
"""

from decimal import ROUND_DOWN, Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.money import MONEY, mid
from arbflow.operators.execution import entry, ids, pricing
from arbflow.operators.execution import ledger as ledger_ops
from arbflow.operators.execution.book import Trade
from arbflow.operators.execution.state import Run, expire, send_marketable, set_phase, snapshot, tradeable

_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")


def target_notional(trade: Trade) -> Decimal:
    """N: the notional the trade first went active at (a trade restored from before the
    field: its current notional)."""
    found = getattr(trade, "target_notional", None)
    return trade.notional if found is None else found


def mark(run: Run, trade: Trade) -> Decimal | None:
    """The mid of the long leg's quote (None without a two-sided quote)."""
    quote = run.state.market.quotes.get((trade.long.venue, trade.long.symbol))
    if quote is None:
        return None
    bid, ask = pricing.touch(quote, "sell"), pricing.touch(quote, "buy")
    return None if bid is None or ask is None else mid(bid, ask)


def drifted(run: Run, trade: Trade) -> Decimal | None:
    """The quantity an active trade is to be resized to, or None while it stays within the band."""
    if trade.phase != "active":
        return None
    px = mark(run, trade)
    if px is None or px <= _ZERO:
        return None
    n = target_notional(trade)
    held = min(trade.long.position, trade.short.position)
    if abs(held * px - n) <= run.settings.strategy.rebalance_drift * n:
        return None
    return quantity_for(run, trade, n, px)


def quantity_for(run: Run, trade: Trade, notional: Decimal, px: Decimal | None = None) -> Decimal | None:
    """The quantity that holds `notional` at the mark (`px` when the caller has it), rounded
    down to both legs' lots; None when it is what the trade holds, rounds to 0, has no mark,
    or would grow the trade by more than the ledger has available."""
    px = mark(run, trade) if px is None else px
    if trade.phase != "active" or px is None or px <= _ZERO:
        return None
    held = min(trade.long.position, trade.short.position)
    target = tradeable(run, trade.leg(trade.first), MONEY.divide(notional, px))
    target = min(target, tradeable(run, trade.other(trade.first), target))
    if target in (held, _ZERO):
        return None
    if target > held and (target - held) * px > run.state.ledger.available:
        return None
    return target


def start(run: Run, trade: Trade, target: Decimal) -> None:
    """Send the harder leg's IOC towards `target` (see the module docstring)."""
    first = trade.leg(trade.first)
    held = min(trade.long.position, trade.short.position)
    qty = tradeable(run, first, abs(target - held))
    if qty == _ZERO:
        return
    trade.resize_seq = getattr(trade, "resize_seq", 0) + 1
    trade.reason = reasons.RESIZE_DRIFT
    set_phase(run, trade, "resize_first")
    first.attempt = 0
    side = first.open_side if target > held else first.close_side
    if not send_marketable(run, trade, first, purpose="resize", client_order_id=ids.resize_id(
            trade.trade_id, first.name, trade.resize_seq), side=side, qty=qty, reference_px=None, kind="rebalance",
            reason=reasons.RESIZE_DRIFT):
        _done(run, trade)


def step_resize_first(run: Run, trade: Trade) -> bool:
    """The harder leg's IOC is done: nothing executed → active as before; else the other leg
    follows for what it executed."""
    first, second = trade.leg(trade.first), trade.other(trade.first)
    if expire(run, first.order):
        return False
    gap = first.position - second.position
    qty = tradeable(run, second, abs(gap))
    if qty == _ZERO:
        return _done(run, trade)
    second.attempt = 0
    if send_marketable(run, trade, second, purpose="resize", client_order_id=ids.resize_id(
            trade.trade_id, second.name, trade.resize_seq), side=second.open_side if gap > _ZERO else second.close_side,
            qty=qty, reference_px=None, kind="rebalance", reason=reasons.RESIZE_DRIFT):
        set_phase(run, trade, "resize_second")
        return False
    return entry.start_unwind(run, trade)


def step_resize_second(run: Run, trade: Trade) -> bool:
    """The other leg's IOC is done: the legs match → active at the new quantity; else the
    unwind ladder evens them out at the smaller one."""
    first, second = trade.leg(trade.first), trade.other(trade.first)
    if expire(run, second.order):
        return False
    if tradeable(run, second, abs(first.position - second.position)) == _ZERO:
        return _done(run, trade)
    return entry.start_unwind(run, trade)


def _done(run: Run, trade: Trade) -> bool:
    """Active at the quantity both legs hold; the ledger holds `qty × mark` for it."""
    trade.qty = min(trade.long.position, trade.short.position)
    px = mark(run, trade) or trade.long.entry_vwap() or _ZERO
    notional = (trade.qty * px).quantize(_CENT, rounding=ROUND_DOWN)
    ledger_ops.resize(run.state.ledger, trade.trade_id, notional)
    trade.notional, trade.reason = notional, None
    set_phase(run, trade, "active")
    run.out.append(snapshot(run))
    return False
