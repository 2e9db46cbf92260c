"""The expected holding period H of a carry trade, in 8 h intervals (docs/architecture.md §3.6).

Input: a pair's settled carry per 8 h interval, oldest first (fractions per 8 h; one value
per interval, a gap in the data simply joins its neighbours). Over the last
`holding_lookback_intervals` values, a *completed run* is a maximal stretch of positive
carry with a non-positive interval on both sides (a run touching either end of the window
is cut off: its length is unknown). Then:
- at least one completed run: `H = ⌊mean run length⌋`, source "history";
- a full window of positive carry (no non-positive interval at all): H = the max clamp,
  source "history" (the carry has not flipped once in the lookback);
- otherwise (too little history): `default_holding_intervals`, source "default".
H is always clamped to [`min_holding_intervals`, `max_holding_intervals`].
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from arbflow.model.config import StrategyConfig

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


def expected_holding(carry_8h: Sequence[Decimal], cfg: StrategyConfig) -> Holding:
    """H from the last `cfg.holding_lookback_intervals` settled carries (see the module docstring)."""
    window = carry_8h[-cfg.holding_lookback_intervals:]
    runs = completed_runs(window)
    if runs:
        return Holding(intervals=_clamp(sum(runs) // len(runs), cfg), source="history", runs=len(runs))
    if len(window) >= cfg.holding_lookback_intervals and all(v > _ZERO for v in window):
        return Holding(intervals=cfg.max_holding_intervals, source="history")
    return Holding(intervals=cfg.default_holding_intervals, source="default")


def configured_holding(cfg: StrategyConfig) -> Holding:
    """H from configuration alone (no history kept by the caller)."""
    return Holding(intervals=cfg.default_holding_intervals, source="config")


def _clamp(intervals: int, cfg: StrategyConfig) -> int:
    return max(cfg.min_holding_intervals, min(cfg.max_holding_intervals, intervals))
