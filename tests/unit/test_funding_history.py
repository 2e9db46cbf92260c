"""Funding and 8h-candle histories → replay files (connectors/captures/funding_history.py).

Expected values are read by hand off the fixture CSV rows quoted in the comments
(fixtures/funding/, see its PROVENANCE.md); counts come from the data sets' PROVENANCE files.
"""

import dataclasses
import gzip
from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.connectors.captures import funding_history as fh
from arbflow.connectors.replay import FileStats, read_file
from arbflow.model.config import DEFAULT_VENUES, HOUR_MS
from arbflow.model.market import Candle, FundingRate
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe, parse_record

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "funding"
AHA_HH = FIXTURES / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"
WEBSITE_USDT = FIXTURES / "binance_website_funding_BTCUSDT_perp_2019-09-10_2024-08-09.utc.csv.gz"
WEBSITE_CM = FIXTURES / "binance_website_funding_BTCUSD_CM_perp_2023-09-11_2024-08-09.utc.csv.gz"
SUPERVIK = FIXTURES / "funding_btc_eth_7venues_utc.csv.gz"
UNIVERSE = Universe(DEFAULT_VENUES, assets=("BTC", "ETH"), quotes=("USDT", "USD", "USDC"))
H8 = 8 * HOUR_MS


class Converted:
    """One converted fixture: the counts, the replay file, its decoded records and reading stats."""

    def __init__(self, counts: Counter[str], out: Path) -> None:
        self.counts = counts
        self.out = out
        self.stats = FileStats()
        self.records: list[Any] = [parse_record(line.topic, line.value, UNIVERSE)
                                   for line in read_file(out, self.stats) if not isinstance(line, tuple)]
        self.funding = {(r.venue, r.symbol, r.ts_exchange): r for r in self.records if type(r) is FundingRate}
        self.candles = {(r.venue, r.symbol, r.ts_open): r for r in self.records if type(r) is Candle}


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Converted]:
    out = tmp_path_factory.mktemp("funding")
    jobs = {"aha_hh": (fh.convert_aha_hh, AHA_HH), "website_usdt": (fh.convert_binance_website, WEBSITE_USDT),
            "website_cm": (fh.convert_binance_website, WEBSITE_CM), "supervik": (fh.convert_supervik, SUPERVIK)}
    return {name: Converted(convert(path, out / f"{name}.jsonl.gz", venues=DEFAULT_VENUES), out / f"{name}.jsonl.gz")
            for name, (convert, path) in jobs.items()}


# -- the interval rule --------------------------------------------------------------------


@pytest.mark.parametrize(("previous", "ts", "expected"), [
    (None, 1_600_000_000_000, None),  # first settlement of a series
    (1_600_992_000_009, 1_601_020_800_045, H8),  # Binance jitter: +36 ms
    (1_601_020_800_045, 1_601_049_600_000, H8),  # Binance jitter: −45 ms
    (0, HOUR_MS, HOUR_MS), (0, 2 * HOUR_MS, 2 * HOUR_MS), (0, 4 * HOUR_MS, 4 * HOUR_MS),
    (0, HOUR_MS + 29_999, HOUR_MS), (0, HOUR_MS + 30_000, None),  # rounds to the nearest minute only
    (0, 3 * HOUR_MS, None), (0, 24 * HOUR_MS, None), (0, 752 * HOUR_MS, None),  # HTX, Gate
], ids=["first", "jitter-up", "jitter-down", "1h", "2h", "4h", "1h-29.999s", "1h-30s", "3h", "24h", "752h"])
def test_backward_interval_is_the_rounded_known_interval_when_one_matches(previous: int | None, ts: int,
                                                                          expected: int | None) -> None:
    assert fh.backward_interval_ms(previous, ts) == expected


# -- supervik: values off single rows -------------------------------------------------------


def test_binance_settlement_keeps_its_jittered_ms_when_interval_is_matched(converted: dict[str, Converted]) -> None:
    # BTC,binance,1600992000009,2020-09-25 03:00:00.009,-0.00023219
    # BTC,binance,1601020800045,2020-09-25 11:00:00.045,0.00002542
    # BTC,binance,1601049600000,2020-09-25 19:00:00.000,0.00010000
    funding = converted["supervik"].funding
    assert funding["binance", "BTC/USDT:USDT", 1_601_020_800_045] == FundingRate(
        venue="binance", symbol="BTC/USDT:USDT", market="perp", rate=Decimal("0.00002542"), predicted_rate=None,
        interval_ms=H8, next_funding_time=1_601_020_800_045 + H8, ts_exchange=1_601_020_800_045,
        ts_local=1_601_020_800_045)
    after = funding["binance", "BTC/USDT:USDT", 1_601_049_600_000]
    assert (after.rate, after.interval_ms, after.ts_local) == (Decimal("0.0001"), H8, 1_601_049_600_000)


def test_jittered_binance_rows_get_the_measured_interval_when_the_default_differs(tmp_path: Path) -> None:
    # The same three rows with Binance's default set to 1h: only the first row falls back to it.
    path = tmp_path / "jitter.csv"
    path.write_text("asset,venue,funding_time_ms_utc,date_as_published,funding_rate\n"
                    "BTC,binance,1600992000009,2020-09-25 03:00:00.009,-0.00023219\n"
                    "BTC,binance,1601020800045,2020-09-25 11:00:00.045,0.00002542\n"
                    "BTC,binance,1601049600000,2020-09-25 19:00:00.000,0.00010000\n")
    venues = {**DEFAULT_VENUES, "binance": dataclasses.replace(DEFAULT_VENUES["binance"], funding_interval_ms=HOUR_MS)}
    counts = fh.convert_supervik(path, tmp_path / "jitter.jsonl", venues=venues)
    records = [parse_record(line.topic, line.value, UNIVERSE) for line in read_file(tmp_path / "jitter.jsonl")]
    assert [(r.ts_local, r.interval_ms) for r in records] == [
        (1_600_992_000_009, HOUR_MS), (1_601_020_800_045, H8), (1_601_049_600_000, H8)]
    assert counts["interval:defaulted:binance"] == 1


def test_kucoin_settles_at_four_utc_when_its_schedule_is_offset(converted: dict[str, Converted]) -> None:
    # BTC,kucoin,1609473600000,2021-01-01 07:00:00,0.0001    (UTC+3 as published → 04:00Z)
    # BTC,kucoin,1609502400000,2021-01-01 15:00:00,0.000296
    funding = converted["supervik"].funding
    first = funding["kucoin", "BTC/USDT:USDT", 1_609_473_600_000]
    assert datetime.fromtimestamp(first.ts_local / 1000, UTC).hour == 4
    assert (first.rate, first.interval_ms) == (Decimal("0.0001"), H8)  # first row: the configured default
    second = funding["kucoin", "BTC/USDT:USDT", 1_609_502_400_000]
    assert (second.rate, second.interval_ms, second.next_funding_time) == (
        Decimal("0.000296"), H8, 1_609_502_400_000 + H8)


def test_dydx_settlement_is_hourly_when_read_from_supervik(converted: dict[str, Converted]) -> None:
    # ETH,dydx,1658991600000,2022-07-28 07:00:00,0.0000163101
    # ETH,dydx,1658995200000,2022-07-28 08:00:00,0.0000126593
    assert converted["supervik"].funding["dydx", "ETH/USD:USDC", 1_658_995_200_000] == FundingRate(
        venue="dydx", symbol="ETH/USD:USDC", market="perp", rate=Decimal("0.0000126593"), predicted_rate=None,
        interval_ms=HOUR_MS, next_funding_time=1_658_998_800_000, ts_exchange=1_658_995_200_000,
        ts_local=1_658_995_200_000)
    # BTC,dydx,1640995200000,2022-01-01 00:00:00,0.0000058615 — first row: dydx's default is 1h too
    assert converted["supervik"].funding["dydx", "BTC/USD:USDC", 1_640_995_200_000].interval_ms == HOUR_MS


@pytest.mark.parametrize(("ts", "rate"), [
    # BTC,htx,1635379200000,2021-10-28 03:00:00,0.0001 -> BTC,htx,1635390000000,2021-10-28 06:00:00,0.0  (3h)
    (1_635_390_000_000, "0"),
    # -> BTC,htx,1635408000000,2021-10-28 11:00:00,0.0  (5h)
    (1_635_408_000_000, "0"),
    # BTC,htx,1613721600000,2021-02-19 11:00:00,0.0001 -> BTC,htx,1613808000000,2021-02-20 11:00:00,
    # 0.000589053288222451  (24h)
    (1_613_808_000_000, "0.000589053288222451"),
    # BTC,htx,1681257600000,2023-04-12 03:00:00,2.0625879570628e-05 -> BTC,htx,1681290000000,2023-04-12 12:00:00,
    # 5.4252355269552e-05  (9h)
    (1_681_290_000_000, "0.000054252355269552"),
], ids=["3h", "5h", "24h", "9h-exponent-form"])
def test_htx_off_schedule_settlement_gets_the_default_interval(converted: dict[str, Converted], ts: int,
                                                               rate: str) -> None:
    record = converted["supervik"].funding["htx", "BTC/USDT:USDT", ts]
    assert (record.rate, record.interval_ms, record.next_funding_time, record.ts_local) == (
        Decimal(rate), H8, ts + H8, ts)


def test_gate_settlement_after_its_month_gap_gets_the_default_interval(converted: dict[str, Converted]) -> None:
    # BTC,gate,1606752000000,2020-11-30 16:00:00,0.0001 -> BTC,gate,1609459200000,2021-01-01 00:00:00,0.000226
    record = converted["supervik"].funding["gate", "BTC/USDT:USDT", 1_609_459_200_000]
    assert (record.rate, record.interval_ms, record.next_funding_time) == (
        Decimal("0.000226"), H8, 1_609_459_200_000 + H8)


def test_supervik_defaults_intervals_only_where_the_schedule_breaks(converted: dict[str, Converted]) -> None:
    # per venue: the first row of BTC and of ETH; Gate's 752h gap once per asset; HTX's 15 off-schedule
    # gaps per asset (24h, 4 × (10h, 6h), 3h, 5h, 11h, 5h, 9h, 7h — see the HTX rows above).
    counts = converted["supervik"].counts
    assert {k.removeprefix("interval:defaulted:"): v for k, v in counts.items() if k.count(":") == 2} == {
        "binance": 2, "bybit": 2, "dydx": 2, "gate": 2 + 2, "htx": 2 + 30, "kucoin": 2, "mexc": 2}
    assert counts["interval:defaulted"] == 46


# -- aha-hh ----------------------------------------------------------------------------------


def test_inverse_perp_row_becomes_a_closed_candle_and_a_funding_record(converted: dict[str, Converted]) -> None:
    # 1688140800000,2023-06-30 17:00:00,okx,ETH,ETHUSDCM,perp_inverse,1891.06,1949.0,1823.0,1927.53,297982.5444,
    # 9.83552968279e-05      (17:00 Europe/London in summer = 16:00Z)
    aha = converted["aha_hh"]
    assert aha.candles["okx", "ETH/USD:ETH", 1_688_140_800_000] == Candle(
        venue="okx", symbol="ETH/USD:ETH", market="perp", interval_ms=H8, open=Decimal("1891.06"),
        high=Decimal("1949"), low=Decimal("1823"), close=Decimal("1927.53"), volume=Decimal("297982.5444"),
        ts_open=1_688_140_800_000, ts_close=1_688_169_600_000, ts_local=1_688_169_600_000)
    assert aha.funding["okx", "ETH/USD:ETH", 1_688_140_800_000] == FundingRate(
        venue="okx", symbol="ETH/USD:ETH", market="perp", rate=Decimal("0.0000983552968279"), predicted_rate=None,
        interval_ms=H8, next_funding_time=1_688_169_600_000, ts_exchange=1_688_140_800_000,
        ts_local=1_688_140_800_000)


def test_first_inverse_row_gets_the_default_interval_when_it_opens_the_series(converted: dict[str, Converted]) -> None:
    # 1672531200000,2023-01-01 00:00:00,bybit,BTC,BTCUSDCM,perp_inverse,16555.0,16560.0,16452.5,16525.0,16629.30891,
    # 0.0001
    aha = converted["aha_hh"]
    candle = aha.candles["bybit", "BTC/USD:BTC", 1_672_531_200_000]
    assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
        Decimal(16555), Decimal(16560), Decimal("16452.5"), Decimal(16525), Decimal("16629.30891"))
    funding = aha.funding["bybit", "BTC/USD:BTC", 1_672_531_200_000]
    assert (funding.rate, funding.interval_ms) == (Decimal("0.0001"), DEFAULT_VENUES["bybit"].funding_interval_ms)
    assert aha.counts["interval:defaulted"] == 12  # 3 venues × 2 assets × (linear, inverse), first rows only


def test_spot_row_becomes_a_candle_without_funding(converted: dict[str, Converted]) -> None:
    # 1688169600000,2023-07-01 01:00:00,binance,BTC,BTC/USDT,spot,30471.99,30534.74,30320.57,30459.88,7293.5591,
    aha = converted["aha_hh"]
    candle = aha.candles["binance", "BTC/USDT", 1_688_169_600_000]
    assert (candle.market, candle.close, candle.volume) == ("spot", Decimal("30459.88"), Decimal("7293.5591"))
    assert not [r for r in aha.records if type(r) is FundingRate and r.market == "spot"]


def test_aha_hh_counts_equal_the_provenance_rows(converted: dict[str, Converted]) -> None:
    # 29,556 rows = 1,642 bars × 3 venues × 2 assets × 3 markets; perps are two thirds of them
    counts = converted["aha_hh"].counts
    assert (counts["md.candle"], counts["md.funding"]) == (29_556, 19_704)


def test_aha_hh_funding_equals_supervik_when_binance_and_bybit_linear_settle_in_2023(
        converted: dict[str, Converted]) -> None:
    # aha-hh PROVENANCE: 4,380 matches, 0 mismatches (2 venues × 2 assets × 1,095 settlements)
    supervik = {(venue, symbol, ts // 60_000): r.rate
                for (venue, symbol, ts), r in converted["supervik"].funding.items()}
    pairs = [(r.rate, supervik[venue, symbol, ts // 60_000])
             for (venue, symbol, ts), r in converted["aha_hh"].funding.items()
             if venue in ("binance", "bybit") and symbol.endswith(":USDT") and ts < 1_704_067_200_000]
    assert len(pairs) == 4_380
    assert all(ours == theirs for ours, theirs in pairs)


# -- Binance website exports -------------------------------------------------------------------


def test_website_rate_is_the_exact_derived_fraction_when_read(converted: dict[str, Converted]) -> None:
    # 1723190400000,2024-08-09 09:00:00,BTCUSDT Perpetual,8h,0.002184%,0.00002184
    assert converted["website_usdt"].funding["binance", "BTC/USDT:USDT", 1_723_190_400_000] == FundingRate(
        venue="binance", symbol="BTC/USDT:USDT", market="perp", rate=Decimal("0.00002184"), predicted_rate=None,
        interval_ms=H8, next_funding_time=1_723_219_200_000, ts_exchange=1_723_190_400_000,
        ts_local=1_723_190_400_000)
    # 1694476800000,2023-09-12 01:00:00,BTCUSD CM Perpetual,8h,-0.001315%,-0.00001315
    cm = converted["website_cm"].funding["binance", "BTC/USD:BTC", 1_694_476_800_000]
    assert (cm.rate, cm.interval_ms) == (Decimal("-0.00001315"), H8)


def test_website_rates_differ_from_the_api_by_at_most_1e8_when_settlements_overlap(
        converted: dict[str, Converted]) -> None:
    # aha-hh PROVENANCE: 4,383 overlapping settlements align; 4,153 equal, 230 exactly 1e-8 lower
    website = {ts // 60_000: r.rate for (_, symbol, ts), r in converted["website_usdt"].funding.items()}
    api = {ts // 60_000: r.rate for (venue, symbol, ts), r in converted["supervik"].funding.items()
           if venue == "binance" and symbol == "BTC/USDT:USDT"}
    overlap = website.keys() & api.keys()
    assert len(overlap) == len(api) == 4_383
    differences = Counter(api[minute] - website[minute] for minute in overlap)
    assert differences == {Decimal(0): 4_153, Decimal("1E-8"): 230}


# -- whole files ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "funding", "candles"), [
    ("aha_hh", 19_704, 29_556), ("website_usdt", 5_386, 0), ("website_cm", 1_000, 0), ("supervik", 78_664, 0),
])
def test_every_converted_record_is_valid_when_the_whole_file_is_read(converted: dict[str, Converted], name: str,
                                                                     funding: int, candles: int) -> None:
    result = converted[name]
    rejects = Counter(r.reason for r in result.records if isinstance(r, Rejected))
    assert rejects == Counter()
    assert (result.stats.rejected, result.stats.out_of_order) == (0, 0)  # non-decreasing ts_local
    assert Counter(type(r).__name__ for r in result.records) == Counter(
        {k: v for k, v in (("FundingRate", funding), ("Candle", candles)) if v})
    assert (result.counts["md.funding"], result.counts["md.candle"]) == (funding, candles)


@pytest.mark.parametrize("name", ["aha_hh", "website_usdt", "website_cm", "supervik"])
def test_no_record_is_published_before_or_after_what_it_describes(converted: dict[str, Converted], name: str) -> None:
    for record in converted[name].records:
        if type(record) is Candle:
            assert record.ts_local == record.ts_close == record.ts_open + record.interval_ms
        else:
            assert record.ts_local == record.ts_exchange
            assert record.next_funding_time == record.ts_exchange + record.interval_ms
            assert record.predicted_rate is None


def test_records_do_not_change_when_later_rows_are_cut_off(converted: dict[str, Converted], tmp_path: Path) -> None:
    # No look-ahead: a record depends only on its own and earlier rows. Cut HTX BTC mid-series.
    with gzip.open(SUPERVIK, "rt") as handle:
        head = [next(handle) for _ in range(1 + 4_383 + 3_285 + 17_520 + 4_290 + 2_000)]
    cut = tmp_path / "head.csv"
    cut.write_text("".join(head))
    fh.convert_supervik(cut, tmp_path / "head.jsonl", venues=DEFAULT_VENUES)
    with gzip.open(converted["supervik"].out) as handle:
        full = set(handle.read().splitlines())
    lines = (tmp_path / "head.jsonl").read_bytes().splitlines()
    assert len(lines) == len(head) - 1
    assert set(lines) <= full


def test_convert_merges_files_by_ts_local_when_formats_are_recognised(tmp_path: Path) -> None:
    counts = fh.convert([WEBSITE_CM, WEBSITE_USDT], tmp_path / "both.jsonl", venues=DEFAULT_VENUES)
    stats = FileStats()
    lines = list(read_file(tmp_path / "both.jsonl", stats))
    assert counts["md.funding"] == len(lines) == 6_386
    assert stats.out_of_order == 0
    assert [fh.detect_format(p) for p in (AHA_HH, WEBSITE_USDT, SUPERVIK)] == ["aha-hh", "binance-website",
                                                                              "supervik"]


# -- refusals ----------------------------------------------------------------------------------

SUPERVIK_HEADER = "asset,venue,funding_time_ms_utc,date_as_published,funding_rate\n"


@pytest.mark.parametrize(("text", "message"), [
    ("asset,venue,funding_rate\nBTC,binance,0.0001\n", "missing column(s) funding_time_ms_utc"),
    (SUPERVIK_HEADER + "BTC,binance,1600000000000,x,0.0001\nBTC,binance,1600000000000,x,0.0002\n", "is not after"),
    (SUPERVIK_HEADER + "BTC,binance,1600000000000,x,1%\n", "is not a decimal number"),
    (SUPERVIK_HEADER + "BTC,binance,1600000000.5,x,0.0001\n", "is not integer milliseconds"),
    (SUPERVIK_HEADER + "BTC,ftx,1600000000000,x,0.0001\n", "venue 'ftx' is not configured"),
], ids=["missing-column", "duplicate-settlement", "percent-string", "seconds-with-fraction", "unknown-venue"])
def test_convert_supervik_raises_naming_the_line_when_input_is_bad(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=r"^bad\.csv(:\d+)?: ") as raised:
        fh.convert_supervik(path, tmp_path / "out.jsonl", venues=DEFAULT_VENUES)
    assert message in str(raised.value)


def test_convert_aha_hh_raises_when_a_pair_does_not_fit_its_market(tmp_path: Path) -> None:
    path = tmp_path / "aha.csv"
    path.write_text("ts_ms_utc,time_as_published,exchange,asset,pair,market,open,high,low,close,volume,funding_rate\n"
                    "1672531200000,x,binance,BTC,BTCUSDT,perp_inverse,1,1,1,1,1,0.0001\n")
    with pytest.raises(ValueError, match=r"aha.csv:2: UNKNOWN_SYMBOL: market 'perp_inverse' with pair 'BTCUSDT'"):
        fh.convert_aha_hh(path, tmp_path / "out.jsonl", venues=DEFAULT_VENUES)


def test_convert_raises_when_a_file_is_not_a_known_history(tmp_path: Path) -> None:
    path = tmp_path / "original.csv"
    path.write_text('"Time","Contracts","Funding Interval","Funding Rate"\n')
    with pytest.raises(ValueError, match="not a known funding history"):
        fh.convert([path], tmp_path / "out.jsonl", venues=DEFAULT_VENUES)
