"""ccxt payloads of the live venue gateway: orders out (rounded to tick and lot), venue
answers in (unified ccxt orders and trades → `VenueEvent`s), and ccxt errors → reason text.

Units: `Order.qty` and every `VenueEvent.qty` are base units; ccxt amounts of contract
markets are contracts of `contractSize` base units, converted here both ways. Prices are
quote per base. Rounding happens only here, at the venue boundary: amounts down to the lot
(`amount_to_precision`, ROUND_DOWN), limit prices to the tick *away from crossing further*
(a buy down, a sell up), so the venue never trades worse than the desk's limit.

ccxt hands numbers as floats. `dec()` turns them into Decimals through `repr`, the shortest
string that round-trips the float: for the decimal strings venues send (≤ 15 significant
digits) that is the venue's own value, exactly. No `Decimal(float)` anywhere.

ccxt's `decimal_to_precision` changes the thread's decimal context (rounding, traps);
every call into it runs inside `decimal.localcontext()` so ours stays untouched.
"""

import decimal
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import ccxt

from arbflow.model import reasons
from arbflow.model.client_ids import ClientIdRule
from arbflow.model.execution import Order, VenueEvent

# Logical-id prefixes of de-risking orders (docs/architecture.md §3.7 priority: cancel > de-risk > entry).
DERISK_PREFIXES = ("hedge_", "unwind_", "exit_")
WORKING = ("new", "open", "partially_filled")
_CODE = re.compile(r'"(?:code|sCode|retCode)"\s*:\s*"?(-?\d+)')
_ERRORS: tuple[tuple[type[Exception], str], ...] = (
    (ccxt.InsufficientFunds, reasons.INSUFFICIENT_FUNDS), (ccxt.OrderNotFound, reasons.ORDER_NOT_FOUND),
    (ccxt.InvalidOrder, reasons.INVALID_ORDER))


def dec(value: Any) -> Decimal | None:
    """A ccxt number (str, int, float or None) as a Decimal; floats via their shortest repr."""
    if value is None:
        return None
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def is_derisk(client_order_id: str) -> bool:
    """True for hedges, unwinds and exits (they may use the rate reserve, skip the venue cap)."""
    return client_order_id.startswith(DERISK_PREFIXES)


def ours(rule: ClientIdRule, venue_client_id: str | None) -> bool:
    """True when `venue_client_id` starts like every id arbflow derives under the venue's
    client-id `rule` (an open order carrying one that we do not know is an orphan of ours)."""
    return bool(venue_client_id) and str(venue_client_id).startswith(rule.prefix)


def contract_size(market: Mapping[str, Any]) -> Decimal:
    """Base units per ccxt amount unit: the contract size of contract markets, else 1."""
    size = dec(market.get("contractSize")) if market.get("contract") else None
    return size if size is not None and size > 0 and size != 1 else Decimal(1)


@dataclass(frozen=True, slots=True)
class Rounded:
    """One order as it goes on the wire: `amount`/`price` strings in venue units, and what
    they mean in ours (`qty` base units, `px` quote per base)."""

    amount: str
    price: str | None
    qty: Decimal
    px: Decimal | None


def _tick_round(exchange: Any, px: Decimal, tick: Decimal, side: str) -> Decimal:
    steps = (px / tick).to_integral_value(decimal.ROUND_FLOOR if side == "buy" else decimal.ROUND_CEILING)
    return steps * tick


def round_order(exchange: Any, order: Order) -> Rounded | None:
    """`order` rounded to its market's lot (down) and tick (away from crossing); None when
    the amount rounds to zero or below the market's minimum."""
    market = exchange.market(order.symbol)
    size = contract_size(market)
    with decimal.localcontext():
        try:
            amount = exchange.amount_to_precision(order.symbol, str(order.qty / size))
        except ccxt.InvalidOrder:
            return None
        minimum = dec((market.get("limits") or {}).get("amount", {}).get("min"))
        if Decimal(amount) <= 0 or (minimum is not None and Decimal(amount) < minimum):
            return None
        price = None
        if order.limit_px is not None:
            tick = dec(market["precision"].get("price"))
            px = order.limit_px
            if exchange.precisionMode == ccxt.TICK_SIZE and tick is not None and tick > 0:
                px = _tick_round(exchange, px, tick, order.side)
            price = exchange.price_to_precision(order.symbol, str(px))
    return Rounded(amount, price, Decimal(amount) * size, None if price is None else Decimal(price))


def order_request(order: Order, rounded: Rounded) -> dict[str, Any]:
    """ccxt's createOrder arguments (also one item of createOrders). "ioc" and "market" with a
    limit are sent as IOC limits; the client id goes as ccxt's unified `clientOrderId`
    (Binance newClientOrderId, OKX clOrdId, Bybit orderLinkId, Hyperliquid cloid)."""
    params: dict[str, Any] = {"clientOrderId": order.venue_client_id}
    if order.order_type in ("ioc", "market"):
        params["timeInForce"] = "IOC"
    return {"symbol": order.symbol, "type": "limit" if rounded.price is not None else "market",
            "side": order.side, "amount": rounded.amount, "price": rounded.price, "params": params}


def _exact_table(exchange: Any, market: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """ccxt's exact error-code tables for `market`: its market type's first (Binance keeps one
    per API and picks it by hostname, which a proxy or stub URL hides), then the venue's own."""
    kind = None if market is None else next((k for k in ("spot", "linear", "inverse", "option") if market.get(k)),
                                            None)
    tables = [exchange.exceptions.get(kind, {}).get("exact", {})] if kind else []
    return [*tables, exchange.exceptions.get("exact", {})]


def error_class(exchange: Any, code: str, market: Mapping[str, Any] | None) -> type[Exception]:
    """The ccxt error class of venue error `code` on `market` (ExchangeError when unknown)."""
    return next((t[code] for t in _exact_table(exchange, market) if code in t), ccxt.ExchangeError)  # type: ignore[no-any-return]


def error_reason(exchange: Any, error: Exception, market: Mapping[str, Any] | None) -> str:
    """Our reason code for a ccxt error that refused an order; a generic ccxt class is
    refined by the venue's error code in the message (`"code":-2019` → INSUFFICIENT_FUNDS)."""
    found = next((code for kind, code in _ERRORS if isinstance(error, kind)), None)
    match = _CODE.search(str(error)) if found is None else None
    if match is not None:
        refined = error_class(exchange, match[1], market)
        found = next((code for kind, code in _ERRORS if issubclass(refined, kind)), None)
    return found or reasons.VENUE_ERROR


def item_error(exchange: Any, info: Any, market: Mapping[str, Any] | None) -> Exception | None:
    """The ccxt error a failed item of a batch answer stands for (Binance `{"code":-2019,…}`,
    OKX `sCode` ≠ "0"), or None when the item is an order."""
    if not isinstance(info, Mapping) or info.get("orderId"):
        return None
    code = next((str(info[k]) for k in ("code", "sCode") if k in info), None)
    if code is None or code == "0":
        return None
    text = json.dumps({k: info[k] for k in info if k in ("code", "msg", "sCode", "sMsg")} or dict(info))
    return error_class(exchange, code, market)(f"{exchange.id} {text}")


def event(kind: str, order: Order, ts: int, **fields: Any) -> VenueEvent:
    """A `VenueEvent` about `order` (logical id, venue and canonical symbol from it)."""
    return VenueEvent(kind=kind, client_order_id=order.client_order_id,  # type: ignore[arg-type]
                      venue=order.venue, symbol=order.symbol, ts=ts, **fields)


def fill_event(order: Order, trade: Mapping[str, Any], size: Decimal, ts: int) -> VenueEvent:
    """One ccxt trade of `order` as a fill: `fill_id` the venue's trade id, `qty` in base
    units, `fee` positive when paid (ccxt's convention), liquidity from `takerOrMaker`."""
    fee = trade.get("fee") or {}
    liquidity = trade.get("takerOrMaker")
    return event("fill", order, ts, fill_id=str(trade["id"]), px=dec(trade["price"]),
                 qty=(dec(trade["amount"]) or Decimal(0)) * size, fee=dec(fee.get("cost")) or Decimal(0),
                 fee_currency=str(fee.get("currency") or ""),
                 liquidity=liquidity if liquidity in ("maker", "taker") else None)
