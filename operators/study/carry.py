"""Funding-carry study over settled funding histories (issue 8 item 2; docs/architecture.md §3.2, §3.3,
§3.7, §3.9): what a cash-and-carry per venue and a cross-venue funding spread really earn
after fees, entry/exit hysteresis and the basis stop, next to the naive "average funding ×
3 × 365". Pure: records in, results out; no I/O, no clock. Money is Decimal throughout
(34 significant digits, `model.money.MONEY`); a carry-only series is exact.

Strategies (money per leg = `params.notional` N, USD; APR is on N — with unified margin the
spot holding collateralises the perp short, so one leg's notional is the capital):
- cash-and-carry (`carry_trade`): long spot, short the venue's linear perp, one decision
  per funding settlement T. At T the rate r(T) settles first (paid to whoever held into
  T), then the decision uses only what is published at or before T: the signal is
  `rate_8h(r(T))` (the last settled rate, as the histories hold no predictions; with
  `signal_window` k > 1, the mean of the last k) and the 8h bars that closed by T. Entry
  and exit are the desks' carry rule (operators/strategy/carry_rule.py, `params.strategy`):
  enter when `signal × H × 10⁴ + spread − round trip > entry_margin_bps`, H from the
  settled carries up to T (operators/strategy/holding.py), the entry spread 0 (8h closes
  are no executable prices), the round trip the four taker
  fills the study charges (`round_trip_fees_bps("taker", …)`: the study's fills are
  taker, whatever the desks' order style); exit when the held side's signal falls below
  `exit_carry_8h`. Where spot and perp bars exist, the
  basis `(perp close − spot close) / spot close` of each closed bar drives the basis stop
  (below −0.05 % for 3 consecutive bars → exit; entries stay blocked until a bar closes at
  or above 0 %, the levels of `operators.signals.basis_risk`), legs are sized `q = N / spot
  close`, funding is paid on `q × perp close` and the basis P&L is marked from the
  closes. Without bars the result is carry only (funding on N, no basis P&L, no stop) and
  says so in `flags`.
- funding spread (`funding_spread`): long the perp of the venue with the lower rate,
  short the higher, per asset, on an 8h grid (00/08/16 UTC buckets `(E − 8h, E]`). Per
  bucket a leg pays the sum of its settlements in it (dYdX: eight hourly ones) and its
  signal is the mean 8h-normalised rate of those settlements — equal to that sum for a
  full hourly bucket. Decide at E (or at the latest settlement in the bucket, whichever
  is later: Binance's times jitter by milliseconds): enter and exit by the same carry rule
  on the held side's spread, flip when the other side then passes the rule. A leg with no
  settlement in a bucket pays 0 there; its signal is carried
  from its last settlement for up to 24 h, after which the leg is stale and the pair is
  neither entered nor exited (flagged).
- naive: mean `rate_8h` × 3 × 365 per series; for a pair, the mean |spread| × 3 × 365
  (the right side in hindsight every bucket, no costs, no rules).

Fees: the taker fee of every fill (spot and perp of `VenueConfig`; both perps for a pair)
on each entry and each exit; no slippage (8h bars hold no book). A position still open at
the end of the data is closed there, with fees (flagged). Metrics: APR = net P&L / N /
years; max drawdown of N + cumulative P&L (marked each step); turnover = notional traded
(all fills) / N / years; time in market as a fraction of the period.

`operators.study.carry_steps` turns the records into decision points (`Step`); `plan` and
`run_job` pick and run the rows of one data set (the CLI drives them for its progress). Given
a `trace` list, the simulations also append one `PathPoint` per step (the position after
the step: what `operators.study.portfolio_eval` scales and margins).
"""

import dataclasses
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Final, Literal

from arbflow.model.config import FeeSchedule, StrategyConfig, VenueConfig
from arbflow.model.market import Candle, FundingRate
from arbflow.model.money import BPS_PER_UNIT, MONEY, ZERO
from arbflow.model.symbols import parse_symbol
from arbflow.operators.signals.funding import YEAR_MS, rate_8h
from arbflow.operators.strategy import carry_rule, holding
from arbflow.operators.study.carry_steps import Step, bucket_end, carry_steps, check_series, spread_steps

Strategy = Literal["cash-and-carry", "funding spread", "naive"]
CARRY: Final = "cash-and-carry"
SPREAD: Final = "funding spread"
NAIVE: Final = "naive"
PERIODS_PER_YEAR: Final = Decimal(3 * 365)  # 8h periods, the naive annualisation
END_OF_DATA: Final = "end of data"


@dataclass(frozen=True, slots=True, kw_only=True)
class StudyParams:
    """The rules: `strategy`, the carry rule the desks run (the `[strategy]` section: entry,
    hold, exit and the basis stop), and the study notional N (USD per leg)."""

    notional: Decimal = Decimal(10_000)
    strategy: StrategyConfig = dataclasses.field(default_factory=StrategyConfig)

    def __post_init__(self) -> None:
        if self.notional <= 0:
            raise ValueError(f"notional must be > 0, got {self.notional}")
        if self.strategy.basis_reentry_bps < self.strategy.basis_stop_bps:
            raise ValueError("basis_reentry must be at or above basis_stop")

    @property
    def basis_stop(self) -> Decimal:
        """The basis stop level as a fraction of the spot close (`basis_stop_bps` / 10⁴)."""
        return self.strategy.basis_stop_bps / BPS_PER_UNIT

    @property
    def basis_stop_intervals(self) -> int:
        """Consecutive closed bars below the level that exit a cash-and-carry."""
        return self.strategy.basis_stop_intervals

    @property
    def basis_reentry(self) -> Decimal:
        """After a stop, entries wait for a bar at or above this basis (fraction)."""
        return self.strategy.basis_reentry_bps / BPS_PER_UNIT


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    """An entry or exit at stream time `ts_ms`. `direction` +1 = long leg 0, short leg 1
    (carry: long spot, short perp); −1 = the reverse. `signal_8h` is the held side's
    carry per 8 h that the decision saw (None when a leg was missing)."""

    ts_ms: int
    action: Literal["enter", "exit"]
    direction: int
    reason: str
    signal_8h: Decimal | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StrategyResult:
    """One strategy on one venue or pair. Money in USD; `apr`, `naive_apr`,
    `max_drawdown`, `time_in_market` are fractions; `turnover` is per year. For a
    naive-only row `apr` is None and the trading figures are zero. `curve` holds the
    cumulative net P&L after each step."""

    strategy: Strategy
    asset: str
    venues: tuple[str, ...]
    symbols: tuple[str, ...]
    start_ms: int
    end_ms: int
    steps: int
    apr: Decimal | None
    naive_apr: Decimal
    funding: Decimal
    basis_pnl: Decimal
    fees: Decimal
    net_pnl: Decimal
    max_drawdown: Decimal
    traded_notional: Decimal
    turnover: Decimal
    round_trips: int
    time_in_market: Decimal
    flags: tuple[str, ...]
    decisions: tuple[Decision, ...]
    curve: tuple[tuple[int, Decimal], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PathPoint:
    """One simulation after a step, on `params.notional`: `direction` held (0 flat; +1 long
    leg 0 / short leg 1), `qty` per leg (base units; 0 when flat or carry-only), `entry` the
    legs' marks at entry, `marks` the legs' latest marks (None before any), `signal_8h` the
    step's leg 1 − leg 0 carry per 8 h (the signal window's mean; None = a leg stale), and
    the cumulative `pnl` (net of fees, marked), `fees`, `traded` notional and `funding`
    received (paid: negative), in USD."""

    ts_ms: int
    direction: int
    qty: Decimal
    entry: tuple[Decimal, Decimal]
    marks: tuple[Decimal, Decimal] | None
    signal_8h: Decimal | None
    pnl: Decimal
    fees: Decimal
    traded: Decimal
    funding: Decimal = ZERO


# -- the simulation -------------------------------------------------------------------------


@dataclass(slots=True)
class _Run:
    """Accumulators of one simulation (local to `_simulate`, never shared)."""

    direction: int = 0
    qty: Decimal = ZERO
    entry: tuple[Decimal, Decimal] = (ZERO, ZERO)
    entered_ms: int = 0
    funding: Decimal = ZERO
    basis: Decimal = ZERO
    fees: Decimal = ZERO
    traded: Decimal = ZERO
    held_ms: int = 0
    round_trips: int = 0
    rebalances: int = 0


def _entry(carry_8h: Decimal, direction: int, history: Sequence[Decimal], round_trip_bps: Decimal,
           params: StudyParams) -> bool:
    """The carry rule's entry on `direction` (+1 long leg 0 / short leg 1) at the expected carry
    `carry_8h`: H from the settled carries so far (signed for the direction); entry spread 0
    (8h closes are no executable prices: on cross-venue closes a "spread" is mostly timing and
    would be traded as profit)."""
    held = holding.expected_holding([direction * c for c in history], params.strategy)
    return carry_rule.decide_entry(carry_8h=carry_8h, holding=held, entry_spread_bps=ZERO, fees_bps=round_trip_bps,
                                   exit_slippage_bps=ZERO, cfg=params.strategy).accepted


def _simulate(steps: Sequence[Step], *, fees: tuple[FeeSchedule, FeeSchedule], directions: tuple[int, ...],
             priced: bool, params: StudyParams, trace: list[PathPoint] | None = None
             ) -> tuple[_Run, list[Decision], list[tuple[int, Decimal]], int]:
    """Walk the steps: settle funding for the position held into each step, update the basis
    streak, decide, mark. Returns the accumulators, decisions, the P&L curve and the number
    of steps without a decision (a stale leg). `priced`: legs are sized and marked from
    `Step.prices` (entries need them); otherwise each leg is N and there is no basis P&L."""
    n = params.notional
    fee = (fees[0].taker_bps / BPS_PER_UNIT, fees[1].taker_bps / BPS_PER_UNIT)
    round_trip = carry_rule.round_trip_fees_bps("taker", *fees)
    rule = params.strategy
    history: deque[Decimal] = deque(maxlen=rule.holding_lookback_intervals + rule.carry_window_intervals)
    run, decisions, curve = _Run(), [], []
    marks: tuple[Decimal, Decimal] | None = None
    streak, blocked, undecided = 0, False, 0

    def legs_notional() -> tuple[Decimal, Decimal]:
        return (run.qty * marks[0], run.qty * marks[1]) if priced and marks is not None else (n, n)

    def unrealised() -> Decimal:
        if not priced or marks is None or run.direction == 0:
            return ZERO
        return run.direction * run.qty * ((marks[0] - run.entry[0]) - (marks[1] - run.entry[1]))

    def trade() -> None:
        legs = legs_notional()
        run.fees += legs[0] * fee[0] + legs[1] * fee[1]
        run.traded += legs[0] + legs[1]

    def close(step: Step, reason: str, signal: Decimal | None) -> None:
        run.basis += unrealised()
        trade()
        run.held_ms += step.ts_ms - run.entered_ms
        run.round_trips += 1
        decisions.append(Decision(ts_ms=step.ts_ms, action="exit", direction=run.direction, reason=reason,
                                  signal_8h=signal))
        run.direction, run.qty = 0, ZERO

    def open_(step: Step, direction: int, signal: Decimal) -> None:
        run.direction, run.entered_ms = direction, step.ts_ms
        if priced and marks is not None:
            run.qty = MONEY.divide(n, marks[0] if direction > 0 else marks[1])
            run.entry = marks
        trade()
        decisions.append(Decision(ts_ms=step.ts_ms, action="enter", direction=direction, reason="carry rule",
                                  signal_8h=signal))

    def rebalance() -> None:
        """Constant notional: legs drifted beyond `rebalance_drift` × N go back to N (fees paid)."""
        if not (priced and marks is not None and run.direction):
            return
        mark = marks[0] if run.direction > 0 else marks[1]
        if abs(run.qty * mark - n) <= rule.rebalance_drift * n:
            return
        run.basis += unrealised()
        target = MONEY.divide(n, mark)
        change = abs(target - run.qty)
        run.fees += change * (marks[0] * fee[0] + marks[1] * fee[1])
        run.traded += change * (marks[0] + marks[1])
        run.rebalances += 1
        run.qty, run.entry = target, marks

    for index, step in enumerate(steps):
        if step.prices is not None:
            marks = step.prices
        if run.direction:
            legs = legs_notional()
            run.funding += run.direction * (step.rates[1] * legs[1] - step.rates[0] * legs[0])
            rebalance()
        for basis in step.bases:
            streak = streak + 1 if basis < params.basis_stop else 0
            blocked = (blocked and basis < params.basis_reentry) or streak >= params.basis_stop_intervals
        s0, s1 = step.signals
        carry: dict[int, Decimal] | None = None
        if s0 is not None and s1 is not None:
            history.append(s1 - s0)
            forward = holding.expected_carry(history, rule)
            assert forward is not None
            carry = {1: forward, -1: -forward}
        undecided += carry is None
        if run.direction and blocked:
            close(step, "basis stop", None if carry is None else carry[run.direction])
        elif run.direction and carry is not None and carry_rule.should_exit(carry[run.direction], params.strategy):
            close(step, "carry below exit", carry[run.direction])
        if carry is not None and not run.direction and not blocked and (not priced or step.prices is not None):
            best = max(directions, key=lambda d: carry[d])
            if _entry(carry[best], best, history, round_trip, params):
                open_(step, best, carry[best])
        if index == len(steps) - 1 and run.direction:
            close(step, END_OF_DATA, None if carry is None else carry[run.direction])
        curve.append((step.ts_ms, run.funding + run.basis + unrealised() - run.fees))
        if trace is not None:
            trace.append(PathPoint(ts_ms=step.ts_ms, direction=run.direction, qty=run.qty, entry=run.entry,
                                   marks=marks, signal_8h=None if carry is None else carry[1], pnl=curve[-1][1],
                                   fees=run.fees, traded=run.traded, funding=run.funding))
    return run, decisions, curve, undecided


def _max_drawdown(curve: Sequence[tuple[int, Decimal]], capital: Decimal) -> Decimal:
    """Largest fall of `capital + P&L` from its running peak, as a fraction of that peak."""
    peak, worst = capital, ZERO
    for _, pnl in curve:
        equity = capital + pnl
        peak = max(peak, equity)
        worst = max(worst, MONEY.divide(peak - equity, peak))
    return worst


def _result(strategy: Strategy, asset: str, venues: tuple[str, ...], symbols: tuple[str, ...],
            steps: Sequence[Step], naive: Decimal, params: StudyParams, flags: list[str],
            simulated: tuple[_Run, list[Decision], list[tuple[int, Decimal]], int]) -> StrategyResult:
    run, decisions, curve, undecided = simulated
    start, end = steps[0].ts_ms, steps[-1].ts_ms
    years = MONEY.divide(Decimal(end - start), Decimal(YEAR_MS))
    net = run.funding + run.basis - run.fees

    def per_year(amount: Decimal) -> Decimal:
        return MONEY.divide(MONEY.divide(amount, params.notional), years) if years else ZERO

    if undecided:
        flags.append(f"{undecided} steps without a decision (a leg stale > 24 h)")
    if decisions and decisions[-1].reason == END_OF_DATA:
        flags.append("position closed at the end of the data")
    return StrategyResult(
        strategy=strategy, asset=asset, venues=venues, symbols=symbols, start_ms=start, end_ms=end,
        steps=len(steps), apr=per_year(net) if years else None, naive_apr=naive, funding=run.funding,
        basis_pnl=run.basis, fees=run.fees, net_pnl=net, max_drawdown=_max_drawdown(curve, params.notional),
        traded_notional=run.traded, turnover=per_year(run.traded), round_trips=run.round_trips,
        time_in_market=MONEY.divide(Decimal(run.held_ms), Decimal(end - start)) if end > start else ZERO,
        flags=tuple(flags), decisions=tuple(decisions), curve=tuple(curve))


# -- the strategies -------------------------------------------------------------------------


def naive_apr(series: Sequence[FundingRate]) -> Decimal:
    """Mean 8h-normalised rate × 3 × 365: the figure quoted without costs or rules."""
    with localcontext(MONEY):
        total = sum((rate_8h(r.rate, r.interval_ms) for r in series), ZERO)
        return total / Decimal(len(series)) * PERIODS_PER_YEAR


def carry_trade(perp: Sequence[FundingRate], *, venue: VenueConfig, spot_candles: Sequence[Candle] = (),
                perp_candles: Sequence[Candle] = (), params: StudyParams = StudyParams(),
                trace: list[PathPoint] | None = None) -> StrategyResult:
    """Cash-and-carry on one venue: long spot, short `perp` (settlements in time order).
    ValueError when the venue has no spot market (`venue.spot` None) or the series is empty
    or out of order."""
    if venue.spot is None:
        raise ValueError(f"{perp[0].venue if perp else '?'} has no spot market configured")
    with localcontext(MONEY):
        steps = carry_steps(perp, spot_candles, perp_candles)
        priced = any(s.prices is not None for s in steps)
        flags = [] if priced else ["carry only: no spot and perp bars, so no basis P&L and no basis stop"]
        simulated = _simulate(steps, fees=(venue.spot, venue.perp), directions=(1,),
                             priced=priced, params=params, trace=trace)
        symbol = perp[0].symbol
        return _result(CARRY, symbol.split("/", 1)[0], (perp[0].venue,), (symbol.split(":", 1)[0], symbol),
                       steps, naive_apr(perp), params, flags, simulated)


def funding_spread(a: Sequence[FundingRate], b: Sequence[FundingRate], *, venue_a: VenueConfig,
                   venue_b: VenueConfig, perp_candles_a: Sequence[Candle] = (), perp_candles_b: Sequence[Candle] = (),
                   params: StudyParams = StudyParams(), trace: list[PathPoint] | None = None
                   ) -> StrategyResult | None:
    """Cross-venue funding spread between perps `a` and `b` of one asset; None when the two
    series share no 8h bucket."""
    with localcontext(MONEY):
        check_series(a)
        check_series(b)
        if max(bucket_end(a[0].ts_local), bucket_end(b[0].ts_local)) > \
                min(bucket_end(a[-1].ts_local), bucket_end(b[-1].ts_local)):
            return None
        steps, empty = spread_steps(a, b, perp_candles_a, perp_candles_b)
        priced = any(s.prices is not None for s in steps)
        flags = [] if priced else ["carry only: no perp bars, so no price-spread P&L"]
        if empty:
            flags.append(f"{empty} leg-buckets without a settlement (funding 0 there)")
        if a[0].symbol != b[0].symbol:
            flags.append(f"legs in different contracts: {a[0].symbol} vs {b[0].symbol}")
        both = [(s.signals[1] or ZERO) - (s.signals[0] or ZERO) for s in steps if None not in s.signals]
        naive = sum((abs(x) for x in both), ZERO) / Decimal(len(both)) * PERIODS_PER_YEAR if both else ZERO
        simulated = _simulate(steps, fees=(venue_a.perp, venue_b.perp), directions=(1, -1),
                             priced=priced, params=params, trace=trace)
        return _result(SPREAD, a[0].symbol.split("/", 1)[0], (a[0].venue, b[0].venue), (a[0].symbol, b[0].symbol),
                       steps, naive, params, flags, simulated)


def naive_only(series: Sequence[FundingRate], reason: str) -> StrategyResult:
    """A row with the naive figure only, for a series the study does not trade (`reason`)."""
    check_series(series)
    first, last = series[0], series[-1]
    zero_steps = [Step(first.ts_local, (ZERO, ZERO), (ZERO, ZERO)), Step(last.ts_local, (ZERO, ZERO), (ZERO, ZERO))]
    result = _result(NAIVE, first.symbol.split("/", 1)[0], (first.venue,), (first.symbol,), zero_steps,
                     naive_apr(series), StudyParams(), [reason], (_Run(), [], [], 0))
    return dataclasses.replace(result, apr=None, steps=len(series), curve=())


# -- planning -------------------------------------------------------------------------------

FundingSeries = Mapping[tuple[str, str], Sequence[FundingRate]]  # (venue, symbol) → settlements
CandleSeries = Mapping[tuple[str, str], Sequence[Candle]]  # (venue, symbol) → bars


@dataclass(frozen=True, slots=True, kw_only=True)
class Job:
    """One row of the study: `strategy` over the funding series `keys` ((venue, symbol)).
    `reason` says why a naive row is not traded; `size` is the records it reads (progress)."""

    strategy: Strategy
    keys: tuple[tuple[str, str], ...]
    reason: str = ""
    size: int


def _spot_key(key: tuple[str, str]) -> tuple[str, str]:
    return key[0], key[1].split(":", 1)[0]


def plan(funding: FundingSeries, candles: CandleSeries, venues: Mapping[str, VenueConfig]) -> list[Job]:
    """The rows for one data set: a cash-and-carry per linear perp on a venue with a spot
    market, a funding spread per pair of venues with a linear perp of the same asset, and a
    naive-only row for every other series (inverse perps, venues without spot).
    ValueError for a venue missing from `venues` (its fees would be unknown)."""
    jobs: list[Job] = []
    linear: dict[str, list[tuple[str, str]]] = {}
    for key in sorted(funding):
        venue, symbol = key
        config = venues.get(venue)
        if config is None:
            raise ValueError(f"venue {venue!r} is not configured, so its fees are unknown")
        instrument = parse_symbol(symbol)
        size = len(funding[key])
        if instrument.inverse:
            jobs.append(Job(strategy=NAIVE, keys=(key,), size=size,
                            reason="inverse (coin-margined) perp: naive figure only, the study trades linear perps"))
            continue
        linear.setdefault(instrument.base, []).append(key)
        if config.spot is None:
            jobs.append(Job(strategy=NAIVE, keys=(key,), size=size,
                            reason=f"{venue} has no spot market configured: no cash-and-carry"))
        else:
            bars = len(candles.get(_spot_key(key), ())) + len(candles.get(key, ()))
            jobs.append(Job(strategy=CARRY, keys=(key,), size=size + bars))
    for keys in linear.values():
        for index, a in enumerate(keys):
            for b in keys[index + 1:]:
                if a[0] != b[0]:
                    size = len(funding[a]) + len(funding[b]) + len(candles.get(a, ())) + len(candles.get(b, ()))
                    jobs.append(Job(strategy=SPREAD, keys=(a, b), size=size))
    return jobs


def run_job(job: Job, funding: FundingSeries, candles: CandleSeries, venues: Mapping[str, VenueConfig],
            params: StudyParams, trace: list[PathPoint] | None = None) -> StrategyResult | None:
    """Compute one planned row (None: a pair whose series never overlap); `trace` collects
    the traded rows' `PathPoint`s."""
    if job.strategy == NAIVE:
        return naive_only(funding[job.keys[0]], job.reason)
    if job.strategy == CARRY:
        key = job.keys[0]
        return carry_trade(funding[key], venue=venues[key[0]], spot_candles=candles.get(_spot_key(key), ()),
                           perp_candles=candles.get(key, ()), params=params, trace=trace)
    a, b = job.keys
    return funding_spread(funding[a], funding[b], venue_a=venues[a[0]], venue_b=venues[b[0]],
                          perp_candles_a=candles.get(a, ()), perp_candles_b=candles.get(b, ()), params=params,
                          trace=trace)
