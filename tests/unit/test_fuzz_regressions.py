"""Regressions found by `make fuzz` (bench/fuzz): each input below crashed or hung a
normaliser (an exception other than its documented reject) and is now a reject with a
reason. The payloads are the fuzzer's reproducers, cut to what matters."""

import time
from collections import Counter
from decimal import Decimal
from pathlib import Path

import pytest

from arbflow.connectors import payload
from arbflow.connectors.captures import cryptofeed, hftbacktest
from arbflow.connectors.feeds import compat_tickers
from arbflow.connectors.payload import PayloadError
from arbflow.connectors.venues import binance, bybit, gate, hyperliquid, kucoin, okx
from arbflow.model import codec, reasons, topics


def test_money_refuses_absurd_magnitudes_when_they_would_overflow_arithmetic() -> None:
    for text in ("1e999999999", "-1e999999999", "1e-999999999"):
        with pytest.raises(PayloadError) as bad:
            payload.money(text, "B", topics.MD_TICKER)
        assert bad.value.reason == reasons.INVALID_NUMBER
    assert payload.money("0E-50", "B", topics.MD_TICKER) == 0
    assert payload.money("0.00000001", "B", topics.MD_TICKER) == Decimal("0.00000001")


def test_ms_rejects_a_huge_timestamp_at_once_when_int_would_take_minutes() -> None:
    # bybit reproducer: {"type":"delta",…,"timestamp_e6":1E+999999}; int() of it ran > 20 s
    started = time.perf_counter()
    with pytest.raises(PayloadError) as bad:
        payload.ms(Decimal("1E+999999"), "timestamp_e6", topics.MD_BOOK, unit="us")
    assert bad.value.reason == reasons.INVALID_NUMBER
    assert time.perf_counter() - started < 0.1


def test_ms_rejects_a_timestamp_beyond_64_bits_when_the_codec_could_not_write_it() -> None:
    # okx trade reproducer: "ts":"123456789012345678901234567890.5"
    with pytest.raises(PayloadError) as bad:
        payload.ms("123456789012345678901234567890.5", "ts", topics.MD_TRADE)
    assert bad.value.reason == reasons.INVALID_NUMBER


def test_integer_rejects_non_ascii_digits_and_64_bit_overflow() -> None:
    for value in ("²", "١٢٣", 2**64, "18446744073709551616"):
        with pytest.raises(PayloadError):
            payload.integer(value, "id", topics.MD_BOOK)


def test_inverse_contracts_reject_a_zero_price_when_dividing_by_it() -> None:
    with pytest.raises(PayloadError) as bad:
        payload.usd_contracts(Decimal(10))(Decimal(0), Decimal(5))
    assert bad.value.reason == reasons.NON_POSITIVE_PRICE


def _coinm_feed() -> binance.Feed:
    feed = binance.Feed(kind="coinm")
    feed.reference("https://dapi.binance.com/dapi/v1/exchangeInfo",
                   {"symbols": [{"symbol": "ETCUSD_PERP", "contractSize": 10}]}, 0)
    return feed


@pytest.mark.parametrize(("field", "value", "reason"), [
    ("b", "0", reasons.NON_POSITIVE_PRICE),  # was DivisionByZero
    ("B", "-1e999999999", reasons.INVALID_NUMBER),  # was decimal.Overflow
])
def test_coin_m_book_ticker_rejects_when_scaling_cannot_work(field: str, value: str, reason: str) -> None:
    data = {"u": 167006117089, "e": "bookTicker", "s": "ETCUSD_PERP", "ps": "ETCUSD", "b": "42.251", "B": "344",
            "a": "42.261", "A": "344", "T": 1626916405968, "E": 1626916405973, field: value}
    with pytest.raises(PayloadError) as bad:
        _coinm_feed().message({"stream": "etcusd_perp@bookTicker", "data": data}, 1626916409227)
    assert bad.value.reason == reason


def test_binance_event_time_beyond_64_bits_is_dropped_when_the_record_must_stay_writable() -> None:
    data = {"e": "bookTicker", "u": 600860109910, "s": "SUSHIUSDT", "b": "7.6170", "B": "4", "a": "7.6180",
            "A": "54", "T": 1626992760822, "E": 18446744073709551616}
    ticker = binance.book_ticker(data, "perp", 1626992760874)
    assert ticker.ts_exchange is None
    codec.encode(ticker)


@pytest.mark.parametrize("body", [[{"lastUpdateId": 1, "bids": [], "asks": []}], "x", None])
def test_binance_depth_snapshot_that_is_not_an_object_is_rejected(body: object) -> None:
    feed = binance.Feed(kind="usdm")
    with pytest.raises(PayloadError) as bad:
        feed.snapshot("https://fapi.binance.com/fapi/v1/depth?symbol=SUSHIUSDT&limit=1000", body, 1626992741301)
    assert bad.value.reason == reasons.WRONG_TYPE


def _synced_bybit() -> bybit.Feed:
    feed = bybit.Feed()
    feed.message({"topic": "orderBookL2_25.EOSUSD", "type": "snapshot", "cross_seq": 1,
                  "timestamp_e6": 1618677789838743,
                  "data": [{"price": "5.0", "symbol": "EOSUSD", "id": "1", "side": "Buy", "size": 10},
                           {"price": "5.1", "symbol": "EOSUSD", "id": "2", "side": "Sell", "size": 10}]}, 1618677789929)
    return feed


def test_bybit_delta_rows_that_are_not_a_list_are_rejected() -> None:
    # reproducer: "data":{"delete":[],"update":1.5,"insert":[],…} raised TypeError
    with pytest.raises(PayloadError) as bad:
        _synced_bybit().message({"topic": "orderBookL2_25.EOSUSD", "type": "delta", "cross_seq": 2,
                                 "timestamp_e6": 1618677789838743,
                                 "data": {"delete": [], "update": Decimal("1.5"), "insert": []}}, 1618677789929)
    assert bad.value.reason == reasons.WRONG_TYPE


def test_bybit_level_side_that_is_an_object_is_rejected() -> None:
    # reproducer: a snapshot level with "side": {…} raised TypeError: unhashable type
    with pytest.raises(PayloadError) as bad:
        bybit.Feed().message({"topic": "orderBookL2_25.XTZUSDT", "type": "snapshot", "cross_seq": 1,
                              "timestamp_e6": 1618677789838743,
                              "data": [{"price": "7.183", "id": "71830", "side": {"v": "Buy"}, "size": 1145}]}, 0)
    assert bad.value.reason == reasons.INVALID_VALUE


def test_gate_book_update_with_a_non_string_contract_is_rejected() -> None:
    # reproducer: "result":{"s":["BTC_USDT"],…} raised TypeError: unhashable type: 'list'
    with pytest.raises(PayloadError) as bad:
        gate.Feed(futures=False).message({"channel": "spot.order_book_update", "event": "update",
                                          "result": {"s": ["BTC_USDT"], "U": 1, "u": 2, "b": [], "a": []}}, 0)
    assert bad.value.reason == reasons.MISSING_FIELD


def test_hyperliquid_absurd_price_is_rejected() -> None:
    data = {"coin": "BTC", "time": 1737918843893, "levels": [[{"px": "1e999999999", "sz": "1", "n": 1}],
                                                             [{"px": "105056.0", "sz": "1", "n": 1}]]}
    with pytest.raises(PayloadError) as bad:
        hyperliquid.parse_l2_book(data, 1737918843893)
    assert bad.value.reason == reasons.INVALID_NUMBER


def test_compat_ticker_timestamp_with_a_superscript_digit_is_rejected() -> None:
    key = compat_tickers.parse_key("binance:linear:tickers:BTCUSDT")
    obj = {"b": "61800.20", "B": "2.507", "a": "61800.30", "A": "2.510", "E": "1723161256313²"}  # isdigit, not int
    with pytest.raises(PayloadError) as bad:
        compat_tickers.ticker(key, obj, 1723161256313)
    assert bad.value.reason == reasons.WRONG_TYPE


def test_compat_value_nested_too_deeply_is_malformed_json() -> None:
    # reproducer: "[" × 100,000 + a ticker + "]" × 100,000 raised RecursionError
    with pytest.raises(PayloadError) as bad:
        compat_tickers.decode(b"[" * 100_000 + b"{}" + b"]" * 100_000)
    assert bad.value.reason == reasons.MALFORMED_JSON


def test_cryptofeed_line_nested_too_deeply_is_a_dead_letter(tmp_path: Path) -> None:
    path = tmp_path / "OKX.ws.1.0"
    path.write_text("1652459229.267: " + "[" * 100_000 + "]" * 100_000 + "\n")
    (item,) = list(cryptofeed.read_capture(path))
    assert item[0] == topics.DLQ_REPLAY
    assert item[1].reason == reasons.MALFORMED_JSON


def test_cryptofeed_line_with_invalid_utf8_is_judged_alone_when_the_conversion_goes_on(tmp_path: Path) -> None:
    # reproducer: a byte flip inside "lrcbtc@depth@100ms" raised UnicodeDecodeError for the whole file
    path = tmp_path / "BINANCE.ws.1.0"
    path.write_bytes(b'1633998530.271988: {"stream":"lrcbtc@dep\xb4th@100ms","data":{}}\n'
                     b'1633998530.3: {"stream":"lrcbtc@bookTicker","data":{"u":1,"s":"\xb4","b":"1","B":"1",'
                     b'"a":"2","A":"1"}}\n')
    counts: Counter[str] = Counter()
    items = list(cryptofeed.read_capture(path, counts=counts))
    assert counts["skipped:binance-dep\ufffdth@100ms"] == 1  # an unknown channel now
    assert [(topic, item.reason) for topic, item in items] == [("dlq.md.ticker", reasons.UNKNOWN_SYMBOL)]


def test_cryptofeed_receive_time_past_64_bits_is_a_malformed_line(tmp_path: Path) -> None:
    path = tmp_path / "OKX.ws.1.0"
    path.write_text("1" + "0" * 40 + ": {}\n")
    (item,) = list(cryptofeed.read_capture(path))
    assert item[0] == topics.DLQ_REPLAY


def test_hftbacktest_receive_time_past_64_bits_is_a_dead_letter(tmp_path: Path) -> None:
    # reproducer: a stamp of 49 digits made a Ticker the replay writer could not write
    path = tmp_path / "usdm_btcusdt_fuzz"
    path.write_bytes(b'1723161255130632567000000000000000000000000000000 {"stream":"btcusdt@bookTicker","data":'
                     b'{"e":"bookTicker","u":5123107846444,"s":"BTCUSDT","b":"61800.20","B":"2.658","a":"61800.30",'
                     b'"A":"2.209","T":1723161256399,"E":1723161256400}}\n')
    (item,) = list(hftbacktest.read_capture(path))
    assert item[0] == topics.DLQ_REPLAY
    assert item[1].reason == reasons.MALFORMED_JSON


def test_hftbacktest_stream_that_is_not_a_string_is_skipped(tmp_path: Path) -> None:
    # reproducer: {"stream":null,…} raised TypeError: argument of type 'NoneType' is not iterable
    path = tmp_path / "usdm_btcusdt_fuzz"
    path.write_bytes(b'1723161261408331551 {"stream":null,"data":{"e":"bookTicker","u":5123108269796,"s":"BTCUSDT",'
                     b'"b":"61809.40","B":"1.493","a":"61809.50","A":"4.030","T":1723161262677,"E":1723161262677}}\n')
    counts: Counter[str] = Counter()
    assert list(hftbacktest.read_capture(path, counts=counts)) == []
    assert counts["skipped:unknown"] == 1


def test_funding_rate_of_absurd_magnitude_is_an_impossible_rate_when_abs_would_overflow() -> None:
    # reproducer (md.funding): "rate":"1e999999999" made validation raise decimal.Overflow
    from arbflow.model.config import parse_config
    from arbflow.model.validation import Universe, parse_record

    universe = Universe.from_config(parse_config({}, {}))
    line = (b'{"venue":"hyperliquid","symbol":"BTC/USDT:USDT","market":"perp","rate":"1e999999999",'
            b'"predicted_rate":"1e18","interval_ms":100000,"next_funding_time":980381278524,'
            b'"ts_exchange":1735486403058,"ts_local":1059520364580,"schema_version":1}')
    rejected = parse_record(topics.MD_FUNDING, line, universe)
    assert rejected.reason == reasons.IMPOSSIBLE_RATE


def test_kucoin_book_changes_that_are_not_lists_are_rejected() -> None:
    # reproducer: "changes":{"asks":true,"bids":[]} raised TypeError: 'bool' object is not iterable
    feed = kucoin.Feed()
    feed.snapshot("https://api.kucoin.com/api/v3/market/orderbook/level2?symbol=SNX-BTC",
                  {"code": "200000", "data": {"time": 1619378326628, "sequence": "1612844051650",
                                              "bids": [["0.0003", "5"]], "asks": [["0.0004", "5"]]}}, 1619378326664)
    with pytest.raises(PayloadError) as bad:
        feed.message({"data": {"sequenceStart": 1612844051654, "symbol": "SNX-BTC",
                               "changes": {"asks": True, "bids": []}, "sequenceEnd": 1612844051654},
                      "subject": "trade.l2update",
                      "topic": "/market/level2:SNX-BTC", "type": "message"}, 1619378326664)
    assert bad.value.reason == reasons.WRONG_TYPE


def test_okx_instrument_list_that_is_not_a_list_is_rejected() -> None:
    # reproducer: {"code":"0","data":1.5,"msg":""} raised TypeError: 'decimal.Decimal' object is not iterable
    with pytest.raises(PayloadError) as bad:
        okx.Feed().reference("https://www.okx.com/api/v5/public/instruments?instType=SWAP",
                             {"code": "0", "data": Decimal("1.5"), "msg": ""}, 1652459033160)
    assert bad.value.reason == reasons.WRONG_TYPE


def test_cryptofeed_line_with_a_lone_surrogate_escape_is_a_dead_letter(tmp_path: Path) -> None:
    # reproducer (bybit): "trade_id":"f4\ud8009c1f99-…" made a MarketTrade the replay writer could not write
    path = tmp_path / "BYBIT.ws.25.0"
    path.write_text('1618677792.255: {"topic":"trade.BTCUSDT","data":[{"trade_time_ms":1618677792092,'
                    '"symbol":"BTCUSDT","side":"Buy","size":1,"price":"60623","trade_id":"f4\\ud8009c"}]}\n')
    (item,) = list(cryptofeed.read_capture(path))
    assert (item[0], item[1].reason) == (topics.DLQ_REPLAY, reasons.MALFORMED_JSON)


def test_hyperliquid_capture_channel_that_is_not_a_string_is_skipped(tmp_path: Path) -> None:
    # reproducer: {"channel":["l2Book"],…} raised TypeError: unhashable type: 'list'
    path = tmp_path / "hyperliquid_btcusd_fuzz"
    path.write_bytes(b'1737918850346993000 {"channel":["l2Book"],"data":{"coin":"BTC","levels":[[],[]]}}\n')
    counts: Counter[str] = Counter()
    assert list(hftbacktest.read_capture(path, counts=counts)) == []
    assert counts["skipped:None"] == 1
