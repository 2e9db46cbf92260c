"""Portfolio snapshots and risk alerts (portfolio.state, risk.alert; docs/architecture.md §3.8)."""

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
