"""Portfolio snapshots and risk alerts (portfolio.state, risk.alert; docs/architecture.md §3.8)."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True, kw_only=True)
class PortfolioState:
    """Ledger snapshot in quote currency at stream time `ts`.

    Invariants: `available + open_notional == starting_capital + realised_pnl` and
    `cumulative_pnl == Σ closed trade PnL` (leg-out losses included, and also in
    `leg_out_loss`). `margin_health` is None until a margin model is attached. With one
    desk per asset (the default dataflow), `asset` names the desk and the portfolio is the
    sum of the desks' latest states.
    """

    starting_capital: Decimal
    available: Decimal
    open_notional: Decimal
    realised_pnl: Decimal
    unrealised_pnl: Decimal
    cumulative_pnl: Decimal
    open_positions: int
    closed_trades: int
    win_count: int
    loss_count: int
    leg_out_count: int
    leg_out_loss: Decimal
    margin_health: Decimal | None = None
    liquidation_distance: Decimal | None = None  # smallest price move (fraction) to health 0; None: none
    asset: str | None = None  # the desk (base asset) this ledger belongs to; None = the whole portfolio
    ts: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """A risk alert. `code` is an UPPER_SNAKE reason; `value` the measured quantity and
    `threshold` the limit it crossed (same unit; None where the rule has no single number)."""

    code: str
    severity: Severity
    message: str
    venue: str | None = None
    asset: str | None = None
    value: Decimal | None = None
    threshold: Decimal | None = None
    ts: int
    schema_version: int = 1


def opening_state(asset: str, capital: Decimal) -> PortfolioState:
    """A desk's ledger before its first record: its whole `capital` (USD) available, nothing
    open, no PnL; `ts` 0 (it never makes a total newer than the desks that reported)."""
    zero = Decimal(0)
    return PortfolioState(starting_capital=capital, available=capital, open_notional=zero, realised_pnl=zero,
                          unrealised_pnl=zero, cumulative_pnl=zero, open_positions=0, closed_trades=0, win_count=0,
                          loss_count=0, leg_out_count=0, leg_out_loss=zero, asset=asset, ts=0)


def every_desk(reported: Iterable[PortfolioState], desks: Mapping[str, Decimal]) -> list[PortfolioState]:
    """The latest ledger of every configured desk (`desks`: asset → its share of the starting
    capital, USD): a desk that has not reported yet counts with its `opening_state` — its
    capital is available, not missing from the portfolio. A reported ledger of an asset outside
    `desks` (an earlier run's universe under the same key prefix) is left out. Sorted by asset."""
    latest = {s.asset: s for s in reported if s.asset in desks}
    return [latest.get(asset) or opening_state(asset, capital) for asset, capital in sorted(desks.items())]
