"""`make bench`: replay throughput through Kafka → Bytewax → Redis, next to the raw
baseline (a plain confluent-kafka consumer with orjson decode) on the same topic, in the
same run. Starts its own broker and redis-server on free ports; prints medians of
`--repeat` runs (min/median/max) and the ratio. Not a test: numbers are noisy on shared
machines, compare ratios within one run.
"""

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
from bytewax.run import cli_main
from confluent_kafka import OFFSET_BEGINNING, TopicPartition

from arbflow.connectors import kafka
from arbflow.connectors.infra import process, redis_server, tansu
from arbflow.flows.replay import ReplaySummary, publish
from arbflow.flows.signal_flow import build_signal_flow
from arbflow.model import topics
from arbflow.model.config import Config, parse_config
from arbflow.model.validation import Universe, parse_record
from bench import scaling

FIXTURE = (Path(__file__).resolve().parent.parent / "fixtures"
           / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz")


FLOW = "flow: Kafka → Bytewax signals → Kafka + Redis"
TRADE = "flow with the paper execution desks"
FLOW_2W = "flow, 2 workers in one process"
TRADE_2W = "flow with execution, 2 workers"
RAW = "raw: confluent-kafka consume + orjson.loads"
DECODE = "consume + arbflow decode and validation"


def consume_all(bootstrap: str, topic: str, expected: int, handle: Callable[[bytes], object]) -> float:
    """Seconds for assign() + consume(1000) of `expected` messages, calling `handle` on
    each value: `orjson.loads` for the raw baseline, arbflow's decode for the other."""
    client = kafka.consumer(bootstrap, eof=False)
    parts = sorted(client.list_topics(topic, timeout=10).topics[topic].partitions)
    started = time.perf_counter()
    client.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
    seen = 0
    while seen < expected:
        for message in client.consume(1000, 0.05):
            if message.error() is None:
                handle(message.value())
                seen += 1
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def flow_run(config: Config, bootstrap: str, redis_url: str, ranges: dict[tuple[str, int], tuple[int, int]],
             partitions: dict[str, int], trade: bool = False, workers: int = 1) -> float:
    """Seconds for the signal flow over the published offsets (Kafka → Bytewax → Kafka + Redis)."""
    started = time.perf_counter()
    cli_main(build_signal_flow(config, bootstrap, redis_url, ranges=ranges, partitions=partitions, trade=trade),
             workers_per_process=workers)
    return time.perf_counter() - started


def first_message_s(bootstrap: str, topic: str, *, group: bool) -> float:
    """Seconds from a new consumer to its first message: group join vs plain assign()."""
    extra = {"group.id": f"bench-{time.monotonic_ns()}", "auto.offset.reset": "earliest",
             "session.timeout.ms": 6000, "heartbeat.interval.ms": 500} if group else None
    client = kafka.consumer(bootstrap, eof=False, extra=extra)
    started = time.perf_counter()
    if group:
        client.subscribe([topic])
    else:
        client.list_topics(topic, timeout=10)
        client.assign([TopicPartition(topic, 0, OFFSET_BEGINNING)])
    while True:
        message = client.poll(0.05)
        if message is not None and message.error() is None:
            break
        if time.perf_counter() - started > 60:
            raise TimeoutError("no message within 60 s")
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


def _line(name: str, records: int, seconds: list[float]) -> str:
    rates = sorted(records / s for s in seconds)
    return (f"{name:44} median {statistics.median(rates):>9,.0f} rec/s   "
            f"(min {rates[0]:,.0f}, max {rates[-1]:,.0f}; {len(rates)} runs)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (default 3)")
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="replay file to publish")
    args = parser.parse_args()
    with services() as (bootstrap, redis_url, state):
        _measure(args, bootstrap, redis_url, state)


@contextlib.contextmanager
def services() -> Iterator[tuple[str, str, Path]]:
    """A Tansu broker and a redis-server on free ports in a scratch directory, stopped after:
    (Kafka bootstrap, Redis URL, the directory)."""
    with tempfile.TemporaryDirectory(prefix="arbflow-bench-") as tmp:
        state = Path(tmp)
        kafka_port, redis_port = process.free_port(), process.free_port()
        print(f"starting Tansu on :{kafka_port} and redis-server on :{redis_port} …", flush=True)
        tansu.start(state, kafka_port, timeout_s=30)
        redis_server.start(state, redis_port, timeout_s=30)
        try:
            yield f"127.0.0.1:{kafka_port}", f"redis://127.0.0.1:{redis_port}/0", state
        finally:
            process.stop(state, tansu.NAME, grace_s=2.0)
            process.stop(state, redis_server.NAME)


def _measure(args: argparse.Namespace, bootstrap: str, redis_url: str, tmp: Path) -> None:
    config = parse_config({"kafka": {"topic_prefix": "bench."}}, {"KAFKA_BOOTSTRAP": bootstrap, "REDIS_URL": redis_url})
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(bootstrap, names, config.kafka.partitions, 10)
    summary = ReplaySummary(files={})
    delivered = publish(config, bootstrap, [args.fixture], speed=0, partitions=partitions, summary=summary)
    records = summary.published[topics.MD_TICKER]
    topic = kafka.topic_name(config, topics.MD_TICKER)
    ranges = {key: span for key, span in delivered.ranges.items() if key[0] == topic}
    print(f"published {records:,} md.ticker records in {summary.publish_s:.2f} s "
          f"({records / summary.publish_s:,.0f} rec/s, replay reader + idempotent producer)\n", flush=True)
    universe = Universe.from_config(config)
    measures: dict[str, Callable[[], float]] = {
        RAW: lambda: consume_all(bootstrap, topic, records, orjson.loads),
        DECODE: lambda: consume_all(
            bootstrap, topic, records, lambda value: parse_record(topics.MD_TICKER, value, universe)),
        FLOW: lambda: flow_run(config, bootstrap, redis_url, ranges, partitions),
        TRADE: lambda: flow_run(config, bootstrap, redis_url, ranges, partitions, trade=True),
        FLOW_2W: lambda: flow_run(config, bootstrap, redis_url, ranges, partitions, workers=2),
        TRADE_2W: lambda: flow_run(config, bootstrap, redis_url, ranges, partitions, trade=True, workers=2),
    }
    results: dict[str, list[float]] = {name: [] for name in measures}
    for run in range(args.repeat):
        for name, measure in measures.items():  # interleaved, so drift hits all alike
            results[name].append(measure())
        print(f"run {run + 1}/{args.repeat} done", flush=True)
    raw = statistics.median(records / s for s in results[RAW])
    print(f"\n{'measure':44} {'median rec/s':>13} {'of raw':>7}   (min–max, {args.repeat} runs)")
    for name, seconds in results.items():
        rates = sorted(records / s for s in seconds)
        print(f"{name:44} {statistics.median(rates):>13,.0f} {statistics.median(rates) / raw:>7.1%}   "
              f"({rates[0]:,.0f}–{rates[-1]:,.0f})")
    flow = statistics.median(records / s for s in results[FLOW])
    trade = statistics.median(records / s for s in results[TRADE])
    print(f"with execution / signals only = {trade / flow:.1%}  (each flow run includes Bytewax start-up of ~1 s)")
    ratios = sorted(d / f for d, f in zip(results[DECODE], results[FLOW], strict=True))  # each run's own pair
    print(f"signal flow (1 worker) / consume + decode + validation = {statistics.median(ratios):.1%} "
          f"(per run {', '.join(f'{r:.1%}' for r in ratios)}; issue 18 asks ≥ 60 %)")
    print("\n".join(scaling.measure(config, ranges, partitions, args.repeat, tmp)))
    assign = first_message_s(bootstrap, topic, group=False)
    joined = first_message_s(bootstrap, topic, group=True)
    print(f"first message: assign() {assign:.2f} s, consumer-group join {joined:.2f} s "
          "(session.timeout.ms 6000) — why arbflow reads with assign()")


if __name__ == "__main__":
    main()
