"""The portfolio controller inside an asset's execution step (docs/architecture.md §3.8, §3.9 Allocation;
issue 7 item 4) — pure, stream time only.

Every `allocation.rebalance_interval_s` of stream time [5 min], and after a large change (a
pair's carry crossing 0 or moving by more than half its size, or the carry rule entering or
leaving the pair — its opportunity accepted or no longer: `urgent`), the desk reconciles
`target − current = adjustments` with `operators.portfolio.allocator.allocate` over the pairs it has
seen (only with `allocation.desk_controller` on) — at most once per stream timestamp: a
reconcile due at T runs when stream time moves past T (the engine's `_begin`), at T, after
every record and opportunity of T (a bar close's candidates all move at once: one allocator
run per close, not one per candidate), on the market as it stood at T:
- a pair is what an opportunity names (`asset:long_venue:long_symbol>short_venue:short_symbol`,
  the opportunity id without its `@ts`); its current carry and round-trip cost (the four
  fills' fees + slippage, bps) are the latest opportunity's — the carry counts only while
  the carry rule is in the pair (its opportunity accepted, or the pair held and the rule
  holding it), else 0, so capital goes to the pairs the rule trades; its carry history is one
  observation per `allocation.carry_sample_s` [1 min] of stream time, kept for the
  allocator's window;
- current = the notional of the pair's open trade, pending = of a trade still entering;
- capital = the desk's starting share + its realised PnL; the sector caps are a share of
  the whole portfolio: `equity` = `execution.starting_capital` / (configured assets of the
  asset's sector, `DeskConfig.sector_assets`), so desks of one sector together stay within
  the cap without talking to each other (conservative when they do not all use theirs);
- the allocator's hysteresis decides (7 % band, gain > 2.5 × round-trip cost); adjustments
  come cancel > de-risk > entry and are carried out at once, in that order: `cancel` → the
  pair's resting first leg is cancelled; `exit` → the open trade closes with soft
  (passive) exits, reason REBALANCE; `reduce`/`increase` of an open trade resize both its
  legs to the target at once (operators.execution.resize; the target becomes the trade's
  constant notional); `enter` sets the cap of the pair's next entry.
Entries are capped (`entry_cap`): by the pair's last target; by 0 when the allocator
excluded it (carry ≤ 0, beyond the best `max_pairs`); otherwise — before the first
allocation, or while its history is too short — by the room left under the desk's share of
its sector cap. A pair whose history is too short is not unwound or cancelled by the
controller (the allocator's forced adjustments for it are dropped): the exit rules judge it.
"""

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from arbflow.model import reasons
from arbflow.model.desk_config import DeskConfig, sector_of
from arbflow.model.money import MONEY
from arbflow.model.risk import AllocationRequest, Candidate, CarryPoint
from arbflow.model.risk_results import Adjustment, Allocation
from arbflow.model.signals import Opportunity
from arbflow.operators.execution.book import Trade
from arbflow.operators.portfolio.allocation_stats import DAY_MS
from arbflow.operators.portfolio.allocator import allocate
from arbflow.operators.strategy import carry_rule

_ZERO: Final = Decimal(0)
_ENTERING: Final = frozenset({"first", "second", "hedging"})
_EXCLUDED_FOR_GOOD: Final = frozenset({reasons.CARRY_NOT_POSITIVE, reasons.PAIR_LIMIT})


def sector_equity(config: DeskConfig, asset: str) -> Decimal:
    """The equity the desk's sector cap is a share of (USD)."""
    shared = max(1, config.sector_assets.get(sector_of(config.allocation, asset), 1))
    return MONEY.divide(config.execution.starting_capital, Decimal(shared))


@dataclass(slots=True)
class PairView:
    asset: str
    carry_8h: Decimal
    cost_bps: Decimal
    history: deque[CarryPoint] = field(default_factory=deque)
    accepted: bool = False  # the carry rule would enter it now (its latest opportunity was accepted)


@dataclass(slots=True)
class DeskController:
    """The controller's memory inside `ExecutionState` (snapshots pickle it)."""

    pairs: dict[str, PairView] = field(default_factory=dict)
    last_run: int | None = None
    caps: dict[str, Decimal] = field(default_factory=dict)  # pair → target notional of the last allocation
    excluded: dict[str, str] = field(default_factory=dict)  # pair → the allocator's exclusion reason
    last: Allocation | None = None
    urgent: bool = False  # a pair's carry changed sign or by half since the last run: reconcile now


def pair_id(opportunity_id: str) -> str:
    """`BTC:okx:BTC/USDT:USDT>binance:BTC/USDT:USDT@1723…` → the part before `@`."""
    return opportunity_id.rsplit("@", 1)[0]


def observe(ctrl: DeskController, opp: Opportunity, config: DeskConfig) -> None:
    """Fold an opportunity's carry — the expected carry the rule decides on — and costs into
    its pair (opportunities without carry skip)."""
    carry = opp.rule_carry_8h
    if carry is None:
        return
    key = pair_id(opp.opportunity_id)
    view = ctrl.pairs.get(key)
    if view is None:
        view = ctrl.pairs[key] = PairView(asset=opp.asset, carry_8h=carry, cost_bps=_ZERO)
    if ctrl.last_run is not None and (_large_change(view.carry_8h, carry) or view.accepted != opp.accepted):
        ctrl.urgent = True  # the carry moved a lot, or the rule entered or left the pair
    view.carry_8h, view.cost_bps, view.accepted = carry, opp.fees_bps + opp.slippage_bps, opp.accepted
    if not view.history or opp.ts - view.history[-1].ts >= config.allocation.carry_sample_ms:
        view.history.append(CarryPoint(ts=opp.ts, carry_8h=carry))
    oldest = opp.ts - config.allocation.history_days * DAY_MS
    while view.history and view.history[0].ts < oldest:
        view.history.popleft()


def _large_change(before: Decimal, after: Decimal) -> bool:
    """The carry crossed 0 (either way) or moved by more than half of its size."""
    return (before > 0) != (after > 0) or abs(after - before) > abs(before) / 2


def due(ctrl: DeskController, now: int, config: DeskConfig) -> bool:
    return bool(ctrl.pairs) and (ctrl.urgent or ctrl.last_run is None
                                 or now - ctrl.last_run >= config.allocation.rebalance_interval_ms)


def _held(trades: Iterable[Trade]) -> tuple[dict[str, Decimal], dict[str, Decimal]]:
    current: dict[str, Decimal] = {}
    pending: dict[str, Decimal] = {}
    for trade in trades:
        key = pair_id(trade.opportunity_id)
        bucket = pending if trade.phase in _ENTERING else current
        bucket[key] = bucket.get(key, _ZERO) + trade.notional
    return current, pending


def reconcile(ctrl: DeskController, now: int, trades: Iterable[Trade], capital: Decimal,
              config: DeskConfig) -> tuple[Adjustment, ...]:
    """Run the allocator now; remember targets and exclusions; return the adjustments in the
    order they are to be carried out (cancel > de-risk > entry)."""
    ctrl.last_run, ctrl.urgent = now, False
    current, pending = _held(trades)
    asset = next(iter(ctrl.pairs.values())).asset
    candidates = tuple(_candidate(key, view, current.get(key, _ZERO), pending.get(key, _ZERO), config)
                       for key, view in sorted(ctrl.pairs.items()))
    allocation = allocate(AllocationRequest(equity=sector_equity(config, asset), capital=max(capital, _ZERO),
                                            ts=now, candidates=candidates), config.allocation)
    ctrl.last = allocation
    ctrl.excluded = {e.pair_id: e.reason for e in allocation.excluded}
    ctrl.caps = {t.pair_id: t.target_notional for t in allocation.targets if t.pair_id not in ctrl.excluded}
    # a pair the allocator cannot judge yet is left alone (the allocator would unwind it)
    return tuple(a for a in allocation.adjustments if ctrl.excluded.get(a.pair_id) != reasons.HISTORY_TOO_SHORT)


def _candidate(key: str, view: PairView, current: Decimal, pending: Decimal, config: DeskConfig) -> Candidate:
    """The allocator's view of a pair: its expected carry while the carry rule is in it — it
    would enter now, or the pair is held and the rule holds it — else 0, so the allocator
    frees that capital for the pairs the rule is in (the study's portfolio does the same)."""
    holds = current + pending > _ZERO and not carry_rule.should_exit(view.carry_8h, config.strategy)
    in_market = view.accepted or holds
    return Candidate(pair_id=key, asset=view.asset, carry_8h=view.carry_8h if in_market else _ZERO,
                     history=tuple(view.history), round_trip_cost_bps=view.cost_bps, rule_holds=holds,
                     current_notional=current, pending_notional=pending)


def entry_cap(ctrl: DeskController, key: str, asset: str, open_notional: Decimal,
              config: DeskConfig) -> Decimal:
    """The most an entry on pair `key` may take (see the module docstring)."""
    if key in ctrl.caps:
        return ctrl.caps[key]
    if ctrl.excluded.get(key) in _EXCLUDED_FOR_GOOD:
        return _ZERO
    limit = MONEY.multiply(config.allocation.sector_cap, sector_equity(config, asset))
    return max(limit - open_notional, _ZERO)
