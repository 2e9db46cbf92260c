"""Signal records computed by the dataflows: basis points and opportunities."""

from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.market import Market


@dataclass(frozen=True, slots=True, kw_only=True)
class BasisPoint:
    """Spot–perp basis of one asset on one venue at stream time `ts` (docs/architecture.md §3.3).

    `basis = (perp_mid − spot_mid) / spot_mid` as a fraction; `basis_bps = basis × 10⁴`.
    Both mids are the latest seen at `ts` (the `ts_local` of the triggering ticker).
    """

    asset: str
    venue: str
    spot_symbol: str
    perp_symbol: str
    spot_mid: Decimal
    perp_mid: Decimal
    basis: Decimal
    basis_bps: Decimal
    ts: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LatencyReading:
    """Latency of one venue at stream time `ts` (ms), docs/architecture.md §3.4, as measured on the
    messages of one asset (the signal step is keyed by asset). `offset_ms` = local − venue clock;
    `offset_source` is "poll" or "min"; `samples` = messages in the mean window."""

    venue: str
    asset: str = ""  # the asset whose stream measured it ("" = not tied to one)
    raw_mean_ms: float
    corrected_mean_ms: float
    offset_ms: float
    offset_source: str
    samples: int
    stale: bool
    ts: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfluenceComponents:
    """The six soft sub-scores of docs/architecture.md §3.5/§3.9, each in [0, 1]; None = no data.

    A None component is scored as a neutral 0.5 and named in `Opportunity.flags`.
    """

    funding: float | None = None
    imbalance: float | None = None
    open_interest: float | None = None
    vwap: float | None = None
    volatility: float | None = None
    liquidations: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Opportunity:
    """A candidate pair: long `long_symbol` on `long_venue`, short on `short_venue`.

    Spreads in bps per docs/architecture.md §3.9; `carry_8h` is a fraction per 8h, `carry_apr` a
    fraction per year; `notional` and `projected_profit` in quote currency (USD), the
    projected profit over `holding_intervals`, the carry rule's expected holding period H in
    8 h intervals, and `expected_carry_8h` the expected carry μ̂ the rule decided on (the
    mean of the last settled carries with the current one; None = not priced that far;
    operators/strategy/).
    `accepted` is False with a `reason` code (and a human `detail`) when a filter or hard
    constraint refused it; `flags` name the soft metrics that had no data.
    """

    opportunity_id: str
    asset: str
    long_venue: str
    long_symbol: str
    long_market: Market
    short_venue: str
    short_symbol: str
    short_market: Market
    long_px: Decimal
    short_px: Decimal
    entry_spread_bps: Decimal
    close_spread_bps: Decimal
    carry_8h: Decimal | None = None
    carry_apr: Decimal | None = None
    basis: Decimal | None = None
    slippage_bps: Decimal
    fees_bps: Decimal
    notional: Decimal
    projected_profit: Decimal
    holding_intervals: int | None = None
    expected_carry_8h: Decimal | None = None
    depth_long: Decimal
    depth_short: Decimal
    score: int
    components: ConfluenceComponents
    flags: tuple[str, ...] = ()
    accepted: bool
    reason: str | None = None
    detail: str | None = None
    ts: int
    schema_version: int = 1

    @property
    def rule_carry_8h(self) -> Decimal | None:
        """The carry the rule decides on: the expected carry, else the current one."""
        return self.expected_carry_8h if self.expected_carry_8h is not None else self.carry_8h
