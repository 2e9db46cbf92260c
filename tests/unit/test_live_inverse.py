"""The live gateway refuses an inverse (coin-margined) market before anything leaves
(sinks.gateway.client): ccxt's amount there is contracts of `contractSize` USD, so base units =
amount × contractSize / price, which the gateway's fixed base-units-per-contract conversion
(`orders.contract_size`) does not do — it would send 0.00174 contracts for 0.174 BTC of a
100 USD contract. A linear market goes on to rounding as before."""

from decimal import Decimal
from typing import Any

from arbflow.model import reasons
from arbflow.model.execution import Order
from arbflow.sinks.gateway.client import LiveVenue
from arbflow.sinks.gateway.limits import LiveLimits

MARKETS: dict[str, dict[str, Any]] = {
    "BTC/USD:BTC": {"symbol": "BTC/USD:BTC", "contract": True, "inverse": True, "linear": False,
                    "contractSize": 100.0, "quote": "USD", "precision": {"amount": 1.0, "price": 0.1},
                    "limits": {"amount": {"min": 1.0}}},
    "BTC/USDT:USDT": {"symbol": "BTC/USDT:USDT", "contract": True, "inverse": False, "linear": True,
                      "contractSize": 1.0, "quote": "USDT", "precision": {"amount": 0.001, "price": 0.1},
                      "limits": {"amount": {"min": 0.001}}},
}


class _Exchange:
    """The few ccxt members `LiveVenue._screen` reads (no network)."""

    apiKey, secret, password = "k", "s", None
    precisionMode = 4  # ccxt.TICK_SIZE

    def market(self, symbol: str) -> dict[str, Any]:
        return MARKETS[symbol]

    def amount_to_precision(self, symbol: str, amount: str) -> str:
        step = Decimal(str(MARKETS[symbol]["precision"]["amount"]))
        return str((Decimal(amount) // step) * step)

    def price_to_precision(self, symbol: str, price: str) -> str:
        return price


def _order(symbol: str) -> Order:
    return Order(client_order_id="entry_BTC_1_0_short", venue_client_id="x1", trade_id="BTC_1_0", venue="binance",
                 symbol=symbol, side="sell", order_type="ioc", qty=Decimal("0.174"), limit_px=Decimal("17207.5"),
                 status="new", filled_qty=Decimal(0), ts=0)


def test_an_inverse_market_is_refused_before_sending_and_a_linear_one_is_rounded() -> None:
    venue = LiveVenue("binance", _Exchange(), LiveLimits(max_order_notional=Decimal(10_000),
                                                         max_venue_notional=Decimal(50_000), orders_per_s=Decimal(5)))
    rounded, refusal = venue._screen(_order("BTC/USD:BTC"), reserved=False)
    assert rounded is None and refusal is not None
    assert refusal.startswith(f"{reasons.INVERSE_NOT_ROUTED}: BTC/USD:BTC trades contracts of 100.0 USD")
    rounded, refusal = venue._screen(_order("BTC/USDT:USDT"), reserved=False)
    assert refusal is None and rounded is not None and rounded.qty == Decimal("0.174")
