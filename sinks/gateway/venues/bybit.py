"""Bybit for live trading: v5 spot and USDT linear perpetuals through ccxt's `bybit` class.

Batches of up to 20 linear orders (v5 create-batch); trades of one order by `orderId`; the
client id is `orderLinkId`, sent under that name in cancels and lookups (ccxt passes its
unified `clientOrderId` through unmapped there). Orders are looked up on `/v5/order/realtime`
by `orderLinkId` (`lookup`). Reconciliation sweeps spot and USDT-settled linear open orders.
"""

from typing import Any

from arbflow.sinks.gateway.profile import VenueProfile


async def lookup(exchange: Any, symbol: str, venue_client_id: str) -> dict[str, Any] | None:
    """The order with `orderLinkId` `venue_client_id`, None when Bybit holds none. ccxt's
    fetch_order always sends `orderId` (the text "None" when there is none yet, e.g. after a
    failed send) and its `clientOrderId` unmapped, so it cannot ask by client id.
    `/v5/order/realtime` with an `orderLinkId` answers that order in any state among the
    account's last 500."""
    market = exchange.market(symbol)
    category = "spot" if market.get("spot") else "linear" if market.get("linear") else "inverse"
    response = await exchange.privateGetV5OrderRealtime({"category": category, "symbol": market["id"],
                                                         "orderLinkId": venue_client_id})
    rows = (response.get("result") or {}).get("list") or []
    if not rows:
        return None
    found: dict[str, Any] = exchange.parse_order(rows[0], market)
    return found


PROFILE = VenueProfile(
    name="bybit",
    ccxt_id="bybit",
    # ccxt refuses fetchOrder (only the last 500 orders are queryable) unless acknowledged; the
    # gateway looks up its own recent orders by client id, which is what that window holds.
    ccxt_options={"fetchMarkets": {"types": ["spot", "linear"]}, "fetchCurrencies": False,
                  "fetchOrder": {"acknowledged": True}},
    signed_headers=("X-BAPI-[A-Z-]+",),
    batch_limit=20,
    trades_by_order="orderId",
    client_id_param="orderLinkId",
    lookup=lookup,
    open_order_sweeps=({"category": "spot"}, {"category": "linear", "settleCoin": "USDT"}),
)
