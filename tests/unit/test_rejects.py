"""Bad input goes to the dead-letter topic with a reason code (docs/architecture.md §4).

One table row per way of breaking an md.* payload: each row starts from a valid payload
written out by hand below and breaks exactly one thing.
"""

import json
from decimal import Decimal
from typing import Any

import pytest

from arbflow.model import reasons
from arbflow.model.config import parse_config
from arbflow.model.market import Candle, FundingRate, MarketTrade, OrderBook, Ticker
from arbflow.model.rejected import MAX_RAW_CHARS, Rejected
from arbflow.model.validation import Universe, parse_record

UNIVERSE = Universe.from_config(parse_config({}, {}))
T0 = 1_723_075_200_000  # 2024-08-08T00:00:00Z in ms
T0_S = 1_723_075_200  # the same instant in seconds
DROP = object()  # marker: remove the field

TICKER: dict[str, Any] = {
    "venue": "binance", "symbol": "BTC/USDT:USDT", "market": "perp",
    "bid": "61837.6", "ask": "61837.7", "bid_qty": "1.5", "ask_qty": "2",
    "last": "61837.6", "mark": "61837.65", "index": None,
    "ts_exchange": T0, "ts_local": T0 + 5, "schema_version": 1,
}
BOOK: dict[str, Any] = {
    "venue": "okx", "symbol": "ETH/USDT", "market": "spot",
    "bids": [["3000.5", "1.5"], ["3000.4", "0.2"]], "asks": [["3000.6", "2"], ["3000.8", "0"]],
    "depth": 20, "seq": 123, "ts_exchange": T0, "ts_local": T0 + 5, "schema_version": 1,
}
TRADE: dict[str, Any] = {
    "venue": "bybit", "symbol": "BTC/USDT:USDT", "market": "perp", "px": "61837.6", "qty": "0.01",
    "side": "buy", "trade_id": "123456", "ts_exchange": T0, "ts_local": T0 + 5, "schema_version": 1,
}
FUNDING: dict[str, Any] = {
    "venue": "binance", "symbol": "BTC/USDT:USDT", "market": "perp", "rate": "0.0001",
    "predicted_rate": "0.00012", "interval_ms": 8 * 3_600_000, "next_funding_time": T0 + 8 * 3_600_000,
    "ts_exchange": T0, "ts_local": T0 + 5, "schema_version": 1,
}
SPOT_FUNDING: dict[str, Any] = {
    "venue": "binance", "symbol": "BTC/USDT", "market": "spot", "rate": "0", "interval_ms": 0,
    "next_funding_time": 0, "ts_local": T0, "schema_version": 1,
}
CANDLE: dict[str, Any] = {
    "venue": "binance", "symbol": "BTC/USD:BTC", "market": "perp", "interval_ms": 8 * 3_600_000,
    "open": "16531.2", "high": "16545.7", "low": "16486.6", "close": "16515.5", "volume": "4362.57949783",
    "ts_open": T0, "ts_close": T0 + 8 * 3_600_000, "ts_local": T0 + 8 * 3_600_000, "schema_version": 1,
}
BASES = {"md.ticker": TICKER, "md.book": BOOK, "md.trade": TRADE, "md.funding": FUNDING, "md.candle": CANDLE}


def _payload(base: dict[str, Any], **changes: Any) -> str:
    obj = dict(base)
    for name, value in changes.items():
        if value is DROP:
            del obj[name]
        else:
            obj[name] = value
    return json.dumps(obj)


def ticker(**changes: Any) -> tuple[str, str]:
    return "md.ticker", _payload(TICKER, **changes)


def book(**changes: Any) -> tuple[str, str]:
    return "md.book", _payload(BOOK, **changes)


def trade(**changes: Any) -> tuple[str, str]:
    return "md.trade", _payload(TRADE, **changes)


def funding(**changes: Any) -> tuple[str, str]:
    return "md.funding", _payload(FUNDING, **changes)


def spot_funding(**changes: Any) -> tuple[str, str]:
    return "md.funding", _payload(SPOT_FUNDING, **changes)


def candle(**changes: Any) -> tuple[str, str]:
    return "md.candle", _payload(CANDLE, **changes)


def row(reason: str, case: tuple[str, str], name: str) -> Any:
    return pytest.param(case[0], case[1], reason, id=f"{reason}-{name}")


TABLE = [
    # -- decoding -------------------------------------------------------------------
    row(reasons.MALFORMED_JSON, ("md.ticker", '{"venue": "binance", "symbol": '), "truncated"),
    row(reasons.MALFORMED_JSON, ("md.ticker", json.dumps([TICKER])), "array-instead-of-object"),
    row(reasons.MALFORMED_JSON, ("md.book", '"just a string"'), "string-instead-of-object"),
    row(reasons.MALFORMED_JSON, ("md.trade", ""), "empty"),
    row(reasons.MALFORMED_JSON, ("md.ticker", ticker()[1].replace('"61837.6"', "NaN", 1)), "bare-nan-literal"),
    row(reasons.MISSING_FIELD, ticker(bid=DROP), "ticker-bid"),
    row(reasons.MISSING_FIELD, ticker(schema_version=DROP), "schema-version"),
    row(reasons.MISSING_FIELD, book(bids=DROP), "book-bids"),
    row(reasons.MISSING_FIELD, funding(interval_ms=DROP), "funding-interval"),
    row(reasons.UNEXPECTED_FIELD, ticker(foo=1), "ticker-extra"),
    row(reasons.UNEXPECTED_FIELD, trade(price="61837.6"), "trade-extra"),
    row(reasons.WRONG_TYPE, ticker(bid=61837.6), "money-as-float"),
    row(reasons.WRONG_TYPE, ticker(bid_qty=2), "money-as-int"),
    row(reasons.WRONG_TYPE, book(bids=[["3000.5", 1.5]]), "book-qty-as-number"),
    row(reasons.WRONG_TYPE, book(bids=[["3000.5", "1.5", "1"]]), "book-level-of-three"),
    row(reasons.WRONG_TYPE, book(bids={"3000.5": "1.5"}), "book-side-as-object"),
    row(reasons.WRONG_TYPE, ticker(ts_local=str(T0)), "int-as-string"),
    row(reasons.WRONG_TYPE, ticker(ts_local=True), "int-as-bool"),
    row(reasons.WRONG_TYPE, ticker(ts_local=float(T0)), "int-as-float"),
    row(reasons.WRONG_TYPE, book(depth="20"), "depth-as-string"),
    row(reasons.WRONG_TYPE, trade(trade_id=123456), "str-as-int"),
    row(reasons.NON_FINITE, ticker(bid="NaN"), "nan"),
    row(reasons.NON_FINITE, ticker(ask="Infinity"), "infinity"),
    row(reasons.NON_FINITE, ticker(last="-inf"), "minus-inf"),
    row(reasons.NON_FINITE, funding(rate="sNaN"), "snan"),
    row(reasons.INVALID_NUMBER, ticker(bid="1_0"), "underscore"),
    row(reasons.INVALID_NUMBER, ticker(bid="abc"), "letters"),
    row(reasons.INVALID_NUMBER, ticker(bid=""), "empty-string"),
    row(reasons.INVALID_NUMBER, ticker(bid=" 1"), "whitespace"),
    row(reasons.INVALID_NUMBER, ticker(bid="+1"), "plus-sign"),
    row(reasons.INVALID_NUMBER, ticker(bid="١٢"), "arabic-indic-digits"),
    row(reasons.INVALID_VALUE, ticker(market="swap"), "market-enum"),
    row(reasons.INVALID_VALUE, ticker(market="PERP"), "market-case"),
    row(reasons.INVALID_VALUE, trade(side="long"), "trade-side"),
    row(reasons.INVALID_VALUE, book(depth=0), "book-depth-zero"),
    row(reasons.UNSUPPORTED_SCHEMA_VERSION, ticker(schema_version=2), "version-2"),
    row(reasons.UNSUPPORTED_SCHEMA_VERSION, book(schema_version=0), "version-0"),
    row(reasons.UNSUPPORTED_SCHEMA_VERSION, trade(schema_version="1"), "version-as-string"),
    # -- prices and sizes -----------------------------------------------------------
    row(reasons.VALUE_OUT_OF_RANGE, ticker(ask="1E+999999"), "ticker-absurd-ask"),
    row(reasons.VALUE_OUT_OF_RANGE, ticker(bid_qty="1000000000000001"), "ticker-absurd-size"),
    row(reasons.VALUE_OUT_OF_RANGE, book(asks=[["1E+40", "1.5"]]), "book-absurd-price"),
    row(reasons.NON_POSITIVE_PRICE, ticker(bid="0"), "ticker-zero-bid"),
    row(reasons.NON_POSITIVE_PRICE, ticker(bid="-61837.6"), "ticker-negative-bid"),
    row(reasons.NON_POSITIVE_PRICE, ticker(last="0E-8"), "ticker-zero-last"),
    row(reasons.NON_POSITIVE_PRICE, trade(px="0"), "trade-zero-px"),
    row(reasons.NON_POSITIVE_PRICE, book(bids=[["3000.5", "1.5"], ["0", "0.2"]]), "book-zero-level"),
    row(reasons.NON_POSITIVE_PRICE, book(bids=[["3000.5", "1.5"], ["-1", "0.2"]]), "book-negative-level"),
    row(reasons.NEGATIVE_SIZE, ticker(bid_qty="-1.5"), "ticker-bid-qty"),
    row(reasons.NEGATIVE_SIZE, book(asks=[["3000.6", "2"], ["3000.8", "-0.1"]]), "book-level-qty"),
    row(reasons.NEGATIVE_SIZE, trade(qty="-0.01"), "trade-qty"),
    row(reasons.ZERO_SIZE, trade(qty="0"), "trade-qty-0"),
    row(reasons.ZERO_SIZE, trade(qty="0.00000000"), "trade-qty-0.00000000"),
    row(reasons.ZERO_SIZE, trade(qty="-0"), "trade-qty-minus-0"),
    row(reasons.NON_POSITIVE_PRICE, candle(low="0"), "candle-zero-low"),
    row(reasons.NEGATIVE_SIZE, candle(volume="-0.1"), "candle-volume"),
    # -- books ----------------------------------------------------------------------
    row(reasons.CROSSED_BOOK, ticker(bid="61837.7"), "ticker-bid-equals-ask"),
    row(reasons.CROSSED_BOOK, ticker(bid="61837.8"), "ticker-bid-above-ask"),
    row(reasons.CROSSED_BOOK, book(bids=[["3000.6", "1.5"], ["3000.4", "0.2"]]), "book-locked"),
    row(reasons.CROSSED_BOOK, book(bids=[["3000.7", "1.5"], ["3000.4", "0.2"]]), "book-crossed"),
    row(reasons.UNSORTED_BOOK, book(bids=[["3000.4", "0.2"], ["3000.5", "1.5"]]), "bids-ascending"),
    row(reasons.UNSORTED_BOOK, book(asks=[["3000.8", "0"], ["3000.6", "2"]]), "asks-descending"),
    row(reasons.UNSORTED_BOOK, book(bids=[["3000.5", "1.5"], ["3000.5", "0.2"]]), "duplicate-level"),
    # -- timestamps -----------------------------------------------------------------
    row(reasons.TIMESTAMP_IN_SECONDS, ticker(ts_local=T0_S), "ticker-ts-local"),
    row(reasons.TIMESTAMP_IN_SECONDS, trade(ts_exchange=T0_S), "trade-ts-exchange"),
    row(reasons.TIMESTAMP_IN_SECONDS, funding(next_funding_time=T0_S + 8 * 3600), "funding-next"),
    row(reasons.TIMESTAMP_IN_MICROSECONDS, ticker(ts_local=T0 * 1_000), "ticker"),
    row(reasons.TIMESTAMP_IN_MICROSECONDS, book(ts_exchange=T0 * 1_000 + 999), "book"),
    row(reasons.TIMESTAMP_IN_NANOSECONDS, ticker(ts_local=T0 * 1_000_000), "ticker"),
    row(reasons.TIMESTAMP_IN_NANOSECONDS, funding(ts_exchange=T0 * 1_000_000 + 123_456), "funding"),
    row(reasons.TIMESTAMP_OUT_OF_RANGE, ticker(ts_local=0), "zero"),
    row(reasons.TIMESTAMP_OUT_OF_RANGE, ticker(ts_local=-T0), "negative"),
    row(reasons.TIMESTAMP_OUT_OF_RANGE, trade(ts_local=5_000_000_000_000), "year-2128"),
    # -- universe -------------------------------------------------------------------
    row(reasons.UNKNOWN_VENUE, ticker(venue="ftx"), "ftx"),
    row(reasons.UNKNOWN_VENUE, book(venue="OKX"), "wrong-case"),
    row(reasons.UNKNOWN_SYMBOL, ticker(symbol="DOGE/USDT:USDT"), "asset-not-in-universe"),
    row(reasons.UNKNOWN_SYMBOL, ticker(symbol="BTC/EUR:EUR"), "quote-not-in-universe"),
    row(reasons.UNKNOWN_SYMBOL, ticker(symbol="BTCUSDT"), "venue-id-not-unified"),
    row(reasons.UNKNOWN_SYMBOL, trade(symbol="BTC/USDT:USDT-240927"), "dated-future"),
    row(reasons.UNKNOWN_SYMBOL, funding(symbol="not a symbol"), "garbage"),
    row(reasons.MARKET_MISMATCH, ticker(market="spot"), "perp-symbol-says-spot"),
    row(reasons.MARKET_MISMATCH, book(market="perp"), "spot-symbol-says-perp"),
    # -- funding --------------------------------------------------------------------
    row(reasons.IMPOSSIBLE_INTERVAL, funding(interval_ms=0), "perp-zero"),
    row(reasons.IMPOSSIBLE_INTERVAL, funding(interval_ms=59_999), "below-one-minute"),
    row(reasons.IMPOSSIBLE_INTERVAL, funding(interval_ms=24 * 3_600_000 + 1), "above-24h"),
    row(reasons.IMPOSSIBLE_INTERVAL, funding(interval_ms=-8 * 3_600_000), "negative"),
    row(reasons.IMPOSSIBLE_RATE, funding(rate="0.5"), "rate-50pct"),
    row(reasons.IMPOSSIBLE_RATE, funding(rate="-0.5"), "rate-minus-50pct"),
    row(reasons.IMPOSSIBLE_RATE, funding(predicted_rate="0.03000001"), "predicted-just-above-cap"),
    # the cap is 3 % per 8 h, scaled to the interval: 0.375 % per hour
    row(reasons.IMPOSSIBLE_RATE, funding(rate="0.00375001", interval_ms=3_600_000), "hourly-just-above-cap"),
    row(reasons.IMPOSSIBLE_RATE, funding(rate="1E+999999"), "rate-1e999999"),
    row(reasons.INVALID_SENTINEL, spot_funding(rate="0.0001"), "spot-with-rate"),
    row(reasons.INVALID_SENTINEL, spot_funding(interval_ms=8 * 3_600_000), "spot-with-interval"),
    row(reasons.INVALID_SENTINEL, spot_funding(next_funding_time=T0 + 8 * 3_600_000), "spot-with-next"),
    row(reasons.INVALID_SENTINEL, spot_funding(predicted_rate="0"), "spot-with-predicted-0"),
    row(reasons.INVALID_SENTINEL, funding(next_funding_time=0), "perp-with-next-0"),
    # -- candles --------------------------------------------------------------------
    row(reasons.INCONSISTENT_CANDLE, candle(high="16515.4"), "high-below-close"),
    row(reasons.INCONSISTENT_CANDLE, candle(high="16531.1", close="16500"), "high-below-open"),
    row(reasons.INCONSISTENT_CANDLE, candle(low="16515.6"), "low-above-close"),
    row(reasons.INCONSISTENT_CANDLE, candle(ts_close=T0 + 4 * 3_600_000), "close-not-open-plus-interval"),
    row(reasons.INCONSISTENT_CANDLE, candle(interval_ms=0, ts_close=T0, ts_local=T0), "zero-interval"),
    row(reasons.INCONSISTENT_CANDLE, candle(ts_local=T0 + 8 * 3_600_000 - 1), "published-before-close"),
    row(reasons.UNKNOWN_VENUE, candle(venue="ftx"), "candle-ftx"),
    row(reasons.MARKET_MISMATCH, candle(market="spot"), "candle-perp-symbol-says-spot"),
    row(reasons.TIMESTAMP_IN_SECONDS, candle(ts_open=T0_S, ts_close=T0_S + 8 * 3600, ts_local=T0_S + 8 * 3600,
                                             interval_ms=8 * 3600), "candle-seconds"),
    # -- routing --------------------------------------------------------------------
    row(reasons.UNKNOWN_TOPIC, ("md.tickers", ticker()[1]), "typo"),
    row(reasons.UNKNOWN_TOPIC, ("", ticker()[1]), "empty"),
    row(reasons.UNKNOWN_TOPIC, ("MD.TICKER", ticker()[1]), "upper-case"),
]


@pytest.mark.parametrize(("topic", "data", "reason"), TABLE)
def test_parse_record_returns_rejected_with_reason_when_one_thing_is_broken(topic: str, data: str,
                                                                            reason: str) -> None:
    result = parse_record(topic, data, UNIVERSE)
    assert isinstance(result, Rejected), f"accepted: {result!r}"
    assert result.reason == reason, result.detail
    assert result.raw == data
    assert result.raw_truncated is False
    assert result.source == topic
    assert result.detail  # a human explanation is always there


@pytest.mark.parametrize(("topic", "data", "reason"), TABLE)
def test_parse_record_keeps_raw_bytes_when_input_is_bytes(topic: str, data: str, reason: str) -> None:
    result = parse_record(topic, data.encode(), UNIVERSE)
    assert isinstance(result, Rejected)
    assert result.reason == reason
    assert result.raw == data


def test_table_covers_every_reason_code_when_codes_are_listed() -> None:
    covered = {param.values[2] for param in TABLE}
    assert set(reasons.INPUT_REASONS) - covered == set(), "add a row to TABLE for every new reason code"
    assert covered <= set(reasons.INPUT_REASONS)


# -- the valid starting points really are valid -----------------------------------------


def test_parse_record_returns_ticker_when_base_ticker_payload_is_valid() -> None:
    assert parse_record(*ticker(), UNIVERSE) == Ticker(
        venue="binance", symbol="BTC/USDT:USDT", market="perp", bid=Decimal("61837.6"),
        ask=Decimal("61837.7"), bid_qty=Decimal("1.5"), ask_qty=Decimal(2), last=Decimal("61837.6"),
        mark=Decimal("61837.65"), index=None, ts_exchange=T0, ts_local=T0 + 5)


def test_parse_record_returns_book_when_base_book_payload_is_valid() -> None:
    assert parse_record(*book(), UNIVERSE) == OrderBook(
        venue="okx", symbol="ETH/USDT", market="spot",
        bids=((Decimal("3000.5"), Decimal("1.5")), (Decimal("3000.4"), Decimal("0.2"))),
        asks=((Decimal("3000.6"), Decimal(2)), (Decimal("3000.8"), Decimal(0))),
        depth=20, seq=123, ts_exchange=T0, ts_local=T0 + 5)


def test_parse_record_returns_trade_when_base_trade_payload_is_valid() -> None:
    assert parse_record(*trade(), UNIVERSE) == MarketTrade(
        venue="bybit", symbol="BTC/USDT:USDT", market="perp", px=Decimal("61837.6"), qty=Decimal("0.01"),
        side="buy", trade_id="123456", ts_exchange=T0, ts_local=T0 + 5)


def test_parse_record_returns_funding_when_base_funding_payload_is_valid() -> None:
    assert parse_record(*funding(), UNIVERSE) == FundingRate(
        venue="binance", symbol="BTC/USDT:USDT", market="perp", rate=Decimal("0.0001"),
        predicted_rate=Decimal("0.00012"), interval_ms=28_800_000, next_funding_time=T0 + 28_800_000,
        ts_exchange=T0, ts_local=T0 + 5)


def test_parse_record_returns_candle_when_base_candle_payload_is_valid() -> None:
    assert parse_record(*candle(), UNIVERSE) == Candle(
        venue="binance", symbol="BTC/USD:BTC", market="perp", interval_ms=28_800_000, open=Decimal("16531.2"),
        high=Decimal("16545.7"), low=Decimal("16486.6"), close=Decimal("16515.5"), volume=Decimal("4362.57949783"),
        ts_open=T0, ts_close=T0 + 28_800_000, ts_local=T0 + 28_800_000)


@pytest.mark.parametrize("changes", [
    {"open": "16545.7", "close": "16486.6"}, {"high": "16531.2", "low": "16515.5"},
    {"volume": "0"}, {"ts_local": T0 + 9 * 3_600_000},
], ids=["open-at-high-close-at-low", "high-and-low-equal-to-open-and-close", "zero-volume", "published-late"])
def test_parse_record_accepts_candle_when_value_is_on_the_boundary(changes: dict[str, Any]) -> None:
    assert isinstance(parse_record(*candle(**changes), UNIVERSE), Candle)


def test_parse_record_returns_funding_when_spot_sentinel_is_valid() -> None:
    assert parse_record(*spot_funding(), UNIVERSE) == FundingRate(
        venue="binance", symbol="BTC/USDT", market="spot", rate=Decimal(0), predicted_rate=None,
        interval_ms=0, next_funding_time=0, ts_exchange=None, ts_local=T0)


@pytest.mark.parametrize(("rate", "interval_ms"), [
    ("0.03", 8 * 3_600_000), ("-0.03", 8 * 3_600_000), ("0.0000625", 60_000), ("0.09", 24 * 3_600_000),
    ("0.00375", 3_600_000),
], ids=["rate-at-cap", "rate-at-minus-cap", "one-minute-at-cap", "24h-at-cap", "hourly-at-cap"])
def test_parse_record_accepts_funding_when_value_is_on_the_boundary(rate: str, interval_ms: int) -> None:
    assert isinstance(parse_record(*funding(rate=rate, predicted_rate=rate, interval_ms=interval_ms), UNIVERSE),
                      FundingRate)


def test_parse_record_accepts_book_when_one_side_is_empty() -> None:
    assert isinstance(parse_record(*book(asks=[]), UNIVERSE), OrderBook)


# -- what else a dead letter carries ----------------------------------------------------


def test_rejected_carries_event_time_when_record_decoded_but_failed_validation() -> None:
    result = parse_record(*ticker(bid="0"), UNIVERSE)
    assert result.ts == T0 + 5  # ts_local wins over ts_exchange


def test_rejected_carries_event_time_when_a_field_failed_to_decode() -> None:
    result = parse_record(*ticker(bid="NaN"), UNIVERSE)
    assert result.ts == T0 + 5


def test_rejected_has_no_event_time_when_json_is_malformed() -> None:
    assert parse_record("md.ticker", "{", UNIVERSE).ts is None


def test_rejected_names_source_when_source_is_given() -> None:
    result = parse_record(*ticker(bid="0"), UNIVERSE, source="replay.jsonl:7")
    assert result.source == "replay.jsonl:7"


def test_rejected_truncates_raw_when_input_is_longer_than_the_limit() -> None:
    data = '{"x": "' + "a" * (MAX_RAW_CHARS + 10) + '"}'
    result = parse_record("md.ticker", data, UNIVERSE)
    assert result.reason == reasons.MISSING_FIELD
    assert result.raw_truncated is True
    assert result.raw == data[:MAX_RAW_CHARS]


def test_rejected_replaces_bad_utf8_when_input_bytes_are_not_utf8() -> None:
    result = parse_record("md.ticker", b'{"venue": "\xff"}', UNIVERSE)
    assert result.reason == reasons.MALFORMED_JSON
    assert result.raw == '{"venue": "\ufffd"}'


@pytest.mark.parametrize("version", [True, 1.0, "1", None], ids=["true", "1.0", "string", "null"])
def test_parse_record_rejects_schema_version_when_it_is_not_a_json_integer(version: Any) -> None:
    # Codec rule: integers are JSON integers, never booleans or floats — even where the
    # value compares equal to the known version (True == 1 == 1.0 in Python).
    result = parse_record(*ticker(schema_version=version), UNIVERSE)
    assert isinstance(result, Rejected), (
        f"BUG model/codec.py _RecordDecoder/_check_keys: schema_version {version!r} was accepted; the check "
        "`obj['schema_version'] != self.version` lets True and 1.0 through and the field is no longer converted "
        "with _int — test `type(v) is not int or v != self.version`")
    assert result.reason in (reasons.WRONG_TYPE, reasons.UNSUPPORTED_SCHEMA_VERSION)
