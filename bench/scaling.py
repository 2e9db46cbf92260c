"""Scaling out (issue 9, item 7): CPU time per record of the trading flow summed over all
its processes, 1 process against a Bytewax cluster of 2 (one worker each), measured side
by side in one run. Wall-clock speed-up cannot show on a machine whose 2 cores are shared
with the broker; CPU per record that stays flat is what lets N hosts give ≈ N× throughput.

`python -m bench.scaling [--repeat 3]` starts its own broker and redis-server and publishes
the bundled capture; `bench.replay_throughput` (`make bench`) runs the same measure on
its own data. Each configuration is also run over one record per partition, and that
start-up CPU (interpreters, imports, Bytewax, Kafka clients) is taken off, so what is left
is the cost a long run pays per record.
"""

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from arbflow.connectors import kafka
from arbflow.connectors.infra import process, redis_server, tansu
from arbflow.flows.replay import ReplaySummary, publish
from arbflow.model import topics
from arbflow.model.config import Config, parse_config

FIXTURE = (Path(__file__).resolve().parent.parent / "fixtures"
           / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz")
Ranges = dict[tuple[str, int], tuple[int, int]]
TARGET = 0.10  # 2 processes within 10 % of 1


@dataclass(frozen=True, slots=True)
class Run:
    cpu_s: float  # user + system, all processes
    wall_s: float


def run_processes(config: Config, ranges: Ranges, partitions: dict[str, int], processes: int, tmp: Path) -> Run:
    """The trading flow over `ranges` as `processes` Bytewax processes of one worker each
    (`bench.cluster_run` children); CPU summed over them (`resource.RUSAGE_CHILDREN`)."""
    spec = {"config": {"kafka": {"bootstrap": config.kafka.bootstrap, "topic_prefix": config.kafka.topic_prefix},
                       "redis": {"url": config.redis.url, "key_prefix": config.redis.key_prefix}},
            "ranges": [[t, p, list(span)] for (t, p), span in ranges.items()], "partitions": partitions,
            "trade": True}
    addresses = [f"127.0.0.1:{process.free_port()}" for _ in range(processes)] if processes > 1 else None
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    children = []
    for pid in range(processes):
        path = tmp / f"cluster-{processes}-{pid}.json"
        path.write_text(json.dumps(spec | ({"process_id": pid, "addresses": addresses} if addresses else {})))
        children.append(subprocess.Popen([sys.executable, "-m", "bench.cluster_run", str(path)],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for child in children:
        _, stderr = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"bench.cluster_run exited {child.returncode}: {stderr[-2000:]}")
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Run((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), wall)


def measure(config: Config, ranges: Ranges, partitions: dict[str, int], repeat: int, tmp: Path) -> list[str]:
    """Lines to print: per layout the median CPU µs per record (min–max), start-up CPU and
    wall time; then 2 against 1 and the target. Layouts alternate within each round."""
    records = sum(last - first + 1 for first, last in ranges.values())
    first = {key: (span[0], span[0]) for key, span in ranges.items()}
    per_record: dict[int, list[float]] = {1: [], 2: []}
    startup: dict[int, list[float]] = {1: [], 2: []}
    wall: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(repeat):
        for processes in (1, 2):
            full = run_processes(config, ranges, partitions, processes, tmp)
            start = run_processes(config, first, partitions, processes, tmp)
            per_record[processes].append((full.cpu_s - start.cpu_s) / (records - len(first)) * 1e6)
            startup[processes].append(start.cpu_s)
            wall[processes].append(full.wall_s)
    lines = [f"CPU per record, trading flow, {records:,} records, summed over processes, start-up taken off "
             f"(medians of {repeat}):"]
    for processes, name in ((1, "1 process, 1 worker"), (2, "2 processes, 1 worker each")):
        values = sorted(per_record[processes])
        lines.append(f"  {name:28} {statistics.median(values):6.1f} µs  ({values[0]:.1f}–{values[-1]:.1f}); "
                     f"start-up {statistics.median(startup[processes]):.2f} s CPU; "
                     f"wall {statistics.median(wall[processes]):.1f} s")
    one, two = statistics.median(per_record[1]), statistics.median(per_record[2])
    verdict = "within" if two / one - 1 <= TARGET else "NOT within"
    lines.append(f"  2 processes / 1 process = {two / one - 1:+.1%} — {verdict} the {TARGET:.0%} target")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--fixture", type=Path, default=FIXTURE, help="replay file to publish")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="arbflow-scaling-") as tmp:
        state = Path(tmp)
        kafka_port, redis_port = process.free_port(), process.free_port()
        tansu.start(state, kafka_port, timeout_s=30)
        redis_server.start(state, redis_port, timeout_s=30)
        try:
            bootstrap, redis_url = f"127.0.0.1:{kafka_port}", f"redis://127.0.0.1:{redis_port}/0"
            config = parse_config({"kafka": {"topic_prefix": "bench."}},
                                  {"KAFKA_BOOTSTRAP": bootstrap, "REDIS_URL": redis_url})
            names = [kafka.topic_name(config, t) for t in topics.all_topics()]
            partitions = kafka.ensure_topics(bootstrap, names, config.kafka.partitions, 10)
            delivered = publish(config, bootstrap, [args.fixture], speed=0, partitions=partitions,
                                summary=ReplaySummary(files={}))
            topic = kafka.topic_name(config, topics.MD_TICKER)
            ranges = {key: span for key, span in delivered.ranges.items() if key[0] == topic}
            print("\n".join(measure(config, ranges, partitions, args.repeat, state)), flush=True)
        finally:
            process.stop(state, tansu.NAME, grace_s=2.0)
            process.stop(state, redis_server.NAME)


if __name__ == "__main__":
    main()
