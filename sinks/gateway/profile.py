"""What the live gateway knows about one venue: its `VenueProfile`.

The generic gateway (client, orders, credentials, lane) holds no venue's name; every way in
which venues differ is a field here, and each venue the gateway trades fills in the ones it
needs in its own module under `sinks/gateway/venues/`. The defaults describe a venue that
needs nothing special: one order per request, orders looked up by ccxt's `fetch_order` with
the unified `clientOrderId`, one open-order sweep without parameters, no order stream.
"""

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from arbflow.model import client_ids
from arbflow.model.client_ids import ClientIdRule

# (ccxt exchange, canonical symbol, venue client id) → the venue's ccxt order, None when the
# venue holds no order with that client id.
OrderLookup = Callable[[Any, str, str], Awaitable[dict[str, Any] | None]]


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueProfile:
    """One venue's facts for live trading.

    - `name`: the venue as our records name it; `ccxt_id`, `ccxt_options`: the ccxt.pro
      class and the options it is built with.
    - `key_fields`: the ccxt settings our API key and secret go to (a wallet's address and
      private key on a DEX); `signed_headers`: regular expressions of the request headers
      that carry the key or a signature, redacted from every log line.
    - `batch_limit`: most orders in one native `create_orders` call (1: no batches);
      `batch_spot`: False where only contract markets batch.
    - `trades_by_order`: the parameter of `fetch_my_trades` that filters by venue order id
      (None: ccxt's `fetch_order_trades` where it has one, else all the symbol's trades).
    - `client_id_param`: the request parameter naming an order by its client id in cancels
      and lookups; `lookup`: a lookup by client id of the venue's own, for venues whose ccxt
      `fetch_order` cannot ask by it (None: `fetch_order`).
    - `open_order_sweeps`: the parameters of each `fetch_open_orders` of reconciliation, one
      per market type the venue lists separately.
    - `order_streams`: the parameters of each `watch_my_trades` stream (none: REST only).
    """

    name: str
    ccxt_id: str
    ccxt_options: Mapping[str, Any] = field(default_factory=dict)
    key_fields: tuple[str, str] = ("apiKey", "secret")
    signed_headers: tuple[str, ...] = ()
    batch_limit: int = 1
    batch_spot: bool = True
    trades_by_order: str | None = None
    client_id_param: str = "clientOrderId"
    lookup: OrderLookup | None = None
    open_order_sweeps: tuple[Mapping[str, str], ...] = ({},)
    order_streams: tuple[Mapping[str, str], ...] = ()

    @property
    def client_ids(self) -> ClientIdRule:
        """The venue's client-id rule, the one the execution desk derives its ids with."""
        return client_ids.rule(self.name)
