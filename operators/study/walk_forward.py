"""Walk-forward evaluation (docs/study.md "Walk-forward") — pure, exact `Decimal`.

One portfolio run over the whole history is causal (every decision at T uses data published
by T), so its figures over a later window are out of sample for parameters chosen on an
earlier one. `figures(result, window, capital)` cuts a run's equity curve and ledger at the
window's bounds:
- return: `(E(end) − E(start)) / capital / years`, E(start) the equity at the last step
  before the window (the capital when none), the years from that step to the last one in it;
- Sharpe: daily returns inside the window, from E(start) (`portfolio.metrics.daily_sharpe`);
- max drawdown: from E(start) as the first peak;
- funding, fees and traded notional: the ledger's differences across the window; turnover
  = traded / capital / years; `fee_share` = fees / funding (None without funding).

Windows: the whole period, in sample (the calendar year the parameters were chosen on) and
out of sample (the rest), named by the caller. `engine_figures` cuts an engine run (the
backtest's ledger records) the same way, so the study's and the engine's rows compare.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.execution import Order, PairTrade
from arbflow.model.money import MONEY, ZERO
from arbflow.model.portfolio import PortfolioState
from arbflow.operators.portfolio.metrics import daily_sharpe, max_drawdown, years_between
from arbflow.operators.portfolio.performance import equity_curve
from arbflow.operators.study.portfolio_eval import PortfolioResult


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """`[start_ms, end_ms)` of stream time; None = open."""

    name: str
    start_ms: int | None = None
    end_ms: int | None = None

    def holds(self, ts: int) -> bool:
        return (self.start_ms is None or ts >= self.start_ms) and (self.end_ms is None or ts < self.end_ms)


@dataclass(frozen=True, slots=True, kw_only=True)
class Figures:
    """A run's figures over one window (fractions, per year where annualised; money USD)."""

    annual_return: Decimal | None
    sharpe: Decimal | None
    max_drawdown: Decimal
    funding: Decimal
    fees: Decimal
    turnover: Decimal | None
    fee_share: Decimal | None


def _span(curve: Sequence[tuple[int, Decimal]], window: Window,
          capital: Decimal) -> tuple[int, int, int, Decimal] | None:
    """(first, last) indexes of the curve inside `window`, and the time and equity it starts
    from: the last point before the window, else the first inside at `capital`."""
    inside = [i for i, (ts, _) in enumerate(curve) if window.holds(ts)]
    if not inside:
        return None
    first, last = inside[0], inside[-1]
    start_ts, start_equity = curve[first - 1] if first > 0 else (curve[first][0], capital)
    return first, last, start_ts, start_equity


def _cut(curve: Sequence[tuple[int, Decimal]], span: tuple[int, int, int, Decimal], capital: Decimal,
         funding: Decimal, fees: Decimal, traded: Decimal) -> Figures:
    """The figures of the curve's window `span` (`_span`) with its funding, fees and traded notional."""
    first, last, start_ts, start_equity = span
    inside = curve[first:last + 1]
    years = years_between(start_ts, inside[-1][0])
    per_year = (lambda amount: MONEY.divide(MONEY.divide(amount, capital), years)) if years > 0 else None
    return Figures(
        annual_return=per_year(inside[-1][1] - start_equity) if per_year else None,
        sharpe=daily_sharpe(inside, start_equity), max_drawdown=max_drawdown(inside, start_equity),
        funding=funding, fees=fees, turnover=per_year(traded) if per_year else None,
        fee_share=MONEY.divide(fees, funding) if funding > 0 else None)


def figures(result: PortfolioResult, window: Window, capital: Decimal) -> Figures | None:
    """The run's figures inside `window` (module docstring); None when no step falls in it."""
    span = _span(result.curve, window, capital)
    if span is None:
        return None
    first, last, start_ts, _ = span
    before = result.ledger[first - 1] if first > 0 else (start_ts, ZERO, ZERO, ZERO)
    after = result.ledger[last]
    return _cut(result.curve, span, capital, after[1] - before[1], after[2] - before[2], after[3] - before[3])


def naive_apr(series: Sequence[Sequence[tuple[int, Decimal]]], window: Window) -> Decimal | None:
    """Mean 8h-equivalent funding × 3 × 365 over the settlements `(ts, rate_8h)` of each series
    inside `window`, averaged over the series that have any (no fees, always in)."""
    means = []
    for points in series:
        rates = [rate for ts, rate in points if window.holds(ts)]
        if rates:
            means.append(MONEY.divide(sum(rates, ZERO), Decimal(len(rates))))
    if not means:
        return None
    return MONEY.multiply(MONEY.divide(sum(means, ZERO), Decimal(len(means))), Decimal(3 * 365))


def engine_figures(states: Sequence[PortfolioState], trades: Sequence[PairTrade], orders: Sequence[Order],
                   window: Window, capital: Decimal) -> Figures | None:
    """An engine run's figures inside `window` (`arbflow backtest`), cut as `figures` cuts a
    study's: the equity curve is capital + Σ desks' realised and unrealised P&L after every
    ledger update (`portfolio.performance.equity_curve`); funding and fees are each trade's
    cumulative `funding_pnl` / `fees` at its last record inside the window less at its last
    record before it; traded notional = Σ `filled_qty × avg_px` of the orders whose final
    state falls inside it (every fill, both legs: entries, resizes, exits). None when no
    ledger update falls in the window."""
    curve = [(ts, capital + pnl) for ts, pnl, _ in equity_curve(list(states))]
    span = _span(curve, window, capital)
    if span is None:
        return None
    before: dict[str, PairTrade] = {}
    within: dict[str, PairTrade] = {}
    for record in sorted(trades, key=lambda t: t.ts):
        if window.start_ms is not None and record.ts < window.start_ms:
            before[record.trade_id] = record
        elif window.holds(record.ts):
            within[record.trade_id] = record
    funding = sum((t.funding_pnl - (before[k].funding_pnl if k in before else ZERO) for k, t in within.items()), ZERO)
    fees = sum((t.fees - (before[k].fees if k in before else ZERO) for k, t in within.items()), ZERO)
    traded = sum((o.filled_qty * o.avg_px for o in orders if o.avg_px is not None and window.holds(o.ts)), ZERO)
    return _cut(curve, span, capital, funding, fees, traded)
