"""What a venue module declares for the live feeds (`connectors/venues/<venue>.py: LIVE`).

ccxt hands prices and sizes as floats; arbflow never builds a `Decimal` from a float. A
venue spec therefore says where the venue's own decimal strings sit inside ccxt's `info`
(the raw venue message): `ticker_fields`, `trade_fields` and `funding_fields` map the
unified names below to those raw values. A name the function leaves out (or maps to None)
falls back to `str()` of ccxt's number — exact for the short decimals venues send, and the
normaliser says so per field in `connectors/feeds/normalise.py`.

Unified names:
- ticker: `bid`, `ask`, `bid_qty`, `ask_qty`, `last`, `mark`, `index` (venue units:
  contracts for contract markets; the normaliser applies the contract size);
- trade: `px`, `qty`;
- funding: `rate`, `predicted_rate` (only when the venue sends one), `interval_ms` (only
  when the venue states its interval, e.g. Bybit `fundingIntervalHour`);
- open interest (`fetch_open_interest`'s `info`): `open_interest` (venue units: contracts
  for contract markets), `value` (quote currency, only when the venue states it in the
  market's quote currency);
- liquidation (`watch_liquidations`' `info`): `px`, `qty` (venue units), `side` (the
  liquidation order's, when ccxt's `side` is something else, e.g. Bybit's position side).
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from arbflow.model.market import Market

# The venues with a `LIVE` spec (connectors/venues/<venue>.py): what `arbflow ingest --venues`
# accepts and its help lists. Kept here, with no exchange library imported, so the command
# line builds its help without loading ccxt.
LIVE_VENUES = ("binance", "bybit", "okx", "bitget", "gate", "kucoin", "hyperliquid", "paradex")

TickerSource = Literal["bids_asks", "ticker", "book"]
Fields = Callable[[Any], Mapping[str, Any]]
HOUR_MS = 3_600_000


def no_fields(info: Any) -> Mapping[str, Any]:
    """A venue whose `info` holds no usable raw strings: every value comes from ccxt."""
    return {}


def market_id(ccxt_market: Mapping[str, Any]) -> str:
    """The venue's own symbol id of a ccxt market (what `model.symbols.from_venue` reads)."""
    return str(ccxt_market["id"])


def hours_ms(value: Any) -> int | None:
    """A venue's interval in whole hours (`"8"`, `8`) as ms; None when absent or odd."""
    text = str(value) if value is not None else ""
    return int(text) * HOUR_MS if text.isdigit() and int(text) > 0 else None


def field_of(info: Any, name: str) -> Any:
    """`info[name]` when `info` is a dict, else None (ccxt sometimes hands lists)."""
    return info.get(name) if isinstance(info, dict) else None


@dataclass(frozen=True, slots=True, kw_only=True)
class LiveSpec:
    """How ccxt.pro serves one venue. `ticker_source[market]` picks the call behind
    md.ticker: `bids_asks` (`watch_bids_asks`), `ticker` (`watch_ticker`) or `book` (the
    top of `watch_order_book`, for venues without a best-bid/offer channel).
    `spot_quotes` / `perp_settles` are the currencies tried, in order, when `--symbols`
    names a base asset; no spot quotes = the venue trades no spot. `perp_quotes`: the
    quote currencies of perps quoted in another currency than they settle in (Paradex
    `BTC/USD:USDC`); empty = quoted in the settle currency. `ccxt_has` overrides
    ccxt's capability flags, e.g. `{"fetchCurrencies": False}`: a feed needs no currency
    list, and skipping it saves a REST call at start-up (ccxt then derives the currencies
    from the markets)."""

    ccxt_id: str
    ccxt_options: Mapping[str, Any] = field(default_factory=dict)
    ccxt_has: Mapping[str, bool] = field(default_factory=dict)
    ticker_source: Mapping[Market, TickerSource]
    spot_quotes: tuple[str, ...] = ("USDT",)
    perp_settles: tuple[str, ...] = ("USDT",)
    perp_quotes: tuple[str, ...] = ()
    venue_symbol: Callable[[Mapping[str, Any]], str] = market_id
    ticker_fields: Fields = no_fields
    trade_fields: Fields = no_fields
    funding_fields: Fields = no_fields
    oi_fields: Fields = no_fields
    liquidation_fields: Fields = no_fields
