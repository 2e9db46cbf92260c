"""Execution cost from a visible book (docs/architecture.md §3.6): walk the levels for a size, the
VWAP against the mid as slippage, and the depth within a band of the mid.

Units: sizes are quote-currency notional (USD) unless named `qty` (base units); slippage
in bps of the mid, always ≥ 0 as a cost; prices in quote per base. Book-walk slippage is
monotone non-decreasing in size (a larger order never fills better); the fallback
formula `min(2 + 3 × size/depth, 5)` bps is used only where no book is known.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from arbflow.model.market import Level
from arbflow.model.money import BPS_PER_UNIT, MONEY, mid

_ZERO: Final = Decimal(0)
FALLBACK_BASE_BPS: Final = Decimal(2)
FALLBACK_SLOPE_BPS: Final = Decimal(3)
FALLBACK_CAP_BPS: Final = Decimal(5)


@dataclass(frozen=True, slots=True, kw_only=True)
class BookWalk:
    """Filling `notional` against one side: base `qty`, its `cost` in quote, the `vwap`,
    and whether the visible book ran out (`exhausted`: the rest is unfillable here)."""

    notional: Decimal
    qty: Decimal
    cost: Decimal
    vwap: Decimal | None
    exhausted: bool


def walk(levels: tuple[Level, ...], notional: Decimal) -> BookWalk:
    """Consume `levels` (best first) until `notional` quote is spent."""
    remaining, qty, cost = notional, _ZERO, _ZERO
    touched: Decimal | None = None  # the only price touched, while just one is
    for index, (price, size) in enumerate(levels):
        touched = price if index == 0 else None
        if remaining <= _ZERO:
            break
        available = MONEY.multiply(price, size)
        if available >= remaining:
            take = MONEY.divide(remaining, price)
            qty, cost, remaining = qty + take, cost + remaining, _ZERO
            break
        qty, cost, remaining = qty + size, cost + available, remaining - available
    # Within one level the VWAP is that price exactly (no rounding from cost / qty).
    vwap = touched if touched is not None and qty > _ZERO else MONEY.divide(cost, qty) if qty > _ZERO else None
    return BookWalk(notional=notional, qty=qty, cost=cost, vwap=vwap, exhausted=remaining > _ZERO)


def slippage_bps(side: Literal["buy", "sell"], bids: tuple[Level, ...], asks: tuple[Level, ...],
                 notional: Decimal) -> Decimal | None:
    """Cost of a marketable order of `notional` against the mid, in bps (≥ 0); None when
    the book is one-sided or too thin to fill the whole size."""
    if not bids or not asks:
        return None
    fill = walk(asks if side == "buy" else bids, notional)
    if fill.exhausted or fill.vwap is None:
        return None
    reference = mid(bids[0][0], asks[0][0])
    gap = fill.vwap - reference if side == "buy" else reference - fill.vwap
    return MONEY.divide(MONEY.multiply(gap, BPS_PER_UNIT), reference)


def depth_within(levels: tuple[Level, ...], reference: Decimal, band_bps: Decimal) -> Decimal:
    """Quote notional resting within `band_bps` of `reference` on one side."""
    limit = MONEY.divide(MONEY.multiply(reference, band_bps), BPS_PER_UNIT)
    total = _ZERO
    for price, size in levels:
        if abs(price - reference) > limit:
            break
        total += MONEY.multiply(price, size)
    return total


def fallback_slippage_bps(notional: Decimal, depth: Decimal) -> Decimal:
    """The estimate where no book is visible: `min(2 + 3 × size/depth, 5)` bps."""
    if depth <= _ZERO:
        return FALLBACK_CAP_BPS
    return min(FALLBACK_BASE_BPS + FALLBACK_SLOPE_BPS * MONEY.divide(notional, depth), FALLBACK_CAP_BPS)
