"""`arbflow backtest FILE`: an 8 h bar + funding history through the same desks, controller,
margin gates and ledger as live and paper trading — converted by the declared quote model
(`connectors.captures.bar_quotes`), then replayed with trading on (`cli.replay`).

Settings a settlement history needs, set on the configuration (not through the
environment): `signals.funding_silent_after_s = 0`, because funding arrives once per 8 h by
nature, and the live "silent stream" rule would call every leg stale; `strategy.order_style
= backtest.order_style` (default "taker": bars carry no trade prints, so a maker leg resting
at its touch would never fill — under taker both legs cross the quotes); `signals.scan_on =
"timestamp_complete"`, so each close is scanned once, after all its quotes and settlements
(not at its first ticker, against the other legs' 8 h old quotes); `universe.assets` = the
configured assets the file quotes (`traded_universe`: one desk per asset, each with an
equal share of the capital, so a configured asset without data would hold its share idle).
Everything else is the configuration as loaded. The quote model's assumptions (half-spread, depth, when a
close is scanned, the order style, fees) are printed with the summary and written into summary.json and report.html; the
entries the desks refused are printed by reason (counted in-process, not published).
Wall time covers conversion, publishing and the flow; records/s is the flow's rate over
the records published.
"""

import dataclasses
import tempfile
import time
from pathlib import Path

import click

from arbflow.cli.bad_rows import reading, strict_option
from arbflow.cli.convert import bars_to_replay
from arbflow.cli.replay import replay_and_report
from arbflow.cli.support import err_console, guard, load
from arbflow.connectors.captures.bar_quotes import assumptions
from arbflow.connectors.captures.row_policy import dead_letter_path
from arbflow.model.config import Config
from arbflow.reports.output_files import BACKTEST_BARS, REPLAY_OUTPUTS


def denied_entries() -> dict[str, int]:
    """Accepted opportunities the desks refused in this process so far, by reason (the
    `arbflow_entries_denied_total` counter: refusals are counted, not published)."""
    from arbflow.sinks.metrics import ENTRIES_DENIED

    return {sample.labels["reason"]: int(sample.value) for metric in ENTRIES_DENIED.collect()
            for sample in metric.samples if sample.name.endswith("_total") and sample.value}


def traded_universe(config: Config, assets: set[str]) -> Config:
    """`config` with `universe.assets` cut to the configured ones in `assets` (in their
    configured order); unchanged when the file quotes none of them (the replay then says so)."""
    kept = tuple(asset for asset in config.universe.assets if asset in assets)
    if not kept or kept == config.universe.assets:
        return config
    return dataclasses.replace(config, universe=dataclasses.replace(config.universe, assets=kept))


def backtest_settings(config: Config) -> Config:
    """`config` with the funding-silence rule off, `strategy.order_style` =
    `backtest.order_style` and scans on complete timestamps (see the module docstring)."""
    return dataclasses.replace(config, signals=dataclasses.replace(config.signals, funding_silent_after_s=0,
                                                                   scan_on="timestamp_complete"),
                               strategy=dataclasses.replace(config.strategy, order_style=config.backtest.order_style))


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Write here the converted replay file ({BACKTEST_BARS}) and what `replay --out` writes: "
                   f"{', '.join(REPLAY_OUTPUTS)}.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Bytewax worker threads (default 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@strict_option
@click.pass_context
@guard
def backtest(ctx: click.Context, file: Path, out_dir: Path | None, workers: int | None, as_json: bool,
             strict: bool) -> None:
    """Backtest an 8h bar + funding history (fixtures/funding/spot_perp_8h_*_utc.csv.gz)
    through the paper desks: each bar close c becomes a quote c × (1 ∓ half_spread_bps / 10⁴)
    with depth_usd / c a side ([backtest] in the configuration), each settlement a funding
    record; then the replay runs with trading on, the funding-silence rule off, and the
    order style of [backtest] order_style (default taker: both legs cross the bar quotes).
    Prints the summary, the assumptions, wall time and records/s. Bad rows of FILE follow the
    policy of `arbflow convert bars` (dead letters, --strict: exit 2 at the first; a damaged
    .gz: exit 1 after the backtest of everything readable)."""
    config = backtest_settings(load(ctx))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="arbflow-backtest-") as scratch:
        replay_file = (out_dir or Path(scratch)) / BACKTEST_BARS
        with reading(config, strict, dead_letter_path(replay_file), damage_exits=False) as policy:
            conversion = bars_to_replay(config, file, replay_file, policy=policy)
        config = traded_universe(config, conversion.assets)
        rows = assumptions(config, conversion.venues)
        summary = replay_and_report(config, (replay_file,), speed=0, workers=workers, out_dir=out_dir,
                                    as_json=as_json, trade=True, title="arbflow backtest", assumptions=rows)
    wall_s = time.monotonic() - started
    denied = ", ".join(f"{reason} {count:,}" for reason, count in sorted(denied_entries().items()))
    err_console.print(f"entries the desks refused: {denied or 'none'}")
    records = sum(summary.published.values())
    rate = records / summary.flow_s if summary.flow_s else 0.0
    err_console.print(f"backtest: {records:,} records, wall time {wall_s:.1f} s (publish {summary.publish_s:.1f} s, "
                      f"flow {summary.flow_s:.1f} s), flow {rate:,.0f} records/s")
    policy.raise_damage()
