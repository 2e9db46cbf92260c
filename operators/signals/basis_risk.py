"""Basis risk per asset and venue (docs/architecture.md §3.3): the 5-minute rolling median of the
spot–perp basis, its historical 1st percentile, the Basis-at-Risk stop, the toxic-funding
entry block and hysteresis between exit and re-entry.

Units: basis in bps of the spot mid (Decimal in, float inside the sketches and medians —
these are thresholds for decisions, not money); time in ms of stream time.
- median: over the basis points of the last `window_ms` (5 min), so a flash spike of a
  few ticks moves nothing;
- 1st percentile: a DDSketch (1 % relative accuracy) over every point seen, which
  survives a Bytewax snapshot (it pickles);
- Basis-at-Risk: a funding interval (aligned to `interval_ms` on the UTC grid) counts as
  negative when every median in it stayed below `[strategy] basis_stop_bps` (−20 bps =
  −0.2 %); `basis_stop_intervals` (3) in a row → `stop` (exit). Hysteresis: after a stop,
  entries stay blocked until one whole interval keeps the median at or above
  `basis_reentry_bps` (0 bps). The study applies the same levels to 8 h closes;
- entry block: median below the historical 1st percentile, or funding fading to zero
  (`predicted_8h` ≤ a quarter of a positive current rate) while the median is negative.
"""

from bisect import bisect_left, bisect_right
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import accumulate
from typing import Final

from ddsketch import DDSketch
from sortedcontainers import SortedList

from arbflow.model.config import StrategyConfig

WINDOW_MS: Final = 300_000
PERCENTILE: Final = 0.01
MIN_HISTORY: Final = 100  # points before the percentile gate means anything


@dataclass(slots=True)
class BasisRisk:
    """Mutable state of one (asset, venue), owned by its step."""

    window: deque[tuple[int, float]] = field(default_factory=deque)
    ordered: SortedList = field(default_factory=SortedList)
    sketch: DDSketch = field(default_factory=lambda: DDSketch(relative_accuracy=0.01))
    interval: int | None = None
    interval_all_below: bool = True
    interval_all_above: bool = True
    negative_intervals: int = 0
    stopped: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BasisRiskReading:
    """The verdict after one basis point. `block` is why new entries are refused (None =
    allowed); `stop` asks open positions on this venue's spot–perp pair to exit."""

    median_bps: float
    p01_bps: float | None
    negative_intervals: int
    stop: bool
    block: str | None
    ts: int


def observe(state: BasisRisk | None, basis_bps: Decimal, ts: int, interval_ms: int, *,
            rule: StrategyConfig, rate_8h: Decimal | None = None, predicted_8h: Decimal | None = None,
            window_ms: int = WINDOW_MS) -> tuple[BasisRisk, BasisRiskReading]:
    """Fold one basis point (bps) at stream time `ts` into the state and judge it; the stop's
    levels are the carry rule's (`rule.basis_stop_bps`, `basis_stop_intervals`,
    `basis_reentry_bps`)."""
    stop_bps, reentry_bps = float(rule.basis_stop_bps), float(rule.basis_reentry_bps)
    state = state or BasisRisk()
    value = float(basis_bps)
    state.window.append((ts, value))
    state.ordered.add(value)
    while state.window[0][0] <= ts - window_ms:
        state.ordered.remove(state.window.popleft()[1])
    state.sketch.add(value)
    ordered = state.ordered
    count = len(ordered)
    median = ordered[count // 2] if count % 2 else (ordered[count // 2 - 1] + ordered[count // 2]) / 2
    _advance_interval(state, ts // interval_ms, rule.basis_stop_intervals)
    state.interval_all_below = state.interval_all_below and median < stop_bps
    state.interval_all_above = state.interval_all_above and median >= reentry_bps
    p01 = quantile(state.sketch, PERCENTILE) if state.sketch.count >= MIN_HISTORY else None
    block = None
    if state.stopped:
        block = f"basis-at-risk stop: waiting for a full interval with the median ≥ {reentry_bps:g} bps"
    elif p01 is not None and median < p01:
        block = f"median basis {median:.2f} bps below its 1st percentile {p01:.2f} bps"
    elif median < 0 and rate_8h is not None and predicted_8h is not None and rate_8h > 0 \
            and predicted_8h <= rate_8h / 4:
        block = f"funding fading ({rate_8h} → {predicted_8h} per 8 h) while the basis is {median:.2f} bps"
    return state, BasisRiskReading(median_bps=median, p01_bps=p01, negative_intervals=state.negative_intervals,
                                   stop=state.stopped, block=block, ts=ts)


def quantile(sketch: DDSketch, q: float) -> float | None:
    """`sketch.get_quantile_value(q)`, the same value, found with the running bin counts summed
    and searched in C (`accumulate`, `bisect`) instead of DDSketch's Python loop over every
    bin (≈ 30 µs per basis point at a few hundred bins, most of the point's cost). The bins
    hold whole counts, so the running sums are exact and the bin found is the same."""
    count = sketch._count
    if q < 0 or q > 1 or count == 0:
        return None
    rank = q * (count - 1)
    negative, zero = sketch._negative_store, sketch._zero_count
    if rank < negative.count:  # DenseStore.key_at_rank(count − rank − 1, lower=False)
        i = bisect_left(list(accumulate(negative.bins)), negative.count - rank - 1 + 1)
        key = i + negative.offset if i < len(negative.bins) else negative.max_key
        return float(-sketch._mapping.value(key))
    if rank < zero + negative.count:
        return 0
    store = sketch._store  # DenseStore.key_at_rank(rank − zero − negative, lower=True)
    i = bisect_right(list(accumulate(store.bins)), rank - zero - negative.count)
    key = i + store.offset if i < len(store.bins) else store.max_key
    return float(sketch._mapping.value(key))


def _advance_interval(state: BasisRisk, index: int, stop_intervals: int) -> None:
    """Close the previous funding interval(s) when `index` moves on."""
    if state.interval is None:
        state.interval = index
        return
    if index == state.interval:
        return
    if index > state.interval + 1:  # whole intervals without a single point break the run
        state.negative_intervals = 0
    elif state.interval_all_below:
        state.negative_intervals += 1
        if state.negative_intervals >= stop_intervals:
            state.stopped = True
    else:
        state.negative_intervals = 0
    if state.stopped and state.interval_all_above and index == state.interval + 1:
        state.stopped = False
        state.negative_intervals = 0
    state.interval = index
    state.interval_all_below = True
    state.interval_all_above = True
