"""Inputs of the portfolio-risk core (docs/architecture.md §3.8, §3.9): a unified-margin account and
proposed orders (operators.portfolio.margin, operators.portfolio.risk_gates), allocation candidates
(operators.portfolio.allocator), and the request documents of the agent tools
`arbflow simulate-margin --json` and `arbflow allocate --json` (cli/risk.py), which
model.codec decodes strictly (unknown fields, wrong types and non-finite money refused).

Money is USD (`Decimal`); quantities are base units; prices USD per base unit; carry and
spread are fractions (`carry_8h` per 8 h); `ts` is integer ms UTC of stream time.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from arbflow.model.market import Side

PositionSide = Literal["long", "short"]


@dataclass(frozen=True, slots=True, kw_only=True)
class CollateralBalance:
    """One asset held in the unified account. `balance` ≥ 0 in units of `asset` (a negative
    balance — a loan — is refused as input); `price` in USD per unit, None when unknown:
    the asset then counts zero and the result says so."""

    asset: str
    balance: Decimal
    price: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PerpPosition:
    """An open perp position (one per symbol: net mode): linear (`BTC/USDT:USDT`) or inverse
    (`BTC/USD:BTC`, coin-margined). `qty` > 0 base units — for an inverse perp at `entry_px`
    (contracts × contract size in USD / entry_px), so its fixed USD face is qty × entry_px;
    `quality` ranks de-leveraging (lowest first; None = unknown, reduced first); `pair_id`
    links it to the allocator's pair."""

    venue: str
    symbol: str
    side: PositionSide
    qty: Decimal
    entry_px: Decimal
    mark_px: Decimal
    quality: float | None = None
    pair_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginAccount:
    """A unified-margin account on `venue`: collateral balances and perp positions."""

    venue: str
    collateral: tuple[CollateralBalance, ...]
    positions: tuple[PerpPosition, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class ProposedOrder:
    """An order to simulate: spot (`BTC/USDT`, moves collateral), linear perp
    (`BTC/USDT:USDT`) or inverse perp (`BTC/USD:BTC`; `qty` base units at `px`, i.e.
    contracts × contract size in USD / px), filled in full at `px` (fees are not modelled:
    put them in `px`).
    `quality` and `pair_id` describe a position it opens."""

    order_id: str
    venue: str
    symbol: str
    side: Side
    qty: Decimal
    px: Decimal
    quality: float | None = None
    pair_id: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MarginRequest:
    """`arbflow simulate-margin --json` input. `pending_entries` are ids of entries in
    flight (they abort when health is critical); `assume_health`, if given, replaces the
    computed current health in the gate decisions — the what-if of the reference test
    ("inject health 0.5")."""

    account: MarginAccount
    orders: tuple[ProposedOrder, ...] = ()
    pending_entries: tuple[str, ...] = ()
    assume_health: Decimal | None = None
    schema_version: int = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class CarryPoint:
    """One 8 h-normalised carry observation of a pair; `spread` = (short px − long px) /
    mid as a fraction, when known (it adds basis moves to the pair's returns)."""

    ts: int
    carry_8h: Decimal
    spread: Decimal | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Candidate:
    """A pair the allocator may hold. `carry_8h` is its expected carry (≤ 0 excludes it,
    unless `rule_holds`: the carry rule keeps an open pair while its expected carry stays
    above the rule's exit threshold, which may be below 0);
    `history` its past carry, any order; `round_trip_cost_bps` fees + slippage of entering
    and leaving (4 fills) in bps of notional; `current_notional` what is held now and
    `pending_notional` what open entry orders would add; `sector` overrides the config's
    sector map."""

    pair_id: str
    asset: str
    carry_8h: Decimal
    history: tuple[CarryPoint, ...]
    round_trip_cost_bps: Decimal
    current_notional: Decimal = Decimal(0)
    pending_notional: Decimal = Decimal(0)
    sector: str | None = None
    rule_holds: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class AllocationRequest:
    """`arbflow allocate --json` input. `equity` (USD) sets the sector caps; `capital` is
    the notional to spread (None = `equity`); `ts` is now, in stream time."""

    equity: Decimal
    capital: Decimal | None = None
    ts: int
    candidates: tuple[Candidate, ...]
    schema_version: int = 1
