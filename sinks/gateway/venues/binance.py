"""Binance for live trading: spot and USDⓈ-M perpetuals through ccxt's `binance` class.

Batches: USDⓈ-M `batchOrders` takes 5 orders; spot has no batch endpoint. Trades of one
order by `orderId`. Reconciliation sweeps spot and USDⓈ-M open orders without a symbol. The
account's trades also come over USDⓈ-M's user-data stream (a listenKey from REST, then
ORDER_TRADE_UPDATE frames), next to REST polling.
"""

from arbflow.sinks.gateway.profile import VenueProfile

PROFILE = VenueProfile(
    name="binance",
    ccxt_id="binance",
    # Spot and USDⓈ-M markets (unified symbols pick the API); no currency list or margin pairs
    # (private endpoints once a key is set); open-order sweeps without a symbol allowed
    # (reconciliation needs them); watch_my_trades would also fetch a positions snapshot
    # (leverage brackets: another private read).
    ccxt_options={"fetchMarkets": {"types": ["spot", "linear"]}, "fetchCurrencies": False,
                  "fetchMargins": False, "warnOnFetchOpenOrdersWithoutSymbol": False,
                  "watchPositions": {"fetchPositionsSnapshot": False}},
    signed_headers=("X-MBX-APIKEY",),
    batch_limit=5,
    batch_spot=False,
    trades_by_order="orderId",
    open_order_sweeps=({"type": "spot"}, {"type": "swap", "subType": "linear"}),
    order_streams=({"type": "swap", "subType": "linear"},),
)
