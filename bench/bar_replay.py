"""`make bench` (issue 15): the backtest path — the 18 months of 8 h bars + funding
(fixtures/funding/spot_perp_8h_binance_bybit_okx_utc.csv.gz) through the declared quote model
and the trading flow — next to the tick path (the bundled bookTicker capture through the same
flow, as `bench.replay_throughput` measures it) in the same run, and next to the study
(`arbflow study portfolio`'s reading and evaluation of the same file).

Prints, per path: records, wall time (median of `--repeat` flow runs; conversion and
publishing apart) and records/s, and the bar path's cost per record against the tick
path's. Starts its own broker and redis-server. Not a test: compare within one run.

`--days N` (default 60) takes the history's first N days, bars and study alike: 60 days fill
the desks' 30-day carry window, the steady state of a close's allocator run (BENCHMARKS.md);
the whole 18 months (`--days 0`) take about a minute of flow per run. The bars run with the
backtest's settings (`backtest_settings`: one scan per close, order style taker).
"""

import argparse
import gzip
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from arbflow.connectors import kafka
from arbflow.connectors.captures.bar_quotes import convert_bars
from arbflow.connectors.captures.funding_study_data import read_series
from arbflow.flows.replay import ReplaySummary, publish
from arbflow.flows.signal_flow import INPUT_TOPICS, TRADING_INPUT_TOPICS
from arbflow.model import topics
from arbflow.model.backtest import backtest_settings
from arbflow.model.config import Config, parse_config
from arbflow.operators.study import portfolio_eval
from arbflow.operators.study.carry import StudyParams
from bench.portfolio_eval import DATA
from bench.replay_throughput import FIXTURE, flow_run, services


def _published(config: Config, bootstrap: str, path: Path) -> tuple[int, dict[tuple[str, int], tuple[int, int]],
                                                                   dict[str, int], float]:
    """Publish one replay file under `config`'s prefix: (records, the flow's input ranges,
    partitions, seconds)."""
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(bootstrap, names, config.kafka.partitions, 10)
    summary = ReplaySummary(files={})
    delivered = publish(config, bootstrap, [path], speed=0, partitions=partitions, summary=summary)
    inputs = {kafka.topic_name(config, t) for t in INPUT_TOPICS + TRADING_INPUT_TOPICS}
    ranges = {key: span for key, span in delivered.ranges.items() if key[0] in inputs}
    return sum(summary.published.values()), ranges, partitions, summary.publish_s


def _first_days(path: Path, days: int, out: Path) -> Path:
    """The rows of the aha-hh history opening within its first `days` days (0 = all)."""
    if days <= 0:
        return path
    with gzip.open(path, "rt", encoding="utf-8") as source, gzip.open(out, "wt", encoding="utf-8") as sink:
        sink.write(source.readline())
        first = None
        for line in source:
            ts = int(line.split(",", 1)[0])
            first = ts if first is None else first
            if ts >= first + days * 86_400_000:
                break
            sink.write(line)
    return out


def _study_s(config: Config, history: Path) -> tuple[int, float]:
    """(records read, seconds) of the study over the same file: reading and evaluation."""
    started = time.perf_counter()
    _, data = read_series(history, venues=config.venues)
    capital = Decimal(100_000)
    cfg = portfolio_eval.RunConfig(capital=capital, allocation=config.allocation, margin=config.margin,
                                   venues=config.venues)
    portfolio_eval.evaluate(data.funding, data.candles, cfg, StudyParams(notional=capital))
    records = sum(len(s) for s in data.funding.values()) + sum(len(s) for s in data.candles.values())
    return records, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="flow runs per path (default 1)")
    parser.add_argument("--days", type=int, default=60, help="the history's first N days (default 60; 0 = all)")
    args = parser.parse_args()
    with services() as (bootstrap, redis_url, _), tempfile.TemporaryDirectory(prefix="arbflow-bars-") as tmp:
        env = {"KAFKA_BOOTSTRAP": bootstrap, "REDIS_URL": redis_url}
        bars_config = backtest_settings(parse_config({"kafka": {"topic_prefix": "bench.bars."},
                                                      "redis": {"key_prefix": "bench.bars:"}}, env))
        ticks_config = parse_config({"kafka": {"topic_prefix": "bench.ticks."},
                                     "redis": {"key_prefix": "bench.ticks:"}}, env)
        history = _first_days(DATA, args.days, Path(tmp) / "history_utc.csv.gz")
        print(f"bars: {'all of ' if args.days <= 0 else f'the first {args.days} days of '}{DATA.name}", flush=True)
        started = time.perf_counter()
        bar_file = Path(tmp) / "bars.jsonl.gz"
        convert_bars(history, bar_file, venues=bars_config.venues, backtest=bars_config.backtest)
        convert_s = time.perf_counter() - started
        runs = {}
        for name, config, path in (("bars", bars_config, bar_file), ("ticks", ticks_config, FIXTURE)):
            records, ranges, partitions, publish_s = _published(config, bootstrap, path)
            runs[name] = (records, ranges, partitions, publish_s, config)
        seconds: dict[str, list[float]] = {"bars": [], "ticks": []}
        for run in range(args.repeat):
            for name, (_, ranges, partitions, _, config) in runs.items():  # interleaved: drift hits both
                seconds[name].append(flow_run(config, bootstrap, redis_url, ranges, partitions, trade=True))
            print(f"run {run + 1}/{args.repeat} done", flush=True)
        study_records, study_s = _study_s(bars_config, history)
    _report(runs, seconds, convert_s, study_records, study_s)


def _report(runs: dict[str, tuple[int, object, object, float, Config]], seconds: dict[str, list[float]],
            convert_s: float, study_records: int, study_s: float) -> None:
    print(f"\n{'path (trading flow, 1 worker)':44} {'records':>8} {'flow s':>7} {'rec/s':>9} {'µs/rec':>7}   "
          f"(flow: median of {len(seconds['bars'])})")
    per_record = {}
    for name, label in (("bars", "bars: 8 h bars + funding"), ("ticks", "ticks: bookTicker capture")):
        records, _, _, publish_s, _ = runs[name]
        flow_s = statistics.median(seconds[name])
        per_record[name] = flow_s / records * 1e6
        print(f"{label:44} {records:>8,} {flow_s:>7.2f} {records / flow_s:>9,.0f} {per_record[name]:>7.1f}   "
              f"(publish {publish_s:.2f} s)")
    print(f"{'study: read + portfolio evaluation':44} {study_records:>8,} {study_s:>7.2f} "
          f"{study_records / study_s:>9,.0f} {study_s / study_records * 1e6:>7.1f}")
    bar_wall = convert_s + runs["bars"][3] + statistics.median(seconds["bars"])
    print(f"bar path wall time: convert {convert_s:.2f} s + publish {runs['bars'][3]:.2f} s + flow "
          f"{statistics.median(seconds['bars']):.2f} s = {bar_wall:.2f} s")
    print(f"bar path cost per record / tick path = {per_record['bars'] / per_record['ticks']:.2f} "
          "(each flow run includes Bytewax start-up of ~1 s)")


if __name__ == "__main__":
    main()
