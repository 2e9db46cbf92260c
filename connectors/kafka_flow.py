"""Bytewax input and output over Kafka, modelled on Bytewax's own KafkaSource/KafkaSink
but with what arbflow needs: assign-based reads (no consumer-group join), per-partition
start offsets and optional *stop* offsets (a replay reads exactly what it published),
the explicit asset partitioner, and delivery that is checked, never fire-and-forget.

Input items are `Consumed` messages; output items are `(topic, key, value)` tuples with
the logical topic name (the prefix is added here).
"""

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Literal

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from bytewax.outputs import DynamicSink, StatelessSinkPartition
from confluent_kafka import OFFSET_BEGINNING, KafkaError, TopicPartition

from arbflow.connectors.kafka import Consumed, KeyedProducer, Partitioner, Properties, admin, consumer, end_offsets
from arbflow.model.errors import ServiceUnavailable
from arbflow.model.replay_run import Seen

_log = logging.getLogger("arbflow.kafka")

Start = Literal["beginning", "end"]
OutputItem = tuple[str, str | bytes | None, bytes]


class _Partition(StatefulSourcePartition[Consumed, int]):
    def __init__(self, bootstrap: str, topic: str, partition: int, start: int, stop: int | None,
                 batch_size: int, client: Properties = None) -> None:
        self._topic, self._partition, self._stop = topic, partition, stop
        self._next = start
        self._batch_size = batch_size
        self._done = stop is not None and start > stop
        self._consumer = consumer(bootstrap, eof=False, client=client)
        self._consumer.list_topics(topic, timeout=10)  # avoids a ~0.5 s wait on the first fetch
        self._consumer.assign([TopicPartition(topic, partition, start)])

    def next_batch(self) -> list[Consumed]:
        if self._done:
            raise StopIteration
        batch = []
        for message in self._consumer.consume(self._batch_size, 0.001):
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    continue
                raise ServiceUnavailable(f"reading {self._topic}[{self._partition}]: {error.str()}")
            offset = message.offset()
            if self._stop is not None and offset > self._stop:
                self._done = True
                break
            batch.append(Consumed(self._topic, self._partition, offset, message.key(), message.value()))
            self._next = offset + 1
            if self._stop is not None and offset >= self._stop:
                self._done = True
                break
        return batch

    def next_awake(self) -> datetime | None:
        return None

    def snapshot(self) -> int:
        return self._next

    def close(self) -> None:
        self._consumer.close()


class KafkaInput(FixedPartitionedSource[Consumed, int]):
    """Read topics partition by partition; each Kafka partition is a Bytewax partition.

    `ranges` (physical topic, partition) → (first, last) inclusive offsets makes the read
    bounded: only those partitions, stopping after `last` — how a replay reads exactly
    what it published. Without `ranges` every partition is read from `start` and the
    input tails forever. Resume state is the next offset to read.
    """

    def __init__(self, bootstrap: str, topics: list[str], *, start: Start = "beginning",
                 ranges: dict[tuple[str, int], tuple[int, int]] | None = None, timeout_s: float = 5.0,
                 batch_size: int = 1000, client: Properties = None) -> None:
        self._bootstrap, self._topics, self._start = bootstrap, topics, start
        self._client = dict(client or {})  # `kafka.client`: librdkafka properties of every reader
        self._ranges, self._timeout_s, self._batch_size = ranges, timeout_s, batch_size

    def list_parts(self) -> list[str]:
        if self._ranges is not None:
            return [f"{partition}#{topic}" for topic, partition in sorted(self._ranges) if topic in self._topics]
        metadata = admin(self._bootstrap, self._timeout_s, self._client).list_topics(timeout=self._timeout_s).topics
        parts = []
        for topic in self._topics:
            if topic not in metadata:
                raise ServiceUnavailable(f"topic {topic} does not exist (run `arbflow infra up`)")
            parts += [f"{p}#{topic}" for p in sorted(metadata[topic].partitions)]
        return parts

    def build_part(self, step_id: str, for_part: str, resume_state: int | None) -> _Partition:
        partition_text, topic = for_part.split("#", 1)
        partition = int(partition_text)
        stop = None
        if self._ranges is not None:
            first, stop = self._ranges[(topic, partition)]
            start = first
        elif resume_state is None:  # "end": kafka.end_offsets, never the broker's reported end
            start = OFFSET_BEGINNING if self._start == "beginning" else \
                end_offsets(self._bootstrap, [(topic, partition)], self._timeout_s, self._client)[(topic, partition)]
        if resume_state is not None:
            start = resume_state
        return _Partition(self._bootstrap, topic, partition, start, stop, self._batch_size, self._client)


class _SinkPartition(StatelessSinkPartition[OutputItem]):
    """Every batch is flushed and checked in `write_batch` (`DeliveryFailed` stops the flow).
    `close` never raises: Bytewax calls it while unwinding from a failure — this sink's own
    or another step's (Redis lost) — and a second Python error there is a panic inside a
    destructor, which aborts the process (exit 134, no error line, no report). What `close`
    cannot deliver is logged; after a failed batch it does not wait for the broker again."""

    def __init__(self, producer: KeyedProducer, prefix: str, seen: Seen | None = None) -> None:
        self._producer, self._prefix, self._seen = producer, prefix, seen
        self._failed = False

    def write_batch(self, items: list[OutputItem]) -> None:
        try:
            for topic, key, value in items:
                if self._seen is not None and self._seen.take(self._prefix + topic, value):
                    continue  # an interrupted attempt of this replay published it
                self._producer.produce(self._prefix + topic, key, value)
            self._producer.flush()
        except BaseException:
            self._failed = True
            raise

    def close(self) -> None:
        if self._failed:
            return
        try:
            self._producer.flush()
        except Exception as error:  # never out of close (see the class docstring)
            _log.error("Kafka output at close: %s", error)


class KafkaOutput(DynamicSink[OutputItem]):
    """Write `(topic, key, value)` items; every batch is flushed and its delivery checked
    (`DeliveryFailed` stops the flow rather than losing output). `seen`: the records an
    interrupted attempt of the same replay published (model/replay_run.py) — an item equal
    to one of them takes it out and is not written again."""

    def __init__(self, bootstrap: str, *, topic_prefix: str, partitioner: Partitioner,
                 delivery_timeout_ms: int, partitions: dict[str, int] | None = None,
                 on_build: Callable[[KeyedProducer], None] | None = None, client: Properties = None,
                 seen: Seen | None = None) -> None:
        self._seen = seen
        self._bootstrap, self._prefix, self._partitioner = bootstrap, topic_prefix, partitioner
        self._client = dict(client or {})  # `kafka.client`: librdkafka properties of every producer
        self._timeout_ms, self._partitions, self._on_build = delivery_timeout_ms, partitions, on_build

    def build(self, step_id: str, worker_index: int, worker_count: int) -> _SinkPartition:
        producer = KeyedProducer(self._bootstrap, self._partitioner, delivery_timeout_ms=self._timeout_ms,
                                 partitions=self._partitions, client=self._client)
        if self._on_build is not None:
            self._on_build(producer)
        return _SinkPartition(producer, self._prefix, self._seen)
