"""The collector-key normaliser (`connectors.feeds.compat_tickers`): one key per venue
prefix of the legacy collectors' Redis schema, values from recorded payloads (fixtures/redis_compat)
where we have them, from the venues' documentation otherwise (KuCoin futures, Bitget v2,
Paradex). Expected values are read off the payloads by hand."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.connectors.feeds import compat_tickers as c
from arbflow.connectors.payload import PayloadError
from arbflow.model import reasons
from arbflow.model.market import Ticker

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "redis_compat" / "tickers.json"
RECORDED = {entry["key"]: entry for entry in json.loads(FIXTURE.read_text())}
TS = 1_700_000_000_000
SIZES = {**c.CONTRACT_SIZES, "gate": {**c.CONTRACT_SIZES["gate"], "PHB_USDT": Decimal("1")}}
D = Decimal


def recorded(key: str, index: int = 0) -> bytes | dict[bytes, bytes]:
    entry = RECORDED[key]
    value = entry["values"][index]
    if entry["type"] == "hash":
        return {k.encode(): v.encode() for k, v in value.items()}
    return str(value).encode()


def normalise(key: str, value: bytes | dict[bytes, bytes]) -> Ticker:
    return c.ticker(c.parse_key(key, contract_sizes=SIZES), c.decode(value), TS)


def perp(venue: str, symbol: str, **fields: Any) -> Ticker:
    return Ticker(venue=venue, symbol=symbol, market="perp", ts_local=TS, **fields)


CASES = [
    ("binance:linear:tickers:BTCUSDT", recorded("binance:linear:tickers:BTCUSDT"),
     perp("binance", "BTC/USDT:USDT", bid=D("61800.20"), ask=D("61800.30"), bid_qty=D("2.507"), ask_qty=D("2.510"),
          ts_exchange=1723161256313)),
    ("bybit:linear:tickers:BTCUSDT", recorded("bybit:linear:tickers:BTCUSDT"),
     perp("bybit", "BTC/USDT:USDT", bid=D("17215.50"), ask=D("17216.00"), bid_qty=D("84.489"), ask_qty=D("83.020"),
          last=D("17216.00"), mark=D("17217.33"), index=D("17227.36"), ts_exchange=1673272861686)),
    # KuCoin futures tickerV2, the documentation's example (sizes in contracts of 0.001 XBT, ts in ns)
    ("kucoin:futures:tickers:XBTUSDTM",
     b'{"symbol":"XBTUSDTM","sequence":1638222263,"bestBidSize":795,"bestBidPrice":"3200.0",'
     b'"bestAskPrice":"3600.0","bestAskSize":284,"ts":1553846081210004941}',
     perp("kucoin", "BTC/USDT:USDT", bid=D("3200.0"), ask=D("3600.0"), bid_qty=D("0.795"), ask_qty=D("0.284"),
          ts_exchange=1553846081210)),
    # OKX row stored as a hash; sizes are contracts of 0.01 BTC
    ("okx:swap:tickers:BTC-USDT-SWAP", recorded("okx:swap:tickers:BTC-USDT-SWAP"),
     perp("okx", "BTC/USDT:USDT", bid=D("30228.6"), ask=D("30228.7"), bid_qty=D("0.0023393"),
          ask_qty=D("0.0155896972"), last=D("30236"), ts_exchange=1652459224956)),
    # Bitget v2 ticker row, the documentation's example
    ("bitget:usdt:tickers:BTCUSDT",
     b'{"instId":"BTCUSDT","lastPr":"27000.5","bidPr":"27000","askPr":"27000.5","bidSz":"2.71","askSz":"8.76",'
     b'"markPrice":"27000.0","indexPrice":"25702.4","ts":"1695715383021"}',
     perp("bitget", "BTC/USDT:USDT", bid=D("27000"), ask=D("27000.5"), bid_qty=D("2.71"), ask_qty=D("8.76"),
          last=D("27000.5"), mark=D("27000.0"), index=D("25702.4"), ts_exchange=1695715383021)),
    # Gate book_ticker message: JSON integer sizes (contracts of 1 PHB), `t` inside `result`
    ("gate:futures:tickers:PHB_USDT", recorded("gate:futures:tickers:PHB_USDT"),
     perp("gate", "PHB/USDT:USDT", bid=D("0.7379"), ask=D("0.739"), bid_qty=D("814"), ask_qty=D("677"),
          ts_exchange=1684930165621)),
    ("hyperliquid:perps:tickers:BTC", recorded("hyperliquid:perps:tickers:BTC"),
     perp("hyperliquid", "BTC/USDC:USDC", bid=D("105055.0"), ask=D("105056.0"), bid_qty=D("3.03622"),
          ask_qty=D("6.34472"), ts_exchange=1737918843542)),
    # Paradex bbo channel, the documentation's example
    ("paradex:perps:tickers:BTC-USD-PERP",
     b'{"market":"BTC-USD-PERP","bid":"30112.22","bid_size":"0.1","ask":"31130.15","ask_size":"0.1",'
     b'"last_updated_at":1681493939981}',
     perp("paradex", "BTC/USD:USDC", bid=D("30112.22"), ask=D("31130.15"), bid_qty=D("0.1"), ask_qty=D("0.1"),
          ts_exchange=1681493939981)),
]


@pytest.mark.parametrize(("key", "value", "expected"), CASES, ids=[case[0].split(":")[0] for case in CASES])
def test_normalises_each_venue_key_prefix(key: str, value: bytes, expected: Ticker) -> None:
    assert normalise(key, value) == expected


def test_every_seed_key_prefix_is_covered() -> None:
    assert {case[0].rsplit(":", 1)[0] + ":" for case in CASES} == set(c.KEY_PREFIXES.values())


def test_normalised_shape_with_multiplier_divides_price_and_multiplies_size() -> None:
    got = normalise("bybit:linear:tickers:1000PEPEUSDT",
                    b'{"bid":"0.012","ask":"0.0121","bid_qty":"5","ask_qty":"7","timestamp":1700000000123}')
    assert (got.symbol, got.bid, got.ask, got.bid_qty, got.ask_qty, got.ts_exchange) == (
        "PEPE/USDT:USDT", D("0.000012"), D("0.0000121"), D("5000"), D("7000"), 1700000000123)


@pytest.mark.parametrize(("value", "reason"), [
    (b'{"b":"61800.20","B":"2.5', reasons.MALFORMED_JSON),
    (b'["b", "a"]', reasons.MALFORMED_JSON),
    (b'{"b":"61800.20","B":"2.5","a":"61800.30","A":NaN}', reasons.NON_FINITE),
    (b'{"b":"61800.20","B":"2.5","a":"61800.30","A":"2.5","E":1723161256}', reasons.TIMESTAMP_IN_SECONDS),
    (b'{"b":"61800.20","B":"2.5","a":"61800.30","A":"x"}', reasons.INVALID_NUMBER),
    (b'{"b":"61800.20","a":"61800.30","A":"2.5"}', reasons.MISSING_FIELD),
    (b'{"price":"61800.20"}', reasons.MISSING_FIELD),
])
def test_bad_values_raise_their_reason(value: bytes, reason: str) -> None:
    with pytest.raises(PayloadError) as caught:
        normalise("binance:linear:tickers:BTCUSDT", value)
    assert caught.value.reason == reason


def test_bitget_v1_row_without_sizes_is_refused() -> None:
    with pytest.raises(PayloadError) as caught:
        normalise("bitget:usdt:tickers:DASHUSDT", recorded("bitget:usdt:tickers:DASHUSDT"))
    assert (caught.value.reason, caught.value.detail) == (reasons.MISSING_FIELD, "bid_qty: none of bidSz, bestBidSize")


@pytest.mark.parametrize(("key", "reason"), [
    ("mexc:futures:tickers:BTCUSDT", c.UNKNOWN_LAYOUT),
    ("binance:spot:tickers:BTCUSDT", c.UNKNOWN_LAYOUT),
    ("binance:linear:tickers:", c.UNKNOWN_LAYOUT),
    ("binance:linear:tickers:BTCUSD_PERP", c.UNKNOWN_SYMBOL),
    ("okx:swap:tickers:BTC-USDT", c.UNKNOWN_SYMBOL),
    ("okx:swap:tickers:DOGE-USDT-SWAP", c.NO_CONTRACT_SIZE),
])
def test_keys_that_cannot_be_mapped_are_ignored_with_a_reason(key: str, reason: str) -> None:
    with pytest.raises(c.KeyIgnored) as caught:
        c.parse_key(key)
    assert caught.value.reason == reason


def test_key_prefix_is_stripped() -> None:
    key = c.parse_key("ns.okx:swap:tickers:ETH-USDT-SWAP", "ns.")
    assert (key.venue, key.symbol, key.base, key.contract_size) == ("okx", "ETH/USDT:USDT", "ETH", D("0.1"))
