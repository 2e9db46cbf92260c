"""Issue 16's fixtures after conversion: each converted file is replayed through the signal
dataflow (Bytewax's test harness, no servers) next to a reference venue that pays nothing
(Hyperliquid at rate 0), so the scanner's carry on the pair is the fixture's own 8h-equivalent
rate and its APR that × 3 × 365; and studied with `arbflow study funding` (its naive APR: the
mean 8h-equivalent × 1095). Values are worked by hand in the comments. The conversions
themselves are tested in tests/unit/test_convert_mapping.py (whose fixture texts are reused),
the bad-row matrix in tests/unit/test_bad_rows_cli.py.

The quotes are written at the last settlement + 1 s and are the same for every fixture: a pair
is priced, the carry is what is checked."""

import json
from decimal import Decimal as D
from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from click.testing import CliRunner, Result

from arbflow.cli.config_file import load_config
from arbflow.cli.main import main
from arbflow.connectors.kafka import Consumed
from arbflow.connectors.replay import ReplayLine, merge_files
from arbflow.flows.signal_flow import signal_steps
from arbflow.model import codec, reasons
from arbflow.model.signals import Opportunity
from tests.unit.test_convert_mapping import BITMEX, BOTH_COLUMNS, CONFIG, DERIBIT_BARS

H = 3_600_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z
REFERENCE = ("hyperliquid", "BTC/USDC:USDC")


def _run(config: Path, *args: object) -> Result:
    result = CliRunner().invoke(main, ["--config", str(config), *map(str, args)])
    assert "Traceback" not in result.output
    return result


def _convert(config: Path, kind: str, source: Path, out: Path, *args: str) -> Path:
    result = _run(config, "convert", kind, source, "--out", out, *args)
    assert result.exit_code == 0, result.output
    return out


def _reference(tmp_path: Path, config: Path, settlements: list[int], venue: str, *quote_args: str,
               qty: str = "10") -> list[Path]:
    """Hyperliquid funding at 0 at the fixture's settlement times, and quotes of 50,000 / 50,001:
    10 BTC a side (`qty` for the fixture's venue: contracts when it is inverse), 1 s (the
    fixture's venue), 1.5 s (the reference) and 3 s (the fixture's venue again: the scan runs on
    a record after both quotes) after the last settlement."""
    funding = tmp_path / "reference.csv"
    funding.write_text("t,r\n" + "".join(f"{t},0\n" for t in settlements))
    last = max(settlements)
    quotes = tmp_path / "quotes.csv"
    quotes.write_text(f"t,b,a,bq,aq\n{last + 1000},50000,50001,{qty},{qty}\n{last + 3000},50000,50001,{qty},{qty}\n")
    reference_quotes = tmp_path / "reference_quotes.csv"
    reference_quotes.write_text(f"t,b,a,bq,aq\n{last + 1500},50000,50001,10,10\n")
    mapping = "time=t,bid=b,ask=a,bid_qty=bq,ask_qty=aq"
    return [
        _convert(config, "funding", funding, tmp_path / "reference.jsonl", "--map", "time=t,rate=r",
                 "--venue", "hyperliquid", "--asset", "BTC"),
        _convert(config, "quotes", quotes, tmp_path / "quotes.jsonl", "--map", mapping, "--venue", venue,
                 "--asset", "BTC", *quote_args),
        _convert(config, "quotes", reference_quotes, tmp_path / "reference_quotes.jsonl", "--map", mapping,
                 "--venue", "hyperliquid", "--asset", "BTC")]


def _replay(config: Path, files: list[Path]) -> tuple[list[tuple[str, str]], list[Opportunity]]:
    """The dead letters (topic, reason) and the opportunities of a replay of `files` through the
    signal flow."""
    lines = [line for line in merge_files(files) if isinstance(line, ReplayLine)]
    messages = [Consumed(line.topic, 0, offset, (line.key or "").encode(), line.value)
                for offset, line in enumerate(lines)]
    flow = Dataflow("test_fixture_replays")
    _, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)),
                              load_config(config, env={}, warn=lambda _: None))
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    run_main(flow)
    return ([(topic, json.loads(value)["reason"]) for topic, _, value in items if topic.startswith("dlq.")],
            [codec.decode(Opportunity, value, source="t") for topic, _, value in items if topic == "arb.opportunity"])


def _carry(opportunities: list[Opportunity], venue: str, symbol: str) -> set[tuple[D | None, D | None]]:
    """(carry_8h, carry_apr) of the pair long the reference, short the fixture's venue."""
    return {(o.carry_8h, o.carry_apr) for o in opportunities
            if (o.long_venue, o.long_symbol, o.short_venue, o.short_symbol) == (*REFERENCE, venue, symbol)}


def _study(config: Path, out: Path, *files: Path) -> dict[tuple[str, str], dict[str, str]]:
    """The study's rows by (strategy, venues): a venue without spot is studied "naive" under its
    venue and symbol; one with spot in the venue table (OKX) as "cash-and-carry" under its name."""
    args: list[object] = ["study", "funding", "--json", "--out", out]
    for path in files:
        args += ["--data", path]
    result = _run(config, *args)
    assert result.exit_code == 0, result.output
    return {(row["strategy"], row["venues"]): row for row in json.loads(result.stdout)["rows"]}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """The venues of test_convert_mapping; the funding-silence rule off, as in a backtest (histories
    settle every 1–8 h and say nothing in between); USD, USDC and USDT quotes priced as one (the
    reference is USDC-quoted, BitMEX and Deribit USD, OKX USDT)."""
    path = tmp_path / "arbflow.toml"
    path.write_text(CONFIG + "\n[signals]\nfunding_silent_after_s = 0\n"
                    "\n[scanner]\nquote_equivalents = [\"USD\", \"USDC\", \"USDT\"]\n")
    return path


def test_the_1h_and_8h_columns_file_replays_and_studies_at_its_8h_equivalent(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "both.csv"
    source.write_text(BOTH_COLUMNS.lstrip())
    out = _convert(config, "funding", source, tmp_path / "both.jsonl", "--map",
                   "time=ts,rate_8h=funding_8h,asset=asset", "--venue", "lighter")
    settlements = [T0, T0 + H, T0 + 2 * H]
    dead, opportunities = _replay(config, [out, *_reference(tmp_path, config, settlements, "lighter")])
    assert dead == []
    # The last settlement: 8h-equivalent −0.0001 (hourly −0.0000125 × 8). Against 0 the pair short lighter
    # earns −0.0001 per 8 h, APR −0.0001 × 1095 = −10.95 %.
    assert _carry(opportunities, "lighter", "BTC/USDC:USDC") == {(D("-0.0001"), D("-0.1095"))}
    # The study: 8h-equivalents 0.0001, 0.0002, −0.0001 → mean 0.0000666… × 1095 = 7.3 %.
    row = _study(config, tmp_path / "study", out)[("naive", "lighter BTC/USDC:USDC")]
    assert D(row["naive_apr"]) == D("0.073")


def test_the_bitmex_interval_column_replays_as_an_inverse_8h_perp_and_studies(config: Path, tmp_path: Path) -> None:
    source = tmp_path / "bitmex.csv"
    source.write_text(BITMEX.lstrip())
    out = _convert(config, "funding", source, tmp_path / "bitmex.jsonl", "--map",
                   "time=timestamp,rate=fundingRate,interval=fundingInterval,symbol=symbol", "--venue", "bitmex")
    settlements = [T0 + 4 * H, T0 + 12 * H, T0 + 20 * H]
    # the quotes in contracts of 1 USD (the venue table): 10 BTC at 50,000 = 500,000 contracts
    quote_files = _reference(tmp_path, config, settlements, "bitmex", qty="500000")
    dead, opportunities = _replay(config, [out, *quote_files])
    assert dead == []
    # The last settlement (20:00): −0.00005 per 8 h, the interval 8 h from the column (2000-01-01T08:00):
    # short BitMEX against 0 earns −0.00005, APR −0.00005 × 1095 = −5.475 %.
    assert _carry(opportunities, "bitmex", "BTC/USD:BTC") == {(D("-0.00005"), D("-0.05475"))}
    # The study: (0.0001 + 0.00012 − 0.00005) / 3 = 0.0000566… per 8 h × 1095 = 6.205 %.
    row = _study(config, tmp_path / "study", out)[("naive", "bitmex BTC/USD:BTC")]
    assert D(row["naive_apr"]) == D("0.06205")


def test_inverse_bars_with_a_usd_contract_size_replay_and_study_as_deribit_btc_usd(config: Path,
                                                                                  tmp_path: Path) -> None:
    source = tmp_path / "deribit_bars.csv"
    source.write_text(DERIBIT_BARS.lstrip())
    out = _convert(config, "bars", source, tmp_path / "deribit_bars.jsonl", "--map",
                   "time=open_time,close=close,volume=volume,rate_8h=funding_8h", "--venue", "deribit",
                   "--asset", "BTC", "--bar", "1h")
    # The bars' own quotes (close ∓ 1 bp at each close, T0 + 1 h … T0 + 3 h) and two settlements 2 h apart at
    # T0 and T0 + 2 h; the reference pays 0 at those times and quotes 1.5 s after the last bar's close.
    reference = tmp_path / "reference.csv"
    reference.write_text(f"t,r\n{T0},0\n{T0 + 2 * H},0\n")
    quotes = tmp_path / "reference_quotes.csv"
    quotes.write_text(f"t,b,a,bq,aq\n{T0 + 3 * H + 1500},50000,50001,10,10\n{T0 + 3 * H + 3000},50000,50001,10,10\n")
    files = [out, _convert(config, "funding", reference, tmp_path / "reference.jsonl", "--map", "time=t,rate=r",
                           "--venue", "hyperliquid", "--asset", "BTC"),
             _convert(config, "quotes", quotes, tmp_path / "reference_quotes.jsonl", "--map",
                      "time=t,bid=b,ask=a,bid_qty=bq,ask_qty=aq", "--venue", "hyperliquid", "--asset", "BTC")]
    dead, opportunities = _replay(config, files)
    assert dead == []
    # The last settlement: 8h-equivalent 0.0002 (0.00005 per 2 h × 4); APR 0.0002 × 1095 = 21.9 %.
    assert _carry(opportunities, "deribit", "BTC/USD:BTC") == {(D("0.0002"), D("0.219"))}
    # The study: 8h-equivalents 0.0001 and 0.0002 → mean 0.00015 × 1095 = 16.425 %.
    row = _study(config, tmp_path / "study", out)[("naive", "deribit BTC/USD:BTC")]
    assert D(row["naive_apr"]) == D("0.16425")


def test_seconds_and_milliseconds_files_replay_and_study_alike(config: Path, tmp_path: Path) -> None:
    rows = [(1704067200, "0.0001"), (1704096000, "0.0002")]
    outs = []
    for unit, scale in (("s", 1), ("ms", 1000)):
        source = tmp_path / f"{unit}.csv"
        source.write_text("t,r\n" + "".join(f"{t * scale},{r}\n" for t, r in rows))
        outs.append(_convert(config, "funding", source, tmp_path / f"{unit}.jsonl", "--map", "time=t,rate=r",
                             "--venue", "okx", "--asset", "BTC", "--settle", "USDC"))
    carries, studies = [], []
    for out in outs:
        folder = tmp_path / out.stem
        folder.mkdir()
        dead, opportunities = _replay(config, [out, *_reference(folder, config, [T0, T0 + 8 * H], "okx",
                                                                  "--settle", "USDC")])
        assert dead == []
        carries.append(_carry(opportunities, "okx", "BTC/USDC:USDC"))
        studies.append(D(_study(config, folder / "study", out)[("cash-and-carry", "okx")]["naive_apr"]))
    # OKX settles every 8 h: the last rate 0.0002 is its 8h-equivalent, APR 0.0002 × 1095 = 21.9 %; the study's
    # mean (0.0001 + 0.0002) / 2 × 1095 = 16.425 %. Seconds and milliseconds give the same.
    assert carries == [{(D("0.0002"), D("0.219"))}] * 2
    assert studies == [D("0.16425")] * 2


SUPERVIK_HEADER = "asset,venue,funding_time_ms_utc,date_as_published,funding_rate\n"


def test_duplicate_out_of_order_and_impossible_rows_are_left_out_of_the_replay_and_the_study(
        config: Path, tmp_path: Path) -> None:
    rows = [f"BTC,okx,{T0},x,0.0001",
            f"BTC,okx,{T0 + 8 * H},x,1e50",         # line 3: IMPOSSIBLE_RATE
            f"BTC,okx,{T0 + 8 * H},x,0.0003",       # line 4
            f"BTC,okx,{T0 + 8 * H},x,0.0003",       # line 5: DUPLICATE_ROW
            f"BTC,okx,{T0},x,0.0009",               # line 6: OUT_OF_ORDER_ROW
            f"BTC,okx,{T0 + 16 * H},x,0.0002"]      # line 7
    source = tmp_path / "sv_utc.csv"
    source.write_text(SUPERVIK_HEADER + "\n".join(rows) + "\n")
    out = _convert(config, "funding", source, tmp_path / "okx.jsonl")
    dead = [json.loads(line) for line in (tmp_path / "okx.rejected.jsonl").read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in dead] == [
        ("sv_utc.csv:3", reasons.IMPOSSIBLE_RATE), ("sv_utc.csv:5", reasons.DUPLICATE_ROW),
        ("sv_utc.csv:6", reasons.OUT_OF_ORDER_ROW)]
    settlements = [T0, T0 + 8 * H, T0 + 16 * H]
    dead_topics, opportunities = _replay(config, [out, *_reference(tmp_path, config, settlements, "okx")])
    assert dead_topics == []
    # the last good settlement 0.0002 per 8 h: APR 21.9 %
    assert _carry(opportunities, "okx", "BTC/USDT:USDT") == {(D("0.0002"), D("0.219"))}
    # The study of the raw file leaves out the same three rows: (0.0001 + 0.0003 + 0.0002) / 3 × 1095 = 21.9 %.
    row = _study(config, tmp_path / "study", source)[("cash-and-carry", "okx")]
    assert D(row["naive_apr"]) == D("0.219")
    study_dead = [json.loads(line) for line in (tmp_path / "study" / "rejected.jsonl").read_text().splitlines()]
    assert [(d["source"], d["reason"]) for d in study_dead] == [(d["source"], d["reason"]) for d in dead]


def test_a_replayed_rate_of_1e50_is_a_dead_letter_and_the_good_settlements_still_count(
        config: Path, tmp_path: Path) -> None:
    settlements = [T0, T0 + 8 * H]
    funding = tmp_path / "raw.jsonl"  # a replay file written by hand, not by `convert` (which refuses 1e50)
    funding.write_text("".join(
        f'{{"topic":"md.funding","venue":"okx","symbol":"BTC/USDT:USDT","market":"perp","rate":"{rate}",'
        f'"interval_ms":28800000,"next_funding_time":{t + 8 * H},"ts_exchange":{t},"ts_local":{t},'
        f'"schema_version":1}}\n'
        for t, rate in ((T0, "0.0001"), (T0 + 8 * H, "1e50"), (T0 + 8 * H, "0.0003"))))
    dead, opportunities = _replay(config, [funding, *_reference(tmp_path, config, settlements, "okx")])
    assert dead == [("dlq.md.funding", reasons.IMPOSSIBLE_RATE)]
    assert _carry(opportunities, "okx", "BTC/USDT:USDT") == {(D("0.0003"), D("0.3285"))}  # 0.0003 × 1095
