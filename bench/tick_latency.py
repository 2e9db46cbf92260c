"""`make bench` (part 2): tick-to-Redis latency of the live signal flow when tickers
arrive at a steady 5,000 msg/s, and the flow's peak memory.

Starts its own broker and redis-server, runs `arbflow scan` as a separate process
(tailing, metrics on a free port), then publishes the bundled capture's tickers at the
target rate with `ts_local` (and `ts_exchange`, shifted by the same amount) rewritten to
the wall clock at send time. The flow records receipt → Redis write in the histogram
`arbflow_end_to_end_seconds`; p50/p99 are read from its buckets (linear within a bucket,
so they are as fine as the buckets: 1, 2.5, 5, 10, 25, 50 ms …). Peak RSS is the scan
process's VmHWM.
"""

import argparse
import dataclasses
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from arbflow.connectors import kafka
from arbflow.connectors.infra import process, redis_server, tansu
from arbflow.connectors.replay import merge_files
from arbflow.model import codec, topics
from arbflow.model.config import parse_config
from arbflow.model.market import Ticker

FIXTURE = (Path(__file__).resolve().parent.parent / "fixtures"
           / "binance-btc-eth-spot-perp-bookticker-2024-08-08.jsonl.gz")


def _histogram(text: str) -> list[tuple[float, float]]:
    buckets = []
    for line in text.splitlines():
        if line.startswith("arbflow_end_to_end_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets.append((float("inf") if bound == "+Inf" else float(bound), float(line.rsplit(" ", 1)[1])))
    return buckets


def _quantile(buckets: list[tuple[float, float]], q: float) -> float:
    total = buckets[-1][1]
    target, lower, below = q * total, 0.0, 0.0
    for bound, cumulative in buckets:
        if cumulative >= target:
            if bound == float("inf"):
                return lower
            share = (target - below) / (cumulative - below) if cumulative > below else 1.0
            return lower + (bound - lower) * share
        lower, below = bound, cumulative
    return lower


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=5_000, help="tickers per second (default 5000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="how long to publish (default 20)")
    args = parser.parse_args()
    records = [codec.decode(Ticker, line.value, source="bench") for line in merge_files([FIXTURE])
               if not isinstance(line, tuple) and line.topic == topics.MD_TICKER]
    with tempfile.TemporaryDirectory(prefix="arbflow-latency-") as tmp:
        state = Path(tmp)
        kafka_port, redis_port, metrics_port = process.free_port(), process.free_port(), process.free_port()
        tansu.start(state, kafka_port, timeout_s=30)
        redis_server.start(state, redis_port, timeout_s=30)
        bootstrap, redis_url = f"127.0.0.1:{kafka_port}", f"redis://127.0.0.1:{redis_port}/0"
        env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "REDIS_URL": redis_url,
               "ARBFLOW_INFRA__STATE_DIR": str(state / "cli"), "ARBFLOW_RECOVERY__DIR": str(state / "recovery")}
        config = parse_config({}, {"KAFKA_BOOTSTRAP": bootstrap})
        partitions = kafka.ensure_topics(bootstrap, [kafka.topic_name(config, t) for t in topics.all_topics()],
                                         config.kafka.partitions, 10)
        scan = subprocess.Popen([str(Path(sys.executable).parent / "arbflow"), "scan", "--metrics-port",
                                 str(metrics_port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _run(args, records, bootstrap, config, partitions, metrics_port, scan)
        finally:
            scan.send_signal(signal.SIGINT)
            try:
                scan.wait(10)
            except subprocess.TimeoutExpired:
                scan.kill()
                scan.wait(10)
            process.stop(state, tansu.NAME, grace_s=2.0)
            process.stop(state, redis_server.NAME)


def plain_consumer_latency(bootstrap: str, rate: int, count: int = 10_000) -> tuple[float, float]:
    """p50/p99 (ms) of produce → a plain assign() consumer on the same broker at `rate`:
    the floor any flow on this broker starts from."""
    from confluent_kafka import OFFSET_END, TopicPartition

    topic = f"latency-probe-{time.time_ns()}"
    kafka.ensure_topics(bootstrap, [topic], 1, 10)
    client = kafka.consumer(bootstrap, eof=False)
    client.list_topics(topic, timeout=10)
    client.assign([TopicPartition(topic, 0, OFFSET_END)])
    client.consume(1, 1.0)
    producer = kafka.KeyedProducer(bootstrap, None, delivery_timeout_ms=10_000, linger_ms=0)
    seen: list[float] = []
    started = time.monotonic()
    for i in range(count):
        while time.monotonic() < started + i / rate:
            for message in client.consume(1000, 0.0005):
                if message.error() is None:
                    seen.append(time.time() * 1000 - message.timestamp()[1])
        producer.produce(topic, None, b"x", timestamp=int(time.time() * 1000))
    producer.flush()
    deadline = time.monotonic() + 5
    while len(seen) < count and time.monotonic() < deadline:
        seen += [time.time() * 1000 - m.timestamp()[1] for m in client.consume(1000, 0.05) if m.error() is None]
    client.close()
    seen.sort()
    return seen[len(seen) // 2], seen[int(len(seen) * 0.99)]


def _run(args: argparse.Namespace, records: list[Ticker], bootstrap: str, config: object, partitions: dict[str, int],
         metrics_port: int, scan: subprocess.Popen[bytes]) -> None:
    floor_p50, floor_p99 = plain_consumer_latency(bootstrap, args.rate)
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url, timeout=1).read()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("the scan process did not start") from None
            time.sleep(0.2)
    time.sleep(3)  # the flow's consumers are assigned at the end of the topics by now
    producer = kafka.KeyedProducer(bootstrap, kafka.Partitioner(("BTC", "ETH", "SOL"), 4), delivery_timeout_ms=10_000,
                                   partitions=partitions, linger_ms=0)
    topic = kafka.topic_name(config, topics.MD_TICKER)  # type: ignore[arg-type]
    count = int(args.rate * args.seconds)
    started = time.monotonic()
    for i in range(count):
        ahead = started + i / args.rate - time.monotonic()
        if ahead > 0.001:  # sleep, do not spin: the broker and the flow need the cores
            time.sleep(ahead)
        record = records[i % len(records)]
        now_ms = int(time.time() * 1000)
        shift = now_ms - record.ts_local
        record = dataclasses.replace(record, ts_local=now_ms,
                                     ts_exchange=None if record.ts_exchange is None else record.ts_exchange + shift)
        producer.produce(topic, record.symbol.split("/")[0], codec.encode(record), timestamp=now_ms)
    producer.flush()
    elapsed = time.monotonic() - started
    time.sleep(2)
    buckets = _histogram(urllib.request.urlopen(url, timeout=5).read().decode())
    peak_kib = next(int(line.split()[1]) for line in Path(f"/proc/{scan.pid}/status").read_text().splitlines()
                    if line.startswith("VmHWM"))
    print(f"published {count:,} tickers in {elapsed:.1f} s ({count / elapsed:,.0f}/s)")
    p50, p99 = _quantile(buckets, 0.5) * 1000, _quantile(buckets, 0.99) * 1000
    print(f"tick → Redis latency over {int(buckets[-1][1]):,} Redis writes: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          "(bucket-interpolated)")
    print(f"same broker, plain consumer at {args.rate:,}/s: p50 {floor_p50:.1f} ms, p99 {floor_p99:.1f} ms")
    print(f"peak RSS of the scan process: {peak_kib / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
