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

import datetime
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.table import Table

from arbflow.cli.bad_rows import dead_letters_option, reading, strict_option
from arbflow.cli.convert import bars_to_replay
from arbflow.cli.replay import replay_and_report
from arbflow.cli.support import err_console, guard, load, out_console
from arbflow.connectors.captures.bar_quotes import assumptions
from arbflow.connectors.captures.row_policy import dead_letter_path
from arbflow.model.backtest import backtest_settings, traded_universe
from arbflow.model.config import Config
from arbflow.model.portfolio import PortfolioState
from arbflow.reports.output_files import BACKTEST_BARS, REPLAY_OUTPUTS

if TYPE_CHECKING:
    from arbflow.flows.replay import ReplaySummary


def denied_entries() -> dict[str, int]:
    """Accepted opportunities the desks refused in this process so far, by reason (the
    `arbflow_entries_denied_total` counter: refusals are counted, not published)."""
    from arbflow.sinks.metrics import ENTRIES_DENIED

    return {sample.labels["reason"]: int(sample.value) for metric in ENTRIES_DENIED.collect()
            for sample in metric.samples if sample.name.endswith("_total") and sample.value}


@click.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help=f"Write here the converted replay file ({BACKTEST_BARS}) and what `replay --out` writes: "
                   f"{', '.join(REPLAY_OUTPUTS)}.")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Bytewax worker threads (default 1).")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON instead of tables.")
@click.option("--split", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Also report the run before and after this UTC date (YYYY-MM-DD): parameters chosen on the "
                   "data before it are judged out of sample after it.")
@click.option("--brief", is_flag=True, help="Print the engine's result in a few lines instead of the summary's "
                                            "tables (the report and files under --out are the same).")
@strict_option
@dead_letters_option("with --out: OUT/bars.rejected.jsonl; without: next to FILE, NAME.rejected.jsonl")
@click.pass_context
@guard
def backtest(ctx: click.Context, file: Path, out_dir: Path | None, workers: int | None, as_json: bool,
             split: datetime.datetime | None, brief: bool, strict: bool, dead_letters: Path | None) -> None:
    """Backtest an 8h bar + funding history (fixtures/funding/spot_perp_8h_*_utc.csv.gz)
    through the paper desks: each bar close c becomes a quote c × (1 ∓ half_spread_bps / 10⁴)
    with depth_usd / c a side ([backtest] in the configuration), each settlement a funding
    record; then the replay runs with trading on, the funding-silence rule off, and the
    order style of [backtest] order_style (default taker: both legs cross the bar quotes).
    Prints the summary, the assumptions, the engine's result (return a year at constant
    notional, Sharpe, drawdown, funding, fees, turnover; with --split also before and after
    that date), wall time and records/s. Bad rows of FILE follow the
    policy of `arbflow convert bars` (dead letters, --strict: exit 2 at the first; a damaged
    .gz: exit 1 after the backtest of everything readable). The dead letters go under --out,
    or without it next to FILE (the converted bars are scratch then; the dead letters are not)."""
    config = backtest_settings(load(ctx))
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="arbflow-backtest-") as scratch:
        replay_file = (out_dir or Path(scratch)) / BACKTEST_BARS
        rejected = dead_letters or dead_letter_path(out_dir / BACKTEST_BARS if out_dir else file)
        with reading(config, strict, rejected, damage_exits=False) as policy:
            conversion = bars_to_replay(config, file, replay_file, policy=policy)
        config = traded_universe(config, conversion.assets)
        rows = assumptions(config, conversion.venues)
        summary = replay_and_report(config, (replay_file,), speed=0, workers=workers, out_dir=out_dir,
                                    as_json=as_json, trade=True, title="arbflow backtest", assumptions=rows,
                                    brief=brief)
    wall_s = time.monotonic() - started
    if not as_json:
        _print_windows(summary, config, split)
    denied = ", ".join(f"{reason} {count:,}" for reason, count in sorted(denied_entries().items()))
    err_console.print(f"entries the desks refused: {denied or 'none'}")
    records = sum(summary.published.values())
    rate = records / summary.flow_s if summary.flow_s else 0.0
    err_console.print(f"backtest: {records:,} records, wall time {wall_s:.1f} s (publish {summary.publish_s:.1f} s, "
                      f"flow {summary.flow_s:.1f} s), flow {rate:,.0f} records/s")
    policy.raise_damage()


def _percent(value: Decimal | None, places: str = "0.01") -> str:
    return "–" if value is None else f"{(value * 100).quantize(Decimal(places))} %"


def _print_windows(summary: "ReplaySummary", config: Config, split: datetime.datetime | None) -> None:
    """The engine's result over the whole run and, with `split`, before and after it: net
    P&L, return a year on the starting capital (the trades held at constant notional), daily
    Sharpe, max drawdown, fees against funding, turnover (`walk_forward.engine_figures`)."""
    from arbflow.model import topics
    from arbflow.model.execution import Order, PairTrade
    from arbflow.operators.study.walk_forward import Window, engine_figures

    outputs = summary.outputs
    states = [r for r in outputs.get(topics.PORTFOLIO_STATE, []) if isinstance(r, PortfolioState)]
    trades = [r for r in outputs.get(topics.EXEC_TRADE, []) if isinstance(r, PairTrade)]
    final: dict[str, Order] = {}
    for order in outputs.get(topics.EXEC_ORDER, []):
        if isinstance(order, Order):
            final[order.client_order_id] = order
    capital = config.execution.starting_capital
    windows = [Window(name="whole run")]
    if split is not None:
        cut = int(split.replace(tzinfo=datetime.UTC).timestamp() * 1000)
        windows += [Window(name=f"before {split:%Y-%m-%d}", end_ms=cut),
                    Window(name=f"from {split:%Y-%m-%d}", start_ms=cut)]
    table = Table(title=f"the engine's result on {capital} USD (trades held at constant notional)")
    for column in ("window", "return / year", "Sharpe (daily)", "max drawdown", "funding USD", "fees USD",
                   "fees / funding", "turnover / year"):
        table.add_column(column, justify="left" if column == "window" else "right", no_wrap=column == "window")
    for window in windows:
        figures = engine_figures(states, trades, list(final.values()), window, capital)
        if figures is None:
            table.add_row(window.name, *["–"] * 7)
            continue
        table.add_row(window.name, _percent(figures.annual_return),
                      "–" if figures.sharpe is None else f"{figures.sharpe.quantize(Decimal('0.01'))}",
                      _percent(figures.max_drawdown), f"{figures.funding:,.2f}", f"{figures.fees:,.2f}",
                      _percent(figures.fee_share, "0.1"),
                      "–" if figures.turnover is None else f"{figures.turnover.quantize(Decimal('0.1'))}×")
    out_console.print(table)
    net = sum((s.realised_pnl + s.unrealised_pnl for s in _latest_by_desk(states)), Decimal(0))
    out_console.print(f"net P&L {net:,.2f} USD on {capital} USD; {len({t.trade_id for t in trades})} trades")


def _latest_by_desk(states: list[PortfolioState]) -> list[PortfolioState]:
    latest: dict[str, PortfolioState] = {}
    for state in sorted(states, key=lambda s: s.ts):
        latest[state.asset or ""] = state
    return list(latest.values())
