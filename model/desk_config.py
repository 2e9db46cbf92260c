"""One asset desk's configuration (`DeskConfig`) and the one builder that derives it from the
whole configuration (`desk_config`) — pure: no file, environment or clock.

The desk's operators read the configuration's own sections (`[signals]`, `[scanner]`, `[strategy]`,
`[execution]`, `[margin]`, `[allocation]`, the venue table) as parsed; what is not a section
but follows from the whole configuration is computed here, once: the trading mode, the
desk's share of the starting capital, the margin tables with fallbacks for venues that have
none, and how many configured assets share each narrative sector.
"""

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Final, Literal

from arbflow.model.config import (
    DEFAULT_MARGIN_VENUES,
    AllocationConfig,
    Config,
    ExecutionConfig,
    MarginConfig,
    PlausibilityConfig,
    ScannerConfig,
    SignalsConfig,
    StrategyConfig,
    VenueConfig,
    VenueMarginConfig,
)

TradeMode = Literal["paper", "live"]
# The key of the margin tables a venue without its own uses (see `with_fallback_tables`).
FALLBACK_TABLES: Final = "*"


@dataclass(frozen=True, slots=True, kw_only=True)
class DeskConfig:
    """What one asset's desk runs with (built by `desk_config`).

    `mode`: "paper" fills orders in process (the paper venue), "live" expects the venues'
    answers as `VenueEvent`s; None = the desk computes signals only and does not trade.
    `capital`: the desk's share of `execution.starting_capital` (USD). `margin`: the
    `[margin]` section with the fallback tables for every venue that has none of its own.
    `sector_assets`: per narrative sector, how many configured assets share it (the desk's
    sector cap is a share of the whole portfolio)."""

    venues: Mapping[str, VenueConfig]
    scanner: ScannerConfig
    strategy: StrategyConfig
    signals: SignalsConfig
    execution: ExecutionConfig
    margin: MarginConfig
    allocation: AllocationConfig
    mode: TradeMode | None
    capital: Decimal
    sector_assets: Mapping[str, int]
    plausibility: PlausibilityConfig = field(default_factory=PlausibilityConfig)


def desk_config(config: Config, mode: TradeMode | None = None) -> DeskConfig:
    """Every asset desk's configuration: each trades an equal share of the starting capital
    under its margin checks and its portfolio controller; `mode` None = signals only."""
    allocation = config.allocation
    sectors = Counter(sector_of(allocation, asset) for asset in config.universe.assets)
    return DeskConfig(venues=config.venues, scanner=config.scanner, strategy=config.strategy,
                      signals=config.signals,
                      execution=config.execution, margin=with_fallback_tables(config.margin, config.venues),
                      allocation=allocation, mode=mode,
                      capital=config.execution.starting_capital / len(config.universe.assets),
                      sector_assets=dict(sectors), plausibility=config.plausibility)


def desk_capital(config: Config) -> dict[str, Decimal]:
    """Each asset desk's share of `execution.starting_capital` (USD), by asset — the same
    share `desk_config` gives every desk."""
    share = desk_config(config).capital
    return dict.fromkeys(config.universe.assets, share)


def sector_of(allocation: AllocationConfig, asset: str) -> str:
    """The asset's narrative sector in the allocator's map (`unmapped_sector` if absent)."""
    return {k.upper(): v for k, v in allocation.sectors.items()}.get(asset.upper(), allocation.unmapped_sector)


def with_fallback_tables(margin: MarginConfig, venues: Iterable[str]) -> MarginConfig:
    """`margin` with the "*" tables for every venue in `venues` that has none of its own.
    Without a "*" entry in `margin.venues` the fallback is the conservative default: Binance's
    collateral haircuts and its "*" (50×) maintenance tiers."""
    fallback = margin.venues.get(FALLBACK_TABLES) or _DEFAULT_FALLBACK
    tables = {venue: fallback for venue in venues if venue not in margin.venues}
    return margin if not tables else replace(margin, venues={**margin.venues, **tables})


def _fallback() -> VenueMarginConfig:
    defaults = DEFAULT_MARGIN_VENUES["binance"]
    return VenueMarginConfig(haircuts=defaults.haircuts, maintenance={"*": defaults.maintenance["*"]},
                             maintenance_method=defaults.maintenance_method)


_DEFAULT_FALLBACK: Final = _fallback()
