"""Execution records: the append-only ledger on exec.intent / exec.order / exec.fill /
exec.trade, and the venues' answers on exec.venue (docs/architecture.md §4, §3.7).

Quantities are base units, prices quote per base, fees and PnL quote currency; every
`ts` is stream time in integer ms UTC. `client_order_id` is the logical id
(`entry_{symbol}_{ts}_{attempt}`, `unwind_{orig}`, `exit_…`, `hedge_…`);
`venue_client_id` is what was sent to the venue, derived from it deterministically.

`EntryDenied`, an entry the execution stage refused, has no topic: the flow counts it by
reason and drops it.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Final, Literal

from arbflow.model.market import Side

OrderType = Literal["limit", "market", "ioc"]
OrderStatus = Literal["new", "open", "partially_filled", "filled", "canceled", "rejected"]
IntentKind = Literal["entry", "exit", "hedge", "unwind", "cancel", "rebalance"]
Liquidity = Literal["maker", "taker"]
TradeStatus = Literal["pending", "active", "exiting", "closed", "rejected"]
VenueEventKind = Literal["accepted", "fill", "canceled", "rejected"]
_ZERO = Decimal(0)

# `OrderIntent.priority`: intents are handed to a venue in this order, lowest first
CANCEL_PRIORITY: Final = 0
DE_RISK_PRIORITY: Final = 1  # hedges, unwinds, exits and an entry's second leg
ENTRY_PRIORITY: Final = 2


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderIntent:
    """A decision to place or cancel one order; priority: 0 cancel, 1 de-risk, 2 entry."""

    intent_id: str
    trade_id: str
    kind: IntentKind
    venue: str
    symbol: str
    side: Side
    qty: Decimal
    order_type: OrderType
    limit_px: Decimal | None = None
    priority: int
    reason: str
    ts: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Order:
    """State of one order after an event. `filled_qty` only grows; `avg_px` is the VWAP."""

    client_order_id: str
    venue_client_id: str
    trade_id: str
    venue: str
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    limit_px: Decimal | None = None
    status: OrderStatus
    filled_qty: Decimal
    avg_px: Decimal | None = None
    reason: str | None = None
    ts: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Fill:
    """One execution against an order. `fee` is positive when paid, negative as a rebate."""

    fill_id: str
    client_order_id: str
    trade_id: str
    venue: str
    symbol: str
    side: Side
    px: Decimal
    qty: Decimal
    fee: Decimal
    fee_currency: str
    liquidity: Liquidity
    ts: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class LegOut:
    """A leg-out: one leg filled, the other did not within the timeout and was hedged."""

    filled_leg: Literal["long", "short"]
    ts_filled: int
    hedge_px: Decimal | None = None
    hedge_qty: Decimal
    cost: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class PairTrade:
    """A two-leg arbitrage trade after its latest event.

    PnL decomposition in quote currency: `realised_pnl == basis_pnl + funding_pnl − fees −
    slippage` where leg-out costs are inside basis/slippage and also reported in
    `leg_out_cost`.
    """

    trade_id: str
    asset: str
    long_venue: str
    long_symbol: str
    short_venue: str
    short_symbol: str
    status: TradeStatus
    notional: Decimal
    qty: Decimal
    entry_long_px: Decimal | None = None
    entry_short_px: Decimal | None = None
    entry_spread_bps: Decimal | None = None
    projected_profit: Decimal
    exit_long_px: Decimal | None = None
    exit_short_px: Decimal | None = None
    basis_pnl: Decimal = Decimal(0)
    funding_pnl: Decimal = Decimal(0)
    fees: Decimal = Decimal(0)
    slippage: Decimal = Decimal(0)
    realised_pnl: Decimal = Decimal(0)
    leg_outs: tuple[LegOut, ...] = ()
    leg_out_cost: Decimal = Decimal(0)
    exit_reason: str | None = None
    ts_entry: int
    ts_exit: int | None = None
    ts: int
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueEvent:
    """A venue's answer about order `client_order_id` (the logical id), on `exec.venue`.

    - "accepted": the order is live on the book (or being matched);
    - "fill": one execution of `qty` at `px` (`fill_id` unique per order, used to drop
      duplicates), `fee` in `fee_currency` (positive = paid, negative = rebate), `liquidity`;
    - "canceled": the order is done; what was not filled will never fill (`reason` says why,
      e.g. IOC_REMAINDER, ORDER_TIMEOUT);
    - "rejected": the venue refused the order; nothing filled (`reason` a code or the venue's).

    `symbol` is the order's canonical symbol (it keys the event to its asset's desk).
    The paper venue produces them in process; a live venue gateway publishes them and the
    execution desk folds them in (duplicates dropped by `fill_id` / terminal state).
    """

    kind: VenueEventKind
    client_order_id: str
    venue: str
    symbol: str
    ts: int
    fill_id: str | None = None
    px: Decimal | None = None
    qty: Decimal = _ZERO
    fee: Decimal = _ZERO
    fee_currency: str = ""
    liquidity: Liquidity | None = None
    reason: str | None = None
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class EntryDenied:
    """An accepted opportunity the execution stage refused; `reason` is a decision reason code
    (model.reasons), `detail` says what tripped it. Not published: the flow counts it by reason."""

    opportunity_id: str
    asset: str
    reason: str
    detail: str
    ts: int
    schema_version: int = 1
