"""Running the live feed against a stub exchange into the session's Tansu broker, and
reading the topics back — shared by tests/integration/test_ingest_<venue>.py.

`ingest(...)` runs the real ccxt.pro exchange class → `VenueFeed` → `KafkaEmitter` →
Kafka until `until(run)` holds (polled every 20 ms, `AssertionError` after `timeout_s`),
then stops, closes ccxt and flushes. ts_local comes from `clock`: by default the fixed
`CLOCK_MS`; `era_clock(stub)` stamps `CLOCK_MS + 1000 × <connections the stub has seen>`,
so a test can tell what was published before and after a reconnect.
"""

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from arbflow.connectors import kafka
from arbflow.connectors.feeds import runner
from arbflow.connectors.feeds.ccxt_feed import VenueFeed
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.connectors.feeds.settings import FeedSettings
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.rejected import Rejected
from tests.stubs.server import StubServer

CLOCK_MS = 1_723_161_300_000  # a fixed ts_local: records compare exactly
REPO = Path(__file__).resolve().parents[2]


def era_clock(stub: StubServer) -> Callable[[], int]:
    return lambda: CLOCK_MS + 1000 * stub.connections


@dataclass(slots=True)
class Run:
    config: Config
    stub: StubServer
    emitter: runner.KafkaEmitter
    metrics: FeedMetrics
    feed: VenueFeed

    def last(self, topic: str, symbol: str) -> Any:
        return self.emitter.last.get((topic, symbol))

    def read(self, topic: str) -> list[Any]:
        """Every record of `topic` this test published, decoded, in partition order (all
        test records share the key BTC, hence one partition and their publish order)."""
        name = kafka.topic_name(self.config, topic)
        cls = topics.record_type(topic)
        return [codec.decode(cls, m.value, source=name)
                for m in kafka.read_topic(self.config.kafka.bootstrap or "", name, timeout_s=10)]

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.value(name, **labels)


def ingest(config: Config, stub: StubServer, wanted: list[str], *, until: Callable[[Run], bool],
           streams: tuple[str, ...] = ("ticker", "book", "trade", "funding"), timeout_s: float = 60.0,
           clock: Callable[[], int] | None = None, **settings: Any) -> Run:
    venue = stub.venue.name
    stamp = clock or (lambda: CLOCK_MS)

    async def main() -> Run:
        prepared = await runner.prepare([venue], wanted, endpoints={venue: stub.endpoints})
        producer = runner.kafka_producer(config, config.kafka.bootstrap or "")
        emitter = runner.KafkaEmitter(producer, config.kafka.topic_prefix)
        metrics = FeedMetrics()
        feed_settings = FeedSettings(streams=streams, **{"backoff_initial_s": 0.05, **settings})
        [feed] = runner.build_feeds(prepared, config, feed_settings, emit=emitter, clock=stamp, metrics=metrics)
        run = Run(config, stub, emitter, metrics, feed)
        stop = asyncio.Event()

        async def watch() -> None:
            deadline = time.monotonic() + timeout_s
            try:
                while not until(run):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"condition not met within {timeout_s} s: published "
                                             f"{dict(emitter.counts)}, stub sent {len(stub.sent)} frames")
                    await asyncio.sleep(0.02)
            finally:
                stop.set()

        watcher = asyncio.create_task(watch())
        try:
            await runner.run([feed], emitter, stop=stop, clock=stamp, check=emitter.check)
            await watcher
        finally:
            watcher.cancel()
            producer.flush()
        return run

    return asyncio.run(main())


def dead_letters(run: Run, topic: str) -> list[Rejected]:
    return run.read(topics.dlq_topic(topic))


def top(levels: dict[Decimal, Decimal], depth: int, descending: bool) -> tuple[tuple[Decimal, Decimal], ...]:
    return tuple(sorted(levels.items(), reverse=descending)[:depth])


def apply_levels(book: dict[Decimal, Decimal], levels: list[Any], scale: Decimal = Decimal(1)) -> None:
    """Set `[price, size]` levels (strings as sent) on one side; size 0 deletes."""
    for level in levels:
        px, qty = Decimal(level[0]), Decimal(level[1])
        if qty == 0:
            book.pop(px, None)
        else:
            book[px] = qty * scale


def subsequence(published: list[Any], expected: list[Any]) -> bool:
    """Every published record equals an expected one, in the expected order."""
    remaining = iter(expected)
    return all(any(record == candidate for candidate in remaining) for record in published)


def arbflow_cli(args: list[str], env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    """`arbflow ingest …` in a subprocess (the command object under the arbflow group)."""
    return subprocess.run([sys.executable, "-m", "arbflow", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=timeout_s, env={**os.environ, "COLUMNS": "200", **env})
