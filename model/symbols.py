"""Canonical instruments and venue symbol aliases.

The canonical symbol is the ccxt unified symbol: `BTC/USDT` (spot), `BTC/USDT:USDT`
(linear perp, settled in the quote), `BTC/USD:BTC` (inverse perp, settled in the base).
Venue-specific names (`XBTUSDTM`, `BTC-USDT-SWAP`, Hyperliquid `BTC`, `1000PEPEUSDT`) are
mapped here so that every venue's data for one asset meets under one key.

Multiplier assets (`1000PEPE`, Hyperliquid `kPEPE`) quote a bundle of `multiplier` base
units: one venue unit is `multiplier` PEPE, so base quantity = venue qty × multiplier and
base price = venue price / multiplier. The canonical symbol uses the plain base (`PEPE`).
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from arbflow.model.market import Market

ASSET_ALIASES: dict[str, str] = {"XBT": "BTC"}
_MULTIPLIER_PREFIX = re.compile(r"^(1000000|100000|10000|1000|1M|k)([A-Z][A-Z0-9]*)$")
_PREFIX_VALUE = {"1000000": 1_000_000, "100000": 100_000, "10000": 10_000, "1000": 1_000,
                 "1M": 1_000_000, "k": 1_000}
_ASSET = re.compile(r"^[A-Z0-9]{1,20}$")
_UNIFIED = re.compile(r"^([A-Z0-9]+)/([A-Z0-9]+)(?::([A-Z0-9]+))?$")
# Quote currencies recognised in concatenated venue ids, longest first.
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "USD", "EUR", "BTC", "ETH")


class SymbolError(ValueError):
    """A symbol that is not a supported canonical or venue symbol."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Instrument:
    """One tradable instrument. `contract_size` is base units per contract (1 for spot)."""

    symbol: str
    base: str
    quote: str
    settle: str | None
    market: Market
    inverse: bool = False
    contract_size: Decimal = Decimal(1)


@dataclass(frozen=True, slots=True, kw_only=True)
class VenueSymbol:
    """A venue's own symbol resolved to its canonical instrument and multiplier."""

    instrument: Instrument
    multiplier: Decimal = Decimal(1)


def canonical_asset(raw: str) -> tuple[str, Decimal]:
    """Map a venue asset code to (canonical asset, multiplier): `XBT`→(`BTC`, 1),
    `1000PEPE`→(`PEPE`, 1000), `kPEPE`→(`PEPE`, 1000). `1INCH` stays `1INCH`."""
    match = _MULTIPLIER_PREFIX.match(raw)
    if match is not None:
        return ASSET_ALIASES.get(match[2], match[2]), Decimal(_PREFIX_VALUE[match[1]])
    upper = raw.upper()
    if _ASSET.match(upper) is None:
        raise SymbolError(f"not an asset code: {raw!r}")
    return ASSET_ALIASES.get(upper, upper), Decimal(1)


def parse_symbol(symbol: str) -> Instrument:
    """Parse a canonical (ccxt unified) symbol. Dated futures and options are refused."""
    match = _UNIFIED.match(symbol)
    if match is None:
        raise SymbolError(f"not a unified spot or perpetual symbol: {symbol!r}")
    base, quote, settle = match[1], match[2], match[3]
    if settle is None:
        return Instrument(symbol=symbol, base=base, quote=quote, settle=None, market="spot")
    if settle not in (quote, base) and not (quote == "USD" and settle in ("USDC", "USDT")):
        raise SymbolError(f"settle currency {settle} fits neither quote nor base in {symbol!r}")
    return Instrument(symbol=symbol, base=base, quote=quote, settle=settle, market="perp",
                      inverse=settle == base)


def base_asset(symbol: str) -> str:
    """The base asset of a canonical symbol (`BTC/USDT:USDT` → `BTC`); the Kafka key."""
    return symbol.split("/", 1)[0]


def unified(base: str, quote: str, market: Market, settle: str | None = None) -> str:
    """Build a canonical symbol; perps default to linear (settle = quote)."""
    if market == "spot":
        return f"{base}/{quote}"
    return f"{base}/{quote}:{settle or quote}"


def _split_concatenated(code: str) -> tuple[str, str]:
    for quote in _QUOTES:
        if code.endswith(quote) and len(code) > len(quote):
            return code[: -len(quote)], quote
    raise SymbolError(f"no known quote currency at the end of {code!r}")


def _resolve(raw_base: str, quote: str, market: Market, settle: str | None) -> VenueSymbol:
    base, multiplier = canonical_asset(raw_base)
    quote_asset, _ = canonical_asset(quote)
    settle_asset = canonical_asset(settle)[0] if settle else None
    instrument = parse_symbol(unified(base, quote_asset, market, settle_asset))
    return VenueSymbol(instrument=instrument, multiplier=multiplier)



def from_venue(venue: str, venue_symbol: str, market: Market) -> VenueSymbol:
    """Resolve a venue's native symbol id to its canonical instrument.

    Examples: binance `BTCUSDT` perp → `BTC/USDT:USDT`; binance `BTCUSD_PERP` →
    `BTC/USD:BTC`; okx `BTC-USDT-SWAP` → `BTC/USDT:USDT`; kucoin `XBTUSDTM` →
    `BTC/USDT:USDT`; gate `BTC_USDT`; hyperliquid `BTC` → `BTC/USDC:USDC`;
    paradex `BTC-USD-PERP` → `BTC/USD:USDC`; binance `1000PEPEUSDT` perp →
    `PEPE/USDT:USDT` with multiplier 1000.
    """
    code = venue_symbol.strip()
    if venue in ("binance", "bybit", "bitget"):
        code = code.removesuffix("_UMCBL")  # Bitget v1 USDT-margined suffix
        if code.endswith("_PERP"):  # Binance COIN-M inverse
            base, quote = _split_concatenated(code.removesuffix("_PERP"))
            return _resolve(base, quote, "perp", base)
        base, quote = _split_concatenated(code)
        if market == "perp" and quote == "USD":  # Bybit inverse `BTCUSD`
            return _resolve(base, quote, "perp", base)
        return _resolve(base, quote, market, None)
    if venue == "okx":
        parts = code.split("-")
        if len(parts) == 3 and parts[2] == "SWAP":
            settle = parts[0] if parts[1] == "USD" else parts[1]
            return _resolve(parts[0], parts[1], "perp", settle)
        if len(parts) == 2 and market == "spot":
            return _resolve(parts[0], parts[1], "spot", None)
    elif venue == "gate":
        parts = code.split("_")
        if len(parts) == 2:
            return _resolve(parts[0], parts[1], market, None)
    elif venue == "kucoin":
        if market == "spot" and "-" in code:
            base, quote = code.split("-", 1)
            return _resolve(base, quote, "spot", None)
        if market == "perp" and code.endswith("M"):
            base, quote = _split_concatenated(code[:-1])
            return _resolve(base, quote, "perp", base if quote == "USD" else None)
    elif venue == "hyperliquid":
        if market == "perp" and "/" not in code and "-" not in code:
            return _resolve(code, "USDC", "perp", None)
    elif venue == "paradex":
        parts = code.split("-")
        if len(parts) == 3 and parts[2] == "PERP":
            return _resolve(parts[0], parts[1], "perp", "USDC")
    raise SymbolError(f"{venue} symbol {venue_symbol!r} ({market}) is not recognised")
