"""Tiered tables, the health formula and the liquidation-move solver of the unified-margin
simulator (docs/architecture.md §3.9 Margin) — pure, exact `Decimal`, one formula per function.

A tiered table maps a USD value v ≥ 0 to an amount (margin due, or haircut taken):
progressive = Σ over tiers of the slice of v inside the tier × its rate (Binance's
"notional × rate − maintenance amount" and Bybit's "excess at the next tier's rate" are
this); "whole" = v × the rate of the tier v falls in (OKX position tiers). A value on a
floor belongs to the lower tier ("0 < position ≤ 50,000" is tier 1).
"""

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from arbflow.model.config import Tier
from arbflow.model.money import MONEY

ZERO: Final = Decimal(0)
ONE: Final = Decimal(1)
HEALTH_FLOOR: Final = Decimal(-1)  # health is reported no lower (adjusted equity ≤ 0 included)
RATIO_CEILING: Final = Decimal(1000)  # margin use and leverage are reported no higher
MAX_UP_MOVE: Final = Decimal(10)  # liquidation moves are searched in −100 % … +1000 %


def _tier_index(tiers: tuple[Tier, ...], value: Decimal) -> int:
    index = 0
    for i in range(1, len(tiers)):
        if value <= tiers[i].floor:
            break
        index = i
    return index


def linear_piece(tiers: tuple[Tier, ...], method: str, value: Decimal) -> tuple[Decimal, Decimal]:
    """(slope, intercept) with `tiered(v) = slope × v + intercept` on the tier of `value`."""
    j = _tier_index(tiers, value)
    if method == "whole":
        return tiers[j].rate, ZERO
    below = sum((MONEY.multiply(tiers[k + 1].floor - tiers[k].floor, tiers[k].rate) for k in range(j)), ZERO)
    return tiers[j].rate, below - MONEY.multiply(tiers[j].floor, tiers[j].rate)


def tiered(tiers: tuple[Tier, ...], method: str, value: Decimal) -> Decimal:
    """The tiered amount of `value` ≥ 0 (see the module docstring)."""
    slope, intercept = linear_piece(tiers, method, value)
    return MONEY.multiply(slope, value) + intercept


def health_of(adjusted_equity: Decimal, maintenance: Decimal, buffer: Decimal) -> Decimal:
    """`health = 1 − TMM × (1 + buffer) / AE` (docs/architecture.md §3.8); 1 when nothing is due;
    `HEALTH_FLOOR` when AE ≤ 0 < TMM, and never below it. Non-increasing in TMM."""
    if maintenance <= 0:
        return ONE
    if adjusted_equity <= 0:
        return HEALTH_FLOOR
    return max(HEALTH_FLOOR, ONE - MONEY.divide(MONEY.multiply(maintenance, ONE + buffer), adjusted_equity))


def ratio_of(amount: Decimal, adjusted_equity: Decimal) -> Decimal:
    """`amount / AE` for margin use (TMM / AE) and leverage (Σ notional / AE), capped at
    `RATIO_CEILING`, which is also the answer when AE ≤ 0 < amount."""
    if amount <= 0:
        return ZERO
    if adjusted_equity <= 0:
        return RATIO_CEILING
    return min(RATIO_CEILING, MONEY.divide(amount, adjusted_equity))


@dataclass(frozen=True, slots=True)
class Mover:
    """Something whose USD value scales with (1 + x) when a price moves by x: a position
    (`pnl_slope` = signed qty × mark; its tiers are maintenance) or a collateral balance
    (tiers are haircuts, `pnl_slope` 0). `base` is the value at x = 0."""

    base: Decimal
    tiers: tuple[Tier, ...]
    method: str
    pnl_slope: Decimal
    is_position: bool


def _cuts(movers: list[Mover]) -> set[Decimal]:
    """The moves at which some mover crosses a tier floor."""
    return {MONEY.divide(t.floor, m.base) - ONE for m in movers if m.base > 0 for t in m.tiers[1:]}


def first_root(fixed: Decimal, movers: list[Mover], k: Decimal, direction: int,
               cuts: set[Decimal] | None = None) -> Decimal | None:
    """The move x nearest to 0 in `direction` (−1: down to −100 %, +1: up to +1000 %) where
    `g(x) = fixed + Σ movers = AE(x) − k × TMM(x)` reaches 0, i.e. health 0 with k = 1 +
    buffer. `fixed` is g's part that does not move. Between tier boundaries every mover is
    linear in x, so g is solved exactly piece by piece; a jump of a "whole" table that
    crosses 0 answers the boundary itself. None = no root in range."""
    end = -ONE if direction < 0 else MAX_UP_MOVE
    cuts = _cuts(movers) if cuts is None else cuts
    inside = sorted((c for c in cuts if c * direction > 0 and abs(c) < abs(end)), key=abs)
    for a, b in itertools.pairwise([ZERO, *inside, end]):
        middle = MONEY.divide(a + b, Decimal(2))
        intercept, slope = fixed, ZERO
        for m in movers:
            rate, constant = linear_piece(m.tiers, m.method, MONEY.multiply(m.base, ONE + middle))
            if m.is_position:  # + q·m·x − k·(rate·base·(1 + x) + constant)
                intercept -= k * (MONEY.multiply(rate, m.base) + constant)
                slope += m.pnl_slope - k * MONEY.multiply(rate, m.base)
            else:  # + (1 − rate)·base·(1 + x) − constant
                intercept += MONEY.multiply(ONE - rate, m.base) - constant
                slope += MONEY.multiply(ONE - rate, m.base)
        if intercept + MONEY.multiply(slope, a) <= 0:
            return a
        if slope != 0:
            root = MONEY.divide(-intercept, slope)
            if min(a, b) <= root <= max(a, b):
                return root
    return None


def nearest_root(fixed: Decimal, movers: list[Mover], k: Decimal) -> Decimal | None:
    """The liquidation move nearest to 0 in either direction (`first_root`)."""
    cuts = _cuts(movers)
    roots = [r for r in (first_root(fixed, movers, k, -1, cuts), first_root(fixed, movers, k, 1, cuts))
             if r is not None]
    return min(roots, key=abs) if roots else None
