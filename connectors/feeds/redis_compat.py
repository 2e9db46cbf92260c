"""Compatibility source: tickers the earlier collectors keep in Redis → md.ticker.

`RedisTickerSource` polls the legacy collectors' keys (`connectors.feeds.compat_tickers`: key layout,
value shapes, normalisation) and publishes what changed:
- discovery: every `discover_s` one `SCAN MATCH <key_prefix>*:tickers:*` (a SCAN walks the
  whole keyspace whatever its pattern, so one broad scan is cheaper than one per venue),
  then one pipelined `TYPE` for keys not seen before. Keys of other layouts, of venues or
  assets not selected, of unknown symbols or of another type are ignored and counted by
  reason (`ignored`);
- poll: every `poll_s` one pipelined `GET` (JSON string) / `HGETALL` (hash) for every
  tracked key; `ts_local` = the wall clock when the pipeline answered, in ms. A value equal
  to the one of the previous poll is not republished (`unchanged`); a changed value becomes
  a `Ticker` validated by `model.validation.check`, published on md.ticker keyed by base
  asset, or a `Rejected` with its reason on dlq.md.ticker (`rejected`). A key that vanished
  or changed type is dropped and found again by the next discovery;
- staleness: a key whose value has not changed for `stale_after_s` is stale; `stale_keys()`
  lists them per venue for the status line (nothing else reacts to it).

Failure modes: a Redis error in a poll or a scan is counted (`redis_errors`, `last_error`)
and the next poll tries again — the poll loop is the retry; Redis unreachable at start
raises `ServiceUnavailable` (after tenacity's retries in `connect`). Kafka delivery errors
surface through the emitter's `check` (`DeliveryFailed`), which stops the run.
"""

import asyncio
import contextlib
import re
import time
from collections import Counter
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import redis
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_exponential

from arbflow.connectors.feeds import compat_tickers as shapes
from arbflow.connectors.feeds.settings import Clock, Emit
from arbflow.connectors.kafka import KeyedProducer
from arbflow.connectors.payload import PayloadError
from arbflow.model import codec, topics
from arbflow.model.errors import DeliveryFailed, ServiceUnavailable
from arbflow.model.rejected import Rejected
from arbflow.model.secrets import mask_url
from arbflow.model.validation import Universe, check

NOT_SELECTED = "NOT_SELECTED"  # a venue or asset outside --venues / --symbols
UNSUPPORTED_TYPE = "UNSUPPORTED_TYPE"  # neither a string nor a hash
_GLOB = re.compile(r"([*?\[\]\\])")


def wall_clock_ms() -> int:
    """Wall time in integer ms UTC."""
    return time.time_ns() // 1_000_000


def connect(url: str, timeout_s: float, attempts: int = 3) -> redis.Redis:
    """A Redis client for `url` after PING answered (up to `attempts` tries, exponential
    backoff); `ServiceUnavailable` when it never does."""
    client = redis.Redis.from_url(url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)

    @retry(retry=retry_if_exception_type(redis.ConnectionError), stop=stop_after_attempt(attempts),
           wait=wait_exponential(multiplier=0.2, max=2), reraise=True)
    def ping() -> None:
        client.ping()

    try:
        ping()
    except redis.RedisError as error:
        client.close()
        raise ServiceUnavailable(f"Redis at {mask_url(url)} did not answer: {mask_url(str(error))}") from error
    return client


@dataclass(frozen=True, slots=True, kw_only=True)
class CompatSettings:
    """`poll_s`: seconds between polls; `discover_s`: seconds between key scans;
    `stale_after_s`: seconds without a changed value after which a key is stale;
    `key_prefix`: put before every key name (a namespace shared with other data);
    `scan_count`: the SCAN COUNT hint."""

    poll_s: float = 0.5
    discover_s: float = 5.0
    stale_after_s: float = 10.0
    key_prefix: str = ""
    scan_count: int = 1000


@dataclass(slots=True)
class VenueCounts:
    """Per venue: tracked keys, records published, unchanged values skipped, dead letters."""

    keys: int = 0
    records: int = 0
    unchanged: int = 0
    rejected: int = 0


@dataclass(slots=True)
class _Tracked:
    key: shapes.CompatKey
    kind: str  # "string" or "hash"
    value: Any = None  # the last value read (bytes or dict), None before the first read
    changed_monotonic: float | None = None


@dataclass(slots=True)
class TimestampedEmitter:
    """The `Emit` of the compatibility source: codec-encoded, produced to `prefix + topic`
    keyed by base asset, with the Kafka message time = the record's event time (`ts_local`,
    a dead letter's `ts`). `counts` per logical topic."""

    producer: KeyedProducer
    prefix: str
    counts: Counter[str] = field(default_factory=Counter)

    def __call__(self, topic: str, key: str | None, record: Any) -> None:
        event_ts = record.ts if isinstance(record, Rejected) else getattr(record, "ts_local", None)
        self.producer.produce(self.prefix + topic, key, codec.encode(record), timestamp=event_ts)
        self.counts[topic] += 1

    def check(self) -> None:
        """Raise `DeliveryFailed` if Kafka reported a failed produce."""
        errors = self.producer.delivered.errors
        if errors:
            raise DeliveryFailed(f"{len(errors)} messages failed, first: {errors[0]}")


class RedisTickerSource:
    """Polls the collectors' ticker keys into md.ticker (see the module docstring).
    `venues`: which of `compat_tickers.COMPAT_VENUES`; `assets`: canonical base assets to
    keep (empty = every asset the universe knows)."""

    def __init__(self, client: redis.Redis, *, venues: Collection[str], assets: Collection[str], universe: Universe,
                 emit: Emit, clock: Clock = wall_clock_ms, settings: CompatSettings = CompatSettings(),
                 contract_sizes: Mapping[str, Mapping[str, Decimal]] = shapes.CONTRACT_SIZES,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.client, self.universe, self.emit, self.clock = client, universe, emit, clock
        self.settings, self.contract_sizes, self.monotonic = settings, contract_sizes, monotonic
        self.venues = tuple(venues)
        self.assets = frozenset(assets) or universe.assets
        self.counts = {venue: VenueCounts() for venue in self.venues}
        self.ignored: dict[str, set[str]] = {}
        self.redis_errors = 0
        self.last_error: str | None = None
        self._tracked: dict[bytes, _Tracked] = {}
        self._pattern = _GLOB.sub(r"\\\1", settings.key_prefix) + shapes.SCAN_PATTERN

    # -- discovery --------------------------------------------------------------------------

    def _classify(self, name: str) -> shapes.CompatKey | str:
        try:
            key = shapes.parse_key(name, self.settings.key_prefix, self.contract_sizes)
        except shapes.KeyIgnored as ignored:
            return ignored.reason
        if key.venue not in self.counts or key.base not in self.assets:
            return NOT_SELECTED
        return key

    def discover(self) -> None:
        """Scan for keys and start tracking the new ones (see the module docstring)."""
        found: dict[bytes, shapes.CompatKey] = {}
        ignored: dict[str, set[str]] = {}
        for raw in self.client.scan_iter(match=self._pattern, count=self.settings.scan_count):
            name = raw.decode("utf-8", "replace")
            verdict = self._classify(name)
            if isinstance(verdict, str):
                ignored.setdefault(verdict, set()).add(name)
            else:
                found[raw] = verdict
        new = [raw for raw in found if raw not in self._tracked]
        kinds: list[Any] = []
        if new:
            pipe = self.client.pipeline(transaction=False)
            for raw in new:
                pipe.type(raw)
            kinds = pipe.execute()
        tracked = {raw: self._tracked[raw] for raw in found if raw in self._tracked}
        for raw, kind in zip(new, kinds, strict=True):
            text = kind.decode() if isinstance(kind, bytes) else str(kind)
            if text in ("string", "hash"):
                tracked[raw] = _Tracked(found[raw], text)
            elif text != "none":  # "none": deleted since the scan
                ignored.setdefault(UNSUPPORTED_TYPE, set()).add(found[raw].key)
        self._tracked = tracked
        self.ignored = ignored
        for venue, counts in self.counts.items():
            counts.keys = sum(1 for t in tracked.values() if t.key.venue == venue)

    # -- polling ----------------------------------------------------------------------------

    def fetch(self) -> tuple[list[tuple[bytes, Any]], int]:
        """Read every tracked key in one pipeline: ([(key, value or error)], ts_local ms)."""
        names = list(self._tracked)
        if not names:
            return [], self.clock()
        pipe = self.client.pipeline(transaction=False)
        for raw in names:
            if self._tracked[raw].kind == "hash":
                pipe.hgetall(raw)
            else:
                pipe.get(raw)
        values = pipe.execute(raise_on_error=False)
        return list(zip(names, values, strict=True)), self.clock()

    def apply(self, values: list[tuple[bytes, Any]], ts_local: int) -> int:
        """Publish the changed values of a `fetch`; returns how many records and dead letters."""
        now = self.monotonic()
        published = 0
        for raw, value in values:
            tracked = self._tracked.get(raw)
            if tracked is None:
                continue
            if isinstance(value, Exception) or value is None or value == {}:
                del self._tracked[raw]  # vanished or changed type: the next discovery decides
                self.counts[tracked.key.venue].keys -= 1
                continue
            counts = self.counts[tracked.key.venue]
            if value == tracked.value:
                counts.unchanged += 1
                continue
            tracked.value, tracked.changed_monotonic = value, now
            self._publish(tracked.key, value, ts_local, counts)
            published += 1
        return published

    def poll(self) -> int:
        """`fetch` then `apply`; a Redis error is counted and the poll skipped."""
        try:
            values, ts_local = self.fetch()
        except redis.RedisError as error:
            self._failed(error)
            return 0
        return self.apply(values, ts_local)

    def _failed(self, error: redis.RedisError) -> None:
        self.redis_errors += 1
        self.last_error = f"{type(error).__name__}: {error}"

    def _publish(self, key: shapes.CompatKey, value: Any, ts_local: int, counts: VenueCounts) -> None:
        source = f"redis:{key.key}"
        try:
            out: Any = shapes.ticker(key, shapes.decode(value), ts_local)
            problem = check(out, self.universe)
            if problem is not None:
                out = codec.reject(problem[0], problem[1], source=source, raw=_raw(value), ts=ts_local)
        except PayloadError as error:
            out = codec.reject(error.reason, error.detail, source=source, raw=_raw(value), ts=ts_local)
        if isinstance(out, Rejected):
            counts.rejected += 1
            self.emit(topics.dlq_topic(topics.MD_TICKER), key.base, out)
        else:
            counts.records += 1
            self.emit(topics.MD_TICKER, key.base, out)

    # -- staleness and the run loop -----------------------------------------------------

    def stale_keys(self) -> dict[str, list[tuple[str, float]]]:
        """Per venue, the keys unchanged for `stale_after_s` and their age in seconds."""
        now = self.monotonic()
        out: dict[str, list[tuple[str, float]]] = {venue: [] for venue in self.venues}
        for tracked in self._tracked.values():
            changed = tracked.changed_monotonic
            if changed is not None and now - changed > self.settings.stale_after_s:
                out[tracked.key.venue].append((tracked.key.key, now - changed))
        return out

    async def run(self, stop: asyncio.Event, *, check: Callable[[], None] | None = None,
                  status: Callable[[], None] | None = None, status_every_s: float = 5.0) -> None:
        """Discover and poll until `stop` is set; Redis I/O runs in a worker thread so the
        loop (signals, status) stays responsive. `check` runs after every poll."""
        next_discovery = next_status = self.monotonic()
        next_status += status_every_s
        next_poll = self.monotonic()
        while not stop.is_set():
            if self.monotonic() >= next_discovery:
                try:
                    await asyncio.to_thread(self.discover)
                except redis.RedisError as error:
                    self._failed(error)
                next_discovery = self.monotonic() + self.settings.discover_s
            try:
                values, ts_local = await asyncio.to_thread(self.fetch)
            except redis.RedisError as error:
                self._failed(error)
            else:
                self.apply(values, ts_local)
            if check is not None:
                check()
            if status is not None and self.monotonic() >= next_status:
                status()
                next_status += status_every_s
            next_poll += self.settings.poll_s
            delay = next_poll - self.monotonic()
            if delay < 0:  # a slow poll: start the next one now, don't try to catch up
                next_poll, delay = self.monotonic(), 0.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)


def _raw(value: Any) -> str:
    """The raw Redis value as dead-letter text: the string as stored, or the hash as JSON."""
    if isinstance(value, dict):
        return codec.dumps({k.decode("utf-8", "replace"): v.decode("utf-8", "replace")
                            for k, v in sorted(value.items())}).decode()
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
