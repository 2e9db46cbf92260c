"""The ingest runner decision, measured: plain asyncio vs Bytewax `batch_async`.

`python -m bench.ingest_runner [--seconds 6] [--repeat 3]` starts its own broker and the
four venue stubs (tests/stubs, recorded frames, paced `--gap-ms` apart per channel), then
runs the same feeds (ticker, book, trade for BTC on binance, okx, bybit, hyperliquid) and
the same normaliser into Kafka two ways, interleaved `--repeat` times:

- asyncio: `connectors.feeds.runner.run` — one event loop, `KafkaEmitter`;
- bytewax: a `FixedPartitionedSource` with one partition per venue (each its own event
  loop and ccxt exchange, items through `bytewax.inputs.batch_async`, 10 ms timeout,
  batch 1000) → a sink producing with `KeyedProducer`, 1 worker (`run_main`).

For every trade (never conflated, matched by trade id) it takes the time from the stub
queuing the frame to (a) the record being stamped (`ts_local`: when ccxt's message
reaches the normaliser) and (b) the record being handed to the Kafka producer, and counts
records produced. Not a test: numbers are noisy on shared machines.

Result on the 2-core development machine (`--seconds 6 --repeat 3`, medians):

                records  trade → stamp p50  p99   trade → producer p50  p99
    asyncio       3,057             9.5 ms  320 ms               9.5 ms  320 ms
    bytewax       1,161            54.7 ms  402 ms             212.6 ms  512 ms

(p99 includes the start-up burst while four venues subscribe at once.) The Bytewax source
already yields lists; with one item per `__anext__` the Binance partition fell ~1 s behind.
"""

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bytewax import operators as op
from bytewax.dataflow import Dataflow
from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition, batch_async
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from bytewax.testing import run_main

from arbflow.connectors import kafka
from arbflow.connectors.feeds import runner
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.connectors.feeds.settings import FeedSettings
from arbflow.connectors.infra import process, tansu
from arbflow.model import codec, topics
from arbflow.model.config import Config, parse_config
from tests.stubs.binance import Binance
from tests.stubs.bybit import Bybit
from tests.stubs.hyperliquid import Hyperliquid
from tests.stubs.okx import Okx
from tests.stubs.server import StubServer

VENUES = ("binance", "okx", "bybit", "hyperliquid")
SETTINGS = FeedSettings(streams=("ticker", "book", "trade"), stale_after_s=60.0)
Stamps = dict[str, tuple[float, float]]  # trade key → (stamped, produced) monotonic seconds


def _stubs(gap_s: float) -> list[StubServer]:
    return [StubServer(Binance(lines=1500, frames_per_channel=1000), gap_s=gap_s),
            StubServer(Okx(frames_per_channel=1000), gap_s=gap_s),
            StubServer(Bybit(frames_per_channel=1000), gap_s=gap_s),
            StubServer(Hyperliquid(frames_per_channel=1000), gap_s=gap_s)]


def _trade_key(venue: str, record: Any) -> str:
    return f"{venue}:{record.trade_id}"


def _sent_trades(stubs: list[StubServer]) -> dict[str, float]:
    ids = {"binance": ("t",), "okx": ("tradeId",), "bybit": ("i",), "hyperliquid": ("tid",)}
    sent: dict[str, float] = {}
    for stub in stubs:
        for s in list(stub.sent):
            if "trade" not in s.channel.lower():
                continue
            rows = s.frame.get("data", s.frame) if isinstance(s.frame, dict) else s.frame
            for row in rows if isinstance(rows, list) else [rows]:
                for name in ids[stub.venue.name]:
                    if name in row:
                        sent.setdefault(f"{stub.venue.name}:{row[name]}", s.at)
    return sent


def asyncio_run(config: Config, bootstrap: str, endpoints: dict[str, dict[str, str]], seconds: float,
                stamps: Stamps) -> int:
    producer = runner.kafka_producer(config, bootstrap)
    emitter = runner.KafkaEmitter(producer, config.kafka.topic_prefix)

    def emit(topic: str, key: str | None, record: Any) -> None:
        now = time.monotonic()
        emitter(topic, key, record)
        if topic == topics.MD_TRADE:
            stamps[_trade_key(record.venue, record)] = (now, time.monotonic())

    async def main() -> None:
        prepared = await runner.prepare(list(VENUES), ["BTC"], endpoints=endpoints)
        feeds = runner.build_feeds(prepared, config, SETTINGS, emit=emit, clock=runner.wall_clock_ms,
                                   metrics=FeedMetrics())
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(seconds, stop.set)
        await runner.run(feeds, emit, stop=stop, check=emitter.check)

    asyncio.run(main())
    producer.flush()
    return sum(emitter.counts.values())


class _VenuePartition(StatefulSourcePartition[tuple[str, str | None, Any], None]):
    def __init__(self, venue: str, config: Config, endpoints: dict[str, dict[str, str]], until: float,
                 stamps: Stamps) -> None:
        self._loop = asyncio.new_event_loop()
        self._until = until
        queue: asyncio.Queue[tuple[str, str | None, Any]] = asyncio.Queue()

        def emit(topic: str, key: str | None, record: Any) -> None:
            if topic == topics.MD_TRADE:
                stamps[_trade_key(record.venue, record)] = (time.monotonic(), 0.0)
            queue.put_nowait((topic, key, record))

        prepared = self._loop.run_until_complete(runner.prepare([venue], ["BTC"], endpoints=endpoints))
        self._feeds = runner.build_feeds(prepared, config, SETTINGS, emit=emit, clock=runner.wall_clock_ms,
                                         metrics=FeedMetrics())

        async def items() -> Any:  # yields lists: one task per item would fall behind a busy venue
            task = asyncio.create_task(self._feeds[0].run())
            try:
                while True:
                    chunk = [await queue.get()]
                    while not queue.empty():
                        chunk.append(queue.get_nowait())
                    yield chunk
            finally:
                task.cancel()

        self._batches = batch_async(items(), timedelta(milliseconds=10), 100, loop=self._loop)

    def next_batch(self) -> list[tuple[str, str | None, Any]]:
        if time.monotonic() >= self._until:
            raise StopIteration
        return [item for chunk in next(self._batches) for item in chunk]

    def snapshot(self) -> None:
        return None

    def close(self) -> None:
        self._batches.close()
        pending = asyncio.all_tasks(self._loop)
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.run_until_complete(self._feeds[0].close())
        self._loop.run_until_complete(self._loop.shutdown_asyncgens())
        self._loop.close()


class _Source(FixedPartitionedSource[tuple[str, str | None, Any], None]):
    def __init__(self, config: Config, endpoints: dict[str, dict[str, str]], until: float, stamps: Stamps) -> None:
        self.args = (config, endpoints, until, stamps)

    def list_parts(self) -> list[str]:
        return list(VENUES)

    def build_part(self, step_id: str, for_part: str, resume_state: None) -> _VenuePartition:
        return _VenuePartition(for_part, *self.args)


class _Sink(DynamicSink[tuple[str, str | None, Any]]):
    def __init__(self, producer: kafka.KeyedProducer, prefix: str, stamps: Stamps, counter: list[int]) -> None:
        self.producer, self.prefix, self.stamps, self.counter = producer, prefix, stamps, counter

    def build(self, step_id: str, worker_index: int, worker_count: int) -> StatelessSinkPartition[Any]:
        sink = self

        class Part(StatelessSinkPartition[tuple[str, str | None, Any]]):
            def write_batch(self, items: list[tuple[str, str | None, Any]]) -> None:
                for topic, key, record in items:
                    sink.producer.produce(sink.prefix + topic, key, codec.encode(record))
                    sink.counter[0] += 1
                    if topic == topics.MD_TRADE:
                        trade = _trade_key(record.venue, record)
                        sink.stamps[trade] = (sink.stamps[trade][0], time.monotonic())

        return Part()


def bytewax_run(config: Config, bootstrap: str, endpoints: dict[str, dict[str, str]], seconds: float,
                stamps: Stamps) -> int:
    producer = runner.kafka_producer(config, bootstrap)
    counter = [0]
    flow = Dataflow("ingest_bench")
    stream = op.input("read_venues", flow, _Source(config, endpoints, time.monotonic() + seconds, stamps))
    op.output("write_kafka", stream, _Sink(producer, config.kafka.topic_prefix, stamps, counter))
    run_main(flow)
    producer.flush()
    return counter[0]


def _measure(name: str, run: Callable[..., int], bootstrap: str, gap_s: float, seconds: float,
             prefix: str) -> dict[str, float]:
    config = parse_config({"kafka": {"topic_prefix": prefix}}, {"KAFKA_BOOTSTRAP": bootstrap})
    stubs = _stubs(gap_s)
    for stub in stubs:
        stub.__enter__()
    try:
        stamps: Stamps = {}
        started = time.monotonic()
        produced = run(config, bootstrap, {s.venue.name: s.endpoints for s in stubs}, seconds, stamps)
        elapsed = time.monotonic() - started
        sent = _sent_trades(stubs)
    finally:
        for stub in stubs:
            stub.__exit__()
    stamp_ms = [(stamps[k][0] - at) * 1000 for k, at in sent.items() if k in stamps]
    produce_ms = [(stamps[k][1] - at) * 1000 for k, at in sent.items() if k in stamps and stamps[k][1]]
    quantiles = statistics.quantiles(stamp_ms, n=100)
    produce_q = statistics.quantiles(produce_ms, n=100)
    return {"records": produced, "seconds": elapsed, "trades": len(stamp_ms),
            "stamp p50": quantiles[49], "stamp p99": quantiles[98], "stamp max": max(stamp_ms),
            "produce p50": produce_q[49], "produce p99": produce_q[98]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--gap-ms", type=float, default=1.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as state:
        port = process.free_port()
        tansu.start(Path(state), port, timeout_s=30)
        bootstrap = f"127.0.0.1:{port}"
        try:
            results: dict[str, list[dict[str, float]]] = {"asyncio": [], "bytewax": []}
            for i in range(args.repeat):
                for name, run in (("asyncio", asyncio_run), ("bytewax", bytewax_run)):
                    result = _measure(name, run, bootstrap, args.gap_ms / 1000, args.seconds, f"bench{i}{name}.")
                    results[name].append(result)
                    print(name, {k: round(v, 2) for k, v in result.items()}, flush=True)
        finally:
            process.stop(Path(state), tansu.NAME, grace_s=2.0)
    print(f"\nmedians of {args.repeat} runs, {args.seconds:g} s each, frames {args.gap_ms:g} ms apart per channel:")
    keys = list(results["asyncio"][0])
    print(f"{'':10}" + "".join(f"{k:>13}" for k in keys))
    for name, rows in results.items():
        print(f"{name:10}" + "".join(f"{statistics.median(r[k] for r in rows):>13.1f}" for k in keys))


if __name__ == "__main__":
    main()
