"""Kafka plumbing: topic names and creation, the keyed producer, bounded reads, and the
reader of the desks' orders that the live gateway places.

Keys and partitions: every record is keyed by its canonical base asset (`BTC`) so one
asset's records stay in order on one partition and reach one Bytewax worker. arbflow
producers pick the partition explicitly instead of trusting the client's hash (which
left partitions empty with a handful of keys): the asset's position in
`universe.assets` modulo the partition count, so N configured assets spread over N
partitions; other keys fall back to CRC-32 modulo the count. Consumers read every
partition, so a foreign producer using another partitioner loses nothing.

Errors: an unreachable broker raises `ServiceUnavailable` within the configured
timeout; a message that is not acknowledged raises `DeliveryFailed` at `flush()` —
a produce is never logged-and-forgotten.

End offsets: the broker's *reported* end of a partition (ListOffsets "latest", what
librdkafka's `OFFSET_END` and `get_watermark_offsets` use) is never trusted: the embedded
Tansu answers with the base offset of the partition's last batch + 1, i.e. up to a batch
too low (measured: batches of 1, 1, 3, 2 and 10 records → reported ends 1, 2, 3, 6, 8
while the partition held 1, 2, 5, 7, 17). `end_offsets` reads forward from the reported
end to the end-of-partition a fetch reports (the fetch's high watermark is right), so
"start at the end" starts after the last record, not inside the last batch.

Secured clusters: every client built here (producer, consumer, admin) gets the configured
`kafka.client` librdkafka properties (SASL, TLS, …) through `client_config`, the `client`
argument of each function; they may override arbflow's own tuning but not the bootstrap.
"""

import logging
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.errors import ConfigError, DeliveryFailed, ServiceUnavailable
from arbflow.model.execution import Order, OrderIntent

# What the order reader skips is what the live gateway will not send: said under its name.
_gateway_log = logging.getLogger("arbflow.live_gateway")


class _ClientLog:
    """Where librdkafka's own log lines go: without it they are written straight to the
    process's stderr (≈ 20 `%3|…|FAIL|…Connection refused` lines before the one clear line of
    an unreachable broker). They reach the `arbflow.kafka.librdkafka` logger at DEBUG
    (`--log-level debug` shows them); what matters surfaces as our own errors."""

    _logger = logging.getLogger("arbflow.kafka.librdkafka")

    def log(self, _level: int, message: str, *args: object, **_kwargs: object) -> None:
        self._logger.debug(message, *args)


CLIENT_LOG: dict[str, object] = {"logger": _ClientLog()}  # merged into every client's configuration

T = TypeVar("T")


def topic_name(config: Config, topic: str) -> str:
    """The physical topic name: `kafka.topic_prefix` + logical name."""
    return config.kafka.topic_prefix + topic


class Partitioner:
    """Deterministic key → partition (see the module docstring)."""

    def __init__(self, assets: Sequence[str], partitions: int) -> None:
        self.partitions = partitions
        self._fixed = {asset.encode(): i % partitions for i, asset in enumerate(assets)}

    def __call__(self, key: bytes | None) -> int:
        if not key:
            return 0
        fixed = self._fixed.get(key)
        return fixed if fixed is not None else zlib.crc32(key) % self.partitions


Properties = Mapping[str, str] | None  # `kafka.client`: librdkafka properties for every client


def client_config(bootstrap: str, base: Mapping[str, object], client: Properties) -> dict[str, object]:
    """The dict handed to confluent-kafka: arbflow's `base` settings and its log sink
    (`CLIENT_LOG`), then the configured `client` properties (which win), then
    `bootstrap.servers` = `bootstrap`."""
    return {**base, **CLIENT_LOG, **(client or {}), "bootstrap.servers": bootstrap}


def built(factory: Callable[[dict[str, object]], T], conf: dict[str, object]) -> T:
    """`factory(conf)` (a confluent-kafka client class); a property librdkafka refuses (an
    unknown name, a bad value, a SASL mechanism the build lacks, a CA file that is not there)
    is a `ConfigError` on `kafka.client` with librdkafka's words — one line, exit 2."""
    try:
        return factory(conf)
    except KafkaException as error:
        if error.args[0].code() != KafkaError._INVALID_ARG:
            raise
        raise ConfigError("kafka.client", error.args[0].str().strip()) from None


def admin(bootstrap: str, timeout_s: float, client: Properties = None) -> AdminClient:
    """An admin client after checking the broker answers within `timeout_s` (its connection
    set-up timeout at least librdkafka's minimum, 1 s)."""
    admin_client = built(AdminClient, client_config(
        bootstrap, {"socket.connection.setup.timeout.ms": max(1000, int(timeout_s * 1000))}, client))
    try:
        admin_client.list_topics(timeout=timeout_s)
    except KafkaException as error:
        raise ServiceUnavailable(f"Kafka at {bootstrap} did not answer within {timeout_s:g} s: {error}") from error
    return admin_client


def ensure_topics(bootstrap: str, names: Iterable[str], partitions: int, timeout_s: float,
                  client: Properties = None) -> dict[str, int]:
    """Create the missing topics with `partitions` partitions; returns name → partition
    count of every requested topic (existing topics keep theirs)."""
    admin_client = admin(bootstrap, timeout_s, client)
    wanted = list(dict.fromkeys(names))
    existing = admin_client.list_topics(timeout=timeout_s).topics
    missing = [name for name in wanted if name not in existing]
    if missing:
        futures = admin_client.create_topics([NewTopic(name, partitions, 1) for name in missing],
                                       operation_timeout=timeout_s, request_timeout=timeout_s)
        for name, future in futures.items():
            try:
                future.result(timeout=timeout_s)
            except KafkaException as error:
                if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                    raise ServiceUnavailable(f"cannot create topic {name}: {error}") from error
    metadata = admin_client.list_topics(timeout=timeout_s).topics
    return {name: len(metadata[name].partitions) for name in wanted if name in metadata}


def partition_counts(bootstrap: str, names: Iterable[str], timeout_s: float, client: Properties = None
                     ) -> dict[str, int]:
    """Partition count of each existing topic among `names`."""
    metadata = admin(bootstrap, timeout_s, client).list_topics(timeout=timeout_s).topics
    return {name: len(metadata[name].partitions) for name in names if name in metadata}


@dataclass(slots=True)
class Delivered:
    """What a producer had acknowledged: counts per topic and offset ranges per partition.

    `ranges[(topic, partition)] = (first, last)` offsets, inclusive; a bounded reader
    uses them to read back exactly what this producer wrote.
    """

    counts: Counter[str] = field(default_factory=Counter)
    ranges: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def on_delivery(self, error: KafkaError | None, message: Message) -> None:
        if error is not None:
            self.errors.append(f"{message.topic()}: {error.str()}")
            return
        topic, partition, offset = message.topic(), message.partition(), message.offset()
        self.counts[topic] += 1
        first_last = self.ranges.get((topic, partition))
        if first_last is None:
            self.ranges[(topic, partition)] = (offset, offset)
        else:
            self.ranges[(topic, partition)] = (min(first_last[0], offset), max(first_last[1], offset))


class KeyedProducer:
    """Idempotent producer keyed by base asset, with explicit partitions and checked
    delivery. Use as a context manager or call `flush()`; both raise `DeliveryFailed`
    if any message was not acknowledged."""

    def __init__(self, bootstrap: str, partitioner: Partitioner | None, *, delivery_timeout_ms: int,
                 partitions: dict[str, int] | None = None, linger_ms: int = 5, client: Properties = None) -> None:
        self._producer = built(Producer, client_config(bootstrap, {
            "enable.idempotence": True,
            "linger.ms": linger_ms,
            "delivery.timeout.ms": delivery_timeout_ms,
            "queue.buffering.max.messages": 500_000,
        }, client))
        self._partitioner = partitioner
        self._partitions = partitions or {}
        self._timeout_s = delivery_timeout_ms / 1000
        self.delivered = Delivered()

    def produce(self, topic: str, key: str | bytes | None, value: bytes, timestamp: int | None = None) -> None:
        """Queue one message; blocks briefly (serving callbacks) when the queue is full.

        `timestamp` (ms) becomes the Kafka message time: arbflow sets it to the record's
        event time, which is what consumers merge partitions of several topics by."""
        key_bytes = key.encode() if isinstance(key, str) else key
        kwargs: dict[str, int] = {}
        if timestamp:
            kwargs["timestamp"] = timestamp
        if self._partitioner is not None:
            count = self._partitions.get(topic, self._partitioner.partitions)
            kwargs["partition"] = self._partitioner(key_bytes) % count
        while True:
            try:
                self._producer.produce(topic, value, key_bytes, on_delivery=self.delivered.on_delivery, **kwargs)
                break
            except BufferError:
                self._producer.poll(0.05)
            except KafkaException as error:  # refused before queueing (e.g. a partition the topic lacks)
                raise DeliveryFailed(f"1 message failed, first: {error.args[0]}") from None
        self._producer.poll(0)

    def flush(self) -> Delivered:
        """Wait for every acknowledgement; raise `DeliveryFailed` on any loss."""
        remaining = self._producer.flush(self._timeout_s)
        if remaining:
            raise DeliveryFailed(f"{remaining} messages were not acknowledged within {self._timeout_s:g} s")
        if self.delivered.errors:
            raise DeliveryFailed(f"{len(self.delivered.errors)} messages failed, first: {self.delivered.errors[0]}")
        return self.delivered

    def __enter__(self) -> "KeyedProducer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.flush()


def end_offsets(bootstrap: str, partitions: Sequence[tuple[str, int]], timeout_s: float = 10.0,
                client: Properties = None) -> dict[tuple[str, int], int]:
    """The offset the next record of each `(topic, partition)` will get: where a consumer
    "at the end" starts. Read from the broker's reported end forward to the fetch's
    end-of-partition (see the module docstring); records found on the way already existed
    and are skipped. Raises `ServiceUnavailable` if the broker does not answer in `timeout_s`."""
    if not partitions:
        return {}
    reader = consumer(bootstrap, eof=True, client=client)
    try:
        starts = []
        for topic, partition in partitions:
            try:
                low, high = reader.get_watermark_offsets(TopicPartition(topic, partition), timeout=timeout_s)
            except KafkaException as error:
                raise ServiceUnavailable(f"Kafka at {bootstrap}: no end offset for {topic}[{partition}] within "
                                         f"{timeout_s:g} s: {error}") from error
            starts.append(TopicPartition(topic, partition, max(low, high)))
        reader.assign(starts)
        ends: dict[tuple[str, int], int] = {}
        deadline = time.monotonic() + timeout_s
        while len(ends) < len(starts):
            for message in reader.consume(1000, 0.05):
                error = message.error()
                if error is None:
                    continue  # an existing record between the reported and the real end
                if error.code() != KafkaError._PARTITION_EOF:
                    raise ServiceUnavailable(f"reading {message.topic()}[{message.partition()}]: {error.str()}")
                ends.setdefault((message.topic(), message.partition()), message.offset())
            if time.monotonic() > deadline:
                missing = sorted(f"{t}[{p}]" for t, p in partitions if (t, p) not in ends)
                raise ServiceUnavailable(f"Kafka at {bootstrap}: no end of {', '.join(missing)} within {timeout_s:g} s")
        return ends
    finally:
        reader.close()


class Consumed(NamedTuple):
    """One message read from Kafka (picklable, so it can cross Bytewax workers). A named
    tuple, not a frozen dataclass: every message read makes one, and a frozen dataclass's
    `__init__` (one `object.__setattr__` per field) measured ≈ 3× the cost."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    ts: int = 0  # the Kafka message time (ms): the event time when arbflow produced it


def consumer(bootstrap: str, *, eof: bool, extra: dict[str, object] | None = None,
             client: Properties = None) -> Consumer:
    """An assign-based consumer (no group join: Tansu's join takes ~20 s). `extra`: arbflow's
    own settings for this reader; `client`: the configured `kafka.client` properties."""
    config: dict[str, object] = {
        "group.id": "arbflow-assign",  # required by librdkafka, unused with assign()
        "enable.auto.commit": False,
        "enable.partition.eof": eof,
        "socket.connection.setup.timeout.ms": 5000,
        # Tansu answers a fetch only when fetch.wait.max.ms (500 ms by default) expires
        # unless data is already there; live latency needs a short wait.
        "fetch.wait.max.ms": 10,
        **CLIENT_LOG,
    }
    config.update(extra or {})
    return built(Consumer, client_config(bootstrap, config, client))


def read_topic(bootstrap: str, topic: str, *, timeout_s: float = 10.0,
               ranges: dict[int, tuple[int, int]] | None = None, client: Properties = None) -> Iterator[Consumed]:
    """Read a topic from the beginning to its end (or the inclusive offset `ranges` per
    partition). Ends when every partition is exhausted; raises `ServiceUnavailable` if
    nothing arrives for `timeout_s`."""
    reader = consumer(bootstrap, eof=True, client=client)
    try:
        metadata = reader.list_topics(topic, timeout=timeout_s).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return
        parts = sorted(metadata.partitions) if ranges is None else sorted(ranges)
        starts = {p: (OFFSET_BEGINNING if ranges is None else ranges[p][0]) for p in parts}
        stops = None if ranges is None else {p: ranges[p][1] for p in parts}
        reader.assign([TopicPartition(topic, p, starts[p]) for p in parts])
        pending = set(parts)
        deadline = time.monotonic() + timeout_s
        while pending:
            # A short poll: consume() waits its whole timeout unless the batch fills up.
            batch = reader.consume(1000, 0.05)
            if not batch:
                if time.monotonic() > deadline:
                    raise ServiceUnavailable(f"no data from {topic} for {timeout_s:g} s "
                                             f"(partitions {sorted(pending)})")
                continue
            deadline = time.monotonic() + timeout_s
            for message in batch:
                error = message.error()
                partition = message.partition()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        pending.discard(partition)
                        continue
                    raise ServiceUnavailable(f"reading {topic}: {error.str()}")
                if partition not in pending:
                    continue
                offset = message.offset()
                if stops is not None and offset > stops[partition]:
                    pending.discard(partition)
                    continue
                yield Consumed(topic, partition, offset, message.key(), message.value())
                if stops is not None and offset >= stops[partition]:
                    pending.discard(partition)
    finally:
        reader.close()


class OrderReader:
    """The desks' orders (exec.order) and cancel intents (exec.intent) as the live gateway
    reads them. `history()`: the latest state of every order, read from the beginning, and
    where both topics end; `open()` then `poll()` tail from exactly there, so nothing
    produced in between is missed. `latest(venue)` reads one venue's orders again (a lane
    reconciling after a failure). A record that does not decode is logged and left out —
    never guess at an order. Errors as `read_topic`: `ServiceUnavailable`."""

    def __init__(self, config: Config, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.client = dict(config.kafka.client)
        self.order_topic = topic_name(config, topics.EXEC_ORDER)
        self.intent_topic = topic_name(config, topics.EXEC_INTENT)
        self._timeout_s = config.kafka.connect_timeout_s
        self._ends: dict[tuple[str, int], int] = {}  # (topic, partition) → the next offset after the history
        self._consumer: Consumer | None = None

    def history(self) -> dict[str, Order]:
        """The latest state of every order by client order id; `poll` starts after it."""
        self._ends = {}
        return self._latest(None, self._ends)

    def latest(self, venue: str) -> list[Order]:
        """The latest state of every order of `venue` on exec.order."""
        return list(self._latest(venue, None).values())

    def _latest(self, venue: str | None, ends: dict[tuple[str, int], int] | None) -> dict[str, Order]:
        known: dict[str, Order] = {}
        for name in (self.order_topic, self.intent_topic) if ends is not None else (self.order_topic,):
            for message in read_topic(self.bootstrap, name, timeout_s=self._timeout_s, client=self.client):
                if ends is not None:
                    ends[(name, message.partition)] = message.offset + 1
                if name == self.order_topic:
                    order = codec.decode(Order, message.value, source=name)
                    if isinstance(order, Order) and venue in (None, order.venue):
                        known[order.client_order_id] = order
        return known

    def open(self) -> None:
        """Assign every partition of both topics at the end of the history (the beginning
        of a partition the history did not reach)."""
        self._consumer = consumer(self.bootstrap, eof=False, client=self.client)
        names = [self.order_topic, self.intent_topic]
        counts = partition_counts(self.bootstrap, names, self._timeout_s, self.client)
        self._consumer.assign([TopicPartition(name, p, self._ends.get((name, p), OFFSET_BEGINNING))
                               for name in names for p in range(counts[name])])

    def poll(self, timeout_s: float, max_messages: int = 500) -> list[Order | OrderIntent]:
        """The next records, in the order read; waits up to `timeout_s` for the first."""
        if self._consumer is None:
            raise RuntimeError("OrderReader.poll() before open()")
        records: list[Order | OrderIntent] = []
        for message in self._consumer.consume(max_messages, timeout_s):
            error = message.error()
            if error is not None:
                _gateway_log.warning("reading %s: %s", message.topic(), error.str())
                continue
            cls = Order if message.topic() == self.order_topic else OrderIntent
            record = codec.decode(cls, message.value(), source=f"{message.topic()}[{message.partition()}]"
                                                               f"@{message.offset()}")
            if not isinstance(record, cls):  # never guess at an order: say so and leave it
                _gateway_log.error("undecodable %s at %s: %s — not sent", cls.__name__, record.source, record.detail)
                continue
            records.append(record)
        return records

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
