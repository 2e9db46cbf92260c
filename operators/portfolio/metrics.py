"""Performance figures of an equity curve (issue 7 evaluation) — pure, exact `Decimal`.

- annualised return: net P&L / capital / years, simple (no compounding), the study's APR;
- Sharpe from **daily** returns: the equity at the last step of each UTC day, `r_d = E_d /
  E_{d−1} − 1` (the first day against the starting capital), `mean / sample std × √365`;
  None with fewer than 2 days or a flat curve. No risk-free rate (the carry is the excess);
- max drawdown: the largest fall of equity from its running peak (the capital included), as
  a fraction of that peak.
"""

import itertools
from collections.abc import Sequence
from decimal import Decimal
from typing import Final

from arbflow.model.money import MONEY, ZERO
from arbflow.operators.signals.funding import YEAR_MS

DAY_MS: Final = 86_400_000
DAYS_PER_YEAR: Final = Decimal(365)


def years_between(start_ms: int, end_ms: int) -> Decimal:
    """The span in years of 365 days (`operators.signals.funding.YEAR_MS`, as the study)."""
    return MONEY.divide(Decimal(end_ms - start_ms), Decimal(YEAR_MS))


def annualised(amount: Decimal, capital: Decimal, start_ms: int, end_ms: int) -> Decimal | None:
    """`amount / capital / years`; None for an empty span."""
    years = years_between(start_ms, end_ms)
    return MONEY.divide(MONEY.divide(amount, capital), years) if years > 0 else None


def daily_equity(curve: Sequence[tuple[int, Decimal]]) -> list[Decimal]:
    """The equity at the last point of each UTC day, in day order (days without a point skipped)."""
    last: dict[int, Decimal] = {}
    for ts, equity in curve:
        last[ts // DAY_MS] = equity
    return [last[d] for d in sorted(last)]


def daily_sharpe(curve: Sequence[tuple[int, Decimal]], capital: Decimal) -> Decimal | None:
    """Annualised Sharpe ratio of the daily returns (module docstring)."""
    closes = [capital, *daily_equity(curve)]
    returns = [MONEY.divide(b, a) - 1 for a, b in itertools.pairwise(closes)]
    n = len(returns)
    if n < 2:
        return None
    mean = MONEY.divide(sum(returns, ZERO), Decimal(n))
    variance = MONEY.divide(sum((MONEY.multiply(r - mean, r - mean) for r in returns), ZERO), Decimal(n - 1))
    if variance <= 0:
        return None
    return MONEY.multiply(MONEY.divide(mean, MONEY.sqrt(variance)), MONEY.sqrt(DAYS_PER_YEAR))


def max_drawdown(curve: Sequence[tuple[int, Decimal]], capital: Decimal) -> Decimal:
    """Largest fall of equity from its running peak (starting at `capital`), a fraction of the peak."""
    peak, worst = capital, ZERO
    for _, equity in curve:
        peak = max(peak, equity)
        worst = max(worst, MONEY.divide(peak - equity, peak))
    return worst
