"""Canonical symbols and venue aliases (model/symbols.py)."""

from decimal import Decimal

import pytest

from arbflow.model.symbols import (
    Instrument,
    SymbolError,
    VenueSymbol,
    base_asset,
    canonical_asset,
    from_venue,
    parse_symbol,
    unified,
)

# -- parse_symbol -----------------------------------------------------------------------


@pytest.mark.parametrize(("symbol", "expected"), [
    ("BTC/USDT", Instrument(symbol="BTC/USDT", base="BTC", quote="USDT", settle=None, market="spot")),
    ("ETH/USDC", Instrument(symbol="ETH/USDC", base="ETH", quote="USDC", settle=None, market="spot")),
    ("ETH/BTC", Instrument(symbol="ETH/BTC", base="ETH", quote="BTC", settle=None, market="spot")),
    ("1INCH/USDT", Instrument(symbol="1INCH/USDT", base="1INCH", quote="USDT", settle=None, market="spot")),
    ("BTC/USDT:USDT", Instrument(symbol="BTC/USDT:USDT", base="BTC", quote="USDT", settle="USDT",
                                 market="perp", inverse=False)),
    ("ETH/USDC:USDC", Instrument(symbol="ETH/USDC:USDC", base="ETH", quote="USDC", settle="USDC",
                                 market="perp", inverse=False)),
    ("BTC/USD:BTC", Instrument(symbol="BTC/USD:BTC", base="BTC", quote="USD", settle="BTC", market="perp",
                               inverse=True)),
    ("ETH/USD:ETH", Instrument(symbol="ETH/USD:ETH", base="ETH", quote="USD", settle="ETH", market="perp",
                               inverse=True)),
    ("BTC/USD:USDC", Instrument(symbol="BTC/USD:USDC", base="BTC", quote="USD", settle="USDC", market="perp",
                                inverse=False)),
], ids=lambda v: v if isinstance(v, str) else "")
def test_parse_symbol_returns_instrument_when_symbol_is_unified(symbol: str, expected: Instrument) -> None:
    assert parse_symbol(symbol) == expected


@pytest.mark.parametrize("symbol", [
    "BTC/USDT:USDT-240927",  # dated future
    "BTC/USD:BTC-241227",  # dated inverse future
    "BTC/USDT:USDT-240927-60000-C",  # option
    "ETH/USDT:BTC",  # settle fits neither quote nor base
    "BTCUSDT",
    "BTC-USDT",
    "btc/usdt",
    "BTC/",
    "/USDT",
    "BTC/USDT:",
    "BTC/USDT:USDT:USDT",
    " BTC/USDT",
    "BTC/USDT ",
    "",
    "garbage",
])
def test_parse_symbol_raises_when_symbol_is_not_spot_or_perp(symbol: str) -> None:
    with pytest.raises(SymbolError):
        parse_symbol(symbol)


@pytest.mark.parametrize(("symbol", "base"), [("BTC/USDT", "BTC"), ("ETH/USDT:USDT", "ETH"), ("BTC/USD:BTC", "BTC")])
def test_base_asset_returns_base_when_symbol_is_canonical(symbol: str, base: str) -> None:
    assert base_asset(symbol) == base


@pytest.mark.parametrize(("args", "expected"), [
    (("BTC", "USDT", "spot"), "BTC/USDT"),
    (("BTC", "USDT", "perp"), "BTC/USDT:USDT"),
    (("BTC", "USD", "perp", "BTC"), "BTC/USD:BTC"),
    (("ETH", "USDT", "spot", "USDT"), "ETH/USDT"),  # spot ignores settle
])
def test_unified_builds_symbol_when_parts_are_given(args: tuple[str, ...], expected: str) -> None:
    assert unified(*args) == expected  # type: ignore[arg-type]


# -- canonical_asset --------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "asset", "multiplier"), [
    ("BTC", "BTC", "1"),
    ("XBT", "BTC", "1"),
    ("xbt", "BTC", "1"),
    ("eth", "ETH", "1"),
    ("1000PEPE", "PEPE", "1000"),
    ("kPEPE", "PEPE", "1000"),
    ("1000000MOG", "MOG", "1000000"),
    ("10000LADYS", "LADYS", "10000"),
    ("1MBABYDOGE", "BABYDOGE", "1000000"),
    ("1000SATS", "SATS", "1000"),
    ("1INCH", "1INCH", "1"),
    ("USDT", "USDT", "1"),
])
def test_canonical_asset_returns_asset_and_multiplier_when_code_is_a_venue_alias(raw: str, asset: str,
                                                                                 multiplier: str) -> None:
    assert canonical_asset(raw) == (asset, Decimal(multiplier))


@pytest.mark.parametrize("raw", ["", "BTC-USDT", "BTC/USDT", "@107", "A" * 21, "BT C"])
def test_canonical_asset_raises_when_code_is_not_an_asset(raw: str) -> None:
    with pytest.raises(SymbolError):
        canonical_asset(raw)


# -- from_venue -------------------------------------------------------------------------


def _vs(symbol: str, multiplier: str = "1") -> VenueSymbol:
    return VenueSymbol(instrument=parse_symbol(symbol), multiplier=Decimal(multiplier))


@pytest.mark.parametrize(("venue", "code", "market", "symbol", "multiplier"), [
    ("binance", "BTCUSDT", "spot", "BTC/USDT", "1"),
    ("binance", "BTCUSDT", "perp", "BTC/USDT:USDT", "1"),
    ("binance", "ETHUSDC", "perp", "ETH/USDC:USDC", "1"),
    ("binance", "BTCFDUSD", "spot", "BTC/FDUSD", "1"),
    ("binance", "ETHBTC", "spot", "ETH/BTC", "1"),
    ("binance", "BTCUSD_PERP", "perp", "BTC/USD:BTC", "1"),  # COIN-M inverse
    ("binance", "1000PEPEUSDT", "perp", "PEPE/USDT:USDT", "1000"),
    ("binance", "1MBABYDOGEUSDT", "perp", "BABYDOGE/USDT:USDT", "1000000"),
    ("binance", "1INCHUSDT", "spot", "1INCH/USDT", "1"),
    ("bybit", "BTCUSDT", "perp", "BTC/USDT:USDT", "1"),
    ("bybit", "BTCUSD", "perp", "BTC/USD:BTC", "1"),  # inverse
    ("bybit", "ETHUSDT", "spot", "ETH/USDT", "1"),
    ("okx", "BTC-USDT-SWAP", "perp", "BTC/USDT:USDT", "1"),
    ("okx", "BTC-USD-SWAP", "perp", "BTC/USD:BTC", "1"),  # inverse
    ("okx", "ETH-USDC-SWAP", "perp", "ETH/USDC:USDC", "1"),
    ("okx", "BTC-USDT", "spot", "BTC/USDT", "1"),
    ("bitget", "BTCUSDT_UMCBL", "perp", "BTC/USDT:USDT", "1"),
    ("bitget", "BTCUSDT", "perp", "BTC/USDT:USDT", "1"),
    ("bitget", "ETHUSDT", "spot", "ETH/USDT", "1"),
    ("gate", "BTC_USDT", "perp", "BTC/USDT:USDT", "1"),
    ("gate", "BTC_USDT", "spot", "BTC/USDT", "1"),
    ("kucoin", "XBTUSDTM", "perp", "BTC/USDT:USDT", "1"),
    ("kucoin", "ETHUSDTM", "perp", "ETH/USDT:USDT", "1"),
    ("kucoin", "XBTUSDM", "perp", "BTC/USD:BTC", "1"),  # inverse
    ("kucoin", "BTC-USDT", "spot", "BTC/USDT", "1"),
    ("hyperliquid", "BTC", "perp", "BTC/USDC:USDC", "1"),
    ("hyperliquid", "kPEPE", "perp", "PEPE/USDC:USDC", "1000"),
    ("paradex", "BTC-USD-PERP", "perp", "BTC/USD:USDC", "1"),
    ("paradex", "ETH-USD-PERP", "perp", "ETH/USD:USDC", "1"),
])
def test_from_venue_returns_canonical_instrument_when_code_follows_venue_convention(
        venue: str, code: str, market: str, symbol: str, multiplier: str) -> None:
    assert from_venue(venue, code, market) == _vs(symbol, multiplier)  # type: ignore[arg-type]


def test_from_venue_marks_inverse_when_binance_coin_m() -> None:
    instrument = from_venue("binance", "BTCUSD_PERP", "perp").instrument
    assert instrument.inverse is True
    assert instrument.settle == "BTC"


@pytest.mark.parametrize(("venue", "code", "market"), [
    ("binance", "BTCXYZ", "spot"),  # no known quote at the end
    ("binance", "USDT", "spot"),  # nothing before the quote
    ("binance", "", "perp"),
    ("binance", "BTCUSDT_240927", "perp"),  # dated delivery contract
    ("okx", "BTC-USDT", "perp"),  # a spot id given as a perp
    ("okx", "BTC-USDT-240927", "perp"),  # dated future
    ("okx", "BTC-USDT-SWAP-X", "perp"),
    ("okx", "BTC", "spot"),
    ("gate", "BTCUSDT", "perp"),
    ("gate", "BTC_USDT_20240927", "perp"),
    ("kucoin", "XBTUSDT", "perp"),  # perp ids end in M
    ("kucoin", "BTCUSDT", "spot"),  # spot ids have a dash
    ("hyperliquid", "BTC", "spot"),  # perps only
    ("hyperliquid", "BTC-USD", "perp"),
    ("hyperliquid", "@107", "perp"),  # spot pair index
    ("paradex", "BTC-USD", "perp"),
    ("paradex", "BTC-USD-OPTION", "perp"),
    ("ftx", "BTC-PERP", "perp"),  # unknown venue
])
def test_from_venue_raises_when_code_is_not_recognised(venue: str, code: str, market: str) -> None:
    with pytest.raises(SymbolError):
        from_venue(venue, code, market)  # type: ignore[arg-type]
