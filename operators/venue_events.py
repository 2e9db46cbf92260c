"""What the execution stage sends to a venue and what a venue answers (DESIGN.md §3.7).

`OrderRequest` is one order as the venue sees it (quantity and limit already rounded to the
venue's lot and tick). `VenueEvent` is one answer: the paper venue (operators.paper_fills)
produces them in process; a live venue sink would publish them for `execution.on_venue_event`.
Units: quantities in base units, prices quote per base, fees in `fee_currency` (positive =
paid, negative = rebate); `ts` stream time in ms.

Proposal: `VenueEvent` belongs in `model/execution.py` (with a topic, e.g. `exec.venue`) once a
live sink publishes it — sinks may not import operators.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Literal

from model.execution import Liquidity, OrderType
from model.market import Market, Side

VenueEventKind = Literal["accepted", "fill", "canceled", "rejected"]
_ZERO = Decimal(0)


@dataclass(frozen=True, slots=True, kw_only=True)
class OrderRequest:
    """Place one order. `order_type` "limit" rests (after taking what crosses); "ioc" and
    "market" take liquidity up to `limit_px` (None = no limit) and cancel the rest."""

    client_order_id: str
    venue: str
    symbol: str
    market: Market
    side: Side
    order_type: OrderType
    qty: Decimal
    limit_px: Decimal | None = None
    ts: int


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueEvent:
    """A venue's answer about order `client_order_id` (the logical id).

    - "accepted": the order is live on the book (or being matched);
    - "fill": one execution of `qty` at `px` (`fill_id` unique per order, used to drop
      duplicates), `fee`, `liquidity`;
    - "canceled": the order is done; what was not filled will never fill (`reason` says why,
      e.g. IOC_REMAINDER, ORDER_TIMEOUT);
    - "rejected": the venue refused the order; nothing filled (`reason` a code or the venue's).
    """

    kind: VenueEventKind
    client_order_id: str
    venue: str
    ts: int
    fill_id: str | None = None
    px: Decimal | None = None
    qty: Decimal = _ZERO
    fee: Decimal = _ZERO
    fee_currency: str = ""
    liquidity: Liquidity | None = None
    reason: str | None = None
