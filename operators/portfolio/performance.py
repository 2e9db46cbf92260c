"""Performance of a run from its ledger records (issue 8: the report's summary metrics).

Input: every `PortfolioState` the desks published (one ledger per desk, keyed by `asset`)
and the last state of every `PairTrade`, plus the run's event-time span. Equity is the sum
over desks of `realised_pnl + unrealised_pnl` (USD), a step function of stream time: the
run's P&L, starting at 0.

- net P&L = that sum at the end; final equity = starting capital + net P&L (USD);
- return = net P&L / starting capital (fractions; capital = Σ desks' starting capital);
- APR = return × year / period — only for a period of at least one day (a few minutes of
  data annualised says nothing);
- max drawdown = the deepest fall of equity below its running peak (USD ≤ 0, and as a
  fraction of starting capital);
- Sharpe = mean / standard deviation of daily equity changes (as fractions of capital)
  × √365, from UTC-day closes — needs at least 3 days;
- utilisation = time-weighted mean of Σ open notional / starting capital over the period;
- win rate and average profit over closed trades; leg-out rate = trades with a leg-out /
  trades, leg-out cost in USD.

Decimals stay exact; the Sharpe ratio is a float (a statistic, not money).
"""

import math
import statistics
from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.execution import PairTrade
from arbflow.model.portfolio import PortfolioState

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Performance:
    starting_capital: Decimal
    net_pnl: Decimal
    final_equity: Decimal
    period_ms: int
    total_return: Decimal | None
    apr: Decimal | None
    max_drawdown: Decimal
    max_drawdown_frac: Decimal | None
    sharpe: float | None
    utilisation: Decimal | None
    trades: int
    closed: int
    win_rate: Decimal | None
    average_profit: Decimal | None
    leg_out_rate: Decimal | None
    leg_out_cost: Decimal

    def as_json(self) -> dict[str, object]:
        """Plain JSON: Decimals as strings, None as null."""
        return {name: (str(value) if isinstance(value, Decimal) else value)
                for name, value in ((f, getattr(self, f)) for f in self.__dataclass_fields__)}


def equity_curve(states: list[PortfolioState]) -> list[tuple[int, Decimal, Decimal]]:
    """(ts, equity, open notional) summed over the desks once every update of a stream time
    is in — one point per time, so the curve does not depend on how the desks' updates of
    one time interleave (Kafka partitions, workers)."""
    equity: dict[str, Decimal] = {}
    notional: dict[str, Decimal] = {}
    curve: list[tuple[int, Decimal, Decimal]] = []
    for state in sorted(states, key=lambda s: s.ts):
        desk = state.asset or ""
        equity[desk] = state.realised_pnl + state.unrealised_pnl
        notional[desk] = state.open_notional
        point = (state.ts, sum(equity.values(), _ZERO), sum(notional.values(), _ZERO))
        if curve and curve[-1][0] == state.ts:
            curve[-1] = point
        else:
            curve.append(point)
    return curve


def performance(states: list[PortfolioState], trades: list[PairTrade], first_ts: int | None,
                last_ts: int | None, starting_capital: Decimal | None = None) -> Performance:
    """The run's performance (see the module docstring); empty inputs give neutral values.
    `starting_capital` is the whole portfolio's (desks that never traded hold their share
    too); None = the sum over the desks that published a state."""
    capital_by_desk: dict[str, Decimal] = {}
    for state in states:
        capital_by_desk[state.asset or ""] = state.starting_capital
    capital = sum(capital_by_desk.values(), _ZERO) if starting_capital is None else starting_capital
    curve = equity_curve(states)
    start = first_ts if first_ts is not None else (curve[0][0] if curve else 0)
    end = max(last_ts if last_ts is not None else 0, curve[-1][0] if curve else 0)
    period = max(0, end - start)
    net = curve[-1][1] if curve else _ZERO
    total_return = net / capital if capital else None
    apr = total_return * YEAR_MS / period if total_return is not None and period >= DAY_MS else None
    closed = [t for t in trades if t.status == "closed"]
    wins = sum(1 for t in closed if t.realised_pnl > 0)
    return Performance(
        starting_capital=capital, net_pnl=net, final_equity=capital + net, period_ms=period,
        total_return=total_return, apr=apr,
        max_drawdown=(drawdown := _max_drawdown(curve)), max_drawdown_frac=drawdown / capital if capital else None,
        sharpe=_sharpe(curve, start, end, capital), utilisation=_utilisation(curve, start, end, capital),
        trades=len(trades), closed=len(closed), win_rate=Decimal(wins) / len(closed) if closed else None,
        average_profit=sum((t.realised_pnl for t in closed), _ZERO) / len(closed) if closed else None,
        leg_out_rate=Decimal(sum(1 for t in trades if t.leg_outs)) / len(trades) if trades else None,
        leg_out_cost=sum((t.leg_out_cost for t in trades), _ZERO))


def _max_drawdown(curve: list[tuple[int, Decimal, Decimal]]) -> Decimal:
    peak, deepest = _ZERO, _ZERO  # equity starts at 0 before the first update
    for _, equity, _ in curve:
        peak = max(peak, equity)
        deepest = min(deepest, equity - peak)
    return deepest


def _utilisation(curve: list[tuple[int, Decimal, Decimal]], start: int, end: int, capital: Decimal) -> Decimal | None:
    if not capital or end <= start:
        return None
    weighted, at, notional = _ZERO, start, _ZERO
    for ts, _, open_notional in curve:
        ts = min(max(ts, start), end)
        weighted += notional * (ts - at)
        at, notional = ts, open_notional
    weighted += notional * (end - at)
    return weighted / (end - start) / capital


def _sharpe(curve: list[tuple[int, Decimal, Decimal]], start: int, end: int, capital: Decimal) -> float | None:
    if not capital or end - start < 3 * DAY_MS:
        return None
    closes, index, equity = [], 0, _ZERO
    for day_end in range(start - start % DAY_MS + DAY_MS, end + DAY_MS, DAY_MS):
        while index < len(curve) and curve[index][0] < day_end:
            equity = curve[index][1]
            index += 1
        closes.append(equity)
    changes = [float((b - a) / capital) for a, b in zip([_ZERO, *closes], closes, strict=False)]
    if len(changes) < 3:
        return None
    spread = statistics.stdev(changes)
    return None if spread == 0 else statistics.fmean(changes) / spread * math.sqrt(365)
