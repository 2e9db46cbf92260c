"""What the execution stage sends to a venue and what a venue answers (docs/architecture.md §3.7).

`OrderRequest` is one order as the venue sees it (quantity and limit already rounded to the
venue's lot and tick). `VenueEvent` is one answer: the paper venue (operators.execution.paper_venue)
produces them in process; a live venue sink would publish them for `execution.on_venue_event`.
Units: quantities in base units, prices quote per base, fees in `fee_currency` (positive =
paid, negative = rebate); `ts` stream time in ms.

`VenueEvent` itself is a model record (`model.execution`, topic `exec.venue`), re-exported here.
"""

from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.execution import OrderType, VenueEvent, VenueEventKind
from arbflow.model.market import Market, Side

__all__ = ["OrderRequest", "VenueEvent", "VenueEventKind"]


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
