"""Multi-pair portfolio vs the best single pair over 8h history (issue 7 "Benchmark and
evaluation"; docs/architecture.md §3.8, §3.9) — pure, exact `Decimal`, stream time only.

Candidates are the carry study's traded rows (`operators.study.carry.plan`: a cash-and-carry
per venue and asset, a funding spread per pair of venues and asset). Each is simulated once on
the study notional N = `capital`, with the study's fees, hysteresis and basis stop, keeping
its `PathPoint` per step. The portfolio then walks the union of the pairs' 8h steps (keyed by
`carry_study_steps.bucket_end`); at decision time T (the latest step time in the bucket):
1. **P&L**: each pair's sleeve holds `scale = sleeve / N` of its simulation, so the sleeve
   earns `scale × Δ(pair P&L)` (funding, basis marks and the pair's own entry/exit fees;
   the scale is the one held into T);
2. **margin**: `operators.portfolio.accounts.check` on every venue: health ≤ 0 counts a
   liquidation; critical health or margin use → de-levering, cutting pairs by fractions;
3. **targets**: policy "allocator" calls `operators.portfolio.allocator.allocate` with equity =
   capital + P&L and one `Candidate` per pair: its carry now in the held direction (0 when
   the pair's own rules are flat, so the allocator frees that capital), the pair's carry
   history of the last `history_days` with `ts ≤ T` (no look-ahead), round-trip cost = 2 ×
   the legs' taker fees, current notional = the sleeve. A single-pair policy holds N while
   that pair's rules are in the market, 0 otherwise;
4. **moves**: decreases first, then increases in the allocator's order; an increase of an
   open pair goes through the margin gates (`portfolio_margin.gate_increase`) and is
   refused whole if any venue refuses. Resizing an open sleeve by Δscale trades Δscale ×
   the pair's legs at their marks (fees at taker, counted in turnover); moving the capital
   of a flat pair costs nothing.
So a single pair run through this loop reproduces the study's P&L exactly (tested).

Utilisation = mean over steps of Σ open sleeves / capital. Turnover = notional traded (every
fill, both legs) / capital / years. Figures: `operators.portfolio.metrics`.
"""

import bisect
import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from typing import Final, TypeVar

from arbflow.model.config import AllocationConfig, MarginConfig, StrategyConfig, VenueConfig
from arbflow.model.market import Candle, FundingRate
from arbflow.model.money import BPS_PER_UNIT, MONEY, ZERO
from arbflow.model.risk import AllocationRequest, Candidate, CarryPoint
from arbflow.operators.portfolio.accounts import Exposure, PairSpec, check, gate_increase
from arbflow.operators.portfolio.allocation_stats import DAY_MS
from arbflow.operators.portfolio.allocator import allocate
from arbflow.operators.portfolio.metrics import annualised, daily_sharpe, max_drawdown, years_between
from arbflow.operators.study.carry import CARRY, NAIVE, Job, PathPoint, StrategyResult, StudyParams, plan, run_job
from arbflow.operators.study.carry_steps import bucket_end

ALLOCATOR: Final = "allocator"
EQUAL_WEIGHT: Final = "equal weight"
_Record = TypeVar("_Record", FundingRate, Candle)
TWO: Final = Decimal(2)


@dataclass(frozen=True, slots=True, kw_only=True)
class PairPath:
    """One candidate: its spec, the study's result on N and its points keyed by 8h bucket."""

    spec: PairSpec
    result: StrategyResult
    points: Mapping[int, PathPoint]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioResult:
    """One strategy over the run. Money USD; `annual_return`, `max_drawdown`, `utilisation`
    fractions; `turnover` per year; `sharpe` from daily returns; counts of margin refusals,
    by reason (BELOW_MIN_SIZE: an increase below the venue's min_qty), de-leverings (pair
    cuts) and liquidations (venue-steps at health ≤ 0 or distance 0); `min_health` the
    lowest venue health seen at any step, `min_health_after_entry` the lowest projected
    health of the venues an accepted entry touched, `min_distance` the lowest liquidation
    distance (None: never any); `curve` (ts, equity) per step; `weights` (ts, {pair: sleeve
    / the equity the step's decision used}) per step."""

    name: str
    pairs: tuple[str, ...]
    start_ms: int
    end_ms: int
    steps: int
    capital: Decimal
    net_pnl: Decimal
    annual_return: Decimal | None
    sharpe: Decimal | None
    max_drawdown: Decimal
    utilisation: Decimal
    traded: Decimal
    turnover: Decimal
    fees: Decimal
    resizes: int
    refusals: Mapping[str, int]
    deleverings: int
    liquidations: int
    min_health: Decimal
    min_health_after_entry: Decimal | None
    min_distance: Decimal | None
    flags: tuple[str, ...]
    curve: tuple[tuple[int, Decimal], ...]
    weights: tuple[tuple[int, Mapping[str, Decimal]], ...] = ()
    funding: Decimal = ZERO
    ledger: tuple[tuple[int, Decimal, Decimal, Decimal], ...] = ()
    by_pair: Mapping[str, "PairFigures"] = field(default_factory=dict)

    @property
    def basis(self) -> Decimal:
        """The basis marks' P&L: net − funding + fees (USD)."""
        return self.net_pnl - self.funding + self.fees


@dataclass(frozen=True, slots=True, kw_only=True)
class PairFigures:
    """One pair's share of a portfolio run, USD: `funding` received, `fees` paid (its own
    entries, exits and drift resizes, and the allocator's resizes of its sleeve), `basis`
    the marks' P&L, `net` = funding + basis − fees."""

    funding: Decimal
    fees: Decimal
    basis: Decimal
    net: Decimal


# -- the candidates -------------------------------------------------------------------------


def spec_of(job: Job, venues: Mapping[str, VenueConfig]) -> PairSpec:
    """The pair of a traded study row: legs, symbols and taker fees."""
    if job.strategy == CARRY:
        venue, perp = job.keys[0]
        config = venues[venue]
        assert config.spot is not None
        return PairSpec(pair_id=f"{perp.split('/', 1)[0]} carry {venue}", strategy=CARRY,
                        asset=perp.split("/", 1)[0], venues=(venue, venue), symbols=(perp.split(":", 1)[0], perp),
                        fees_bps=(config.spot.taker_bps, config.perp.taker_bps))
    (va, sa), (vb, sb) = job.keys
    return PairSpec(pair_id=f"{sa.split('/', 1)[0]} spread {va}/{vb}", strategy=job.strategy,
                    asset=sa.split("/", 1)[0], venues=(va, vb), symbols=(sa, sb),
                    fees_bps=(venues[va].perp.taker_bps, venues[vb].perp.taker_bps))


def candidate_jobs(funding: Mapping[tuple[str, str], Sequence[FundingRate]],
                   candles: Mapping[tuple[str, str], Sequence[Candle]],
                   venues: Mapping[str, VenueConfig]) -> list[Job]:
    """The study's traded rows (cash-and-carry and funding spread) of one data set."""
    return [job for job in plan(funding, candles, venues) if job.strategy != NAIVE]


def trace_pair(job: Job, funding: Mapping[tuple[str, str], Sequence[FundingRate]],
               candles: Mapping[tuple[str, str], Sequence[Candle]], venues: Mapping[str, VenueConfig],
               params: StudyParams) -> PairPath | None:
    """Simulate one candidate on `params.notional` and key its points by 8h bucket (a later
    point in the same bucket replaces an earlier one). None when its series never overlap."""
    trace: list[PathPoint] = []
    result = run_job(job, funding, candles, venues, params, trace=trace)
    if result is None:
        return None
    return PairPath(spec=spec_of(job, venues), result=result, points={bucket_end(p.ts_ms): p for p in trace})


def best_single(paths: Sequence[PairPath]) -> PairPath:
    """The pair with the highest full-period net P&L — chosen in hindsight (look-ahead)."""
    return max(paths, key=lambda p: (p.result.net_pnl, p.spec.pair_id))


def naive_reference(paths: Sequence[PairPath]) -> Decimal:
    """Mean 8h funding × 3 × 365 over the cash-and-carry candidates' perps (the quoted figure)."""
    naive = [p.result.naive_apr for p in paths if p.spec.strategy == CARRY]
    return MONEY.divide(sum(naive, ZERO), Decimal(len(naive))) if naive else ZERO


# -- the loop ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _History:
    """A pair's carry observations in time order, in the +1 orientation and reversed."""

    ts: list[int] = field(default_factory=list)
    forward: list[CarryPoint] = field(default_factory=list)
    reverse: list[CarryPoint] = field(default_factory=list)

    def window(self, now: int, window_ms: int, direction: int) -> tuple[CarryPoint, ...]:
        lo, hi = bisect.bisect_right(self.ts, now - window_ms), bisect.bisect_right(self.ts, now)
        return tuple((self.reverse if direction < 0 else self.forward)[lo:hi])


def _history(path: PairPath) -> _History:
    out = _History()
    for p in sorted(path.points.values(), key=lambda q: q.ts_ms):
        if p.signal_8h is None:
            continue
        spread = None
        if p.marks is not None:
            mid = MONEY.divide(p.marks[0] + p.marks[1], TWO)
            spread = MONEY.divide(p.marks[1] - p.marks[0], mid)
        out.ts.append(p.ts_ms)
        out.forward.append(CarryPoint(ts=p.ts_ms, carry_8h=p.signal_8h, spread=spread))
        out.reverse.append(CarryPoint(ts=p.ts_ms, carry_8h=-p.signal_8h, spread=None if spread is None else -spread))
    return out


def trade_cost(spec: PairSpec, point: PathPoint, change: Decimal, notional: Decimal) -> tuple[Decimal, Decimal]:
    """(fees, traded notional) of resizing an open sleeve by `change` scale units: both legs at
    their marks (each leg N when the study had no prices); (0, 0) for a flat pair."""
    if point.direction == 0 or change == 0:
        return ZERO, ZERO
    size = abs(change)
    if point.marks is not None and point.qty > 0:
        legs = (MONEY.multiply(size, point.qty * point.marks[0]), MONEY.multiply(size, point.qty * point.marks[1]))
    else:
        legs = (size * notional, size * notional)
    fees = sum((MONEY.divide(MONEY.multiply(leg, fee), BPS_PER_UNIT) for leg, fee in zip(legs, spec.fees_bps,
                                                                                         strict=True)), ZERO)
    return fees, legs[0] + legs[1]


@dataclass(slots=True)
class _Book:
    """Mutable accumulators of one run (local to `run`)."""

    capital: Decimal
    scale: dict[str, Decimal]
    points: dict[str, PathPoint] = field(default_factory=dict)
    quality: dict[str, float] = field(default_factory=dict)
    pnl: Decimal = ZERO
    fees: Decimal = ZERO
    traded: Decimal = ZERO
    funding: Decimal = ZERO
    pair_pnl: dict[str, Decimal] = field(default_factory=dict)
    pair_fees: dict[str, Decimal] = field(default_factory=dict)
    pair_funding: dict[str, Decimal] = field(default_factory=dict)
    resizes: int = 0
    refusals: dict[str, int] = field(default_factory=dict)
    deleverings: int = 0
    liquidations: int = 0
    netting_losses: int = 0
    min_health: Decimal = Decimal(1)
    after_entry: Decimal | None = None
    min_distance: Decimal | None = None

    def exposures(self, specs: Mapping[str, PairSpec]) -> list[Exposure]:
        return [Exposure(spec=specs[k], scale=self.scale[k], point=p, quality=self.quality.get(k))
                for k, p in self.points.items()]

    def resize(self, spec: PairSpec, scale: Decimal) -> None:
        point = self.points[spec.pair_id]
        fees, traded = trade_cost(spec, point, scale - self.scale[spec.pair_id], self.capital)
        if traded:
            self.resizes += 1
        self.pnl -= fees
        self.fees += fees
        self.pair_pnl[spec.pair_id] = self.pair_pnl.get(spec.pair_id, ZERO) - fees
        self.pair_fees[spec.pair_id] = self.pair_fees.get(spec.pair_id, ZERO) + fees
        self.traded += traded
        self.scale[spec.pair_id] = scale


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    """What one run needs besides the paths: the capital (USD = the study notional N), the
    allocator's and the margin gates' configuration, and the venues (lots, min qty)."""

    capital: Decimal
    allocation: AllocationConfig
    margin: MarginConfig
    venues: Mapping[str, VenueConfig]


def _targets(book: _Book, paths: Mapping[str, PairPath], histories: Mapping[str, _History], policy: str,
             now: int, cfg: RunConfig) -> list[tuple[str, Decimal]]:
    """(pair, target notional) in the order to apply them: decreases, then increases."""
    if policy == EQUAL_WEIGHT:  # every pair its 1/n of the capital, from the first step to the last
        share = MONEY.divide(cfg.capital, Decimal(len(paths)))
        return sorted((k, share) for k in book.points)
    if policy != ALLOCATOR:
        wanted = {k: (cfg.capital if p.direction else ZERO) for k, p in book.points.items()}
        return sorted(wanted.items(), key=lambda kv: kv[1] > book.scale[kv[0]] * cfg.capital)
    window_ms = cfg.allocation.history_days * DAY_MS
    candidates = []
    for key, point in sorted(book.points.items()):
        direction = point.direction
        history = histories[key].window(now, window_ms, direction)
        carry = history[-1].carry_8h if direction and history else ZERO
        fees = paths[key].spec.fees_bps
        candidates.append(Candidate(pair_id=key, asset=paths[key].spec.asset, carry_8h=carry if direction else ZERO,
                                    history=history, round_trip_cost_bps=TWO * (fees[0] + fees[1]),
                                    rule_holds=direction != 0,
                                    current_notional=MONEY.multiply(book.scale[key], cfg.capital)))
    equity = cfg.capital + book.pnl
    allocation = allocate(AllocationRequest(equity=equity, ts=now, candidates=tuple(candidates)), cfg.allocation)
    for target in allocation.targets:
        book.quality[target.pair_id] = target.ratio
    targets = {t.pair_id: t.target_notional for t in allocation.targets}
    ordered = [(a.pair_id, targets.get(a.pair_id, ZERO)) for a in allocation.adjustments]
    return sorted(ordered, key=lambda kv: kv[1] > book.scale[kv[0]] * cfg.capital)  # stable: decreases first


def _margin_step(book: _Book, specs: Mapping[str, PairSpec], cfg: RunConfig) -> None:
    seen = check(book.exposures(specs), cfg.capital, cfg.margin, cfg.venues)
    book.min_health = min(book.min_health, seen.min_health)
    book.liquidations += len(seen.liquidated) + (seen.min_distance == 0)
    book.netting_losses += seen.netting_losses
    if seen.min_distance is not None:
        book.min_distance = seen.min_distance if book.min_distance is None else min(book.min_distance,
                                                                                    seen.min_distance)
    for key, fraction in sorted(seen.cuts.items()):
        book.deleverings += 1
        book.resize(specs[key], MONEY.multiply(book.scale[key], 1 - fraction))


def run(paths: Sequence[PairPath], policy: str, cfg: RunConfig,
        on_step: Callable[[int], None] | None = None) -> PortfolioResult:
    """Walk the pairs' 8h steps under `policy` (ALLOCATOR or a pair id; module docstring).
    `on_step(1)` after each step (progress). ValueError for an unknown policy or no steps."""
    with localcontext(MONEY):
        return _run(paths, policy, cfg, on_step)


def _run(paths: Sequence[PairPath], policy: str, cfg: RunConfig,
         on_step: Callable[[int], None] | None) -> PortfolioResult:
    by_key = {p.spec.pair_id: p for p in paths}
    if policy not in (ALLOCATOR, EQUAL_WEIGHT) and policy not in by_key:
        raise ValueError(f"unknown policy {policy!r}: {ALLOCATOR!r}, {EQUAL_WEIGHT!r} or one of {sorted(by_key)}")
    chosen = by_key if policy in (ALLOCATOR, EQUAL_WEIGHT) else {policy: by_key[policy]}
    specs = {k: p.spec for k, p in chosen.items()}
    histories = {k: _history(p) for k, p in chosen.items()}
    grid = sorted({bucket for p in chosen.values() for bucket in p.points})
    if not grid:
        raise ValueError("no steps: the candidates hold no points")
    book = _Book(capital=cfg.capital, scale=dict.fromkeys(chosen, ZERO))
    curve: list[tuple[int, Decimal]] = []
    ledger: list[tuple[int, Decimal, Decimal, Decimal]] = []
    weights: list[tuple[int, Mapping[str, Decimal]]] = []
    deployed_sum = ZERO
    for bucket in grid:
        arrived = {k: p.points[bucket] for k, p in chosen.items() if bucket in p.points}
        now = max(p.ts_ms for p in arrived.values())
        for key, point in arrived.items():
            before = book.points.get(key)
            scale = book.scale[key]
            pnl = MONEY.multiply(scale, point.pnl - (before.pnl if before else ZERO))
            fees = MONEY.multiply(scale, point.fees - (before.fees if before else ZERO))
            funding = MONEY.multiply(scale, point.funding - (before.funding if before else ZERO))
            book.pnl += pnl
            book.fees += fees
            book.funding += funding
            book.pair_pnl[key] = book.pair_pnl.get(key, ZERO) + pnl
            book.pair_fees[key] = book.pair_fees.get(key, ZERO) + fees
            book.pair_funding[key] = book.pair_funding.get(key, ZERO) + funding
            book.traded += MONEY.multiply(scale, point.traded - (before.traded if before else ZERO))
            book.points[key] = point
        _margin_step(book, specs, cfg)
        decided_equity = cfg.capital + book.pnl
        for key, target in _targets(book, chosen, histories, policy, now, cfg):
            scale = MONEY.divide(target, cfg.capital)
            held = book.scale[key]
            if scale > held and book.points[key].direction:
                exposures = book.exposures(specs)
                grow = next(e for e in exposures if e.spec.pair_id == key)
                refusal, health = gate_increase(exposures, grow, scale - held, cfg.capital, cfg.margin, cfg.venues)
                if refusal is not None:
                    book.refusals[refusal] = book.refusals.get(refusal, 0) + 1
                    continue
                book.after_entry = health if book.after_entry is None else min(book.after_entry, health)
            book.resize(specs[key], scale)
        open_notional = sum((MONEY.multiply(book.scale[k], cfg.capital) for k, p in book.points.items()
                             if p.direction), ZERO)
        deployed_sum += MONEY.divide(open_notional, cfg.capital)
        curve.append((now, cfg.capital + book.pnl))
        ledger.append((now, book.funding, book.fees, book.traded))
        weights.append((now, {k: MONEY.divide(MONEY.multiply(s, cfg.capital), decided_equity)
                              for k, s in book.scale.items() if s > 0}))
        if on_step is not None:
            on_step(1)
    return _result(policy, tuple(chosen), book, curve, weights, deployed_sum, ledger)


def _result(policy: str, pairs: tuple[str, ...], book: _Book, curve: list[tuple[int, Decimal]],
            weights: list[tuple[int, Mapping[str, Decimal]]], deployed_sum: Decimal,
            ledger: list[tuple[int, Decimal, Decimal, Decimal]]) -> PortfolioResult:
    start, end, capital = curve[0][0], curve[-1][0], book.capital
    years = years_between(start, end)
    flags = []
    if book.netting_losses:
        flags.append(f"{book.netting_losses} netted positions whose locked-in loss was floored at 0 USDT "
                     "in the margin accounts")
    return PortfolioResult(
        name={ALLOCATOR: "multi-pair portfolio", EQUAL_WEIGHT: "always in, equal weight"}.get(
            policy, f"best single pair: {policy}"), pairs=pairs,
        start_ms=start, end_ms=end, steps=len(curve), capital=capital, net_pnl=book.pnl,
        annual_return=annualised(book.pnl, capital, start, end), sharpe=daily_sharpe(curve, capital),
        max_drawdown=max_drawdown(curve, capital), utilisation=MONEY.divide(deployed_sum, Decimal(len(curve))),
        traded=book.traded, turnover=MONEY.divide(MONEY.divide(book.traded, capital), years) if years else ZERO,
        fees=book.fees, resizes=book.resizes, refusals=book.refusals, deleverings=book.deleverings,
        liquidations=book.liquidations, min_health=book.min_health, min_health_after_entry=book.after_entry,
        min_distance=book.min_distance, flags=tuple(flags), curve=tuple(curve), weights=tuple(weights),
        funding=book.funding, ledger=tuple(ledger),
        by_pair={k: PairFigures(funding=book.pair_funding.get(k, ZERO), fees=book.pair_fees.get(k, ZERO),
                                basis=book.pair_pnl.get(k, ZERO) - book.pair_funding.get(k, ZERO)
                                + book.pair_fees.get(k, ZERO), net=book.pair_pnl.get(k, ZERO))
                 for k in pairs if k in book.pair_pnl})


# -- the whole evaluation ---------------------------------------------------------------------


def between(series: Mapping[tuple[str, str], Sequence[_Record]], start_ms: int | None,
            end_ms: int | None) -> dict[tuple[str, str], tuple[_Record, ...]]:
    """The records published in `[start_ms, end_ms)` (`ts_local`; None = open), empty series dropped."""
    lo = start_ms if start_ms is not None else -(2**63)
    hi = end_ms if end_ms is not None else 2**63
    kept = {key: tuple(r for r in records if lo <= r.ts_local < hi) for key, records in series.items()}
    return {key: records for key, records in kept.items() if records}



@dataclass(frozen=True, slots=True, kw_only=True)
class Evaluation:
    """The portfolio, the best single pair (hindsight), the naive reference and the candidates."""

    portfolio: PortfolioResult
    single: PortfolioResult
    naive_apr: Decimal
    candidates: tuple[PairPath, ...]
    equal: PortfolioResult | None = None


def evaluate(funding: Mapping[tuple[str, str], Sequence[FundingRate]],
             candles: Mapping[tuple[str, str], Sequence[Candle]], cfg: RunConfig,
             params: StudyParams | None = None) -> Evaluation:
    """Simulate every candidate on N = `cfg.capital`, run the allocator portfolio and the best
    single pair (chosen in hindsight), and the naive figure. ValueError without candidates."""
    rules = StudyParams(notional=cfg.capital) if params is None else params
    if rules.notional != cfg.capital:
        raise ValueError(f"the study notional {rules.notional} must equal the capital {cfg.capital}")
    jobs = candidate_jobs(funding, candles, cfg.venues)
    paths = [p for job in jobs if (p := trace_pair(job, funding, candles, cfg.venues, rules)) is not None]
    if not paths:
        raise ValueError("no candidate pairs in the data (no linear perps on venues with a spot market or pairs)")
    best = best_single(paths)
    always = StudyParams(notional=rules.notional, strategy=always_in(rules.strategy))
    held = [p for job in jobs if job.strategy == CARRY
            and (p := trace_pair(job, funding, candles, cfg.venues, always)) is not None]
    return Evaluation(portfolio=run(paths, ALLOCATOR, cfg), single=run(paths, best.spec.pair_id, cfg),
                      naive_apr=naive_reference(paths), candidates=tuple(paths),
                      equal=run(held, EQUAL_WEIGHT, cfg) if held else None)


def always_in(rule: StrategyConfig) -> StrategyConfig:
    """The baseline's rule: in from the first settlement whose carry pays the round trip over a
    year (H 1,095), never out (no exit threshold, no basis stop) until the data ends."""
    return dataclasses.replace(rule, entry_margin_bps=ZERO, exit_carry_8h=Decimal("-0.99"), carry_window_intervals=1,
                               min_holding_intervals=1_095, default_holding_intervals=1_095,
                               max_holding_intervals=1_095, basis_stop_bps=Decimal(-9_999),
                               basis_reentry_bps=Decimal(-9_999))
