"""Yield-to-volatility allocator (docs/architecture.md §3.8, §3.9 Allocation) — pure; money `Decimal`
(USD, rounded down to cents: never over-allocated), scores and weights float.

`allocate(request, cfg)`, for `AllocationConfig` cfg (defaults in brackets):
1. Exclusions: expected carry ≤ 0 → CARRY_NOT_POSITIVE (not for an open pair the carry rule
   still holds, `rule_holds`); fewer than `min_history_points` [3]
   carry observations in the last `history_days` [30] → HISTORY_TOO_SHORT; beyond the best
   `max_pairs` [20] by ratio → PAIR_LIMIT. A shorter history than the window is used and
   flagged SHORT_HISTORY. (Ratio, returns and correlation: operators.portfolio.allocation_stats.)
2. Weights: `softmax(ratio / temperature)` [T = 1] over the kept pairs.
3. Correlation penalty: `w_i ← w_i × (1 − κ × Σ_{j≠i} w_j × max(ρ_ij, 0))` [κ = 0.5]: a pair
   shrinks by the weight of the others it moves with; the sum may fall below 1 (cash).
   Too little shared history → ρ from the prior (1 for the same asset, else 0), flagged.
4. Ideal notional `capital × w_i`; a sector holds at most `sector_cap` [15 %] × equity: an
   over-cap sector is scaled to its cap and the excess goes, in proportion, to sectors
   still below theirs (SECTOR_CAPPED).
5. Hysteresis per pair, held = current + pending, Δ = ideal − held, μ the pair's mean
   carry per 8 h, H = `gain_horizon_intervals` [90], m = `gain_cost_multiple` [2.5], cost
   its round-trip cost in bps / 10⁴ (gain |Δ| × μ × H and cost |Δ| × cost both scale with
   |Δ|, so the test is per unit of notional):
   - forced, no test: excluded pairs exit, pending orders above the ideal are cancelled,
     and any decrease while Σ held > capital or the pair's sector is above its cap;
   - a decrease passes when |Δ| > band × current [7 %] and (μ̄ − μ_i) × H > m × cost, μ̄
     the ideal portfolio's notional-weighted mean carry (the capital earns more elsewhere);
   - an increase passes when (held = 0 or Δ > band × held) and μ_i × H > m × cost; then,
     best ratio first, it is cut to the free capital (CAPITAL_EXHAUSTED) and the sector's
     room (SECTOR_CAPPED) — entries grow as exits free capital.
6. Adjustments `target − held`, sorted cancel (0) > de-risk (1) > entry (2).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Final, Literal

from arbflow.model import reasons
from arbflow.model.config import AllocationConfig
from arbflow.model.errors import RiskInputError
from arbflow.model.money import BPS_PER_UNIT, MONEY
from arbflow.model.risk import AllocationRequest, Candidate, CarryPoint
from arbflow.model.risk_results import Adjustment, Allocation, Exclusion, PairTarget, SectorUse
from arbflow.operators.portfolio.allocation_stats import (
    DAY_MS,
    CarryStats,
    carry_stats,
    ew_correlation,
    in_window,
    returns,
    softmax,
)

_ZERO: Final = Decimal(0)
_CENT: Final = Decimal("0.01")
_SHOWN: Final = Decimal("1E-12")  # carry statistics as shown (the decisions use them exact)
_EIGHT_HOURS_MS: Final = 8 * 3_600_000
Action = Literal["enter", "increase", "reduce", "exit", "hold"]


def _cents(value: Decimal) -> Decimal:
    return value.quantize(_CENT, rounding=ROUND_DOWN)


@dataclass(slots=True)
class _Pair:
    candidate: Candidate
    sector: str
    flags: list[str] = field(default_factory=list)
    stats: CarryStats | None = None
    series: dict[int, float] = field(default_factory=dict)
    softmax: float = 0.0
    weight: float = 0.0
    ideal: Decimal = _ZERO
    target: Decimal = _ZERO
    action: Action = "hold"
    reason: str | None = None

    @property
    def held(self) -> Decimal:
        return self.candidate.current_notional + self.candidate.pending_notional

    def flag(self, code: str) -> None:
        if code not in self.flags:
            self.flags.append(code)


def _validate(request: AllocationRequest) -> None:
    if not request.equity > 0:
        raise RiskInputError("equity", f"must be > 0, got {request.equity}")
    if request.capital is not None and request.capital < 0:
        raise RiskInputError("capital", f"must be >= 0, got {request.capital}")
    seen: set[str] = set()
    for i, c in enumerate(request.candidates):
        if c.pair_id in seen:
            raise RiskInputError(f"candidates[{i}].pair_id", f"{c.pair_id!r} is listed twice")
        seen.add(c.pair_id)
        for name in ("round_trip_cost_bps", "current_notional", "pending_notional"):
            if getattr(c, name) < 0:
                raise RiskInputError(f"candidates[{i}].{name}", f"must be >= 0, got {getattr(c, name)}")


def _sector_totals(pairs: list[_Pair], amount: str) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for p in pairs:
        totals[p.sector] = totals.get(p.sector, _ZERO) + getattr(p, amount)
    return totals


def _cap_sectors(kept: list[_Pair], limit: Decimal) -> set[str]:
    """Scale over-cap sectors to the cap and hand the excess to the others (in place)."""
    capped: set[str] = set()
    for _ in range(len(kept) + 1):
        totals = _sector_totals(kept, "ideal")
        over = {s for s, total in totals.items() if total > limit}
        if not over:
            break
        excess = _ZERO
        for p in kept:
            if p.sector in over:
                scaled = _cents(MONEY.divide(MONEY.multiply(p.ideal, limit), totals[p.sector]))
                excess += p.ideal - scaled
                p.ideal = scaled
                p.flag(reasons.SECTOR_CAPPED)
        capped |= over
        open_pairs = [p for p in kept if p.sector not in capped and p.ideal > 0]
        base = sum((p.ideal for p in open_pairs), _ZERO)
        if base <= 0:
            break
        for p in open_pairs:  # an open sector pushed over its cap is scaled back next round
            p.ideal += _cents(MONEY.divide(MONEY.multiply(excess, p.ideal), base))
    return capped


def _correlation_penalty(kept: list[_Pair], cfg: AllocationConfig) -> None:
    rhos: dict[tuple[int, int], float] = {}
    for i, p in enumerate(kept):
        for j in range(i + 1, len(kept)):
            q = kept[j]
            rho = ew_correlation(p.series, q.series, cfg.ewma_lambda, cfg.min_overlap_points)
            if rho is None:
                rho = 1.0 if p.candidate.asset == q.candidate.asset else 0.0
                p.flag(reasons.CORRELATION_PRIOR)
                q.flag(reasons.CORRELATION_PRIOR)
            rhos[i, j] = rhos[j, i] = rho
    for i, p in enumerate(kept):
        co_moving = sum(q.softmax * max(rhos[i, j], 0.0) for j, q in enumerate(kept) if j != i)
        p.weight = max(p.softmax * (1.0 - cfg.correlation_penalty * co_moving), 0.0)
    total = sum(p.weight for p in kept)
    for p in kept:  # renormalised: the penalty moves weight between pairs, it does not create cash
        p.weight = p.weight / total if total > 0 else p.softmax
        if p.weight < p.softmax * 0.95:  # flag cuts of more than 5 %
            p.flag(reasons.CORRELATED)


def _decide(pairs: list[_Pair], capital: Decimal, limit: Decimal, cfg: AllocationConfig,
            adjustments: list[Adjustment]) -> None:
    """Step 5 of the module docstring: set each pair's target, action and reason."""
    kept = [p for p in pairs if p.stats is not None]
    total_ideal = sum((p.ideal for p in kept), _ZERO)
    mean_carry = (MONEY.divide(sum((MONEY.multiply(p.ideal, p.stats.mean) for p in kept if p.stats), _ZERO),
                               total_ideal) if total_ideal > 0 else _ZERO)
    smallest = MONEY.multiply(cfg.min_trade_fraction, capital)  # no resize below this (exits excepted)
    slack = 1 + cfg.rebalance_band  # a cap or the capital overshot by less than the band is no reason to trade
    over_capital = sum((p.held for p in pairs), _ZERO) > MONEY.multiply(slack, capital)
    over_limit = MONEY.multiply(slack, limit)
    held_by_sector = _sector_totals(pairs, "held")
    horizon, multiple = Decimal(cfg.gain_horizon_intervals), cfg.gain_cost_multiple
    rising: list[_Pair] = []
    for p in pairs:
        c, ideal = p.candidate, p.ideal
        cost = MONEY.multiply(multiple, MONEY.divide(c.round_trip_cost_bps, BPS_PER_UNIT))
        p.target = c.current_notional
        if ideal < p.held and c.pending_notional > 0:
            cancel = min(c.pending_notional, p.held - ideal)
            adjustments.append(Adjustment(pair_id=c.pair_id, kind="cancel", change=-cancel, priority=0,
                                          reason=p.reason or reasons.CANCEL_PENDING))
            p.target = p.held - cancel
        elif c.pending_notional > 0:
            p.target = p.held
        if p.stats is None:  # excluded: exit, no test
            if c.current_notional > 0:
                adjustments.append(Adjustment(pair_id=c.pair_id, kind="exit", change=-c.current_notional,
                                              priority=1, reason=p.reason or reasons.REBALANCE_DOWN))
                p.target, p.action = _ZERO, "exit"
            continue
        if ideal < c.current_notional:
            drop = c.current_notional - ideal
            forced = reasons.SECTOR_CAPPED if held_by_sector[p.sector] > over_limit else \
                reasons.CAPITAL_EXHAUSTED if over_capital else None
            if forced is None and ideal > 0 and (drop <= MONEY.multiply(cfg.rebalance_band, c.current_notional)
                                                 or drop < smallest):
                p.reason = reasons.WITHIN_BAND
            elif forced is None and (mean_carry - p.stats.mean) * horizon <= cost:
                p.reason = reasons.GAIN_BELOW_COSTS
            else:
                p.action = "exit" if ideal == 0 else "reduce"
                p.reason, p.target = forced or reasons.REBALANCE_DOWN, ideal
                adjustments.append(Adjustment(pair_id=c.pair_id, kind=p.action, change=-drop, priority=1,
                                              reason=p.reason))
        elif ideal > p.held:
            if p.held > 0 and ideal - p.held <= MONEY.multiply(cfg.rebalance_band, p.held):
                p.reason = reasons.WITHIN_BAND
            elif p.stats.mean * horizon <= cost:
                p.reason = reasons.GAIN_BELOW_COSTS
            else:
                rising.append(p)
    committed = sum((p.target for p in pairs), _ZERO)
    by_sector = _sector_totals(pairs, "target")
    for p in sorted(rising, key=lambda q: (-(q.stats.ratio if q.stats else 0.0), q.candidate.pair_id)):
        wanted = p.ideal - p.held
        free, room = capital - committed, limit - by_sector[p.sector]
        amount = _cents(max(_ZERO, min(wanted, free, room)))
        short_by = reasons.CAPITAL_EXHAUSTED if free <= room else reasons.SECTOR_CAPPED
        if amount <= 0 or amount <= MONEY.multiply(cfg.rebalance_band, max(p.held, p.ideal)) or amount < smallest:
            p.reason = short_by if amount < wanted else reasons.WITHIN_BAND
            continue
        if amount < wanted:
            p.flag(short_by)
        p.action, p.reason = ("enter" if p.held == 0 else "increase"), reasons.REBALANCE_UP
        p.target = p.held + amount
        committed += amount
        by_sector[p.sector] += amount
        adjustments.append(Adjustment(pair_id=p.candidate.pair_id, kind=p.action, change=amount, priority=2,
                                      reason=reasons.REBALANCE_UP))


def sector_limit(equity: Decimal, sectors: int, cfg: AllocationConfig) -> Decimal:
    """The most one sector may hold: `max(sector_cap, 1 / sectors) × equity`, `sectors` the
    number of sectors among the candidates (the universe, eligible or not, so the limit
    does not move as pairs come and go) — a universe of fewer than 1/cap sectors does not
    leave capital idle (two sectors may hold half each), a wider one is capped."""
    share = cfg.sector_cap if sectors == 0 else max(cfg.sector_cap, MONEY.divide(Decimal(1), Decimal(sectors)))
    return _cents(MONEY.multiply(share, equity))  # cents, rounded down: a cap is never exceeded by rounding


def allocate(request: AllocationRequest, cfg: AllocationConfig) -> Allocation:
    """Target notional per pair and the adjustments to get there (see the module
    docstring). Raises `RiskInputError` on invalid input; an empty candidate list answers
    NO_CANDIDATES with nothing allocated."""
    _validate(request)
    capital = request.equity if request.capital is None else request.capital
    if not request.candidates:
        return Allocation(ts=request.ts, equity=request.equity, capital=capital, deployed=_ZERO,
                          reason=reasons.NO_CANDIDATES, targets=(), excluded=(), adjustments=(), sectors=())
    sectors: Mapping[str, str] = {k.upper(): v for k, v in cfg.sectors.items()}
    window_ms = cfg.history_days * DAY_MS
    pairs, eligible, excluded = [], [], []
    window_points: dict[str, tuple[CarryPoint, ...]] = {}
    for c in request.candidates:
        sector = c.sector or sectors.get(c.asset.upper()) or cfg.unmapped_sector
        p = _Pair(candidate=c, sector=sector)
        if c.sector is None and c.asset.upper() not in sectors:
            p.flag(reasons.UNMAPPED_SECTOR)
        points = in_window(c.history, request.ts, window_ms)
        if c.carry_8h <= 0 and not (c.rule_holds and c.current_notional > 0):
            p.reason = reasons.CARRY_NOT_POSITIVE
            excluded.append(Exclusion(pair_id=c.pair_id, reason=p.reason, detail=f"current carry {c.carry_8h} <= 0"))
        elif len(points) < cfg.min_history_points:
            p.reason = reasons.HISTORY_TOO_SHORT
            excluded.append(Exclusion(pair_id=c.pair_id, reason=p.reason,
                                      detail=f"{len(points)} carry points in {cfg.history_days} days, "
                                             f"need {cfg.min_history_points}"))
        else:
            p.stats, p.series = carry_stats(points, cfg.min_carry_std), {}
            window_points[c.pair_id] = points
            if points[-1].ts - points[0].ts < window_ms - _EIGHT_HOURS_MS:
                p.flag(reasons.SHORT_HISTORY)
            eligible.append(p)
        pairs.append(p)
    eligible.sort(key=lambda q: (-(q.stats.ratio if q.stats else 0.0), q.candidate.pair_id))
    for p in eligible[cfg.max_pairs:]:
        p.stats, p.reason = None, reasons.PAIR_LIMIT
        excluded.append(Exclusion(pair_id=p.candidate.pair_id, reason=p.reason,
                                  detail=f"not among the best {cfg.max_pairs} by carry ratio"))
    kept = eligible[:cfg.max_pairs]
    limit = sector_limit(request.equity, len({p.sector for p in pairs}), cfg)
    for p in kept:  # returns only for the kept: correlations are taken among them
        p.series = returns(window_points[p.candidate.pair_id])
    for p, w in zip(kept, softmax([p.stats.ratio for p in kept if p.stats], cfg.temperature), strict=True):
        p.softmax = w
    _correlation_penalty(kept, cfg)
    for p in kept:
        p.ideal = _cents(MONEY.multiply(capital, Decimal(f"{max(p.weight, 0.0):.12f}")))
    capped = _cap_sectors(kept, limit)
    adjustments: list[Adjustment] = []
    shown = [p for p in pairs if p.stats is not None or p.held > 0]
    _decide(shown, capital, limit, cfg, adjustments)
    adjustments.sort(key=lambda a: (a.priority, -abs(a.change), a.pair_id))
    targets = tuple(_target(p, capital) for p in shown)
    by_sector = _sector_totals(shown, "target")
    return Allocation(
        ts=request.ts, equity=request.equity, capital=capital, deployed=sum((p.target for p in shown), _ZERO),
        targets=targets, excluded=tuple(excluded), adjustments=tuple(adjustments),
        sectors=tuple(SectorUse(sector=s, notional=n, cap=limit, capped=s in capped or n >= limit)
                      for s, n in sorted(by_sector.items())))


def _target(p: _Pair, capital: Decimal) -> PairTarget:
    c, stats = p.candidate, p.stats
    return PairTarget(
        pair_id=c.pair_id, asset=c.asset, sector=p.sector, ratio=stats.ratio if stats else 0.0,
        mean_carry_8h=stats.mean.quantize(_SHOWN) if stats else _ZERO,
        std_carry_8h=stats.std.quantize(_SHOWN) if stats else _ZERO,
        history_points=stats.points if stats else 0, softmax_weight=p.softmax,
        weight=float(MONEY.divide(p.target, capital)) if capital > 0 else 0.0, ideal_notional=p.ideal,
        target_notional=p.target, current_notional=c.current_notional, pending_notional=c.pending_notional,
        action=p.action, reason=p.reason, flags=tuple(p.flags))
