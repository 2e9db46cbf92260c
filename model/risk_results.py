"""Results of the portfolio-risk core (docs/architecture.md §3.8, §3.9): the margin simulator's
projection (operators.portfolio.margin), the gates' decisions (operators.portfolio.risk_gates) and the
allocator's targets (operators.portfolio.allocator). The agent tools print them as JSON (money as
decimal strings); their JSON Schemas come from `model.schema.record_schema`.

Money is USD; ratios are fractions (health 0.8, margin use 0.65); moves are signed
fractions of a price (−0.35 = the price falls 35 %); scores and weights are floats.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from arbflow.model.risk import PositionSide

Effect = Literal["entry", "reduce", "none"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """Something the simulator did conservatively (a warning) or a limit broken (a
    breach): a reason code, a sentence, and what it is about."""

    code: str
    detail: str
    subject: str | None = None
    value: Decimal | None = None
    threshold: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CollateralValue:
    """One asset's contribution: `value` = balance × price, `effective` after haircut."""

    asset: str
    balance: Decimal
    price: Decimal | None
    value: Decimal
    effective: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PositionRisk:
    """One position's numbers. `liquidation_move` is the signed fraction of `mark_px` that
    takes health to 0 with everything else fixed (None: not within −100 % … +1000 %);
    `asset_liquidation_move` the same with every position and collateral of `asset`."""

    symbol: str
    asset: str
    side: PositionSide
    qty: Decimal
    entry_px: Decimal
    mark_px: Decimal
    notional: Decimal
    maintenance: Decimal
    unrealised_pnl: Decimal
    liquidation_move: Decimal | None
    liquidation_px: Decimal | None
    asset_liquidation_move: Decimal | None
    quality: float | None = None
    pair_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginState:
    """The account's margin at one point; `breaches` are the limits broken, `warnings`
    the conservative substitutions made. Ratios shown to 8 places, rounded to the safe side."""

    venue: str
    effective_collateral: Decimal
    unrealised_pnl: Decimal
    realised_pnl: Decimal
    adjusted_equity: Decimal
    maintenance: Decimal
    health: Decimal
    margin_use: Decimal
    leverage: Decimal
    collateral: tuple[CollateralValue, ...]
    positions: tuple[PositionRisk, ...]
    warnings: tuple[Finding, ...]
    breaches: tuple[Finding, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderOutcome:
    """What simulating one order did. `effect`: "entry" adds exposure (opens, grows or
    flips a perp, or a spot trade that lowers health), "reduce" only shrinks a perp or
    raises health. Not `applied` (dust, not enough collateral) carries a reason code."""

    order_id: str
    applied: bool
    effect: Effect
    reason: str | None = None
    detail: str | None = None
    health: Decimal
    margin_use: Decimal
    leverage: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Projection:
    """`simulate`'s answer: the account now, after every proposed order, and per order."""

    before: MarginState
    after: MarginState
    orders: tuple[OrderOutcome, ...]




@dataclass(frozen=True, slots=True, kw_only=True)
class GateDecision:
    """The gate's verdict on one proposed order, judged after the orders accepted before
    it. A refusal always carries a reason code; reducing orders are never refused for risk."""

    order_id: str
    accepted: bool
    effect: Effect
    reason: str | None = None
    detail: str | None = None
    health_before: Decimal
    health_after: Decimal
    margin_use_after: Decimal
    leverage_after: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class Abort:
    """A pending entry to abort, and why (HEALTH_CRITICAL)."""

    entry_id: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Reduction:
    """A de-risking intent: trade `qty` of `symbol` on `side` (buy closes a short) at
    about `mark_px`, `fraction` of the position; priority 1 (cancel 0 > de-risk 1 > entry 2).
    The controller reduces the whole pair (`pair_id`) by the same fraction."""

    venue: str
    symbol: str
    pair_id: str | None = None
    side: Literal["buy", "sell"]
    qty: Decimal
    fraction: Decimal
    mark_px: Decimal
    quality: float | None = None
    reason: str
    priority: int = 1
    health_after: Decimal
    margin_use_after: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class RiskResponse:
    """What the gates want done now: `pause_entries` while health is critical, `aborts`
    of pending entries, `reductions` lowest quality first, and the per-order decisions."""

    health: Decimal
    margin_use: Decimal
    critical: bool
    pause_entries: bool
    decisions: tuple[GateDecision, ...]
    aborts: tuple[Abort, ...]
    reductions: tuple[Reduction, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PairTarget:
    """The allocator's view of one pair. `ratio` = mean / std of its 8 h carry over the
    window (`history_points` observations); `softmax_weight` before and `weight` after the
    correlation penalty, sector caps and hysteresis (= target / capital); `ideal_notional`
    is the capped target, `target_notional` what to hold after hysteresis; `action` says
    what the adjustments do, `reason` why (a code), `flags` what was approximated or cut."""

    pair_id: str
    asset: str
    sector: str
    ratio: float
    mean_carry_8h: Decimal
    std_carry_8h: Decimal
    history_points: int
    softmax_weight: float
    weight: float
    ideal_notional: Decimal
    target_notional: Decimal
    current_notional: Decimal
    pending_notional: Decimal
    action: Literal["enter", "increase", "reduce", "exit", "hold"]
    reason: str | None = None
    flags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Exclusion:
    """A candidate that gets no allocation, with the reason code."""

    pair_id: str
    reason: str
    detail: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Adjustment:
    """`target − current` as an intent: `change` in USD notional (negative = less);
    `kind` cancel (open entry orders), reduce/exit (de-risk) or enter/increase;
    `priority` 0 cancel > 1 de-risk > 2 entry, the order they are handed on in."""

    pair_id: str
    kind: Literal["cancel", "reduce", "exit", "enter", "increase"]
    change: Decimal
    priority: int
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SectorUse:
    """A sector's notional after the allocation against its cap (`cap_fraction` × equity)."""

    sector: str
    notional: Decimal
    cap: Decimal
    capped: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class Allocation:
    """The allocator's answer at stream time `ts`. `reason` is NO_CANDIDATES when there was
    nothing to allocate. Adjustments come sorted by priority."""

    ts: int
    equity: Decimal
    capital: Decimal
    deployed: Decimal
    reason: str | None = None
    targets: tuple[PairTarget, ...]
    excluded: tuple[Exclusion, ...]
    adjustments: tuple[Adjustment, ...]
    sectors: tuple[SectorUse, ...]
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginAnswer:
    """`arbflow simulate-margin --json` output: the what-if of every proposed order
    (`projection`) and the gates' verdicts, aborts and reductions (`gates`)."""

    projection: Projection
    gates: RiskResponse
    schema_version: int = 1
