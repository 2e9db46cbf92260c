"""Bring-your-own files through the command line (`arbflow convert funding|quotes|bars --map`,
connectors/captures/column_map.py): fixtures built here, venues configured with kind and fees
only, hand-checked rates, intervals, symbols and quantities, every converted record valid, and
`arbflow study funding` on the converted output. Refusals: exit 2 and one line."""

import gzip
import json
from collections import Counter
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from arbflow.cli import config_file as config_file_module
from arbflow.cli.config_file import load_config
from arbflow.cli.main import main
from arbflow.connectors.replay import read_file
from arbflow.model.market import Candle, FundingRate, Ticker
from arbflow.model.money import ratio
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe, parse_record

H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
# Venues as a new user writes them: kind and fees, and for the contract what the venue trades.
CONFIG = """
[venues.deribit]
kind = "cex"
perp = { maker_bps = "0", taker_bps = "5" }
contract = "inverse"
contract_size = "10 USD"

[venues.bitmex]
kind = "cex"
perp = { maker_bps = "-2.5", taker_bps = "7.5" }
contract = "inverse"
contract_size = "1 USD"

[venues.dydx]
kind = "dex"
perp = { maker_bps = "1", taker_bps = "5" }

[venues.lighter]
kind = "dex"
perp = { maker_bps = "0", taker_bps = "0" }
settle = "USDC"
"""


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    path = tmp_path / "arbflow.toml"
    path.write_text(CONFIG)
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text.lstrip())
    return path


def _run(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *map(str, args)])


def _records(config: Path, out: Path) -> list[Any]:
    """The converted records, each validated as the replay's dataflow would (nothing refused)."""
    universe = Universe.from_config(load_config(config, env={}))
    records = [parse_record(line.topic, line.value, universe) for line in read_file(out) if not isinstance(line, tuple)]
    assert [r for r in records if isinstance(r, Rejected)] == []
    return records


def _one_line_refusal(result: Result) -> str:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if not line.startswith("arbflow: warning:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


# -- minimal venues --------------------------------------------------------------------------------


def test_new_venues_configured_by_kind_and_fees_get_defaults_and_one_warning_line_each(config_file: Path) -> None:
    warned: list[str] = []
    config = load_config(config_file, env={}, warn=warned.append)
    assert [line.split(":")[0] for line in warned] == ["venue bitmex", "venue deribit", "venue lighter"]
    assert warned[2] == ("venue lighter: defaults used for liquidity_rank 1 (the hardest dex to fill: its legs trade "
                         "first; the other venues renumbered, order kept), funding_interval_ms 28800000 (8 h), "
                         "tick_size 0.01, lot_size 0.001, min_qty 0.001")
    rank = {name: venue.liquidity_rank for name, venue in config.venues.items()}
    order = sorted(rank, key=rank.__getitem__)
    assert order == ["lighter", "paradex", "dydx", "hyperliquid", "bitmex", "deribit", "mexc", "htx", "bitget",
                     "gate", "kucoin", "okx", "bybit", "binance"]
    assert sorted(rank.values()) == list(range(1, 15))  # a strict order
    assert config.venues["dydx"].funding_interval_ms == H  # a built-in venue keeps its table's values
    assert (config.venues["deribit"].tick_size, config.venues["deribit"].funding_interval_ms) == (D("0.01"), 8 * H)


def test_a_venue_with_every_key_given_warns_nothing(tmp_path: Path) -> None:
    config = _write(tmp_path / "c.toml", """
[venues.lighter]
kind = "dex"
liquidity_rank = 4
funding_interval_ms = 3600000
tick_size = "0.1"
lot_size = "0.0001"
min_qty = "0.0001"
perp = { maker_bps = "0", taker_bps = "0" }
""")
    warned: list[str] = []
    assert load_config(config, env={}, warn=warned.append).venues["lighter"].liquidity_rank == 4
    assert warned == []


def test_warning_line_is_printed_once_on_stderr_by_a_command(config_file: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(config_file_module, "_WARNED", set())  # once per process: start this process afresh
    source = _write(tmp_path / "x.csv", HOURLY_DEX)
    result = _run(config_file, "study", "funding", "--out", tmp_path / "s", "--data", source)  # loads twice
    assert result.stderr.count("arbflow: warning: venue deribit: defaults used for liquidity_rank") == 1


# -- funding ---------------------------------------------------------------------------------------

HOURLY_DEX = """
time,coin,fundingRate
1704067200,BTC,0.00001
1704070800,BTC,0.00002
1704074400,BTC,0.00003
1704078000,BTC,-0.00001
"""


def test_hourly_dex_export_converts_with_one_hour_intervals_and_studies_to_the_hand_apr(config_file: Path,
                                                                                       tmp_path: Path) -> None:
    source = _write(tmp_path / "lighter_funding.csv", HOURLY_DEX)
    out = tmp_path / "lighter.jsonl"
    result = _run(config_file, "convert", "funding", source, "--out", out, "--map", "time=time,rate=fundingRate,"
                  "asset=coin", "--venue", "lighter")
    assert result.exit_code == 0, result.output
    assert "symbol:lighter BTC/USDC:USDC" in result.stdout
    records = _records(config_file, out)
    assert [(r.symbol, r.rate, r.interval_ms, r.ts_exchange, r.next_funding_time) for r in records] == [
        ("BTC/USDC:USDC", D(rate), H, T0 + i * H, T0 + (i + 1) * H)
        for i, rate in enumerate(("0.00001", "0.00002", "0.00003", "-0.00001"))]
    # The study on the converted file: 8h-equivalents 8, 16, 24, −8 bp/100 → mean 0.0001 × 3 × 365 = 10.95 %.
    study = _run(config_file, "study", "funding", "--json", "--out", tmp_path / "study", "--data", out)
    assert study.exit_code == 0, study.output
    (row,) = json.loads(study.stdout)["rows"]
    assert (row["venues"], D(row["naive_apr"])) == ("lighter BTC/USDC:USDC", D("0.1095"))


BOTH_COLUMNS = """
ts,asset,funding_1h,funding_8h
1704067200000,BTC,0.0000125,0.0001
1704070800000,BTC,0.000025,0.0002
1704074400000,BTC,-0.0000125,-0.0001
"""


def test_file_with_1h_and_8h_columns_is_refused_without_a_mapping_naming_both(config_file: Path,
                                                                             tmp_path: Path) -> None:
    source = _write(tmp_path / "both.csv", BOTH_COLUMNS)
    line = _one_line_refusal(_run(config_file, "convert", "funding", source, "--out", tmp_path / "o.jsonl"))
    assert line == ("arbflow: both.csv: not a known funding layout and no --map given: ambiguous rate (funding_8h or "
                    "funding_1h): map the rate per interval as rate= or the 8h-equivalent as rate_8h=, never both; "
                    "columns: ts, asset, funding_1h, funding_8h; e.g. --map time=ts,rate_8h=funding_8h,asset=asset "
                    "--venue NAME")


def test_file_with_1h_and_8h_columns_is_refused_when_both_are_mapped(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "both.csv", BOTH_COLUMNS)
    line = _one_line_refusal(_run(config_file, "convert", "funding", source, "--out", tmp_path / "o.jsonl", "--map",
                                  "time=ts,rate=funding_1h,rate_8h=funding_8h,asset=asset", "--venue", "lighter"))
    assert "rate (funding_1h) and rate_8h (funding_8h) are both mapped" in line and "never both" in line


def test_file_with_1h_and_8h_columns_gives_the_same_rates_from_either_column(config_file: Path,
                                                                            tmp_path: Path) -> None:
    source = _write(tmp_path / "both.csv", BOTH_COLUMNS)
    outs = {}
    for name, column in (("rate", "funding_1h"), ("rate_8h", "funding_8h")):
        outs[name] = tmp_path / f"{name}.jsonl"
        result = _run(config_file, "convert", "funding", source, "--out", outs[name], "--map",
                      f"time=ts,{name}={column},asset=asset", "--venue", "lighter")
        assert result.exit_code == 0, result.output
    per_interval = [(r.rate, r.interval_ms) for r in _records(config_file, outs["rate"])]
    assert per_interval == [(D("0.0000125"), H), (D("0.000025"), H), (D("-0.0000125"), H)]
    assert [(r.rate, r.interval_ms) for r in _records(config_file, outs["rate_8h"])] == per_interval


BITMEX = """
timestamp,symbol,fundingInterval,fundingRate,fundingRateDaily
2024-01-01T20:00:00.000Z,XBTUSD,2000-01-01T08:00:00.000Z,-0.00005,-0.00015
2024-01-01T12:00:00.000Z,XBTUSD,2000-01-01T08:00:00.000Z,0.00012,0.00036
2024-01-01T04:00:00.000Z,XBTUSD,2000-01-01T08:00:00.000Z,0.0001,0.0003
"""


def test_bitmex_style_interval_column_and_inverse_symbol_from_the_venue_table(config_file: Path,
                                                                             tmp_path: Path) -> None:
    source = _write(tmp_path / "bitmex.csv", BITMEX)  # newest first, as BitMEX exports
    out = tmp_path / "bitmex.jsonl"
    result = _run(config_file, "convert", "funding", source, "--out", out, "--map",
                  "time=timestamp,rate=fundingRate,interval=fundingInterval,symbol=symbol", "--venue", "bitmex")
    assert result.exit_code == 0, result.output
    records = _records(config_file, out)
    assert [(r.symbol, r.rate, r.interval_ms, r.ts_exchange) for r in records] == [
        ("BTC/USD:BTC", D("0.0001"), 8 * H, T0 + 4 * H), ("BTC/USD:BTC", D("0.00012"), 8 * H, T0 + 12 * H),
        ("BTC/USD:BTC", D("-0.00005"), 8 * H, T0 + 20 * H)]
    assert "interval:column                               3" in result.stdout


def test_usdc_settled_perp_gets_a_usdc_symbol(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "okx_usdc.csv", "time,rate\n1704067200000,0.0001\n1704096000000,0.0002\n")
    out = tmp_path / "usdc.jsonl"
    result = _run(config_file, "convert", "funding", source, "--out", out, "--map", "time=time,rate=rate",
                  "--venue", "okx", "--asset", "BTC", "--settle", "USDC")
    assert result.exit_code == 0, result.output
    assert {(r.venue, r.symbol) for r in _records(config_file, out)} == {("okx", "BTC/USDC:USDC")}


def test_dydx_market_column_gets_its_usd_quoted_usdc_settled_symbol(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "dydx.jsonl", '{"market":"BTC-USD","rate":"0.00001","effectiveAt":'
                    '"2024-01-01T00:00:00.000Z"}\n{"market":"BTC-USD","rate":"0.00002","effectiveAt":'
                    '"2024-01-01T01:00:00.000Z"}\n')
    out = tmp_path / "dydx_out.jsonl"
    result = _run(config_file, "convert", "funding", source, "--out", out, "--map",
                  "time=effectiveAt,rate=rate,symbol=market", "--venue", "dydx")
    assert result.exit_code == 0, result.output
    assert [(r.symbol, r.interval_ms, r.rate) for r in _records(config_file, out)] == [
        ("BTC/USD:USDC", H, D("0.00001")), ("BTC/USD:USDC", H, D("0.00002"))]


def test_seconds_and_milliseconds_files_convert_to_the_same_records(config_file: Path, tmp_path: Path) -> None:
    rows = [(1704067200, "0.0001"), (1704096000, "0.0002")]
    seconds = _write(tmp_path / "s.csv", "t,r\n" + "".join(f"{t},{r}\n" for t, r in rows))
    millis = _write(tmp_path / "ms.csv", "t,r\n" + "".join(f"{t * 1000},{r}\n" for t, r in rows))
    outs = []
    for source in (seconds, millis):
        outs.append(tmp_path / f"{source.stem}.jsonl")
        result = _run(config_file, "convert", "funding", source, "--out", outs[-1], "--map", "t=t", "--venue", "okx")
        assert result.exit_code == 2  # `t` is no field: the mapping is checked first
        result = _run(config_file, "convert", "funding", source, "--out", outs[-1], "--map", "time=t,rate=r",
                      "--venue", "okx", "--asset", "BTC")
        assert result.exit_code == 0, result.output
    first, second = (_records(config_file, out) for out in outs)
    assert first == second and [r.ts_exchange for r in first] == [T0, T0 + 8 * H]


def test_a_time_column_mixing_seconds_and_milliseconds_is_refused_in_one_line(config_file: Path,
                                                                             tmp_path: Path) -> None:
    source = _write(tmp_path / "mixed.csv", "t,r\n1704067200,0.0001\n1704096000000,0.0002\n")
    line = _one_line_refusal(_run(config_file, "convert", "funding", source, "--out", tmp_path / "o.jsonl", "--map",
                                  "time=t,rate=r", "--venue", "okx", "--asset", "BTC"))
    assert line == ("arbflow: mixed.csv:3: t '1704096000000' is in ms, the rows before in s: ambiguous, the column "
                    "mixes units")


def test_json_file_without_a_mapping_is_refused_naming_the_keys_of_its_first_object(config_file: Path,
                                                                                   tmp_path: Path) -> None:
    source = _write(tmp_path / "bybit.json", json.dumps({"result": {"list": []}, "list": [
        {"symbol": "BTCUSDT", "fundingRate": "0.0001", "fundingRateTimestamp": "1704067200000"}]}))
    line = _one_line_refusal(_run(config_file, "convert", "funding", source, "--out", tmp_path / "o.jsonl"))
    assert line == ("arbflow: bybit.json: not a known funding layout and no --map given: a mapping is required (the "
                    "guess below fits the column names only); columns: symbol, fundingRate, fundingRateTimestamp; "
                    "e.g. --map time=fundingRateTimestamp,rate=fundingRate,symbol=symbol --venue NAME")


def test_gzipped_json_file_converts_with_numbers_kept_exact(config_file: Path, tmp_path: Path) -> None:
    source = tmp_path / "f.json.gz"
    with gzip.open(source, "wt") as handle:
        handle.write('[{"t": 1704067200000, "r": 0.000012345678901234567}]')
    out = tmp_path / "o.jsonl"
    result = _run(config_file, "convert", "funding", source, "--out", out, "--map", "time=t,rate=r", "--venue",
                  "binance", "--asset", "BTC")
    assert result.exit_code == 0, result.output
    (record,) = _records(config_file, out)
    assert record.rate == D("0.000012345678901234567")  # never through float


def test_unconfigured_venue_is_refused_saying_how_to_configure_it(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "x.csv", HOURLY_DEX)
    line = _one_line_refusal(_run(config_file, "convert", "funding", source, "--out", tmp_path / "o.jsonl", "--map",
                                  "time=time,rate=fundingRate,asset=coin", "--venue", "kraken"))
    assert line == ("arbflow: x.csv:2: venue 'kraken' is not configured: add [venues.kraken] with kind and perp fees "
                    "to the config file")


def test_mapping_file_gives_the_same_records_as_the_options(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "bitmex.csv", BITMEX)
    mapping = _write(tmp_path / "bitmex.toml", """
venue = "bitmex"
[columns]
time = "timestamp"
rate = "fundingRate"
interval = "fundingInterval"
symbol = "symbol"
""")
    by_file, by_options = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert _run(config_file, "convert", "funding", source, "--out", by_file, "--mapping", mapping).exit_code == 0
    assert _run(config_file, "convert", "funding", source, "--out", by_options, "--map",
                "time=timestamp,rate=fundingRate,interval=fundingInterval,symbol=symbol",
                "--venue", "bitmex").exit_code == 0
    assert by_file.read_bytes() == by_options.read_bytes()


def test_study_runs_the_spread_between_two_converted_venues(config_file: Path, tmp_path: Path) -> None:
    lighter = _write(tmp_path / "lighter.csv", "time,fundingRate\n" + "".join(
        f"{1704067200 + i * 3600},0.00005\n" for i in range(48)))
    dydx = _write(tmp_path / "dydx.csv", "time,fundingRate\n" + "".join(
        f"{1704067200 + i * 3600},0.00001\n" for i in range(48)))
    outs = []
    for source, venue in ((lighter, "lighter"), (dydx, "dydx")):
        outs.append(tmp_path / f"{venue}.jsonl")
        assert _run(config_file, "convert", "funding", source, "--out", outs[-1], "--map", "time=time,rate=fundingRate",
                    "--venue", venue, "--asset", "BTC").exit_code == 0
    study = _run(config_file, "study", "funding", "--json", "--out", tmp_path / "study", "--data", outs[0],
                 "--data", outs[1])
    assert study.exit_code == 0, study.output
    rows = {(r["strategy"], r["venues"]): r for r in json.loads(study.stdout)["rows"]}
    # 5 and 1 bp per hour: 40 and 8 bp per 8 h → naive 0.0004 × 3 × 365 = 43.8 %, 0.00008 × 1095 = 8.76 %.
    assert D(rows[("naive", "lighter BTC/USDC:USDC")]["naive_apr"]) == D("0.438")
    assert D(rows[("naive", "dydx BTC/USD:USDC")]["naive_apr"]) == D("0.0876")
    spread = rows[("funding spread", "dydx/lighter")]
    # Short lighter, long dydx from the first settlement: 47 hourly settlements × $10,000 × 4 bp/h = $18.80;
    # fees: dydx taker 5 bps in and out on $10,000 = $10 (lighter charges 0).
    assert (D(spread["naive_apr"]), spread["round_trips"]) == (D("0.3504"), 1)
    assert (D(spread["funding_usd"]), D(spread["fees_usd"]), D(spread["net_pnl_usd"])) == (D("18.80"), D(10),
                                                                                           D("8.80"))


# -- quotes ----------------------------------------------------------------------------------------

DERIBIT_QUOTES = """
timestamp,instrument_name,best_bid_price,best_ask_price,best_bid_amount,best_ask_amount
1704067200000000,BTC-PERPETUAL,50000,50000.5,5000,12000
1704067201000000,BTC-PERPETUAL,45000,45000.5,4500,9000
"""


def test_inverse_quotes_with_usd_contract_size_become_base_units_at_the_rows_prices(config_file: Path,
                                                                                   tmp_path: Path) -> None:
    source = _write(tmp_path / "deribit.csv", DERIBIT_QUOTES)
    out = tmp_path / "q.jsonl"
    result = _run(config_file, "convert", "quotes", source, "--out", out, "--map",
                  "time=timestamp,bid=best_bid_price,ask=best_ask_price,bid_qty=best_bid_amount,"
                  "ask_qty=best_ask_amount,symbol=instrument_name", "--venue", "deribit")
    assert result.exit_code == 0, result.output
    first, second = _records(config_file, out)
    assert isinstance(first, Ticker) and (first.symbol, first.market) == ("BTC/USD:BTC", "perp")
    assert (first.bid, first.ask, first.ts_local) == (D(50000), D("50000.5"), T0)  # µs → ms
    # 5,000 contracts × $10 at the bid $50,000 = 1 BTC; 12,000 × $10 at $50,000.5 = 2.39997600023999760002… BTC
    assert first.bid_qty == D(1)
    assert first.ask_qty == ratio(D(120000), D("50000.5"))
    assert (second.bid_qty, second.ts_local) == (D(1), T0 + 1000)  # 4,500 × $10 at $45,000


def test_linear_quotes_keep_base_quantities_and_get_the_given_settle_currency(config_file: Path,
                                                                            tmp_path: Path) -> None:
    source = _write(tmp_path / "hl.csv", "t,b,a,bq,aq\n2024-01-01T00:00:00Z,42000,42001,0.5,0.7\n")
    out = tmp_path / "q.jsonl"
    result = _run(config_file, "convert", "quotes", source, "--out", out, "--map", "time=t,bid=b,ask=a,bid_qty=bq,"
                  "ask_qty=aq", "--venue", "lighter", "--asset", "BTC", "--contract", "linear", "--settle", "USDC")
    assert result.exit_code == 0, result.output
    (ticker,) = _records(config_file, out)
    assert (ticker.symbol, ticker.bid_qty, ticker.ask_qty) == ("BTC/USDC:USDC", D("0.5"), D("0.7"))


def test_quotes_without_a_mapping_are_refused_with_an_example(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "deribit.csv", DERIBIT_QUOTES)
    line = _one_line_refusal(_run(config_file, "convert", "quotes", source, "--out", tmp_path / "o.jsonl"))
    assert line.startswith("arbflow: deribit.csv: not a known quotes layout and no --map given: ")
    assert line.endswith("e.g. --map time=timestamp,bid=best_bid_price,ask=best_ask_price,bid_qty=best_bid_amount,"
                         "ask_qty=best_ask_amount,symbol=instrument_name --venue NAME")


def test_inverse_settled_in_a_stablecoin_is_refused(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "deribit.csv", DERIBIT_QUOTES)
    line = _one_line_refusal(_run(config_file, "convert", "quotes", source, "--out", tmp_path / "o.jsonl", "--map",
                                  "time=timestamp,bid=best_bid_price,ask=best_ask_price,bid_qty=best_bid_amount,"
                                  "ask_qty=best_ask_amount", "--venue", "deribit", "--asset", "BTC",
                                  "--contract", "inverse", "--settle", "USDT"))
    assert "an inverse perp settles in its base asset (BTC/USD:BTC), not in USDT" in line


# -- bars ------------------------------------------------------------------------------------------

DERIBIT_BARS = """
open_time,close,volume,funding_8h
1704067200,50000,100000,0.0001
1704070800,40000,80000,
1704074400,50000,0,0.0002
"""


def test_mapped_inverse_bars_become_quotes_and_funding_with_volume_in_base_units(config_file: Path,
                                                                                tmp_path: Path) -> None:
    source = _write(tmp_path / "deribit_bars.csv", DERIBIT_BARS)
    out = tmp_path / "bars.jsonl"
    result = _run(config_file, "convert", "bars", source, "--out", out, "--map",
                  "time=open_time,close=close,volume=volume,rate_8h=funding_8h", "--venue", "deribit",
                  "--asset", "BTC", "--bar", "1h")
    assert result.exit_code == 0, result.output
    records = _records(config_file, out)
    tickers = [r for r in records if isinstance(r, Ticker)]
    funding = [r for r in records if isinstance(r, FundingRate)]
    # the quote model: close c → c × (1 ∓ 1 bp) at the bar's close, open + 1 h
    assert [(t.bid, t.ask, t.ts_local) for t in tickers[:3]] == [
        (D("49995.0000"), D("50005.0000"), T0 + H), (D("39996.0000"), D("40004.0000"), T0 + 2 * H),
        (D("49995.0000"), D("50005.0000"), T0 + 3 * H)]
    assert {t.symbol for t in tickers} == {"BTC/USD:BTC"}
    # two settlements (the middle row has no rate), 2 h apart: the 8h-equivalents × 2 h / 8 h; the first
    # settlement takes the series' spacing
    assert [(f.rate, f.interval_ms, f.ts_exchange) for f in funding] == [
        (D("0.000025"), 2 * H, T0), (D("0.00005"), 2 * H, T0 + 2 * H)]
    assert "md.funding" in result.stderr


def test_mapped_bar_candles_convert_inverse_volume_at_the_close(tmp_path: Path, config_file: Path) -> None:
    from arbflow.connectors.captures.column_map import bar_items
    from arbflow.model.column_map import build_mapping

    config = load_config(config_file, env={}, warn=lambda _: None)
    source = _write(tmp_path / "deribit_bars.csv", DERIBIT_BARS)
    mapping = build_mapping("bars", {"time": "open_time", "close": "close", "volume": "volume"},
                            {"venue": "deribit", "asset": "BTC", "contract": "inverse", "contract_size": "10 USD",
                             "bar": "1h"})
    counts: Counter[str] = Counter()
    candles = [item[2] for _, item in bar_items(source, mapping, venues=config.venues, counts=counts)]
    assert all(isinstance(c, Candle) for c in candles)
    # 100,000 contracts × $10 at $50,000 = 20 BTC; 80,000 × $10 at $40,000 = 20 BTC
    assert [c.volume for c in candles] == [D(20), D(20), D(0)]
    assert [(c.ts_open, c.ts_close, c.interval_ms) for c in candles] == [(T0 + i * H, T0 + (i + 1) * H, H)
                                                                         for i in range(3)]


def test_bars_of_an_unknown_layout_are_refused_with_an_example(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "deribit_bars.csv", DERIBIT_BARS)
    line = _one_line_refusal(_run(config_file, "convert", "bars", source, "--out", tmp_path / "o.jsonl"))
    assert line == ("arbflow: deribit_bars.csv: not a known bars layout and no --map given: a mapping is required "
                    "(the guess below fits the column names only); columns: open_time, close, volume, funding_8h; "
                    "e.g. --map time=open_time,close=close,volume=volume,rate_8h=funding_8h --venue NAME --asset BTC")


def test_mapping_settings_without_a_mapping_are_refused(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "bitmex.csv", BITMEX)
    line = _one_line_refusal(_run(config_file, "convert", "funding", source, "--out", tmp_path / "o.jsonl",
                                  "--venue", "bitmex"))
    assert line == "arbflow: --venue describe a mapped file: give --map or --mapping too"


def test_bybit_shaped_json_with_percent_rates_and_a_semicolon_csv_convert_alike(config_file: Path,
                                                                               tmp_path: Path) -> None:
    bybit = _write(tmp_path / "bybit.json", json.dumps({"retCode": 0, "result": {"category": "linear", "list": [
        {"symbol": "BTCUSDT", "fundingRate": "0.0100%", "fundingRateTimestamp": "1704096000000"},
        {"symbol": "BTCUSDT", "fundingRate": "-0.0050%", "fundingRateTimestamp": "1704067200000"}]}}))
    semicolons = _write(tmp_path / "export.csv", "Time;Symbol;Rate\n2024-01-01T00:00:00Z;BTCUSDT;-0.00005\n"
                                                 "2024-01-01T08:00:00Z;BTCUSDT;0.0001\n")
    outs = []
    for source, mapping in ((bybit, "time=fundingRateTimestamp,rate=fundingRate,symbol=symbol"),
                            (semicolons, "time=Time,rate=Rate,symbol=Symbol")):
        outs.append(tmp_path / f"{source.stem}.jsonl")
        result = _run(config_file, "convert", "funding", source, "--out", outs[-1], "--map", mapping,
                      "--venue", "bybit")
        assert result.exit_code == 0, result.output
    first, second = (_records(config_file, out) for out in outs)
    assert [(r.symbol, r.rate, r.ts_exchange, r.interval_ms) for r in first] == [
        ("BTC/USDT:USDT", D("-0.00005"), T0, 8 * H), ("BTC/USDT:USDT", D("0.0001"), T0 + 8 * H, 8 * H)]
    assert first == second


def test_bars_without_a_rate_column_or_contract_are_spot(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "spot.csv", "t,c\n1704067200,42000\n")
    out = tmp_path / "spot.jsonl"
    result = _run(config_file, "convert", "bars", source, "--out", out, "--map", "time=t,close=c", "--venue",
                  "binance", "--asset", "BTC")
    assert result.exit_code == 0, result.output
    assert {(r.symbol, r.market) for r in _records(config_file, out)} == {("BTC/USDT", "spot")}


# -- bad rows: the one bad-row policy ------------------------------------------------------------

BAD_FUNDING_ROWS = """
t,r
1704067200000,0.0001
1704096000000,abc
1704124800000,
1704124800000,0.0002
1704153600000,0.5
1704182400000,0.0003
"""


def test_bad_rows_of_a_mapped_funding_file_are_dead_letters_and_the_rest_converts(config_file: Path,
                                                                                 tmp_path: Path) -> None:
    source = _write(tmp_path / "okx.csv", BAD_FUNDING_ROWS)
    out = tmp_path / "okx.jsonl"
    result = _run(config_file, "convert", "funding", source, "--out", out, "--map", "time=t,rate=r",
                  "--venue", "okx", "--asset", "BTC")
    assert result.exit_code == 0, result.output
    assert [(r.rate, r.ts_exchange) for r in _records(config_file, out)] == [
        (D("0.0001"), T0), (D("0.0002"), T0 + 16 * H), (D("0.0003"), T0 + 32 * H)]
    dead = [json.loads(line) for line in (tmp_path / "okx.rejected.jsonl").read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in dead] == [
        ("okx.csv:3", "INVALID_NUMBER"), ("okx.csv:4", "MISSING_FIELD"), ("okx.csv:6", "IMPOSSIBLE_RATE")]
    assert json.loads(dead[0]["raw"]) == {"t": "1704096000000", "r": "abc"}
    assert "bad rows: INVALID_NUMBER" in result.stderr


def test_strict_stops_a_mapped_conversion_at_the_first_bad_row(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "okx.csv", BAD_FUNDING_ROWS)
    line = _one_line_refusal(_run(config_file, "convert", "funding", source, "--out", tmp_path / "o.jsonl", "--map",
                                  "time=t,rate=r", "--venue", "okx", "--asset", "BTC", "--strict"))
    assert line.startswith("arbflow: okx.csv:3: INVALID_NUMBER: ")
    assert line.endswith("(--strict: stopped at the first bad row)")


def test_a_mapped_quote_at_price_zero_is_a_dead_letter(config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "q.csv", "t,b,a,bq,aq\n1704067200000,0,50001,1,1\n1704067201000,50000,50001,1,1\n")
    out = tmp_path / "q.jsonl"
    result = _run(config_file, "convert", "quotes", source, "--out", out, "--map", "time=t,bid=b,ask=a,bid_qty=bq,"
                  "ask_qty=aq", "--venue", "okx", "--asset", "BTC")
    assert result.exit_code == 0, result.output
    assert [t.ts_local for t in _records(config_file, out)] == [T0 + 1000]
    dead = [json.loads(line) for line in (tmp_path / "q.rejected.jsonl").read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in dead] == [("q.csv:2", "NON_POSITIVE_PRICE")]


def test_a_truncated_gz_mapped_file_converts_every_row_before_the_break_then_exits_1(config_file: Path,
                                                                                    tmp_path: Path) -> None:
    import zlib

    text = "t,r\n" + "".join(f"{T0 + i * 8 * H},0.{i % 97:04d}{i:06d}\n" for i in range(20_000))
    packed = gzip.compress(text.encode(), mtime=0)
    cut = packed[: len(packed) * 2 // 3]
    complete = zlib.decompressobj(wbits=31).decompress(cut).count(b"\n")  # the header and the rows before the break
    source = tmp_path / "okx.csv.gz"
    source.write_bytes(cut)
    out = tmp_path / "okx.jsonl"
    result = _run(config_file, "convert", "funding", source, "--out", out, "--map", "time=t,rate=r",
                  "--venue", "okx", "--asset", "BTC")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    records = _records(config_file, out)
    assert len(records) == complete - 1 > 1_000
    assert records[-1].ts_exchange == T0 + (complete - 2) * 8 * H
    [line] = [line for line in result.stderr.splitlines() if line.startswith("arbflow:")]
    assert line.startswith(f"arbflow: {source}: damaged gzip file: it breaks after line {complete:,} (byte ")


def test_a_premium_column_mapped_as_a_close_is_refused_price_implausible_with_its_settlement(
        config_file: Path, tmp_path: Path) -> None:
    source = _write(tmp_path / "bars.csv", "t,c,p,f\n"
                    f"{T0},50000,0.0004,0.0001\n{T0 + 8 * H},50100,0.0005,0.0002\n")
    out = tmp_path / "bars.jsonl"
    result = _run(config_file, "convert", "bars", source, "--out", out, "--map", "time=t,close=p,rate=f",
                  "--venue", "okx", "--asset", "BTC")
    assert result.exit_code == 0, result.output
    dead = [json.loads(line) for line in (tmp_path / "bars.rejected.jsonl").read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in dead] == [("bars.csv:2", "PRICE_IMPLAUSIBLE"),
                                                          ("bars.csv:3", "PRICE_IMPLAUSIBLE")]
    assert dead[0]["detail"] == "close 0.0004 is below BTC's floor 1 (plausibility.price_floors): a ratio, not a price"
    assert _records(config_file, out) == []  # neither the quotes nor the settlements of refused bars
