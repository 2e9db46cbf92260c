"""`arbflow study funding`: the funding-carry study over the recorded funding and 8h-candle
histories (docs/study.md; the simulation is `operators.study.carry`, the reading
`connectors.captures.funding_study_data`, the rendering `reports.study`).
`arbflow study portfolio`: the multi-pair portfolio (allocator + margin gates) against the
best single pair over the same 8h data (docs/risk.md; `operators.study.portfolio_eval`,
rendering `reports.portfolio`).

Exit codes as every arbflow command: 0 ok; 2 a usage error (a bad option, a file of no
known format or malformed, no data files).
"""

import dataclasses
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import click
from rich.console import Console

from arbflow.cli.bad_rows import reading, strict_option
from arbflow.cli.progress import ProgressReport
from arbflow.cli.support import die as _die
from arbflow.cli.support import guard as _guard
from arbflow.connectors.captures import funding_study_data
from arbflow.connectors.captures.row_policy import BadRow
from arbflow.model import codec
from arbflow.model.config import Config
from arbflow.model.errors import ConfigError
from arbflow.model.money import BPS_PER_UNIT, DecimalTextError, parse_decimal
from arbflow.operators.study import carry as carry_study
from arbflow.operators.study import portfolio_eval
from arbflow.reports import portfolio as portfolio_report
from arbflow.reports.study import (
    Row,
    charts,
    csv_text,
    document,
    html_page,
    params_document,
    sort_rows,
    table,
    write_plots,
)

FIXTURES: Final = Path(__file__).resolve().parents[1] / "fixtures" / "funding"
JSON_NAME: Final = "funding_study.json"
CSV_NAME: Final = "funding_study.csv"
HTML_NAME: Final = "funding_study.html"
REJECTED_NAME: Final = "rejected.jsonl"  # the dead letters of the data files
PORTFOLIO_DATA: Final = FIXTURES / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"
PORTFOLIO_JSON: Final = "portfolio.json"
PORTFOLIO_CSV: Final = "portfolio_equity.csv"


class DecimalParam(click.ParamType):
    """A plain decimal number, parsed exactly (never through float)."""

    name = "decimal"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Decimal:
        if isinstance(value, Decimal):
            return value
        try:
            return parse_decimal(str(value).strip())
        except DecimalTextError:
            self.fail(f"{value!r} is not a decimal number", param, ctx)


DECIMAL: Final = DecimalParam()


def _config(ctx: click.Context) -> Config:
    """The configuration (--config of the `arbflow` group); built-in defaults when the
    command runs outside the group."""
    from arbflow.cli.config_file import load_config

    root = ctx.find_root().obj
    path = root.get("config_path") if isinstance(root, dict) else None
    try:
        return load_config(path)
    except ConfigError as error:
        _die(f"config error: {error}", 2)


def _data_files(given: tuple[Path, ...]) -> list[Path]:
    if given:
        return list(given)
    files = sorted(p for p in FIXTURES.iterdir() if p.name.endswith((".csv", ".csv.gz"))) if FIXTURES.is_dir() else []
    if not files:
        _die(f"no funding histories in {FIXTURES}; name files with --data", 2)
    return files


@click.group()
def study() -> None:
    """Studies over recorded market history."""


@study.command("funding")
@click.option("--data", "data_files", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A funding history (repeatable): aha-hh 8h bars with funding, a Binance website export or the "
                   "supervik 7-venue file, *_utc.csv(.gz); the format is recognised from the header; or a replay "
                   "file written by `arbflow convert funding` (*.jsonl(.gz), e.g. of a mapped file). "
                   "Default: every file in fixtures/funding/.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/funding-study"),
              show_default=True, help=f"Directory for {JSON_NAME}, {CSV_NAME}, {HTML_NAME} and plots/*.html.")
@click.option("--entry-margin-bps", type=DECIMAL, default=None,
              help="The carry rule's entry margin: enter when carry × H + spread − the taker round trip beats "
                   "this many bps. Default: [strategy] entry_margin_bps.")
@click.option("--exit-bps", type=DECIMAL, default=None,
              help="Exit when the held side's 8h carry falls below this many bps (1 bp = 0.01 %/8h). "
                   "Default: [strategy] exit_carry_8h.")
@click.option("--signal-window", type=click.IntRange(1, 1095), default=None,
              help="The expected carry the rule enters, holds and exits on is the mean 8h carry of this many "
                   "last settlements (8h buckets for pairs); 1 = the last settlement. "
                   "Default: [strategy] carry_window_intervals.")
@click.option("--notional", type=DECIMAL, default="10000", show_default=True, help="USD per leg.")
@click.option("--basis-stop-bps", type=DECIMAL, default=None,
              help="Basis stop level: (perp − spot) / spot below this many bps … "
                   "Default: [strategy] basis_stop_bps.")
@click.option("--basis-stop-intervals", type=click.IntRange(1, 1000), default=None,
              help="… for this many consecutive 8h bars exits a cash-and-carry. "
                   "Default: [strategy] basis_stop_intervals.")
@click.option("--basis-reentry-bps", type=DECIMAL, default=None,
              help="After a basis stop, entries wait for a bar at or above this basis. "
                   "Default: [strategy] basis_reentry_bps.")
@click.option("--json", "as_json", is_flag=True, help="Print the study as JSON instead of the table.")
@strict_option
@click.pass_context
@_guard
def funding(ctx: click.Context, data_files: tuple[Path, ...], out_dir: Path, entry_margin_bps: Decimal | None,
            exit_bps: Decimal | None,
            signal_window: int | None, notional: Decimal, basis_stop_bps: Decimal | None,
            basis_stop_intervals: int | None, basis_reentry_bps: Decimal | None, as_json: bool,
            strict: bool) -> None:
    """Funding-carry study: cash-and-carry per venue and cross-venue funding spread, with
    fees, the desks' carry rule (entry over H, exit by hysteresis) and the basis stop, in exact
    Decimal, next to the naive
    "average funding × 3 × 365".

    Decisions at a settlement use only data published by then (no look-ahead). Prints a
    table and writes funding_study.json, funding_study.csv, funding_study.html (charts of
    cumulative P&L, self-contained) and plots/*.html into --out. Progress goes to stderr: a
    bar on a terminal, plain lines otherwise.

    Bad rows (malformed, duplicate or out-of-order settlements, rates beyond [plausibility]
    max_funding_rate_8h, implausible prices) are left out and written to --out/rejected.jsonl
    with file:line, reason and raw text; the counts are printed (--strict: exit 2 at the first).
    A .gz/.xz/.zst file that breaks before its end is studied up to the break, then one line names
    where it broke, exit 1.
    """
    config = _config(ctx)
    venues = dict(config.venues)
    files = _data_files(data_files)
    try:
        strategy = config.strategy
        strategy = dataclasses.replace(
            strategy, entry_margin_bps=strategy.entry_margin_bps if entry_margin_bps is None else entry_margin_bps,
            exit_carry_8h=strategy.exit_carry_8h if exit_bps is None else exit_bps / BPS_PER_UNIT,
            carry_window_intervals=strategy.carry_window_intervals if signal_window is None else signal_window,
            basis_stop_bps=strategy.basis_stop_bps if basis_stop_bps is None else basis_stop_bps,
            basis_stop_intervals=strategy.basis_stop_intervals if basis_stop_intervals is None
            else basis_stop_intervals,
            basis_reentry_bps=strategy.basis_reentry_bps if basis_reentry_bps is None else basis_reentry_bps)
        params = carry_study.StudyParams(notional=notional, strategy=strategy)
    except ValueError as error:
        _die(f"invalid rule: {error}", 2)
    err = Console(stderr=True, highlight=False)
    rows: list[Row] = []
    with ProgressReport(err) as progress:
        with progress.phase("reading", funding_study_data.total_rows(files)) as advance, \
                reading(config, strict, out_dir / REJECTED_NAME, damage_exits=False) as policy:
            try:
                datasets = funding_study_data.load(files, venues=venues, on_rows=advance, policy=policy)
            except BadRow:
                raise
            except ValueError as error:
                _die(str(error), 2)
        plans = [(data, carry_study.plan(data.funding, data.candles, venues)) for data in datasets]
        with progress.phase("simulating", sum(j.size for _, jobs in plans for j in jobs)) as advance:
            for data, jobs in plans:
                for job in jobs:
                    result = carry_study.run_job(job, data.funding, data.candles, venues, params)
                    if result is not None:
                        rows.append(Row(dataset=data.name, kind=data.kind, result=result))
                    advance(job.size)
    rows = sort_rows(rows)
    described = [{"name": d.name, "format": d.kind, "files": [p.name for p in d.paths], "counts": dict(d.counts),
                  "caveats": d.caveats()} for d in datasets]
    summary = {"study": "funding carry", "params": params_document(params), "datasets": described,
               "rows": [document(r) for r in rows]}
    written = _write(out_dir, rows, params, described, summary)
    if as_json:
        sys.stdout.buffer.write(codec.dumps(summary) + b"\n")
        policy.raise_damage()
        return
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    rule = params.strategy
    out.print(table(rows, f"Funding-carry study — {params.notional:,} USD per leg, enter when carry × H + spread − "
                          f"taker round trip > {rule.entry_margin_bps} bps, exit < "
                          f"{rule.exit_carry_8h * BPS_PER_UNIT} bp/8h, taker fees"))
    for path in written:
        out.print(f"wrote {path}")
    policy.raise_damage()


def _write(out_dir: Path, rows: list[Row], params: carry_study.StudyParams, described: list[dict[str, Any]],
           summary: dict[str, Any]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / JSON_NAME).write_bytes(codec.dumps(summary) + b"\n")
    (out_dir / CSV_NAME).write_text(csv_text(rows), encoding="utf-8")
    figures = charts(rows, params.notional)
    (out_dir / HTML_NAME).write_text(html_page(rows, params, described, figures), encoding="utf-8")
    plots = out_dir / "plots"
    write_plots(plots, figures)
    return [out_dir / JSON_NAME, out_dir / CSV_NAME, out_dir / HTML_NAME, plots]


def _day_ms(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return int(datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
    except ValueError:
        _die(f"{option}: {text!r} is not a date (YYYY-MM-DD)", 2)


@study.command("portfolio")
@click.option("--data", "data_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=PORTFOLIO_DATA, show_default=True,
              help="An 8h history with spot and perp bars and funding (aha-hh format); other formats run carry "
                   "only, without margin checks.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              default=Path("out/portfolio-study"), show_default=True,
              help=f"Directory for {PORTFOLIO_JSON} and {PORTFOLIO_CSV}.")
@click.option("--capital", type=DECIMAL, default="100000", show_default=True,
              help="Starting capital in USD (also each candidate's study notional).")
@click.option("--start", "start_day", default=None, help="First day (UTC, YYYY-MM-DD) of data to use.")
@click.option("--end", "end_day", default=None, help="Use data published before this day (UTC, YYYY-MM-DD).")
@click.option("--json", "as_json", is_flag=True, help="Print the evaluation as JSON instead of the table.")
@strict_option
@click.pass_context
@_guard
def portfolio(ctx: click.Context, data_file: Path, out_dir: Path, capital: Decimal, start_day: str | None,
              end_day: str | None, as_json: bool, strict: bool) -> None:
    """Multi-pair portfolio vs the best single pair over 8h history, and the engine.

    Every cash-and-carry and cross-venue funding spread of the data is simulated with the
    funding study's rules (fees, hysteresis, basis stop); at each 8h step the allocator
    (softmax of carry Sharpe, sector cap, correlation penalty, rebalance band, cost
    hysteresis) sets the sleeves, seeing only data published by then, and the unified-margin
    gates check every venue. The best single pair is chosen in hindsight. Prints annualised
    return, Sharpe (daily), max drawdown, utilisation, turnover, fees, refusals,
    de-leverings and liquidations, next to the naive "mean funding × 3 × 365"; and, for 8h
    bars, the engine's result over the same data: the paper desks `arbflow backtest` runs
    (controller, margin gates, ledger), on `execution.starting_capital`. Writes
    portfolio.json (the engine under "engine") and portfolio_equity.csv into --out. Progress
    goes to stderr. Bad rows as in `study funding` (left out, --out/rejected.jsonl, --strict;
    a damaged file: exit 1 after).
    """
    config = _config(ctx)
    venues = dict(config.venues)
    if capital <= 0:
        _die(f"--capital must be > 0, got {capital}", 2)
    start_ms, end_ms = _day_ms(start_day, "--start"), _day_ms(end_day, "--end")
    cfg = portfolio_eval.RunConfig(capital=capital, allocation=config.allocation, margin=config.margin,
                                   venues=venues)
    params = carry_study.StudyParams(notional=capital)
    err = Console(stderr=True, highlight=False)
    with ProgressReport(err) as progress:
        with progress.phase("reading", funding_study_data.total_rows([data_file])) as advance, \
                reading(config, strict, out_dir / REJECTED_NAME, damage_exits=False) as policy:
            try:
                kind, data = funding_study_data.read_series(data_file, venues=venues, on_rows=advance,
                                                            policy=policy)
            except BadRow:
                raise
            except ValueError as error:
                _die(str(error), 2)
        funding_series = portfolio_eval.between(data.funding, start_ms, end_ms)
        candle_series = portfolio_eval.between(data.candles, start_ms, end_ms)
        jobs = portfolio_eval.candidate_jobs(funding_series, candle_series, venues)
        paths = []
        with progress.phase("simulating pairs", sum(j.size for j in jobs)) as advance:
            for job in jobs:
                path = portfolio_eval.trace_pair(job, funding_series, candle_series, venues, params)
                if path is not None:
                    paths.append(path)
                advance(job.size)
        if not paths:
            _die(f"{data_file.name}: no candidate pairs in the selected data", 2)
        best = portfolio_eval.best_single(paths)
        steps = len({bucket for p in paths for bucket in p.points}) + len(best.points)
        with progress.phase("allocating", steps) as advance:
            evaluation = portfolio_eval.Evaluation(
                portfolio=portfolio_eval.run(paths, portfolio_eval.ALLOCATOR, cfg, on_step=advance),
                single=portfolio_eval.run(paths, best.spec.pair_id, cfg, on_step=advance),
                naive_apr=portfolio_eval.naive_reference(paths), candidates=tuple(paths))
    dataset = {"file": data_file.name, "format": kind, "start": start_day, "end": end_day,
               "caveats": data.caveats()}
    engine = _engine(config, data_file, start_ms, end_ms, err) if kind == funding_study_data.AHA_HH else None
    summary = portfolio_report.document(evaluation, cfg, dataset)
    if engine is not None:
        summary["engine"] = engine.document()
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / PORTFOLIO_JSON).write_bytes(codec.dumps(summary) + b"\n")
    (out_dir / PORTFOLIO_CSV).write_text(portfolio_report.curve_csv([evaluation.portfolio, evaluation.single]),
                                         encoding="utf-8")
    if as_json:
        sys.stdout.buffer.write(codec.dumps(summary) + b"\n")
        policy.raise_damage()
        return
    out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
    out.print(portfolio_report.table(evaluation, f"Multi-pair portfolio vs best single pair — {data_file.name}, "
                                                 f"capital {capital:,} USD, 8h steps, taker fees", engine))
    for line in portfolio_report.notes(evaluation):
        out.print(line)
    out.print(portfolio_report.candidates_table(evaluation))
    for name in (PORTFOLIO_JSON, PORTFOLIO_CSV):
        out.print(f"wrote {out_dir / name}")
    policy.raise_damage()


def _engine(config: Config, data_file: Path, start_ms: int | None, end_ms: int | None,
            err: Console) -> "portfolio_report.EngineFigures":
    """The engine over the same bars (flows/engine_run.py: the desks of `arbflow backtest`, in
    one process — equal to the Kafka run, tests/integration/test_engine_equivalence.py)."""
    from arbflow.connectors.captures.bar_quotes import BarConversion, QuoteModel, bar_items
    from arbflow.flows.engine_run import run_engine
    from arbflow.model.backtest import backtest_settings, traded_universe
    from arbflow.operators.portfolio.performance import performance
    from arbflow.operators.study.walk_forward import Window, engine_figures

    settings = backtest_settings(config)
    conversion = BarConversion()
    items = [item for item in bar_items(data_file, venues=settings.venues,
                                        model=QuoteModel.from_config(settings.backtest), conversion=conversion)
             if (start_ms is None or item[0] >= start_ms) and (end_ms is None or item[0] < end_ms)]
    settings = traded_universe(settings, conversion.assets)
    err.print(f"the engine: {len(items):,} records through the paper desks of {', '.join(settings.universe.assets)} …")
    run = run_engine(settings, items)
    capital = settings.execution.starting_capital
    figures = engine_figures(run.states, run.trades, run.final_orders(), Window(name="whole"), capital)
    first, last = (items[0][0], items[-1][0]) if items else (None, None)
    overall = performance(run.states, run.trades, first, last, capital)
    return portfolio_report.EngineFigures(capital=capital, start_ms=first, end_ms=last, figures=figures,
                                          net_pnl=overall.net_pnl, utilisation=overall.utilisation,
                                          trades=len({t.trade_id for t in run.trades}))
