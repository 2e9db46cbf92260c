"""The expected carry and the expected holding period H of a carry trade, in 8 h intervals
(docs/architecture.md §3.6).

Input: a pair's settled carry per 8 h interval, oldest first (fractions per 8 h; one value
per interval, a gap in the data simply joins its neighbours).

- **Expected carry** `μ̂` = the mean of the last `carry_window_intervals` values (k): the
  rule enters, holds and exits on it, so one negative print inside a positive regime does
  not close a trade whose round trip cost weeks of carry.
- **H** comes from the same smoothed series: over the last `holding_lookback_intervals`
  values, the rolling k-means are formed, and a *completed run* is a maximal stretch of
  positive μ̂ with a non-positive μ̂ on both sides (a run touching either end of the window
  is cut off: its length is unknown). Then:
  - at least one completed run: `H = ⌊mean completed run length⌋`, source "history";
  - no completed run, but μ̂ has been positive for the last L intervals (the open run):
    `H = max(default_holding_intervals, L)`, source "history" when L > the default (a
    carry that has not flipped for L intervals is expected to last at least as long
    again), else "default";
  - no positive μ̂ at the end and no completed run: `default_holding_intervals`, "default".
  H is always clamped to [`min_holding_intervals`, `max_holding_intervals`].
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from arbflow.model.config import StrategyConfig
from arbflow.model.money import MONEY

_ZERO: Final = Decimal(0)
HoldingSource = Literal["history", "default", "config"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Holding:
    """H in 8 h intervals, where it came from, and the completed runs it was measured on."""

    intervals: int
    source: HoldingSource
    runs: int = 0

    def text(self) -> str:
        """`H 21 (default)` or `H 12 (history, 4 runs)` for a detail line."""
        runs = f", {self.runs} runs" if self.source == "history" and self.runs else ""
        return f"H {self.intervals} ({self.source}{runs})"


def expected_carry(carry_8h: Sequence[Decimal], cfg: StrategyConfig) -> Decimal | None:
    """μ̂: the mean of the last `cfg.carry_window_intervals` values (None for an empty series)."""
    window = _tail(carry_8h, cfg.carry_window_intervals)
    if not window:
        return None
    return window[0] if len(window) == 1 else MONEY.divide(sum(window, _ZERO), Decimal(len(window)))


def rolling_means(carry_8h: Sequence[Decimal], k: int) -> list[Decimal]:
    """The k-mean ending at each value (fewer at the start), oldest first: the μ̂ series."""
    out: list[Decimal] = []
    total = _ZERO
    for i, value in enumerate(carry_8h):
        total += value
        if i >= k:
            total -= carry_8h[i - k]
        n = min(i + 1, k)
        out.append(total if n == 1 else MONEY.divide(total, Decimal(n)))
    return out


def rolling_sums(carry_8h: Sequence[Decimal], k: int) -> list[Decimal]:
    """The k-sum ending at each value (fewer at the start): the μ̂ series times its count, so
    of the same sign — all the runs of μ̂ need (no division per value)."""
    out: list[Decimal] = []
    total = _ZERO
    for i, value in enumerate(carry_8h):
        total += value
        if i >= k:
            total -= carry_8h[i - k]
        out.append(total)
    return out


def completed_runs(carry_8h: Sequence[Decimal]) -> list[int]:
    """Lengths of the maximal positive stretches bounded by non-positive values on both sides."""
    runs: list[int] = []
    length, opened = 0, False  # opened: a non-positive value was seen before the current stretch
    for value in carry_8h:
        if value > _ZERO:
            length += 1
            continue
        if opened and length:
            runs.append(length)
        length, opened = 0, True
    return runs


def open_run(carry_8h: Sequence[Decimal]) -> int:
    """How many of the last values are positive in a row."""
    length = 0
    for value in reversed(carry_8h):
        if value <= _ZERO:
            break
        length += 1
    return length


def expected_holding(carry_8h: Sequence[Decimal], cfg: StrategyConfig) -> Holding:
    """H from the last `cfg.holding_lookback_intervals` settled carries (see the module docstring)."""
    window = rolling_sums(_tail(carry_8h, cfg.holding_lookback_intervals + cfg.carry_window_intervals - 1),
                          cfg.carry_window_intervals)[-cfg.holding_lookback_intervals:]  # runs: signs only
    runs = completed_runs(window)
    if runs:
        return Holding(intervals=_clamp(sum(runs) // len(runs), cfg), source="history", runs=len(runs))
    lasted = open_run(window)
    if lasted > cfg.default_holding_intervals:
        return Holding(intervals=_clamp(lasted, cfg), source="history")
    return Holding(intervals=cfg.default_holding_intervals, source="default")


def configured_holding(cfg: StrategyConfig) -> Holding:
    """H from configuration alone (no history kept by the caller)."""
    return Holding(intervals=cfg.default_holding_intervals, source="config")


def _tail(values: Sequence[Decimal], n: int) -> Sequence[Decimal]:
    """The last n values (a deque is copied: it does not slice)."""
    return (values if isinstance(values, list | tuple) else tuple(values))[-n:]


def _clamp(intervals: int, cfg: StrategyConfig) -> int:
    return max(cfg.min_holding_intervals, min(cfg.max_holding_intervals, intervals))
