"""Statistics of the allocator (docs/architecture.md §3.9 Allocation): the carry ratio, softmax weights
and a robust, simple correlation estimate of pair returns. Carry stays `Decimal` until it
becomes a score; ratios, weights and correlations are floats (docs/architecture.md §5: scores may be).

- Window: observations with `now − window < ts ≤ now`; a timestamp listed twice keeps the
  last one listed.
- Carry ratio (Sharpe-like): `mean / max(std, floor)` of `carry_8h` over the window, std
  the sample standard deviation (n − 1). The floor keeps a flat history (a venue's default
  rate, paid for weeks) from looking riskless.
- Pair return per observation: `r_t = carry_8h_t − (spread_t − spread_{t−1})` when both
  spreads are known (long A, short B earns the carry and gains as B − A narrows), else
  `carry_8h_t`.
- Correlation: exponentially weighted and demeaned (RiskMetrics style) on the timestamps
  both pairs share: weights `λ^(n−1−t)` (the newest 1), weighted means, variances and
  covariance, `ρ = cov / √(var_a × var_b)`; 0 when a series is flat. It needs no matrix
  inversion, adapts to regime changes at the speed λ sets, and one outlier fades
  geometrically. Fewer than `min_overlap` shared points → None (the caller's prior).
- Softmax: `w_i = exp((s_i − max s) / T) / Σ exp((s_j − max s) / T)` (shifted: no overflow).
"""

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from arbflow.model.money import MONEY
from arbflow.model.risk import CarryPoint

DAY_MS: Final = 86_400_000
_ZERO: Final = Decimal(0)


def in_window(points: Sequence[CarryPoint], now: int, window_ms: int) -> tuple[CarryPoint, ...]:
    """The observations inside the window, oldest first, one per timestamp."""
    kept = {p.ts: p for p in points if now - window_ms < p.ts <= now}
    return tuple(kept[ts] for ts in sorted(kept))


@dataclass(frozen=True, slots=True, kw_only=True)
class CarryStats:
    """Mean and sample std of carry_8h (fractions per 8 h), the ratio, the point count."""

    mean: Decimal
    std: Decimal
    ratio: float
    points: int


def carry_stats(points: Sequence[CarryPoint], std_floor: Decimal) -> CarryStats:
    """Mean, sample std and `mean / max(std, std_floor)` of the points' carry (n ≥ 2)."""
    n = len(points)
    mean = MONEY.divide(sum((p.carry_8h for p in points), _ZERO), Decimal(n))
    deviations = [p.carry_8h - mean for p in points]
    squares = sum(map(MONEY.multiply, deviations, deviations), _ZERO)
    std = MONEY.sqrt(MONEY.divide(squares, Decimal(n - 1))) if n > 1 else _ZERO
    return CarryStats(mean=mean, std=std, ratio=float(MONEY.divide(mean, max(std, std_floor))), points=n)


class Series(dict[int, float]):
    """Pair returns keyed by ts, oldest first (what `returns` builds), remembering the
    weighted moments `ew_correlation` took of them per (shared timestamps, decay): a pair
    meets every other kept pair of an allocation, mostly on the same timestamps, so its
    mean, deviations and variance are computed once per allocation instead of once per
    pair of pairs. Same operations in the same order: the results are bit-identical."""

    __slots__ = ("moments",)

    def __init__(self) -> None:
        super().__init__()
        self.moments: dict[tuple[tuple[int, ...], float], _Moments] = {}


def returns(points: Sequence[CarryPoint]) -> Series:
    """Per-observation pair returns keyed by ts (see the module docstring)."""
    out = Series()
    previous: Decimal | None = None
    for p in points:
        move = _ZERO if p.spread is None or previous is None else p.spread - previous
        out[p.ts] = float(p.carry_8h - move)
        previous = p.spread
    return out


@functools.lru_cache(maxsize=64)
def _weights(n: int, decay: float) -> tuple[tuple[float, ...], float]:
    """`λ^(n−1−i)` for i < n (the newest 1) and their exact sum."""
    weights = tuple(decay ** (n - 1 - i) for i in range(n))
    return weights, math.fsum(weights)


# deviations d from the weighted mean, the weighted deviations w × d, the weighted variance
_Moments = tuple[list[float], list[float], float]


def _moments(series: dict[int, float], shared: tuple[int, ...], weights: tuple[float, ...],
             total: float) -> _Moments:
    xs = [series[t] for t in shared]
    mean = math.fsum(map(float.__mul__, weights, xs)) / total
    deviations = [x - mean for x in xs]
    weighted = list(map(float.__mul__, weights, deviations))
    return deviations, weighted, math.fsum(map(float.__mul__, weighted, deviations)) / total  # Σ (w × d) × d


def _cached_moments(series: dict[int, float], shared: tuple[int, ...], decay: float, weights: tuple[float, ...],
                    total: float) -> _Moments:
    if type(series) is not Series:
        return _moments(series, shared, weights, total)
    key = (shared, decay)
    found = series.moments.get(key)
    if found is None:
        found = series.moments[key] = _moments(series, shared, weights, total)
    return found


def ew_correlation(a: dict[int, float], b: dict[int, float], decay: float, min_overlap: int) -> float | None:
    """Exponentially weighted, demeaned correlation on the shared timestamps, or None.
    Each side's weighted mean, deviations and variance are reused when it is a `Series`
    that met the same timestamps before (see `Series`)."""
    if type(a) is Series and type(b) is Series and a.keys() == b.keys():
        shared = tuple(a)  # a Series is in time order
    else:
        shared = tuple(sorted(a.keys() & b.keys()))
    n = len(shared)
    if n < min_overlap:
        return None
    weights, total = _weights(n, decay)
    _, wdx, var_x = _cached_moments(a, shared, decay, weights, total)
    dy, _, var_y = _cached_moments(b, shared, decay, weights, total)
    if var_x <= 0 or var_y <= 0:
        return 0.0
    cov = math.fsum(map(float.__mul__, wdx, dy)) / total  # Σ (w × dx) × dy
    return max(-1.0, min(1.0, cov / math.sqrt(var_x * var_y)))


def softmax(scores: Sequence[float], temperature: float) -> list[float]:
    """softmax(scores / temperature); sums to 1 (empty in, empty out)."""
    if not scores:
        return []
    top = max(scores)
    exps = [math.exp((s - top) / temperature) for s in scores]
    total = math.fsum(exps)
    return [e / total for e in exps]
