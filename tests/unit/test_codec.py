"""The codec: records ⇄ JSON bytes, money as exact decimal strings (docs/architecture.md §4, §3.1)."""

import dataclasses
import json
import typing
from decimal import Decimal
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arbflow.model import codec, reasons
from arbflow.model.codec import EncodeError, decode, encode
from arbflow.model.config import parse_config
from arbflow.model.execution import EntryDenied, Fill
from arbflow.model.market import OrderBook, Ticker
from arbflow.model.rejected import Rejected
from arbflow.model.signals import ConfluenceComponents
from arbflow.model.topics import RECORD_TYPES, dlq_topic
from arbflow.model.validation import Universe, parse_record
from tests import strategies as S

UNIVERSE = Universe.from_config(parse_config({}, {}))
ALL_CLASSES = list(S.RECORDS)
TOPICS = list(RECORD_TYPES)
EXAMPLES = settings(max_examples=60, deadline=None, database=None)


def _ticker(**changes: Any) -> Ticker:
    fields: dict[str, Any] = {
        "venue": "binance", "symbol": "BTC/USDT", "market": "spot",
        "bid": Decimal("61837.63"), "ask": Decimal("61837.64"),
        "bid_qty": Decimal("1.5"), "ask_qty": Decimal("0.25"), "ts_local": 1_723_075_200_000,
    }
    fields.update(changes)
    return Ticker(**fields)


def _fill(fee: Decimal) -> Fill:
    return Fill(fill_id="f1", client_order_id="entry_BTC/USDT_1_0", trade_id="t1", venue="binance",
                symbol="BTC/USDT:USDT", side="buy", px=Decimal("61837.6"), qty=Decimal("0.01"), fee=fee,
                fee_currency="USDT", liquidity="taker", ts=1_723_075_200_000)


def _is_money(annotation: Any) -> bool:
    return annotation is Decimal or (typing.get_origin(annotation) in (typing.Union, type(int | None))
                                     and Decimal in typing.get_args(annotation))


# -- round trips ------------------------------------------------------------------------


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@EXAMPLES
@given(data=st.data())
def test_decode_returns_the_same_record_when_an_encoded_record_is_read_back(cls: type, data: st.DataObject) -> None:
    record = data.draw(S.RECORDS[cls])
    wire = encode(record)
    back = decode(cls, wire, source="test")
    assert back == record
    assert encode(back) == wire  # byte-exact: every Decimal keeps its written exponent too


@pytest.mark.parametrize("text", [
    "1.00000001",
    "0E-8",
    "-0E-8",
    "0",
    "-0",
    "0.000",
    "1E+2",
    "1.50E+5",
    "61837.63000000",
    "1E-30",
    "-1.23456789012345678901234567890123456789E-400",
    "123456789012345678901234567890.123456789012345678901234567890",
    "9.99999999999999999999999999999999999999E+999999",
])
def test_decimal_keeps_value_and_exponent_when_it_goes_through_the_wire(text: str) -> None:
    value = Decimal(text)
    wire = encode(_fill(value))
    assert f'"fee":"{value}"'.encode() in wire  # a JSON string, never a number
    back = decode(Fill, wire, source="test")
    assert back.fee.as_tuple() == value.as_tuple()


@EXAMPLES
@given(value=st.decimals(allow_nan=False, allow_infinity=False))
def test_decimal_keeps_value_and_exponent_when_any_finite_decimal_goes_through_the_wire(value: Decimal) -> None:
    back = decode(Fill, encode(_fill(value)), source="test")
    assert back.fee.as_tuple() == value.as_tuple()


def test_seed_precision_survives_when_price_has_eight_places() -> None:
    # A precision test: 1.00000001 must not become 1.0 (as it would through a
    # float with fewer digits, or through a cut-off formatter).
    ticker = _ticker(bid=Decimal("1.00000001"), ask=Decimal("1.00000002"))
    wire = encode(ticker)
    assert b'"bid":"1.00000001"' in wire
    back = parse_record("md.ticker", wire, UNIVERSE)
    assert back.bid == Decimal("1.00000001")
    assert back.bid - Decimal(1) == Decimal("0.00000001")
    assert back.ask - back.bid == Decimal("0.00000001")


def test_sum_is_exact_when_point_one_and_point_two_go_through_the_wire() -> None:
    assert 0.1 + 0.2 != 0.3  # the float trap the wire format avoids
    ticker = _ticker(bid=Decimal("0.1"), ask=Decimal("0.2"), bid_qty=Decimal("0.2"))
    back = parse_record("md.ticker", encode(ticker), UNIVERSE)
    assert back.bid + back.bid_qty == Decimal("0.3")
    assert back.bid + back.ask == Decimal("0.3")


def test_encode_writes_declaration_order_and_strings_when_record_is_a_ticker() -> None:
    expected = (b'{"venue":"binance","symbol":"BTC/USDT","market":"spot","bid":"61837.63","ask":"61837.64",'
                b'"bid_qty":"1.5","ask_qty":"0.25","last":null,"mark":null,"index":null,"ts_exchange":null,'
                b'"ts_local":1723075200000,"schema_version":1}')
    assert encode(_ticker()) == expected


def test_encode_writes_levels_as_string_pairs_when_record_is_a_book() -> None:
    book = OrderBook(venue="okx", symbol="ETH/USDT:USDT", market="perp",
                     bids=((Decimal("3000.5"), Decimal("2")),), asks=((Decimal("3000.6"), Decimal("0.1")),),
                     depth=5, ts_local=1_723_075_200_000)
    wire = encode(book)
    assert b'"bids":[["3000.5","2"]],"asks":[["3000.6","0.1"]],"depth":5,"seq":null' in wire
    assert decode(OrderBook, wire, source="test") == book


def test_decode_fills_defaults_when_optional_fields_are_absent() -> None:
    data = (b'{"venue":"binance","symbol":"BTC/USDT","market":"spot","bid":"1","ask":"2",'
            b'"bid_qty":"3","ask_qty":"4","ts_local":1723075200000,"schema_version":1}')
    assert decode(Ticker, data, source="test") == Ticker(
        venue="binance", symbol="BTC/USDT", market="spot", bid=Decimal(1), ask=Decimal(2),
        bid_qty=Decimal(3), ask_qty=Decimal(4), last=None, mark=None, index=None, ts_exchange=None,
        ts_local=1_723_075_200_000)


def test_decode_accepts_text_when_input_is_str_instead_of_bytes() -> None:
    wire = encode(_ticker())
    assert decode(Ticker, wire.decode(), source="test") == _ticker()


# EntryDenied has no topic (the flow counts it and drops it), so it is not among S.RECORDS.
_entry_denials = st.builds(EntryDenied, opportunity_id=S.identifiers, asset=S.assets, reason=S.codes,
                           detail=S.free_text, ts=S.timestamps_ms)


@EXAMPLES
@given(record=_entry_denials)
def test_decode_returns_the_same_entry_denied_when_it_is_read_back(record: EntryDenied) -> None:
    wire = encode(record)
    assert decode(EntryDenied, wire, source="test") == record
    assert encode(decode(EntryDenied, wire, source="test")) == wire


def test_encode_writes_an_entry_denied_in_declaration_order_with_its_schema_version() -> None:
    denied = EntryDenied(opportunity_id="BTC:okx>binance@1", asset="BTC", reason=reasons.SCORE_TOO_LOW,
                         detail="score 40 < 60", ts=1_723_161_600_000)
    assert encode(denied) == (b'{"opportunity_id":"BTC:okx>binance@1","asset":"BTC","reason":"SCORE_TOO_LOW",'
                              b'"detail":"score 40 < 60","ts":1723161600000,"schema_version":1}')


# -- validation accepts what the strategies build ---------------------------------------


@pytest.mark.parametrize("topic", TOPICS)
@EXAMPLES
@given(data=st.data())
def test_parse_record_returns_the_record_when_a_valid_record_is_read(topic: str, data: st.DataObject) -> None:
    record = data.draw(S.RECORDS[RECORD_TYPES[topic]])
    parsed = parse_record(topic, encode(record), UNIVERSE)
    assert not isinstance(parsed, Rejected), parsed
    assert parsed == record


@EXAMPLES
@given(record=S.rejecteds)
def test_parse_record_returns_the_dead_letter_when_read_from_a_dlq_topic(record: Rejected) -> None:
    assert parse_record(dlq_topic("md.ticker"), encode(record), UNIVERSE) == record


# -- encode refuses what the wire cannot carry ------------------------------------------


def _assert_encode_error(write: Any, value: Any) -> None:
    """`write(value)` must raise EncodeError (the codec's documented contract)."""
    try:
        write(value)
    except EncodeError:
        return
    except Exception as error:  # the bug is that another type escapes
        pytest.fail(
            f"BUG model/codec.py _default/encode/dumps: a non-finite Decimal raised {type(error).__name__} "
            f"({error}) instead of EncodeError — orjson wraps exceptions raised in `default` into "
            "orjson.JSONEncodeError (a TypeError); encode/dumps must re-raise the EncodeError cause")
    pytest.fail(f"{write.__name__} wrote a non-finite Decimal instead of raising EncodeError")


@pytest.mark.parametrize("text", ["NaN", "sNaN", "Infinity", "-Infinity"])
def test_encode_raises_encode_error_when_a_decimal_is_not_finite(text: str) -> None:
    _assert_encode_error(encode, _ticker(last=Decimal(text)))


def test_encode_raises_encode_error_when_a_book_level_is_not_finite() -> None:
    book = OrderBook(venue="okx", symbol="ETH/USDT:USDT", market="perp",
                     bids=((Decimal("NaN"), Decimal("2")),), asks=(), depth=5, ts_local=1_723_075_200_000)
    _assert_encode_error(encode, book)


def test_dumps_raises_encode_error_when_a_decimal_is_not_finite() -> None:
    _assert_encode_error(codec.dumps, {"px": Decimal("Infinity")})


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")], ids=["nan", "inf", "-inf"])
@pytest.mark.parametrize("name", [f.name for f in dataclasses.fields(ConfluenceComponents)])
@settings(max_examples=5, deadline=None, database=None)
@given(opportunity=S.opportunities)
def test_encode_raises_encode_error_when_a_score_float_is_not_finite(opportunity: Any, name: str,
                                                                     value: float) -> None:
    broken = dataclasses.replace(opportunity,
                                 components=dataclasses.replace(opportunity.components, **{name: value}))
    with pytest.raises(EncodeError):
        encode(broken)


# -- decode refuses money given as JSON numbers -----------------------------------------


@pytest.mark.parametrize("cls", [c for c in ALL_CLASSES
                                 if any(_is_money(t) for t in typing.get_type_hints(c).values())],
                         ids=lambda c: c.__name__)
@EXAMPLES
@given(data=st.data())
def test_decode_rejects_wrong_type_when_money_is_a_json_number(cls: type, data: st.DataObject) -> None:
    obj = orjson.loads(encode(data.draw(S.RECORDS[cls])))
    hints = typing.get_type_hints(cls)
    money = sorted(name for name, tp in hints.items() if _is_money(tp) and isinstance(obj.get(name), str))
    if not money:  # every money field of this record is an absent optional
        return
    name = data.draw(st.sampled_from(money))
    number = data.draw(st.sampled_from(["float", "int"]))
    obj[name] = float(obj[name]) if number == "float" else int(Decimal(obj[name]))
    result = decode(cls, json.dumps(obj), source="test")
    assert isinstance(result, Rejected)
    assert result.reason == reasons.WRONG_TYPE
    assert name in result.detail


@pytest.mark.parametrize(("cls", "obj"), [
    (OrderBook, {"venue": "okx", "symbol": "ETH/USDT:USDT", "market": "perp", "bids": [["3000.5", 2]],
                 "asks": [], "depth": 5, "ts_local": 1_723_075_200_000, "schema_version": 1}),
    (OrderBook, {"venue": "okx", "symbol": "ETH/USDT:USDT", "market": "perp", "bids": [[3000.5, "2"]],
                 "asks": [], "depth": 5, "ts_local": 1_723_075_200_000, "schema_version": 1}),
], ids=["level-qty", "level-price"])
def test_decode_rejects_wrong_type_when_nested_money_is_a_json_number(cls: type, obj: dict[str, Any]) -> None:
    result = decode(cls, json.dumps(obj), source="test")
    assert isinstance(result, Rejected)
    assert result.reason == reasons.WRONG_TYPE


def test_decode_rejects_wrong_type_when_leg_out_cost_is_a_json_number() -> None:
    trade = {"trade_id": "t1", "asset": "BTC", "long_venue": "binance", "long_symbol": "BTC/USDT",
             "short_venue": "binance", "short_symbol": "BTC/USDT:USDT", "status": "active",
             "notional": "1000", "qty": "0.01", "projected_profit": "1.5",
             "leg_outs": [{"filled_leg": "long", "ts_filled": 1_723_075_200_000, "hedge_qty": "0.01",
                           "cost": 0.5}],
             "ts_entry": 1_723_075_200_000, "ts": 1_723_075_200_000, "schema_version": 1}
    result = decode(RECORD_TYPES["exec.trade"], json.dumps(trade), source="test")
    assert isinstance(result, Rejected)
    assert result.reason == reasons.WRONG_TYPE
    assert "leg_outs[0].cost" in result.detail


# -- decode never raises ----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=10,
)


@EXAMPLES
@given(data=st.binary(max_size=200))
def test_decode_returns_rejected_when_input_is_arbitrary_bytes(data: bytes) -> None:
    result = decode(Ticker, data, source="test")
    assert isinstance(result, Rejected)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=lambda c: c.__name__)
@settings(max_examples=30, deadline=None, database=None)
@given(data=st.data(), value=json_values)
def test_decode_returns_record_or_rejected_when_one_field_holds_any_json(cls: type, data: st.DataObject,
                                                                         value: Any) -> None:
    obj = orjson.loads(encode(data.draw(S.RECORDS[cls])))
    obj[data.draw(st.sampled_from(sorted(obj)))] = value
    result = decode(cls, orjson.dumps(obj), source="test")
    assert isinstance(result, cls | Rejected)


def test_strategies_cover_every_record_class_when_topics_are_registered() -> None:
    assert set(S.RECORDS) == {*RECORD_TYPES.values(), Rejected}


# -- the generated fast path and the careful slow path agree --------------------------


def test_a_field_with_a_non_none_default_takes_it_when_absent_and_refuses_null() -> None:
    from arbflow.model.execution import PairTrade

    trade = PairTrade(trade_id="t", asset="BTC", long_venue="binance", long_symbol="BTC/USDT",
                      short_venue="binance", short_symbol="BTC/USDT:USDT", status="active", notional=Decimal(100),
                      qty=Decimal(1), projected_profit=Decimal(1), ts_entry=1_723_161_255_000, ts=1_723_161_255_000)
    body = codec.encode(trade).replace(b',"basis_pnl":"0"', b"")
    assert codec.decode(PairTrade, body, source="t") == trade
    nulled = codec.encode(trade).replace(b'"basis_pnl":"0"', b'"basis_pnl":null')
    result = codec.decode(PairTrade, nulled, source="t")
    assert isinstance(result, Rejected) and result.reason == reasons.WRONG_TYPE and "basis_pnl" in result.detail
