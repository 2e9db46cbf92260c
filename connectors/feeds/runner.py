"""The ingest runner: every venue's `VenueFeed` → Kafka, plus `clock.tick`, until stopped.

Design decision — a plain asyncio runner, not Bytewax `batch_async`, the usual way async
ccxt streams would enter Bytewax; for this process (venue
websockets → normalise → Kafka, no keyed state, no joins) Bytewax adds nothing and costs:
- `batch_async` runs each partition's event loop only inside `next_batch`, so with the
  venues as partitions of one worker each venue's socket is serviced a fraction of the
  time and `ts_local` (receipt time, the latency operator's input, docs/architecture.md §3.4) is
  stamped late; one shared asyncio loop stamps on arrival;
- ccxt keeps one websocket per URL per exchange object and resolves futures on the loop
  that opened them, so every partition needs its own exchange and loop;
- start-up and per-batch overhead, and a second shutdown path for signal handling.
Measured with `python -m bench.ingest_runner` (4 venue stubs replaying recorded frames
1 ms apart per channel, 6 s, this runner vs one `batch_async` partition per venue into a
producing sink, 1 worker; medians of 3 interleaved runs on the 2-core machine): records
published 3,057 vs 1,161 (Bytewax conflates more book/ticker states because each venue's
loop runs only inside `next_batch`), trade frame → `ts_local` stamp p50 9.5 ms vs 54.7 ms,
frame → producer p50 9.5 ms vs 212.6 ms (p99 320 vs 512 ms, start-up burst included).
Downstream flows still read these topics through Bytewax, so keyed state and recovery
stay where they belong.

Records are produced through `connectors.kafka.KeyedProducer` (keyed by base asset, the
explicit asset partitioner); dead letters go to `dlq.<topic>`; alerts to risk.alert.
Clock ticks (docs/architecture.md §3.9): `ClockTick(ts=wall clock ms)` every `tick_ms` of the
monotonic clock on clock.tick (no key, partition 0).

Failure modes: a produce that Kafka reports failed raises `DeliveryFailed` at the next
tick (checked every `tick_ms`) or at the final flush — the run stops rather than losing
data; an unexpected exception in a feed stops the run and is re-raised after every
exchange is closed.
"""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from arbflow.connectors.feeds.ccxt_feed import VenueFeed
from arbflow.connectors.feeds.exchange import ExchangeFactory, create_exchange, live_spec, load_markets, resolve
from arbflow.connectors.feeds.metrics import FeedMetrics
from arbflow.connectors.feeds.normalise import FeedMarket
from arbflow.connectors.feeds.settings import Clock, Emit, FeedSettings
from arbflow.connectors.feeds.spec import LiveSpec
from arbflow.connectors.kafka import KeyedProducer, Partitioner, ensure_topics, topic_name
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.errors import DeliveryFailed
from arbflow.model.market import ClockTick
from arbflow.model.validation import Universe

log = logging.getLogger(__name__)


MD_TOPICS = (topics.MD_TICKER, topics.MD_BOOK, topics.MD_TRADE, topics.MD_FUNDING, topics.MD_OI, topics.MD_LIQUIDATION)
TOPICS = (*MD_TOPICS, topics.CLOCK_TICK, topics.RISK_ALERT)


def kafka_producer(config: Config, bootstrap: str) -> KeyedProducer:
    """A `KeyedProducer` for ingest after creating its topics (and their dead-letter topics)."""
    names = [topic_name(config, t) for t in (*TOPICS, *(topics.dlq_topic(t) for t in MD_TOPICS))]
    partitions = ensure_topics(bootstrap, names, config.kafka.partitions, config.kafka.connect_timeout_s,
                               config.kafka.client)
    return KeyedProducer(bootstrap, Partitioner(config.universe.assets, config.kafka.partitions),
                         delivery_timeout_ms=config.kafka.delivery_timeout_ms, partitions=partitions,
                         client=config.kafka.client)


def wall_clock_ms() -> int:
    """The default clock: wall time in integer ms UTC."""
    return time.time_ns() // 1_000_000


@dataclass(slots=True)
class Prepared:
    """A venue whose markets are loaded and whose symbols are resolved; nothing streams yet."""

    venue: str
    spec: LiveSpec
    exchange: Any
    markets: list[FeedMarket]


async def prepare(venues: list[str], wanted: list[str], *, endpoints: Mapping[str, Mapping[str, str]] | None = None,
                  factory: ExchangeFactory | None = None, attempts: int = 4) -> list[Prepared]:
    """Create every venue's exchange, load their markets concurrently and resolve `wanted`.
    On any error (`UnknownSymbol`, `FeedUnavailable`, `ConfigError`) every exchange is
    closed before it propagates."""
    prepared: list[Prepared] = []
    try:
        for venue in venues:
            spec = live_spec(venue)
            exchange = create_exchange(venue, spec, urls=(endpoints or {}).get(venue), factory=factory)
            prepared.append(Prepared(venue, spec, exchange, []))
        loaded = await asyncio.gather(*(load_markets(p.venue, p.exchange, attempts=attempts) for p in prepared))
        for p, markets in zip(prepared, loaded, strict=True):
            p.markets = resolve(p.venue, p.spec, markets, wanted)
    except BaseException:
        await asyncio.gather(*(p.exchange.close() for p in prepared), return_exceptions=True)
        raise
    return prepared


def build_feeds(prepared: list[Prepared], config: Config, settings: FeedSettings, *, emit: Emit, clock: Clock,
                metrics: FeedMetrics) -> list[VenueFeed]:
    universe = Universe.from_config(config)
    return [VenueFeed(p.venue, p.exchange, p.spec, p.markets, settings, universe=universe,
                      funding_interval_ms=config.venues[p.venue].funding_interval_ms, clock=clock, emit=emit,
                      metrics=metrics) for p in prepared]


@dataclass(slots=True)
class KafkaEmitter:
    """The `Emit` of a run: encodes with the codec and produces to `prefix + topic`, keyed
    by base asset. `counts` per logical topic and `last[(topic, symbol or key)]` the
    latest record, for status lines and tests."""

    producer: KeyedProducer
    prefix: str
    counts: Counter[str] = field(default_factory=Counter)
    last: dict[tuple[str, str | None], Any] = field(default_factory=dict)

    def __call__(self, topic: str, key: str | None, record: Any) -> None:
        self.producer.produce(self.prefix + topic, key, codec.encode(record))
        self.counts[topic] += 1
        self.last[(topic, getattr(record, "symbol", None) or key)] = record

    def check(self) -> None:
        """Raise `DeliveryFailed` if Kafka reported a failed produce."""
        errors = self.producer.delivered.errors
        if errors:
            raise DeliveryFailed(f"{len(errors)} messages failed, first: {errors[0]}")


async def _ticks(emit: Emit, clock: Clock, tick_ms: int, check: Callable[[], None] | None) -> None:
    period = tick_ms / 1000
    started = time.monotonic()
    count = 0
    while True:
        emit(topics.CLOCK_TICK, None, ClockTick(ts=clock()))
        if check is not None:
            check()
        count += 1
        await asyncio.sleep(max(0.0, started + count * period - time.monotonic()))


async def _every(period_s: float, call: Callable[[], None]) -> None:
    while True:
        await asyncio.sleep(period_s)
        call()


async def run(feeds: list[VenueFeed], emit: Emit, *, stop: asyncio.Event, clock: Clock = wall_clock_ms,
              tick_ms: int = 100, check: Callable[[], None] | None = None,
              status: Callable[[], None] | None = None, status_every_s: float = 5.0) -> None:
    """Run every feed and the clock ticks until `stop` is set, then close every exchange.
    `check` runs every tick (delivery errors); `status` every `status_every_s`."""
    tasks = [asyncio.create_task(feed.run(), name=f"feed:{feed.venue}") for feed in feeds]
    tasks.append(asyncio.create_task(_ticks(emit, clock, tick_ms, check), name="clock.tick"))
    if status is not None:
        tasks.append(asyncio.create_task(_every(status_every_s, status), name="status"))
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in (stopper, *tasks):
            task.cancel()
        await asyncio.gather(stopper, *tasks, return_exceptions=True)
        await asyncio.gather(*(feed.close() for feed in feeds), return_exceptions=True)
