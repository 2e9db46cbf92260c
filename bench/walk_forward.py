"""`make bench` (issue 15 walk-forward): the one carry rule and the allocator over the bundled
18 months (8 h bars + funding, BTC/ETH on Binance, Bybit, OKX), with the parameters fixed on
2023 and reported in sample (2023), out of sample (2024-01 → 2024-07) and over the whole
period, next to the naive figure, the always-in equal-weight baseline and the best single
pair (chosen in hindsight): the study's portfolio (its allocator over simulated sleeves) and
the engine's (the desks `arbflow backtest` runs, their ledger cut by the same windows); then
a sweep of the study's parameters that matter, each with its in-sample and out-of-sample
result, so the fragility of a choice shows.

`--check` compares the table with the figures stored in bench/walk_forward_expected.json and
exits 1 on a difference (the evaluation is exact and deterministic); `--write` stores them.
"""

import argparse
import dataclasses
import itertools
import json
import multiprocessing
import sys
import time
from decimal import Decimal
from pathlib import Path

from rich.console import Console
from rich.table import Table

from arbflow.connectors.captures.bar_quotes import BarConversion, QuoteModel, bar_items
from arbflow.connectors.captures.funding_study_data import read_series
from arbflow.flows.engine_run import run_engine
from arbflow.model.backtest import backtest_settings, traded_universe
from arbflow.model.config import StrategyConfig, parse_config
from arbflow.operators.signals.funding import rate_8h
from arbflow.operators.study import portfolio_eval, walk_forward
from arbflow.operators.study.carry import CARRY, StudyParams
from arbflow.operators.study.portfolio_eval import PortfolioResult

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "fixtures" / "funding" / "spot_perp_8h_binance_bybit_okx_utc.csv.gz"
EXPECTED = Path(__file__).with_name("walk_forward_expected.json")
SPLIT_MS = 1_704_067_200_000  # 2024-01-01T00:00Z: parameters chosen before it
WINDOWS = (walk_forward.Window(name="whole 2023-01 → 2024-07"),
           walk_forward.Window(name="in sample 2023", end_ms=SPLIT_MS),
           walk_forward.Window(name="out of sample 2024-01 → 07", start_ms=SPLIT_MS))
SWEEP = {"carry_window_intervals": (9, 21, 42), "exit_carry_8h": (Decimal(0), Decimal("-0.00005")),
         "entry_margin_bps": (Decimal(5), Decimal(20))}


def _pct(value: Decimal | None, places: str = "0.01") -> str:
    return "–" if value is None else f"{(value * 100).quantize(Decimal(places))} %"


def _cells(figures: walk_forward.Figures | None) -> list[str]:
    if figures is None:
        return ["–"] * 5
    sharpe = "–" if figures.sharpe is None else f"{figures.sharpe.quantize(Decimal('0.01'))}"
    return [_pct(figures.annual_return), sharpe, _pct(figures.max_drawdown), _pct(figures.fee_share, "0.1"),
            "–" if figures.turnover is None else f"{figures.turnover.quantize(Decimal('0.1'))}×"]


def table_rows(evaluation: portfolio_eval.Evaluation, naive_series: list[list[tuple[int, Decimal]]],
               capital: Decimal) -> dict[str, dict[str, list[str]]]:
    """{row: {window: [return, Sharpe, max DD, fees/funding, turnover]}} — the stored figures."""
    results: list[tuple[str, PortfolioResult | None]] = [
        ("always in, equal weight (cash-and-carry, after fees)", evaluation.equal),
        (f"best single pair, hindsight ({evaluation.single.pairs[0]})", evaluation.single),
        ("portfolio as the study simulates it (allocator over sleeves at the closes' marks)", evaluation.portfolio)]
    rows: dict[str, dict[str, list[str]]] = {"naive: mean funding × 3 × 365, no fees": {
        w.name: [_pct(walk_forward.naive_apr(naive_series, w)), "–", "–", "–", "–"] for w in WINDOWS}}
    for label, result in results:
        rows[label] = {w.name: _cells(None if result is None else walk_forward.figures(result, w, capital))
                       for w in WINDOWS}
    return rows


ENGINE_ROW = "portfolio, the engine: desks, controller, margin gates, ledger (arbflow backtest, 20,000 USD)"


def engine_figures(data: Path, overrides: dict[str, object] | None = None) -> list[walk_forward.Figures | None]:
    """The engine's figures per window (WINDOWS' order): the bars through the quote model and
    the paper desks in one process (flows/engine_run.py, equal to `arbflow backtest`'s Kafka
    and Bytewax run: tests/integration/test_engine_equivalence.py), the `[strategy]` defaults
    with `overrides`, cut by `walk_forward.engine_figures`."""
    config = backtest_settings(parse_config({}, {}))
    if overrides:
        config = dataclasses.replace(config, strategy=dataclasses.replace(config.strategy, **overrides))
    conversion = BarConversion()
    items = list(bar_items(data, venues=config.venues, model=QuoteModel.from_config(config.backtest),
                           conversion=conversion))
    config = traded_universe(config, conversion.assets)
    run = run_engine(config, items)
    capital = config.execution.starting_capital
    return [walk_forward.engine_figures(run.states, run.trades, run.final_orders(), w, capital) for w in WINDOWS]


def engine_rows(data: Path) -> dict[str, list[str]]:
    """The engine's table cells per window (the defaults)."""
    return {w.name: _cells(f) for w, f in zip(WINDOWS, engine_figures(data), strict=True)}


def _engine_job(job: tuple[Path, dict[str, object]]) -> list[walk_forward.Figures | None]:
    return engine_figures(*job)


def engine_sweep(data: Path, base: StrategyConfig, console: Console, processes: int) -> None:
    """The engine's in-sample and out-of-sample figures for each combination of SWEEP, the
    runs spread over `processes` (each is the whole history through the desks)."""
    combos = [dict(zip(SWEEP, values, strict=True)) for values in itertools.product(*SWEEP.values())]
    out = Table(title="sweep: the engine with each combination (* = the defaults)", title_justify="left")
    for name in (*SWEEP, "2023 return", "2023 Sharpe", "2024 return", "2024 Sharpe", "2024 max DD", "whole turnover"):
        out.add_column(name, justify="right")
    with multiprocessing.get_context("spawn").Pool(processes) as pool:
        results = pool.map(_engine_job, [(data, combo) for combo in combos])
    for combo, (whole, ins, oos) in zip(combos, results, strict=True):
        mark = "*" if dataclasses.replace(base, **combo) == base else ""  # type: ignore[arg-type]
        labels = [f"{v}{mark}" if isinstance(v, int) else f"{(v * 10_000).normalize()} bp{mark}"  # type: ignore[operator]
                  if k == "exit_carry_8h" else f"{v} bps{mark}" for k, v in combo.items()]
        out.add_row(*labels, *(_cells(ins)[:2]), *(_cells(oos)[:3]), _cells(whole)[4])
    console.print(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--capital", default="100000", help="USD")
    parser.add_argument("--no-sweep", action="store_true", help="the table only")
    parser.add_argument("--engine-sweep", action="store_true",
                        help="also sweep the engine (12 runs of the whole history through the desks)")
    parser.add_argument("--processes", type=int, default=2, help="processes for the engine sweep")
    parser.add_argument("--check", action="store_true", help=f"compare with {EXPECTED.name}; exit 1 if different")
    parser.add_argument("--write", action="store_true", help=f"store the table in {EXPECTED.name}")
    args = parser.parse_args()
    config = parse_config({}, {})
    capital = Decimal(args.capital)
    console = Console(highlight=False, width=220)
    started = time.perf_counter()
    _, data = read_series(args.data, venues=config.venues)
    cfg = portfolio_eval.RunConfig(capital=capital, allocation=config.allocation, margin=config.margin,
                                   venues=config.venues)
    params = StudyParams(notional=capital, strategy=config.strategy)
    evaluation = portfolio_eval.evaluate(data.funding, data.candles, cfg, params)
    jobs = portfolio_eval.candidate_jobs(data.funding, data.candles, config.venues)
    naive_series = [[(r.ts_local, rate_8h(r.rate, r.interval_ms)) for r in data.funding[job.keys[0]]]
                    for job in jobs if job.strategy == CARRY]
    rows = table_rows(evaluation, naive_series, capital)
    engine_started = time.perf_counter()
    rows[ENGINE_ROW] = engine_rows(args.data)
    print(f"  the engine ran the history in {time.perf_counter() - engine_started:.1f} s", flush=True)
    out = Table(title=f"walk-forward — {args.data.name}, capital {capital:,} USD; parameters: the \\[strategy] and "
                      "\\[allocation] defaults, chosen on 2023", title_justify="left")
    out.add_column("strategy")
    out.add_column("window")
    for metric in ("return/yr", "Sharpe (daily)", "max DD", "fees/funding", "turnover/yr"):
        out.add_column(metric, justify="right")
    for label, by_window in rows.items():
        for i, w in enumerate(WINDOWS):
            out.add_row(label if i == 0 else "", w.name, *by_window[w.name], end_section=i == len(WINDOWS) - 1)
    console.print(out)
    r = evaluation.portfolio
    console.print(f"portfolio, whole period: net {r.net_pnl.quantize(Decimal('0.01')):,} USD = funding "
                  f"{r.funding.quantize(Decimal('0.01')):,} + basis {r.basis.quantize(Decimal('0.01')):,} − fees "
                  f"{r.fees.quantize(Decimal('0.01')):,}; utilisation {_pct(r.utilisation, '0.1')}")
    for pair, f in sorted(r.by_pair.items(), key=lambda kv: -kv[1].net):
        console.print(f"  {pair:28} net {f.net.quantize(Decimal('0.01')):>10,}  funding "
                      f"{f.funding.quantize(Decimal('0.01')):>10,}  basis {f.basis.quantize(Decimal('0.01')):>9,}  "
                      f"fees {f.fees.quantize(Decimal('0.01')):>8,}")
    print(f"  evaluated in {time.perf_counter() - started:.1f} s", flush=True)
    if not args.no_sweep:
        sweep(data, cfg, config.strategy, capital, console)
    if args.engine_sweep:
        engine_started = time.perf_counter()
        engine_sweep(args.data, config.strategy, console, args.processes)
        print(f"  the engine sweep took {time.perf_counter() - engine_started:.1f} s", flush=True)
    if args.write:
        EXPECTED.write_text(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
        print(f"  stored in {EXPECTED.relative_to(ROOT)}")
    if args.check:
        stored = json.loads(EXPECTED.read_text())
        if stored != rows:
            print(f"  DIFFERENT from {EXPECTED.relative_to(ROOT)}: stored {stored}", file=sys.stderr)
            sys.exit(1)
        print(f"  identical to the figures stored in {EXPECTED.relative_to(ROOT)}")


def sweep(data: object, cfg: portfolio_eval.RunConfig, base: StrategyConfig, capital: Decimal,
          console: Console) -> None:
    """The portfolio's in-sample and out-of-sample figures for each combination of SWEEP."""
    out = Table(title="sweep: the portfolio with each combination (* = the defaults)", title_justify="left")
    for name in (*SWEEP, "2023 return", "2023 Sharpe", "2024 return", "2024 Sharpe", "2024 max DD", "whole turnover"):
        out.add_column(name, justify="right")
    jobs = portfolio_eval.candidate_jobs(data.funding, data.candles, cfg.venues)  # type: ignore[attr-defined]
    for values in itertools.product(*SWEEP.values()):
        rule = dataclasses.replace(base, **dict(zip(SWEEP, values, strict=True)))
        params = StudyParams(notional=capital, strategy=rule)
        paths = [p for job in jobs if (p := portfolio_eval.trace_pair(job, data.funding, data.candles,  # type: ignore[attr-defined]
                                                                      cfg.venues, params)) is not None]
        result = portfolio_eval.run(paths, portfolio_eval.ALLOCATOR, cfg)
        whole, ins, oos = (walk_forward.figures(result, w, capital) for w in WINDOWS)
        mark = "*" if rule == base else ""
        labels = [f"{v}{mark}" if isinstance(v, int) else f"{(v * 10_000).normalize()} bp{mark}"
                  if k == "exit_carry_8h" else f"{v} bps{mark}" for k, v in zip(SWEEP, values, strict=True)]
        out.add_row(*labels, *(_cells(ins)[:2]), *(_cells(oos)[:3]), _cells(whole)[4])
        console.print(f"  swept {labels}", style="dim")
    console.print(out)


if __name__ == "__main__":
    main()
