"""The live-feed normaliser and its rules, called directly: ccxt unified dicts (shaped as
ccxt returns them, raw venue payloads in `info`) → records; funding intervals; symbol
resolution; endpoint overrides. Expected values are worked out by hand."""

from decimal import Decimal
from typing import Any

import pytest

from arbflow.connectors.feeds import normalise
from arbflow.connectors.feeds.exchange import UnknownSymbol, resolve, set_url
from arbflow.connectors.feeds.funding import FundingIntervals
from arbflow.connectors.feeds.normalise import FeedMarket, feed_market
from arbflow.connectors.payload import PayloadError
from arbflow.connectors.venues import binance, bybit, hyperliquid, okx
from arbflow.model import reasons, topics
from arbflow.model.config import parse_config
from arbflow.model.errors import ConfigError
from arbflow.model.market import FundingRate, OrderBook, Ticker
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe

HOUR = 3_600_000
TS = 1_723_161_300_000
OKX_SWAP = FeedMarket(venue="okx", ccxt_symbol="BTC/USDT:USDT", symbol="BTC/USDT:USDT", market="perp",
                      contract_size=Decimal("0.01"))


def ccxt_market(symbol: str, market_id: str, *, spot: bool, size: float | None = None, **extra: Any) -> dict[str, Any]:
    base = symbol.split("/")[0]
    return {"symbol": symbol, "id": market_id, "base": base, "spot": spot, "swap": not spot,
            "linear": None if spot else True, "contractSize": size, **extra}


def test_ticker_takes_the_venue_strings_and_applies_the_contract_size() -> None:
    # OKX tickers row (swap sizes in contracts of 0.01 BTC); ccxt's floats are ignored.
    info = {"instId": "BTC-USDT-SWAP", "last": "30236", "askPx": "30228.7", "askSz": "155", "bidPx": "30228.6",
            "bidSz": "23", "ts": "1652459224956"}
    t = {"bid": 1.0, "ask": 2.0, "bidVolume": 9.0, "askVolume": 9.0, "last": 3.0, "timestamp": 1652459224956,
         "info": info}
    assert normalise.ticker(OKX_SWAP, t, okx.LIVE.ticker_fields(info), TS) == Ticker(
        venue="okx", symbol="BTC/USDT:USDT", market="perp", bid=Decimal("30228.6"), ask=Decimal("30228.7"),
        bid_qty=Decimal("0.23"), ask_qty=Decimal("1.55"), last=Decimal("30236"), ts_exchange=1652459224956,
        ts_local=TS)


def test_ticker_falls_back_to_str_of_ccxts_number_never_decimal_of_a_float() -> None:
    m = FeedMarket(venue="bybit", ccxt_symbol="BTC/USDT", symbol="BTC/USDT", market="spot")
    t = {"bid": 0.1, "ask": 0.30000000000000004, "bidVolume": 1e-05, "askVolume": 2, "timestamp": None, "info": {}}
    record = normalise.ticker(m, t, {}, TS)
    assert (record.bid, record.ask, record.bid_qty, record.ask_qty) == (
        Decimal("0.1"), Decimal("0.30000000000000004"), Decimal("0.00001"), Decimal(2))
    assert record.ts_exchange is None


@pytest.mark.parametrize(("change", "reason"), [
    ({"bid": float("nan")}, reasons.NON_FINITE),
    ({"timestamp": 1723161256}, reasons.TIMESTAMP_IN_SECONDS),
    ({"timestamp": 1723161256313000}, reasons.TIMESTAMP_IN_MICROSECONDS),
    ({"askVolume": None}, reasons.MISSING_FIELD),
])
def test_ticker_refuses_unusable_values_with_a_reason(change: dict[str, Any], reason: str) -> None:
    m = FeedMarket(venue="binance", ccxt_symbol="BTC/USDT", symbol="BTC/USDT", market="spot")
    t = {"bid": 61800.2, "ask": 61800.3, "bidVolume": 1.0, "askVolume": 2.0, "timestamp": TS, **change}
    with pytest.raises(PayloadError) as caught:
        normalise.ticker(m, t, {}, TS)
    assert caught.value.reason == reason and caught.value.topic == topics.MD_TICKER


def test_multiplier_symbols_become_base_units_and_base_prices() -> None:
    # Binance 1000PEPEUSDT: one unit is 1000 PEPE → qty × 1000, price ÷ 1000.
    m = feed_market("binance", ccxt_market("1000PEPE/USDT:USDT", "1000PEPEUSDT", spot=False, size=1.0),
                    "1000PEPEUSDT")
    assert (m.symbol, m.multiplier, m.key) == ("PEPE/USDT:USDT", Decimal(1000), "PEPE")
    info = {"b": "0.0123", "B": "5", "a": "0.0124", "A": "7"}
    record = normalise.ticker(m, {"timestamp": TS, "info": info}, binance.LIVE.ticker_fields(info), TS)
    assert (record.bid, record.bid_qty, record.ask, record.ask_qty) == (
        Decimal("0.0000123"), Decimal(5000), Decimal("0.0000124"), Decimal(7000))


def test_inverse_and_dated_contracts_are_not_ingested() -> None:
    inverse = ccxt_market("BTC/USD:BTC", "BTCUSD_PERP", spot=False, size=100.0, linear=False)
    with pytest.raises(PayloadError) as caught:
        feed_market("binance", inverse, "BTCUSD_PERP")
    assert caught.value.reason == reasons.UNKNOWN_SYMBOL


def test_book_cuts_to_depth_in_base_units_and_keeps_ccxts_nonce() -> None:
    ob = {"bids": [[30228.6, 23.0], [30228.5, 1.0], [30228.0, 4.0]], "asks": [[30228.7, 155.0], [30229.0, 2.0]],
          "nonce": 77, "timestamp": 1652459225453}
    assert normalise.book(OKX_SWAP, ob, 2, TS) == OrderBook(
        venue="okx", symbol="BTC/USDT:USDT", market="perp", depth=2, seq=77, ts_exchange=1652459225453, ts_local=TS,
        bids=((Decimal("30228.6"), Decimal("0.23")), (Decimal("30228.5"), Decimal("0.01"))),
        asks=((Decimal("30228.7"), Decimal("1.55")), (Decimal("30229"), Decimal("0.02"))))


def test_finish_sends_a_crossed_book_to_the_dead_letters_with_the_raw_payload() -> None:
    universe = Universe.from_config(parse_config({}, {}))
    ob = {"bids": [[101.0, 1.0]], "asks": [[100.0, 1.0]], "nonce": None, "timestamp": TS}
    out = normalise.finish(topics.MD_BOOK, normalise.book(OKX_SWAP, ob, 20, TS), universe, source="okx:md.book:x",
                           raw=ob)
    assert isinstance(out, Rejected)
    assert (out.reason, out.detail, out.raw) == (reasons.CROSSED_BOOK, "best bid 101 >= best ask 100",
                                                 '{"bids":[[101.0,1.0]],"asks":[[100.0,1.0]],"nonce":null,'
                                                 '"timestamp":1723161300000}')


def test_trade_side_and_id_come_from_ccxt_and_size_from_the_venue_string() -> None:
    m = FeedMarket(venue="hyperliquid", ccxt_symbol="BTC/USDC:USDC", symbol="BTC/USDC:USDC", market="perp")
    info = {"coin": "BTC", "px": "105056.0", "side": "B", "sz": "0.00219", "tid": 121451470284048,
            "time": 1737918794873}
    tr = {"id": "121451470284048", "side": "buy", "price": 105056.0, "amount": 0.00219, "timestamp": 1737918794873}
    record = normalise.trade(m, tr, hyperliquid.LIVE.trade_fields(info), TS)
    assert (record.px, record.qty, record.side, record.trade_id) == (
        Decimal("105056.0"), Decimal("0.00219"), "buy", "121451470284048")


def test_funding_predicted_rate_only_when_the_venue_sends_one() -> None:
    row = {"instId": "BTC-USDT-SWAP", "fundingRate": "0.0001", "nextFundingRate": "", "fundingTime": "1744590349506",
           "nextFundingTime": "1744619149506"}
    fr = {"fundingRate": 0.0001, "nextFundingRate": None, "fundingTimestamp": 1744590349506, "info": row}
    fields = okx.LIVE.funding_fields(row)
    assert fields["interval_ms"] == 8 * HOUR  # OKX's own nextFundingTime − fundingTime
    record = normalise.funding(OKX_SWAP, fr, fields, fields["interval_ms"], TS)
    assert record == FundingRate(venue="okx", symbol="BTC/USDT:USDT", market="perp", rate=Decimal("0.0001"),
                                 predicted_rate=None, interval_ms=8 * HOUR, next_funding_time=1744590349506,
                                 ts_local=TS)
    bybit_row = {"fundingRate": "-0.000212", "fundingIntervalHour": "4"}
    assert bybit.LIVE.funding_fields(bybit_row)["interval_ms"] == 4 * HOUR


def test_funding_interval_prefers_the_venue_then_consecutive_settlements_then_the_default() -> None:
    rules = FundingIntervals(default_ms=8 * HOUR)
    assert rules.interval("BTC/USDT:USDT", 1_700_000_000_000) == (8 * HOUR, "default")
    assert rules.interval("BTC/USDT:USDT", 1_700_000_000_000) == (8 * HOUR, "default")  # same settlement
    # next settlement moved 4 h (+47 ms of venue jitter, rounded to the minute) → inferred 4 h
    assert rules.interval("BTC/USDT:USDT", 1_700_000_000_000 + 4 * HOUR + 47) == (4 * HOUR, "inferred")
    assert rules.interval("BTC/USDT:USDT", 1_700_000_000_000 + 4 * HOUR + 47, venue_ms=HOUR) == (HOUR, "venue")
    assert rules.interval("ETH/USDT:USDT", 1_700_000_000_000) == (8 * HOUR, "default")
    assert rules.interval("ETH/USDT:USDT", 1_700_000_000_000 + 90 * 60_000) == (8 * HOUR, "default")  # 1.5 h: odd


def test_resolve_picks_spot_and_perp_and_suggests_the_closest_markets() -> None:
    markets = {"BTC/USDT": ccxt_market("BTC/USDT", "BTCUSDT", spot=True),
               "BTC/USDT:USDT": ccxt_market("BTC/USDT:USDT", "BTCUSDT", spot=False, size=1.0),
               "ETH/USDT:USDT": ccxt_market("ETH/USDT:USDT", "ETHUSDT", spot=False, size=1.0)}
    assert [m.symbol for m in resolve("binance", binance.LIVE, markets, ["BTC", "ETH"])] == [
        "BTC/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"]
    with pytest.raises(UnknownSymbol, match=r"binance has no market for ETHH; closest: ETH$"):
        resolve("binance", binance.LIVE, markets, ["ETHH"])
    with pytest.raises(UnknownSymbol, match=r"closest: BTC/USDT:USDT"):
        resolve("binance", binance.LIVE, markets, ["BTC/USDT:USD"])


def test_an_endpoint_path_ccxt_does_not_have_is_a_config_error() -> None:
    urls = {"api": {"ws": {"linear": "wss://fstream.binance.com/ws"}}}
    set_url(urls, "api.ws.linear", "ws://127.0.0.1:1/linear/ws", venue="binance")
    assert urls["api"]["ws"]["linear"] == "ws://127.0.0.1:1/linear/ws"
    with pytest.raises(ConfigError, match=r"endpoints.binance.api.ws.lineer"):
        set_url(urls, "api.ws.lineer", "ws://x", venue="binance")


def test_open_interest_is_in_base_units_from_the_venue_string() -> None:
    # OKX public/open-interest row shape (documented fields: oi in contracts, oiCcy in BTC);
    # 1234 contracts of 0.01 BTC = 12.34 BTC; ccxt's float is ignored, no quote value given.
    info = {"instId": "BTC-USDT-SWAP", "instType": "SWAP", "oi": "1234", "oiCcy": "12.34", "ts": "1652459224956"}
    oi = {"openInterestAmount": 9.0, "openInterestValue": 9.0, "timestamp": 1652459224956, "info": info}
    record = normalise.open_interest(OKX_SWAP, oi, okx.LIVE.oi_fields(info), TS)
    assert (record.open_interest, record.value, record.ts_exchange) == (Decimal("12.34"), None, 1652459224956)


def test_liquidation_side_is_the_liquidation_orders() -> None:
    # Bybit allLiquidation row shape: S is the liquidated position's side, so "Buy" (a long
    # liquidated) is a sell order; Binance forceOrder's S is already the order's side.
    perp = FeedMarket(venue="bybit", ccxt_symbol="BTC/USDT:USDT", symbol="BTC/USDT:USDT", market="perp")
    info = {"T": 1739502303204, "s": "BTCUSDT", "S": "Buy", "v": "0.003", "p": "95000.5"}
    liq = {"side": "buy", "price": 1.0, "contracts": 1.0, "timestamp": 1739502303204, "info": info}
    record = normalise.liquidation(perp, liq, bybit.LIVE.liquidation_fields(info), TS)
    assert (record.side, record.px, record.qty) == ("sell", Decimal("95000.5"), Decimal("0.003"))
    assert binance.LIVE.liquidation_fields({"S": "SELL", "ap": "1", "l": "2"}).get("side") is None
    with pytest.raises(PayloadError) as refused:
        normalise.liquidation(perp, {**liq, "side": "long"}, {}, TS)
    assert refused.value.reason == reasons.INVALID_VALUE
