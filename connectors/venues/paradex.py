"""Paradex (DEX perps, USDC-settled) through ccxt.pro — live feeds only; no capture parser.

Symbols: `BTC-USD-PERP` → `BTC/USD:USDC` (quoted in USD, settled in USDC; ccxt names it
the same). md.ticker is the top of `watch_order_book` (Paradex's `order_book` snapshots);
trades from `watch_trades` (price/size). Funding from REST `/v1/markets/summary`
(`funding_rate`, an 8-hour rate as a decimal string, `created_at` ms). Paradex funding
accrues continuously: there is no settlement time, ccxt gives no `fundingTimestamp`, and
`md.funding` needs one (docs/architecture.md §3.2, the execution model settles at it) — so these
records are refused as MISSING_FIELD to `dlq.md.funding` until the design says how a
continuous rate is modelled. Inventing a settlement time would make the ledger pay
funding at the wrong moments. For the same reason ccxt's `watchFundingRate`
(`funding_data`, pushed per market update, again without a settlement time) is switched
off: it would only multiply the refused rows; the REST poll stays the source.

Sample markets/summary row (ccxt's recorded static response, testnet 2024-06-14):
    {"symbol":"BTC-USD-PERP","oracle_price":"67307.7225876","mark_price":"67307.7225876",
     "last_traded_price":"66821.1","bid":"66821.1","ask":"67643.2",…,"created_at":1718377962698,
     "underlying_price":"66806.71304318","open_interest":"152.777","funding_rate":"0.00749938923192",…}
"""

from typing import Any

from arbflow.connectors.feeds.spec import LiveSpec, field_of

VENUE = "paradex"


def _live_trade(info: Any) -> dict[str, Any]:
    return {"px": field_of(info, "price"), "qty": field_of(info, "size")}


def _live_funding(info: Any) -> dict[str, Any]:
    return {"rate": field_of(info, "funding_rate")}


LIVE = LiveSpec(ccxt_id="paradex", ccxt_has={"watchFundingRate": False, "watchFundingRates": False},
                ticker_source={"perp": "book"}, spot_quotes=(), perp_settles=("USDC",), perp_quotes=("USD",),
                trade_fields=_live_trade, funding_fields=_live_funding)
