"""JSON Schemas of the topics (model/schema.py) checked with the `jsonschema` library
against records the codec really writes."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from arbflow.model.codec import encode
from arbflow.model.rejected import Rejected
from arbflow.model.schema import DECIMAL_PATTERN, topic_schemas
from arbflow.model.topics import RECORD_TYPES
from tests import strategies as S

SCHEMAS = topic_schemas()
VALIDATORS = {topic: Draft202012Validator(schema) for topic, schema in SCHEMAS.items()}
DLQ = "dlq.<topic>"
TICKER = {
    "venue": "binance", "symbol": "BTC/USDT:USDT", "market": "perp", "bid": "61837.6", "ask": "61837.7",
    "bid_qty": "1.5", "ask_qty": "2", "last": None, "mark": None, "index": None, "ts_exchange": None,
    "ts_local": 1_723_075_200_000, "schema_version": 1,
}
BOOK = {
    "venue": "okx", "symbol": "ETH/USDT", "market": "spot", "bids": [["3000.5", "1.5"]],
    "asks": [["3000.6", "2"]], "depth": 20, "ts_local": 1_723_075_200_000, "schema_version": 1,
}


def _errors(topic: str, obj: Any) -> list[str]:
    return [error.message for error in VALIDATORS[topic].iter_errors(obj)]


def test_topic_schemas_cover_every_topic_when_generated() -> None:
    assert set(SCHEMAS) == {*RECORD_TYPES, DLQ}


@pytest.mark.parametrize("topic", sorted(SCHEMAS))
def test_schema_is_valid_draft_2020_12_when_generated(topic: str) -> None:
    schema = SCHEMAS[topic]
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["title"] == (Rejected if topic == DLQ else RECORD_TYPES[topic]).__name__
    assert "schema_version" in schema["required"]
    assert schema["additionalProperties"] is False


def test_schema_is_plain_json_when_serialised() -> None:
    assert json.loads(json.dumps(SCHEMAS)) == SCHEMAS


@pytest.mark.parametrize("topic", [*RECORD_TYPES, DLQ])
@settings(max_examples=60, deadline=None, database=None)
@given(data=st.data())
def test_generated_record_validates_when_checked_against_its_topic_schema(topic: str, data: st.DataObject) -> None:
    cls = Rejected if topic == DLQ else RECORD_TYPES[topic]
    obj = json.loads(encode(data.draw(S.RECORDS[cls])))
    assert _errors(topic, obj) == []


def test_hand_written_ticker_validates_when_optional_fields_are_absent() -> None:
    obj = {k: v for k, v in TICKER.items() if v is not None}
    assert _errors("md.ticker", obj) == []


@pytest.mark.parametrize(("topic", "obj"), [
    ("md.ticker", {**TICKER, "bid": 61837.6}),
    ("md.ticker", {**TICKER, "bid_qty": 2}),
    ("md.ticker", {**TICKER, "last": 61837.6}),
    ("md.book", {**BOOK, "bids": [["3000.5", 1.5]]}),
    ("md.book", {**BOOK, "asks": [[3000.6, "2"]]}),
], ids=["bid-float", "qty-int", "optional-float", "level-qty", "level-price"])
def test_record_does_not_validate_when_money_is_a_number(topic: str, obj: dict[str, Any]) -> None:
    assert _errors(topic, obj) != []


@pytest.mark.parametrize(("topic", "obj"), [
    ("md.ticker", {**TICKER, "foo": 1}),
    ("md.book", {**BOOK, "checksum": "abc"}),
], ids=["ticker", "book"])
def test_record_does_not_validate_when_it_has_an_extra_field(topic: str, obj: dict[str, Any]) -> None:
    assert _errors(topic, obj) != []


@pytest.mark.parametrize(("topic", "obj"), [
    ("md.ticker", {k: v for k, v in TICKER.items() if k != "bid"}),
    ("md.ticker", {k: v for k, v in TICKER.items() if k != "schema_version"}),
    ("md.ticker", {**TICKER, "schema_version": 2}),
    ("md.ticker", {**TICKER, "market": "swap"}),
    ("md.ticker", {**TICKER, "ts_local": "1723075200000"}),
    ("md.ticker", {**TICKER, "ts_local": 1.5}),
    ("md.ticker", {**TICKER, "bid": "NaN"}),
    ("md.ticker", {**TICKER, "bid": "1_0"}),
    ("md.ticker", {**TICKER, "bid": "+1"}),
    ("md.book", {**BOOK, "bids": [["3000.5", "1.5", "1"]]}),
    ("md.book", {**BOOK, "bids": [["3000.5"]]}),
], ids=["missing-bid", "missing-version", "version-2", "market-enum", "ts-string", "ts-float", "nan",
        "underscore", "plus", "level-of-three", "level-of-one"])
def test_record_does_not_validate_when_a_field_breaks_the_wire_rules(topic: str, obj: dict[str, Any]) -> None:
    assert _errors(topic, obj) != []


@pytest.mark.parametrize("text", ["1", "-1.5", "1E+2", "0E-8", ".5", "5.", "61837.63000000", "-1.23e-7"])
def test_decimal_pattern_matches_when_text_is_a_wire_decimal(text: str) -> None:
    assert _errors("md.ticker", {**TICKER, "bid": text}) == []
    assert DECIMAL_PATTERN.startswith("^") and DECIMAL_PATTERN.endswith("$")
