"""Binance websocket payloads → records (spot and USDⓈ-M futures).

Sample spot bookTicker (no exchange timestamp; ts_exchange stays None):
    {"u":50093239212,"s":"BTCUSDT","b":"61837.63000000","B":"3.78826000",
     "a":"61837.64000000","A":"1.54698000"}
Sample USDⓈ-M bookTicker (`E` event time, `T` transaction time, ms):
    {"e":"bookTicker","u":5123107839020,"s":"BTCUSDT","b":"61800.20","B":"2.507",
     "a":"61800.30","A":"2.510","T":1723161256313,"E":1723161256313}
Sample trade (`m` = buyer is the maker, so the taker sold):
    {"e":"trade","E":1723161255343,"s":"BTCUSDT","t":3735683259,"p":"61837.63000000",
     "q":"0.02000000","T":1723161255342,"m":true,"M":true}
"""

from typing import Any

from model import codec, reasons
from model.market import Market, MarketTrade, Ticker
from model.money import DecimalTextError, venue_decimal
from model.rejected import Rejected
from model.symbols import SymbolError, from_venue

VENUE = "binance"


class _Bad(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        self.reason, self.detail = reason, detail


def _money(data: dict[str, Any], field: str) -> Any:
    text = data.get(field)
    if type(text) is not str:
        raise _Bad(reasons.MISSING_FIELD if text is None else reasons.WRONG_TYPE, f"{field}: expected a decimal string")
    try:
        return venue_decimal(text)
    except DecimalTextError as error:
        raise _Bad(reasons.NON_FINITE if error.non_finite else reasons.INVALID_NUMBER, f"{field}: {text!r}") from None


def _symbol(data: dict[str, Any], market: Market) -> str:
    raw = data.get("s")
    if type(raw) is not str:
        raise _Bad(reasons.MISSING_FIELD, "s: symbol missing")
    try:
        return from_venue(VENUE, raw, market).instrument.symbol
    except SymbolError as error:
        raise _Bad(reasons.UNKNOWN_SYMBOL, str(error)) from None


def _event_ms(data: dict[str, Any]) -> int | None:
    value = data.get("E")
    return value if type(value) is int else None


def parse_book_ticker(data: Any, market: Market, ts_local: int, *, raw: bytes | str, source: str) -> Ticker | Rejected:
    """A bookTicker payload (the `data` of the combined stream) as a `Ticker`."""
    try:
        if type(data) is not dict:
            raise _Bad(reasons.WRONG_TYPE, "bookTicker: expected an object")
        return Ticker(venue=VENUE, symbol=_symbol(data, market), market=market, bid=_money(data, "b"),
                      ask=_money(data, "a"), bid_qty=_money(data, "B"), ask_qty=_money(data, "A"),
                      ts_exchange=_event_ms(data), ts_local=ts_local)
    except _Bad as bad:
        return codec.reject(bad.reason, bad.detail, source=source, raw=raw, ts=ts_local)


def parse_trade(data: Any, market: Market, ts_local: int, *, raw: bytes | str, source: str) -> MarketTrade | Rejected:
    """A trade payload as a `MarketTrade`; the taker side is the opposite of the maker."""
    try:
        if type(data) is not dict:
            raise _Bad(reasons.WRONG_TYPE, "trade: expected an object")
        maker_is_buyer = data.get("m")
        if type(maker_is_buyer) is not bool:
            raise _Bad(reasons.MISSING_FIELD, "m: buyer-is-maker flag missing")
        return MarketTrade(venue=VENUE, symbol=_symbol(data, market), market=market, px=_money(data, "p"),
                           qty=_money(data, "q"), side="sell" if maker_is_buyer else "buy",
                           trade_id=str(data.get("t")), ts_exchange=_event_ms(data), ts_local=ts_local)
    except _Bad as bad:
        return codec.reject(bad.reason, bad.detail, source=source, raw=raw, ts=ts_local)
