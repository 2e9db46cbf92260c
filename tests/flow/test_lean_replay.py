"""The Lean minute bars of 2022-12-13 (fixtures/lean/, QuantConnect Lean's zips: Binance COIN-M
BTCUSD_PERP, an inverse perp of 100 USD contracts, and Bybit's BTCUSDT linear perp), converted
through the mapping path (`arbflow convert quotes|funding --mapping fixtures/lean/*.toml`) and
replayed through the signal dataflow and its paper desks under Bytewax's test harness, once with
each of the two sources of Binance's funding. The report's pair table shows the morning's funding
spread and the scanner's decision with its reason; the values are checked by hand:

- Bybit BTCUSDT paid −0.020160 % (settled 00:00) and −0.022398 % (08:00); Binance COIN-M
  +0.010000 % and +0.004868 % by Binance's endpoint, −0.004062 % and −0.001869 % by Lean's file.
- Long Bybit, short Binance: spread = rate(Binance) − rate(Bybit) per 8 h:
  endpoint 0.010000 + 0.020160 = 0.030160 %, then 0.004868 + 0.022398 = 0.027266 %;
  Lean's file −0.004062 + 0.020160 = 0.016098 %, then −0.001869 + 0.022398 = 0.020529 %.
- Fees: Bybit ranks below Binance, so it rests as maker (2 bps) and Binance crosses as taker
  (5 bps), in and out: 14 bps. The carry over the default holding of 21 intervals:
  3.016 bp × 21 = 63.34 bps (endpoint) against 1.6098 bp × 21 = 33.81 bps (Lean's file).
- The scanner's expected carry is the mean of the settled spreads so far: by 12:00 (endpoint)
  (3.0160 + 2.7266) / 2 = 2.87 bp × 21 = 60.30 bps; (Lean's file) (1.6098 + 2.0529) / 2 = 1.83 bp
  × 21 = 38.46 bps — accepted either way at the end of the morning, but with Lean's file the
  first hours' 1.61 bp × 21 = 33.81 bps does not clear costs and margin (NOT_PROFITABLE).
- The reverse pair (long Binance, short Bybit) earns minus the spread: FUNDING_DELTA_TOO_LOW.
- The desks enter nothing: each accepted entry is refused MARGIN_UNMODELLED (an inverse leg).
"""

from pathlib import Path

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from click.testing import CliRunner
from rich.console import Console

from arbflow.cli.config_file import load_config
from arbflow.cli.main import main
from arbflow.connectors.kafka import Consumed
from arbflow.connectors.replay import ReplayLine, merge_files
from arbflow.flows.signal_flow import ENTRIES_DENIED, signal_steps
from arbflow.model import codec
from arbflow.model.signals import Opportunity
from arbflow.reports.replay_tables import render_pairs
from arbflow.reports.scanner_pairs import pair_outcomes

LEAN = Path(__file__).resolve().parents[2] / "fixtures" / "lean"
CONFIG = LEAN / "arbflow.toml"
LONG_BYBIT = ("bybit BTC/USDT:USDT", "binance BTC/USD:BTC")


def _convert(kind: str, source: str, mapping: str, out: Path) -> str:
    result = CliRunner().invoke(main, ["--config", str(CONFIG), "convert", kind, str(LEAN / source), "--out", str(out),
                                       "--mapping", str(LEAN / mapping)])
    assert result.exit_code == 0, result.output
    return result.output


def _denied(reason: str) -> float:
    """Entries the desks refused for `reason` so far in this process (a counter: read as a delta)."""
    return sum(sample.value for metric in ENTRIES_DENIED.collect() for sample in metric.samples
               if sample.name.endswith("_total") and sample.labels.get("reason") == reason)


def _replay(files: list[Path]) -> list[Opportunity]:
    lines = [line for line in merge_files(files) if isinstance(line, ReplayLine)]
    messages = [Consumed(line.topic, 0, offset, (line.key or "").encode(), line.value)
                for offset, line in enumerate(lines)]
    flow = Dataflow("test_lean_replay")
    config = load_config(CONFIG, env={}, warn=lambda _: None)
    _, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)), config, trade=True)
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    run_main(flow)
    assert [topic for topic, _, _ in items if topic.startswith("dlq.")] == []
    return [codec.decode(Opportunity, value, source="t") for topic, _, value in items if topic == "arb.opportunity"]


@pytest.mark.parametrize(
    ("funding", "mapping", "source", "first", "last", "decision", "unprofitable"),
    [
        ("binance_coinm_btcusd_funding_endpoint.csv", "funding_binance_coinm_endpoint.toml",
         "funding source: Binance COIN-M funding-rate endpoint", "0.0302 %", "0.0273 %",
         "accepted: carry 2.87 bp/8h × H 21 (default) = 60.30 bps", False),
        ("binance_coinm_btcusd_funding_lean.csv", "funding_binance_coinm_lean.toml",
         "funding source: Lean Data/cryptofuture/binance/margin_interest/btcusd.csv", "0.0161 %", "0.0205 %",
         "accepted: carry 1.83 bp/8h × H 21 (default) = 38.46 bps", True),
    ],
    ids=["binance-endpoint", "lean-file"],
)
def test_lean_minute_bars_replay_into_the_mornings_funding_spread_and_the_scanners_reasons(
        tmp_path: Path, funding: str, mapping: str, source: str, first: str, last: str, decision: str,
        unprofitable: bool) -> None:
    quotes = _convert("quotes", "binance_coinm_btcusd_20221213_quote.zip", "quotes_binance_coinm.toml",
                      tmp_path / "binance.jsonl")
    assert "md.ticker" in quotes and "1,104" in quotes and "symbol:binance BTC/USD:BTC" in quotes
    quotes = _convert("quotes", "bybit_btcusdt_20221213_quote.zip", "quotes_bybit_linear.toml",
                      tmp_path / "bybit.jsonl")
    assert "460" in quotes and "symbol:bybit BTC/USDT:USDT" in quotes
    assert "funding source: Lean Data/cryptofuture/bybit/margin_interest/btcusdt.csv" in _convert(
        "funding", "bybit_btcusdt_funding.csv", "funding_bybit_linear.toml", tmp_path / "bybit_funding.jsonl")
    assert source in _convert("funding", funding, mapping, tmp_path / "binance_funding.jsonl")

    denied_before = {reason: _denied(reason) for reason in ("MARGIN_UNMODELLED", "ALLOCATION_CAP", "HISTORY_TOO_SHORT",
                                                             "POSITION_OPEN")}
    opportunities = _replay([tmp_path / name for name in
                             ("binance.jsonl", "bybit.jsonl", "bybit_funding.jsonl", "binance_funding.jsonl")])
    pairs = {(p.long, p.short): p for p in pair_outcomes(opportunities)}
    assert set(pairs) == {LONG_BYBIT, LONG_BYBIT[::-1]}
    console = Console(record=True, width=400)
    render_pairs(opportunities, console)
    report = console.export_text()
    assert "Funding spread and the scanner's decision per pair" in report
    assert first in report and last in report
    long_bybit, long_binance = pairs[LONG_BYBIT], pairs[LONG_BYBIT[::-1]]
    assert long_bybit.accepted > 0 and decision in long_bybit.why
    # Lean's file halves the first hours' spread: then the carry over H no longer pays the 20 bps margin.
    assert ("NOT_PROFITABLE" in long_bybit.reasons) is unprofitable
    assert "FUNDING_DELTA_TOO_LOW" in long_binance.reasons
    # The paper desks refuse every accepted entry: the margin simulator models spot and USDT-linear perps
    # only, not Binance's inverse COIN-M leg (operators/portfolio/margin.py) — no trade, and that is why.
    denied = {reason: _denied(reason) - before for reason, before in denied_before.items()}
    assert denied == {"MARGIN_UNMODELLED": long_bybit.accepted, "ALLOCATION_CAP": 0, "HISTORY_TOO_SHORT": 0,
                      "POSITION_OPEN": 0}
    # After Bybit's data ends (12:00 UTC) no pair is judged fresh: both legs must be within 20 minutes.
    assert long_bybit.reasons["VENUE_STALE"] == long_binance.reasons["VENUE_STALE"] > 0
