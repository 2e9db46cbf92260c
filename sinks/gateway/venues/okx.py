"""OKX for live trading: spot and USDT swaps through ccxt's `okx` class.

Batches of up to 20 orders (`batch-orders`); trades of one order by `ordId`; the client id is
`clOrdId` (ccxt maps its unified `clientOrderId`). Reconciliation sweeps SPOT and SWAP open
orders. The API password is OKX's passphrase.
"""

from arbflow.sinks.gateway.profile import VenueProfile

PROFILE = VenueProfile(
    name="okx",
    ccxt_id="okx",
    # OKX ignores `fetchCurrencies` and, once keyed, would ask its private asset/currencies
    # (a funding-read permission); the gateway also switches the capability off.
    ccxt_options={"fetchMarkets": {"types": ["spot", "swap"]}, "fetchCurrencies": False},
    signed_headers=("OK-ACCESS-[A-Z]+",),
    batch_limit=20,
    trades_by_order="ordId",
    open_order_sweeps=({"instType": "SPOT"}, {"instType": "SWAP"}),
)
