"""Files of the user's own layout, converted by a column mapping (`arbflow convert quotes|funding
--map`), replayed through the signal dataflow under Bytewax's test harness (no servers): a
minimally configured hourly-funding DEX next to Hyperliquid, both USDC-settled. Nothing is
dead-lettered (the new venue is known, the symbols are the unified ones) and the scanner
judges the pair on the converted funding."""

from decimal import Decimal
from pathlib import Path

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main
from click.testing import CliRunner

from arbflow.cli.config_file import load_config
from arbflow.cli.main import main
from arbflow.connectors.kafka import Consumed
from arbflow.connectors.replay import ReplayLine, merge_files
from arbflow.flows.signal_flow import signal_steps
from arbflow.model import codec
from arbflow.model.signals import Opportunity

CONFIG = """
[venues.lighter]
kind = "dex"
perp = { maker_bps = "0", taker_bps = "0" }
settle = "USDC"
"""
# The new DEX's interval is found from its settlements' spacing (its configuration says nothing).
FUNDING = """time,venue,rate_1h
1704063600,lighter,0.0001
1704067200,lighter,0.0001
1704067200,hyperliquid,0.00001
"""
QUOTES = """ts,venue,bid,ask,bid_size,ask_size
1704067201000,lighter,50000,50001,10,10
1704067201500,hyperliquid,50010,50011,10,10
1704067203000,lighter,50000,50001,10,10
"""


def _convert(config: Path, kind: str, source: Path, out: Path, mapping: str) -> None:
    result = CliRunner().invoke(main, ["--config", str(config), "convert", kind, str(source), "--out", str(out),
                                       "--map", mapping, "--asset", "BTC", "--contract", "linear", "--settle", "USDC"])
    assert result.exit_code == 0, result.output


def test_mapped_quotes_and_funding_of_a_new_dex_replay_into_judged_opportunities(tmp_path: Path) -> None:
    config_path = tmp_path / "arbflow.toml"
    config_path.write_text(CONFIG)
    (tmp_path / "funding.csv").write_text(FUNDING)
    (tmp_path / "quotes.csv").write_text(QUOTES)
    _convert(config_path, "funding", tmp_path / "funding.csv", tmp_path / "funding.jsonl",
             "time=time,venue=venue,rate=rate_1h")
    _convert(config_path, "quotes", tmp_path / "quotes.csv", tmp_path / "quotes.jsonl",
             "time=ts,venue=venue,bid=bid,ask=ask,bid_qty=bid_size,ask_qty=ask_size")
    lines = [line for line in merge_files([tmp_path / "funding.jsonl", tmp_path / "quotes.jsonl"])
             if isinstance(line, ReplayLine)]
    assert len(lines) == 6
    messages = [Consumed(line.topic, 0, offset, (line.key or "").encode(), line.value)
                for offset, line in enumerate(lines)]

    flow = Dataflow("test_mapped_replay")
    config = load_config(config_path, env={}, warn=lambda _: None)
    _, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)), config)
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    run_main(flow)

    assert [topic for topic, _, _ in items if topic.startswith("dlq.")] == []
    opportunities = [codec.decode(Opportunity, value, source="t") for topic, _, value in items
                     if topic == "arb.opportunity"]
    assert opportunities
    pair = {(o.long_venue, o.long_symbol, o.short_venue, o.short_symbol) for o in opportunities}
    # long the lower funding (Hyperliquid 0.001 %/h), short the higher (the new DEX 0.01 %/h)
    assert ("hyperliquid", "BTC/USDC:USDC", "lighter", "BTC/USDC:USDC") in pair
    carry = {o.carry_8h for o in opportunities if o.short_venue == "lighter"}
    (accepted,) = [o for o in opportunities if o.accepted]
    # The new DEX ranks hardest (its defaulted liquidity_rank 1), so it rests as maker (0 bps) and Hyperliquid
    # crosses as taker (4.5 bps), in and out: 9 bps of fees; the carry over the default H of 21 intervals pays.
    assert (accepted.short_venue, accepted.holding_intervals) == ("lighter", 21)
    assert accepted.detail is not None and "carry 7.20 bp/8h × H 21 (default) = 151.20 bps" in accepted.detail
    assert "fees 9.00" in accepted.detail
    assert carry == {(Decimal("0.0001") - Decimal("0.00001")) * 8}  # both hourly: 0.072 % per 8 h
    # the pair's APR: 0.00072 per 8 h × 3 × 365 = 78.84 %
    assert {o.carry_apr for o in opportunities if o.short_venue == "lighter"} == {Decimal("0.7884")}
