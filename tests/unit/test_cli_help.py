"""The help texts stay in step with the code: they are built from the tables the code uses —
the venues `ingest` accepts (`connectors.feeds.spec.LIVE_VENUES`, the compatibility source's
`COMPAT_VENUES`), the files `replay --out` writes (`reports.output_files.REPLAY_OUTPUTS`, the
names the writers use) — no help names an issue number, and `scores` in text shows every part
its JSON holds (opportunities, basis, latency)."""

import importlib
import os
import re
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path

import click
import pytest

from arbflow.cli.main import main
from arbflow.connectors.feeds.compat_tickers import COMPAT_VENUES
from arbflow.connectors.feeds.spec import LIVE_VENUES, LiveSpec
from arbflow.model import codec
from arbflow.model.config import Config
from arbflow.model.signals import BasisPoint, LatencyReading
from arbflow.reports.output_files import BACKTEST_BARS, REPLAY_OUTPUTS
from arbflow.reports.scores import score_lines

REPO = Path(__file__).resolve().parents[2]


def _commands(group: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    yield path, group
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            yield from _commands(command, (*path, name))


def _help(*path: str) -> str:
    """The `--help` text of `arbflow <path>`, unwrapped (one space between words)."""
    context = click.Context(main, info_name="arbflow", max_content_width=10_000, terminal_width=10_000)
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
        context = click.Context(command, info_name=name, parent=context, max_content_width=10_000,
                                terminal_width=10_000)
    return " ".join(command.get_help(context).split())


HELP = {path: _help(*path) for path, _ in _commands(main)}


def test_no_help_text_names_an_issue_when_any_command_help_is_built() -> None:
    assert len(HELP) > 20
    named = {" ".join(path): m.group(0) for path, text in HELP.items() if (m := re.search(r"issue \d+", text, re.I))}
    assert named == {}


def test_ingest_help_lists_every_venue_the_command_accepts_when_built() -> None:
    text = HELP[("ingest",)]
    assert f"any of {', '.join(LIVE_VENUES)} (required)" in text
    assert f"with --from-redis any of {', '.join(COMPAT_VENUES)}" in text
    assert len(LIVE_VENUES) == 8 and set(COMPAT_VENUES) <= set(LIVE_VENUES) | {"htx", "mexc"}


def test_the_live_venue_table_is_every_venue_module_with_a_live_spec_when_the_modules_are_read() -> None:
    modules = sorted(p.stem for p in (REPO / "connectors" / "venues").glob("*.py") if p.stem != "__init__")
    live = [m for m in modules
            if isinstance(getattr(importlib.import_module(f"arbflow.connectors.venues.{m}"), "LIVE", None), LiveSpec)]
    assert sorted(LIVE_VENUES) == live


def test_replay_and_backtest_help_name_every_output_file_when_built() -> None:
    assert len(REPLAY_OUTPUTS) == 6
    for name, meaning in REPLAY_OUTPUTS.items():
        assert f"{name} ({meaning})" in HELP[("replay",)]
        assert name in HELP[("backtest",)]
    assert BACKTEST_BARS in HELP[("backtest",)]


def test_replay_out_writes_exactly_the_listed_files_when_a_run_is_written(tmp_path: Path) -> None:
    from arbflow.flows.replay import ReplaySummary
    from arbflow.reports.replay_output import write_outputs

    summary = ReplaySummary(files={})
    write_outputs(tmp_path, Config(), (), summary, summary.as_json())
    assert sorted(os.listdir(tmp_path)) == sorted(REPLAY_OUTPUTS)


def test_scores_text_shows_the_basis_and_latency_its_json_holds_when_rendered() -> None:
    basis = BasisPoint(asset="BTC", venue="binance", spot_symbol="BTC/USDT", perp_symbol="BTC/USDT:USDT",
                       spot_mid=D("60000.5"), perp_mid=D("59993.1"), basis=D("-0.000123"), basis_bps=D("-1.23"), ts=1)
    latency = LatencyReading(venue="okx", asset="BTC", raw_mean_ms=-1270.0, corrected_mean_ms=3.4, offset_ms=-1273.4,
                             offset_source="min", samples=40, stale=False, ts=1)
    document = {"opportunities": [], "basis": [codec.loads(codec.encode(basis))],
                "latency": [codec.loads(codec.encode(latency))]}
    assert score_lines(document) == [
        "no accepted opportunity right now",
        "basis    BTC   binance      -1.23 bps  (spot mid 60000.5, perp mid 59993.1)",
        "latency  okx          BTC 3.4 ms corrected (raw -1270.0 ms, clock offset -1273.4 ms min, 40 samples) ok"]
    assert score_lines({"opportunities": [], "basis": [], "latency": []})[-1] == "latency  no venue measured yet"


@pytest.mark.parametrize("stale", [True, False])
def test_a_stale_venue_is_named_in_the_scores_text_when_its_reading_is_stale(stale: bool) -> None:
    latency = LatencyReading(venue="bybit", raw_mean_ms=250.0, corrected_mean_ms=240.0, offset_ms=10.0,
                             offset_source="min", samples=5, stale=stale, ts=1)
    [line] = score_lines({"opportunities": [{"score": 70, "asset": "BTC", "long_venue": "binance",
                                              "long_symbol": "BTC/USDT", "short_venue": "bybit",
                                              "short_symbol": "BTC/USDT:USDT", "entry_spread_bps": "12.5",
                                              "projected_profit": "3.2"}], "basis": [],
                          "latency": [codec.loads(codec.encode(latency))]})[1:]
    assert line.endswith("STALE" if stale else "ok") and "240.0 ms corrected" in line
