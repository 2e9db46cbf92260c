"""The pure parts of bring-your-own files (model/column_map.py, model/contracts.py): time units
by magnitude, intervals in every form, 8h-equivalent rates, unified symbols for each kind of
contract, base quantities of inverse contracts, and the refusal of an unmapped file."""

from decimal import Decimal as D

import pytest

from arbflow.model.column_map import (
    BARS,
    FUNDING,
    QUOTES,
    MappingError,
    TimeColumn,
    build_mapping,
    check,
    contract_from,
    guess,
    mapping_document,
    parse_interval_ms,
    parse_map_text,
    per_interval,
    refusal,
    symbol_cell,
)
from arbflow.model.contracts import Contract, ContractError, parse_contract_size

H = 3_600_000
JAN1_2024_MS = 1_704_067_200_000

# -- time -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "unit"), [
    ("1704067200", "s"), ("1704067200000", "ms"), ("1704067200000000", "µs"), ("1704067200000000000", "ns"),
    ("2024-01-01T00:00:00Z", "iso"), ("2024-01-01 00:00:00", "iso"), ("2024-01-01T01:00:00+01:00", "iso"),
    ("2024-01-01", "iso"),
])
def test_time_cell_is_read_in_its_unit_when_its_magnitude_says_which(text: str, unit: str) -> None:
    column = TimeColumn("t")
    assert column.ms(text, "f:2") == JAN1_2024_MS
    assert column.unit == unit


def test_time_fraction_of_a_second_is_kept_to_the_millisecond() -> None:
    assert TimeColumn("t").ms("1704067200.1239", "f:2") == JAN1_2024_MS + 123


@pytest.mark.parametrize("text", ["50000000000", "123", "99999999999999", "20240101"])
def test_time_cell_is_refused_as_ambiguous_when_no_unit_lands_in_2000_to_2100(text: str) -> None:
    with pytest.raises(MappingError, match=r"^f:7: t '.*' is ambiguous"):
        TimeColumn("t").ms(text, "f:7")


def test_time_column_is_refused_when_a_later_row_is_in_another_unit() -> None:
    column = TimeColumn("t")
    column.ms("1704067200", "f:2")
    with pytest.raises(MappingError, match=r"f:3: t '1704070800000' is in ms, the rows before in s"):
        column.ms("1704070800000", "f:3")


def test_time_cell_is_refused_when_it_is_neither_a_number_nor_iso() -> None:
    with pytest.raises(MappingError, match="neither an epoch number nor ISO-8601"):
        TimeColumn("t").ms("01/02/2024", "f:2")


# -- intervals and rates -----------------------------------------------------------------------


@pytest.mark.parametrize(("text", "ms"), [
    ("8", 8 * H), ("1", H), ("0.5", H // 2), ("28800000", 8 * H), ("3600000", H), ("8h", 8 * H), ("1h", H),
    ("30m", 30 * 60_000), ("PT8H", 8 * H), ("PT1H30M", 90 * 60_000), ("P1D", 24 * H),
    ("2000-01-01T08:00:00.000Z", 8 * H), ("2000-01-01T01:00:00Z", H), ("1970-01-01T04:00:00Z", 4 * H),
])
def test_interval_cell_is_read_when_written_as_hours_ms_duration_or_date_offset(text: str, ms: int) -> None:
    assert parse_interval_ms(text, "f:2") == ms


@pytest.mark.parametrize(("text", "match"), [
    ("480", "ambiguous"), ("3600", "ambiguous"), ("0", "ambiguous"), ("25", "ambiguous"),
    ("2024-01-01T08:00:00Z", "date offset must count from"), ("fortnightly", "not a duration"),
    ("30s", "outside 1 minute"), ("2d", "outside 1 minute"),
])
def test_interval_cell_is_refused_when_ambiguous_or_impossible(text: str, match: str) -> None:
    with pytest.raises(MappingError, match=match):
        parse_interval_ms(text, "f:2")


@pytest.mark.parametrize(("rate_8h", "interval", "rate"), [
    ("0.0001", H, "0.0000125"), ("0.0001", 8 * H, "0.0001"), ("-0.0002", 4 * H, "-0.0001"), ("0.0003", 2 * H,
                                                                                              "0.000075"),
])
def test_8h_equivalent_becomes_the_rate_per_interval_exactly(rate_8h: str, interval: int, rate: str) -> None:
    assert per_interval(D(rate_8h), interval) == D(rate)


# -- the mapping ---------------------------------------------------------------------------------


def test_map_text_is_split_into_fields_and_columns() -> None:
    assert parse_map_text("time=ts, rate=Funding Rate ,") == {"time": "ts", "rate": "Funding Rate"}


@pytest.mark.parametrize(("text", "match"), [("time", "not field=column"), ("time=a,time=b", "mapped twice"),
                                             ("=a", "not field=column")])
def test_map_text_is_refused_when_malformed(text: str, match: str) -> None:
    with pytest.raises(MappingError, match=match):
        parse_map_text(text)


def test_mapping_is_refused_when_both_rate_forms_are_named() -> None:
    with pytest.raises(MappingError, match=r"rate \(f1h\) and rate_8h \(f8h\) are both mapped.*never both"):
        build_mapping(FUNDING, {"time": "t", "rate": "f1h", "rate_8h": "f8h"}, {"venue": "x"})


def test_mapping_is_refused_when_a_field_does_not_belong_to_the_kind() -> None:
    with pytest.raises(MappingError, match="unknown quotes field"):
        build_mapping(QUOTES, {"time": "t", "rate": "r"}, {})
    with pytest.raises(MappingError, match="unknown setting"):
        build_mapping(FUNDING, {"time": "t", "rate": "r"}, {"bar": "1h"})


def test_mapping_check_names_unmapped_fields_absent_columns_and_missing_constants() -> None:
    mapping = build_mapping(QUOTES, {"time": "ts", "bid": "best_bid"}, {})
    with pytest.raises(MappingError) as raised:
        check(mapping, ["ts", "bid_price"], "q.csv")
    assert str(raised.value) == ("q.csv: unmapped: ask, bid_qty, ask_qty; not in the file: bid=best_bid; no venue "
                                 "(--venue NAME or venue=COLUMN); no asset (--asset BTC, asset=COLUMN or "
                                 "symbol=COLUMN); columns: ts, bid_price")


def test_mapping_document_reads_columns_and_constants() -> None:
    columns, constants = mapping_document(BARS, {"columns": {"time": "t", "close": "c"}, "venue": "deribit",
                                                 "contract": "inverse", "bar": "1h"})
    assert columns == {"time": "t", "close": "c"}
    assert constants == {"venue": "deribit", "contract": "inverse", "bar": "1h"}
    mapping = build_mapping(BARS, columns, constants)
    assert mapping.bar_ms == H and mapping.contract == Contract(kind="inverse")


def test_mapping_document_is_refused_when_a_key_is_unknown() -> None:
    with pytest.raises(MappingError, match="unknown key 'colums'"):
        mapping_document(FUNDING, {"colums": {}})


# -- contracts and symbols -----------------------------------------------------------------------


@pytest.mark.parametrize(("contract", "symbol"), [
    (Contract(kind="linear"), "BTC/USDT:USDT"),
    (Contract(kind="linear", settle="USDC"), "BTC/USDC:USDC"),
    (Contract(kind="linear", quote="USD", settle="USDC"), "BTC/USD:USDC"),  # dYdX, Paradex
    (Contract(kind="linear", settle="USD"), "BTC/USD:USD"),
    (Contract(kind="inverse"), "BTC/USD:BTC"),
    (Contract(kind="spot", quote="USDC"), "BTC/USDC"),
])
def test_contract_gives_the_unified_symbol_of_its_kind(contract: Contract, symbol: str) -> None:
    assert contract.symbol("BTC") == symbol


def test_inverse_contract_is_refused_when_it_settles_in_a_stablecoin() -> None:
    with pytest.raises(ContractError, match=r"settles in its base asset \(BTC/USD:BTC\), not in USDT"):
        Contract(kind="inverse", settle="USDT").symbol("BTC")


@pytest.mark.parametrize(("size", "contracts", "price", "base"), [
    ("10 USD", "5000", "50000", "1"),  # Deribit BTC-PERPETUAL: 5,000 × $10 at $50,000 = 1 BTC
    ("1 USD", "67600", "67600", "1"),  # BitMEX XBTUSD: one contract is $1
    ("100 USD", "3", "2000", "0.15"),  # an ETH coin-margined contract of $100 at $2,000
    ("0.001", "250", "60000", "0.25"),  # a linear contract of 0.001 BTC
    ("0.01 BTC", "3", "60000", "0.03"),
])
def test_contracts_become_base_units_at_the_records_price(size: str, contracts: str, price: str, base: str) -> None:
    contract = Contract(kind="inverse" if "USD" in size else "linear", size=parse_contract_size(size))
    assert contract.base_quantity(D(contracts), D(price)) == D(base)


@pytest.mark.parametrize("text", ["0 USD", "-1", "ten", "1 usd coins", "1 b-t-c"])
def test_contract_size_is_refused_when_not_a_positive_amount_and_unit(text: str) -> None:
    with pytest.raises(ValueError, match="contract size"):
        parse_contract_size(text)


def test_contract_options_are_refused_when_the_kind_is_unknown() -> None:
    with pytest.raises(MappingError, match="allowed spot, linear, inverse"):
        contract_from("quanto", None, None, None)


@pytest.mark.parametrize(("cell", "symbol"), [
    ("XBTUSD", "BTC/USD:BTC"), ("BTC-PERPETUAL", "BTC/USD:BTC"), ("BTC-USD", "BTC/USD:BTC"),
    ("ETHUSDT", "ETH/USD:ETH"), ("BTC/USDC:USDC", "BTC/USDC:USDC"),
])
def test_symbol_cell_gives_the_base_asset_under_the_files_contract(cell: str, symbol: str) -> None:
    assert symbol_cell(cell, Contract(kind="inverse"), "f:2")[0] == symbol


# -- refusing a file without a mapping ------------------------------------------------------------


def test_refusal_names_both_rate_columns_when_a_file_has_1h_and_8h_equivalents() -> None:
    line = refusal(FUNDING, "dex.csv", ["time", "coin", "funding_1h", "funding_8h"])
    assert line == ("dex.csv: not a known funding layout and no --map given: ambiguous rate (funding_8h or "
                    "funding_1h): map the rate per interval as rate= or the 8h-equivalent as rate_8h=, never both; "
                    "columns: time, coin, funding_1h, funding_8h; e.g. --map time=time,rate_8h=funding_8h,asset=coin "
                    "--venue NAME")
    assert "\n" not in line


def test_refusal_names_the_missing_fields_and_builds_the_example_from_the_header() -> None:
    line = refusal(QUOTES, "q.json", ["ts", "symbol", "bidPrice", "askPrice"])
    assert "missing bid_qty, ask_qty (no column looks like it)" in line
    assert "e.g. --map time=ts,bid=bidPrice,ask=askPrice,symbol=symbol,bid_qty=COLUMN,ask_qty=COLUMN --venue NAME" \
        in line


def test_guess_keeps_each_column_for_one_field() -> None:
    mapping, missing, _ = guess(FUNDING, ["fundingRateTimestamp", "fundingRate", "symbol"])
    assert mapping == {"time": "fundingRateTimestamp", "rate": "fundingRate", "symbol": "symbol"}
    assert missing == []
