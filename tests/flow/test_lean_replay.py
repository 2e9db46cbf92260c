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
- The margin simulator models the inverse leg (operators/portfolio/inverse.py): no entry is refused
  MARGIN_UNMODELLED. Under the fixture's order style ("maker_first") every accepted entry becomes a
  trade whose first leg, Bybit's bid resting as maker, expires FIRST_LEG_TIMEOUT: minute quote bars
  carry no trade prints, and the paper venue fills a resting order only against prints.
- With `strategy.order_style = "taker"` (the backtest's default, for the same reason) the desks open
  the spread: long Bybit BTC/USDT:USDT, short Binance BTC/USD:BTC; the Binance account holds the
  short's face in USD and half the trade's notional as BTC (the inverse leg's collateral).
"""

from decimal import Decimal
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
from arbflow.model.execution import Fill, PairTrade
from arbflow.model.portfolio import PortfolioState
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


def _replay(files: list[Path], env: dict[str, str] | None = None
            ) -> tuple[list[Opportunity], list[tuple[str, bytes | None, bytes]]]:
    lines = [line for line in merge_files(files) if isinstance(line, ReplayLine)]
    messages = [Consumed(line.topic, 0, offset, (line.key or "").encode(), line.value)
                for offset, line in enumerate(lines)]
    flow = Dataflow("test_lean_replay")
    config = load_config(CONFIG, env=env or {}, warn=lambda _: None)
    _, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)), config, trade=True)
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    run_main(flow)
    assert [topic for topic, _, _ in items if topic.startswith("dlq.")] == []
    return [codec.decode(Opportunity, value, source="t") for topic, _, value in items
            if topic == "arb.opportunity"], items


def _records(items: list[tuple[str, bytes | None, bytes]], topic: str, kind: type) -> list:
    return [codec.decode(kind, value, source="t") for name, _, value in items if name == topic]


def _convert_all(tmp_path: Path, funding: str, mapping: str) -> list[Path]:
    _convert("quotes", "binance_coinm_btcusd_20221213_quote.zip", "quotes_binance_coinm.toml",
             tmp_path / "binance.jsonl")
    _convert("quotes", "bybit_btcusdt_20221213_quote.zip", "quotes_bybit_linear.toml", tmp_path / "bybit.jsonl")
    _convert("funding", "bybit_btcusdt_funding.csv", "funding_bybit_linear.toml", tmp_path / "bybit_funding.jsonl")
    _convert("funding", funding, mapping, tmp_path / "binance_funding.jsonl")
    return [tmp_path / name
            for name in ("binance.jsonl", "bybit.jsonl", "bybit_funding.jsonl", "binance_funding.jsonl")]


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
    opportunities, items = _replay([tmp_path / name for name in
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
    # The inverse leg is modelled: no entry is refused by the margin gates. Every accepted entry is sent
    # and its first leg — Bybit's bid resting as maker — expires: the bars carry no trade prints to fill it.
    denied = {reason: _denied(reason) - before for reason, before in denied_before.items()}
    assert denied == {"MARGIN_UNMODELLED": 0, "ALLOCATION_CAP": 0, "HISTORY_TOO_SHORT": 0, "POSITION_OPEN": 0}
    trades = _records(items, "exec.trade", PairTrade)
    ended = {t.trade_id: t.exit_reason for t in trades if t.status == "rejected"}
    assert len(ended) == long_bybit.accepted and set(ended.values()) == {"FIRST_LEG_TIMEOUT"}
    assert {(t.long_symbol, t.short_venue, t.short_symbol) for t in trades} == {
        ("BTC/USDT:USDT", "binance", "BTC/USD:BTC")}
    assert _records(items, "exec.fill", Fill) == []
    # After Bybit's data ends (12:00 UTC) no pair is judged fresh: both legs must be within 20 minutes.
    assert long_bybit.reasons["VENUE_STALE"] == long_binance.reasons["VENUE_STALE"] > 0


def test_lean_replay_opens_the_bybit_linear_binance_coinm_spread_when_the_first_leg_crosses(tmp_path: Path) -> None:
    """Taker order style: the desks open the spread and the Binance COIN-M leg is margined in BTC."""
    files = _convert_all(tmp_path, "binance_coinm_btcusd_funding_endpoint.csv", "funding_binance_coinm_endpoint.toml")
    before = _denied("MARGIN_UNMODELLED")
    _, items = _replay(files, env={"ARBFLOW_STRATEGY__ORDER_STYLE": "taker"})
    assert _denied("MARGIN_UNMODELLED") == before
    trades = _records(items, "exec.trade", PairTrade)
    opened = [t for t in trades if t.status == "active"]
    assert opened, {t.status for t in trades}
    first = opened[0]
    assert (first.long_venue, first.long_symbol, first.short_venue, first.short_symbol) == (
        "bybit", "BTC/USDT:USDT", "binance", "BTC/USD:BTC")
    fills = [f for f in _records(items, "exec.fill", Fill) if f.trade_id == first.trade_id]
    assert {(f.venue, f.symbol) for f in fills} >= {("bybit", "BTC/USDT:USDT"), ("binance", "BTC/USD:BTC")}
    # The desk's accounts carry the open trade: health from both venues' books, well above the entry
    # minimum (0.8): ≈ 2,993 USD a leg on ≈ 1,496 USD of collateral per venue, maintenance 0.4–0.5 %.
    states = [s for s in _records(items, "portfolio.state", PortfolioState)
              if s.open_positions > 0 and s.margin_health is not None and s.margin_health < 1]
    assert states and all(Decimal("0.98") < s.margin_health < 1 for s in states)
    assert all(s.liquidation_distance is not None and s.liquidation_distance > Decimal("0.4") for s in states)
