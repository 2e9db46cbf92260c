"""Margin gates (docs/architecture.md §3.8, §3.9 Margin): pure decisions over the simulator, as data
for a controller to carry out. Thresholds are `MarginConfig` (defaults in brackets).

- Entries (orders whose effect adds exposure) are judged one after another against the
  account with the orders accepted before them: refused with HEALTH_CRITICAL while health
  is below `critical_health` [0.6]; HEALTH_BELOW_ENTRY_MIN if projected health would end
  below `entry_min_health` [0.8]; MARGIN_USE_TOO_HIGH above `max_margin_use` [65 %];
  LEVERAGE_CAP_EXCEEDED above `max_leverage` [3×]. Reducing orders are never refused for
  risk (de-risking is never blocked); orders the simulator cannot fill keep its reason.
- Health below `critical_health`: every pending entry aborts (so an injected health of 0.5
  aborts them all — the reference test), entries pause, and positions are reduced, lowest
  quality first (unknown quality first of all), until health ≥ `deleverage_target_health`
  [0.7]. Margin use above `max_margin_use`: the same ranking until ≤ `margin_use_target`
  [60 %]. Reductions are sized at mark in whole lots, the smallest that reaches the target.
"""

from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_CEILING, Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.config import MarginConfig, VenueConfig
from arbflow.model.errors import RiskInputError
from arbflow.model.money import MONEY
from arbflow.model.risk import MarginAccount, ProposedOrder
from arbflow.model.risk_results import Abort, GateDecision, Reduction, RiskResponse
from arbflow.operators.portfolio.margin import BookPosition, MarginBook, shown_health, shown_ratio

_ZERO: Final = Decimal(0)
_TENTH_NANO: Final = Decimal("1E-10")


def abort_pending(health: Decimal, pending_entries: Sequence[str], margin: MarginConfig) -> tuple[Abort, ...]:
    """Every pending entry aborts when `health` is below the critical level, none otherwise."""
    if health >= margin.critical_health:
        return ()
    detail = f"health {health} is below the critical level {margin.critical_health}"
    return tuple(Abort(entry_id=entry, reason=reasons.HEALTH_CRITICAL, detail=detail) for entry in pending_entries)


def _refusal(book: MarginBook, current: Decimal, margin: MarginConfig) -> tuple[str, str] | None:
    health, use, leverage = book.health(), book.margin_use(), book.leverage()
    if current < margin.critical_health:
        return reasons.HEALTH_CRITICAL, f"health {shown_health(current)} is below the critical level; entries pause"
    if health < margin.entry_min_health:
        return (reasons.HEALTH_BELOW_ENTRY_MIN,
                f"projected health {shown_health(health)} would be below {margin.entry_min_health}")
    if use > margin.max_margin_use:
        return reasons.MARGIN_USE_TOO_HIGH, f"projected margin use {shown_ratio(use)} > {margin.max_margin_use}"
    if leverage > margin.max_leverage:
        return reasons.LEVERAGE_CAP_EXCEEDED, f"projected leverage {shown_ratio(leverage)} > {margin.max_leverage}"
    return None


def gate_on(book: MarginBook, orders: Sequence[ProposedOrder], margin: MarginConfig,
            assume_health: Decimal | None = None) -> tuple[GateDecision, ...]:
    """Judge `orders` in turn on `book`, keeping the accepted ones applied (see the module
    docstring). `assume_health` replaces the book's health as the "current" one."""
    decisions = []
    seen: set[str] = set()
    for i, order in enumerate(orders):
        if order.order_id in seen:
            raise RiskInputError(f"orders[{i}].order_id", f"{order.order_id!r} is used twice")
        seen.add(order.order_id)
        current = book.health() if assume_health is None else assume_health
        checkpoint = book.checkpoint()
        outcome = book.apply(order, f"orders[{i}]")
        refusal = None
        if not outcome.applied:
            refusal = (outcome.reason or reasons.INSUFFICIENT_COLLATERAL, outcome.detail or "")
        elif outcome.effect == "entry":
            refusal = _refusal(book, current, margin)
        if refusal is not None:
            book.rollback(checkpoint)
        decisions.append(GateDecision(
            order_id=order.order_id, accepted=refusal is None, effect=outcome.effect,
            reason=None if refusal is None else refusal[0], detail=None if refusal is None else refusal[1],
            health_before=shown_health(current), health_after=shown_health(book.health()),
            margin_use_after=shown_ratio(book.margin_use()), leverage_after=shown_ratio(book.leverage())))
    return tuple(decisions)


def _fraction(qty: Decimal, held: Decimal) -> Decimal:
    """qty / held to 10 places, rounded up (the pair's other leg is reduced at least as much)."""
    return min(Decimal(1), MONEY.divide(qty, held).quantize(_TENTH_NANO, rounding=ROUND_CEILING))


def _rank(book: MarginBook) -> list[tuple[str, BookPosition]]:
    """Lowest quality first; unknown quality before any known; then by symbol."""
    return sorted(book.positions.items(),
                  key=lambda item: (item[1].quality is not None, item[1].quality or 0.0, item[0]))


def _reduce(book: MarginBook, symbol: str, lots: int) -> None:
    p = book.positions[symbol]
    qty = min(abs(p.qty), MONEY.multiply(Decimal(lots), book.lot_size))
    book.apply(ProposedOrder(order_id=f"reduce_{symbol}", venue=book.venue, symbol=symbol,
                             side="buy" if p.qty < 0 else "sell", qty=qty, px=p.mark))


def _deleverage(book: MarginBook, done: Callable[[], bool], reason: str) -> list[Reduction]:
    """Reduce positions, lowest quality first, each by the fewest lots after which `done()`."""
    out = []
    for symbol, p in _rank(book):
        if done():
            break
        held = abs(p.qty)
        all_lots = int(MONEY.divide(held, book.lot_size).to_integral_value(rounding=ROUND_CEILING))
        low, high = 1, all_lots  # health improves monotonically with the reduced qty (at mark)
        while low < high:
            middle = (low + high) // 2
            checkpoint = book.checkpoint()
            _reduce(book, symbol, middle)
            enough = done()
            book.rollback(checkpoint)
            low, high = (low, middle) if enough else (middle + 1, high)
        _reduce(book, symbol, low)
        remaining = book.positions.get(symbol)
        qty = held - (abs(remaining.qty) if remaining is not None else _ZERO)
        out.append(Reduction(venue=book.venue, symbol=symbol, pair_id=p.pair_id, side="buy" if p.qty < 0 else "sell",
                             qty=qty, fraction=_fraction(qty, held), mark_px=p.mark, quality=p.quality,
                             reason=reason, health_after=shown_health(book.health()),
                             margin_use_after=shown_ratio(book.margin_use())))
    return out


def deleverage(book: MarginBook, margin: MarginConfig) -> tuple[Reduction, ...]:
    """Reductions for critical health (until `deleverage_target_health`), then for high
    margin use (until `margin_use_target`); applied to `book`. One entry per symbol."""
    held_at_start = {symbol: abs(p.qty) for symbol, p in book.positions.items()}
    out: list[Reduction] = []
    if book.health() < margin.critical_health:
        out += _deleverage(book, lambda: book.health() >= margin.deleverage_target_health, reasons.HEALTH_CRITICAL)
    if book.margin_use() > margin.max_margin_use:
        out += _deleverage(book, lambda: book.margin_use() <= margin.margin_use_target, reasons.MARGIN_USE_TOO_HIGH)
    merged: dict[str, Reduction] = {}
    for r in out:
        first = merged.get(r.symbol)
        if first is None:
            merged[r.symbol] = r
            continue
        qty = first.qty + r.qty
        merged[r.symbol] = Reduction(
            venue=r.venue, symbol=r.symbol, pair_id=r.pair_id, side=r.side, qty=qty,
            fraction=_fraction(qty, held_at_start[r.symbol]), mark_px=r.mark_px,
            quality=r.quality, reason=first.reason, health_after=r.health_after, margin_use_after=r.margin_use_after)
    return tuple(merged.values())


def assess(account: MarginAccount, orders: Sequence[ProposedOrder], pending_entries: Sequence[str],
           margin: MarginConfig, venues: Mapping[str, VenueConfig],
           assume_health: Decimal | None = None) -> RiskResponse:
    """The gates' full answer for `account` now: aborts and reductions from its current
    state (`assume_health` overrides the health used for aborts and entry refusals — the
    reductions still come from the account's own numbers), then the verdict on `orders`
    proposed after those reductions. Raises `RiskInputError` on invalid input."""
    book = MarginBook(account, margin, venues)
    health = book.health() if assume_health is None else assume_health
    use = book.margin_use()
    critical = health < margin.critical_health
    aborts = abort_pending(health, pending_entries, margin)
    reductions = deleverage(book, margin)
    decisions = gate_on(book, orders, margin, assume_health=health if critical else None)
    return RiskResponse(health=shown_health(health), margin_use=shown_ratio(use), critical=critical,
                        pause_entries=critical, decisions=decisions, aborts=aborts, reductions=reductions)
