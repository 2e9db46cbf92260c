"""A Bytewax input that reads the same partition number of several topics and merges
them in event time — the reason a replay gives the same answer every time.

Why: one asset's tickers, books, trades and funding sit on partition p of *different*
topics (the asset partitioner maps an asset to the same number everywhere). Read side by
side, those partitions interleave however the fetches happen to return, and a scan would
see funding before or after a ticker at random. This input holds one queue per topic and
always emits the message with the smallest event time (the Kafka message timestamp,
which arbflow's producers set to the record's event time; ties by topic order, then
offset), so processing order is a function of the data alone.

Bounded (replay, `ranges` given): a message is emitted only when every topic that still
has messages to come has one queued — exact. Tailing (live, `arbflow scan` / `trade`): the
same rule, with "still has messages to come" read from the broker: a topic whose queue is
empty holds the others back until the consumer has reached its end (librdkafka's
end-of-partition event, which a fetch answers from its own high watermark). What has
arrived is then emitted smallest event time first, so the order depends on what the
broker held when it was read, never on which fetch happened to return first or on the
wall clock. (Before, a tailing read emitted whatever had arrived: under load the prints of
a replayed market could reach the desk before the tickers they follow, so a resting order
missed its fill — the likely cause of a paper-trading test that failed only on a loaded
machine; tests/integration/test_kafka_offsets.py shows the old order.) A producer that
writes its records in event-time order across topics (`arbflow replay --publish-only`
waits for each topic's acknowledgement before it writes another topic) is then read
back in that order. "Start at the end" starts at `kafka.end_offsets` (the broker's
reported end is not trusted). Resume state is the next offset per topic.

Broker health (tailing): every `CHECK_EVERY_S` the partition asks the broker for its
topics. A topic or partition that vanished (the embedded broker's memory storage loses
everything on a restart) stops the flow with a clear error at once — reading on would wait
forever for offsets that no longer exist; a broker that does not answer for `UNREACHABLE_S`
stops it too (librdkafka reconnects by itself within that time).

Graceful stop (tailing): when the `stop` event is set (the CLI sets it on SIGINT/SIGTERM)
every queued message is emitted in merge order and the input ends, so the dataflow drains,
its sinks flush and the process exits 0 instead of dying mid-batch.
"""

import threading
import time
from collections import deque
from datetime import datetime

from bytewax.inputs import FixedPartitionedSource, StatefulSourcePartition
from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from arbflow.connectors.kafka import Consumed, Properties, admin, consumer, end_offsets
from arbflow.connectors.kafka_flow import Start
from arbflow.model.errors import ServiceUnavailable

StartAt = Start | dict[tuple[str, int], int]  # or explicit offsets per (topic, partition)
CHECK_EVERY_S = 5.0
UNREACHABLE_S = 60.0


class _MergedPartition(StatefulSourcePartition[Consumed, dict[str, int]]):
    def __init__(self, bootstrap: str, topics: list[str], partition: int, starts: dict[str, int],
                 stops: dict[str, int] | None, batch_size: int, stop: threading.Event | None = None,
                 client: Properties = None) -> None:
        self._topics, self._partition, self._stops, self._stop = topics, partition, stops, stop
        self._order = {topic: i for i, topic in enumerate(topics)}
        self._queues: dict[str, deque[Consumed]] = {t: deque() for t in topics}
        self._next = dict(starts)
        self._done = {t: stops is not None and (t not in stops or starts[t] > stops[t]) for t in topics}
        # tailing: the consumer has reached the topic's end and nothing arrived since
        self._at_end = dict.fromkeys(topics, False)
        self._batch_size = batch_size
        self._checked = time.monotonic()
        self._unreachable_since: float | None = None
        self._consumer = consumer(bootstrap, eof=stops is None, client=client)
        live = [t for t in topics if not self._done[t]]
        if live:
            self._consumer.list_topics(timeout=10)  # avoids a ~0.5 s wait on the first fetch
            self._consumer.assign([TopicPartition(t, partition, starts[t]) for t in live])

    def next_batch(self) -> list[Consumed]:
        if all(self._done[t] and not self._queues[t] for t in self._topics):
            raise StopIteration
        if self._stop is not None and self._stop.is_set():
            self._done = dict.fromkeys(self._topics, True)
            self._stops = None
            return self._drain()  # everything queued, in merge order; then the end
        now = time.monotonic()
        if self._stops is None and now - self._checked >= CHECK_EVERY_S:
            self._checked = now
            self._check_broker(now)
        # A 1 ms poll: longer blocking here adds directly to tick latency (measured: a
        # 50 ms poll gave p50 ≈ 380 ms through Bytewax, 1 ms ≈ 23 ms; idle CPU ≈ 9 %).
        done, at_end, stops, queues, partition = self._done, self._at_end, self._stops, self._queues, self._partition
        for message in self._consumer.consume(self._batch_size, 0.001):  # per message: locals only
            error = message.error()
            if error is not None:
                if error.code() == KafkaError._PARTITION_EOF:
                    at_end[message.topic()] = True
                    continue
                raise ServiceUnavailable(f"reading {message.topic()}[{partition}]: {error.str()}")
            topic, offset = message.topic(), message.offset()
            if done[topic]:
                continue
            at_end[topic] = False
            stop = stops.get(topic) if stops is not None else None
            if stop is not None and offset > stop:
                done[topic] = True
                continue
            queues[topic].append(Consumed(topic, partition, offset, message.key(), message.value(),
                                          message.timestamp()[1]))
            if stop is not None and offset >= stop:
                done[topic] = True
        return self._drain()

    def _check_broker(self, now: float) -> None:
        try:
            metadata = self._consumer.list_topics(timeout=2).topics
        except KafkaException as error:
            self._unreachable_since = self._unreachable_since or now
            if now - self._unreachable_since >= UNREACHABLE_S:
                raise ServiceUnavailable(f"the Kafka broker has not answered for {UNREACHABLE_S:g} s: "
                                         f"{error}") from None
            return
        self._unreachable_since = None
        for topic in self._topics:
            found = metadata.get(topic)
            if found is None or found.error is not None or self._partition not in found.partitions:
                raise ServiceUnavailable(
                    f"{topic}[{self._partition}] is gone from the broker — it lost its data (the embedded broker "
                    "keeps topics in memory, a restart empties it). Run `arbflow infra up` to recreate the topics, "
                    "delete the recovery directory of this command, and start again")

    def _drain(self) -> list[Consumed]:
        """Emit queued messages smallest event time first (ties: topic order, then offset)
        while no topic that may still hold an older one is empty: bounded, one with messages
        to come before its stop offset; tailing, one the consumer has not read to its end."""
        out: list[Consumed] = []
        queues, order = self._queues, self._order
        active = [t for t, q in queues.items() if q or not self._done[t]]
        if len(active) == 1 and self._stops is not None:  # one stream left: nothing to merge
            queue = queues[active[0]]
            out = list(queue)
            queue.clear()
            if out:
                self._next[active[0]] = out[-1].offset + 1
            return out
        tailing = self._stops is None and not all(self._done.values())
        while True:
            heads = [(q[0].ts, order[t], q[0].offset, t) for t, q in queues.items() if q]
            if not heads:
                return out
            if any(not q and not self._done[t] and not (tailing and self._at_end[t]) for t, q in queues.items()):
                return out  # a topic that may still hold an older message has none queued: wait for it
            topic = min(heads)[3]
            message = queues[topic].popleft()
            self._next[topic] = message.offset + 1
            out.append(message)

    def next_awake(self) -> datetime | None:
        return None

    def snapshot(self) -> dict[str, int]:
        return dict(self._next)

    def close(self) -> None:
        self._consumer.close()


class MergedKafkaInput(FixedPartitionedSource[Consumed, dict[str, int]]):
    """Partition p of every topic in `topics`, merged in event time (see the module
    docstring). `ranges` (topic, partition) → (first, last) inclusive offsets bounds the
    read; every topic must have the same partition count. Without `ranges` the read tails
    from `start`: "beginning", "end" (`kafka.end_offsets` when the partition is built), or
    offsets per (topic, partition) — e.g. the ends taken when a command started, so that
    what is published after it said it is reading is read. A resume state wins over all."""

    def __init__(self, bootstrap: str, topics: list[str], *, start: StartAt = "beginning",
                 ranges: dict[tuple[str, int], tuple[int, int]] | None = None, timeout_s: float = 5.0,
                 batch_size: int = 1000, stop: threading.Event | None = None, client: Properties = None) -> None:
        self._bootstrap, self._topics, self._start, self._ranges = bootstrap, topics, start, ranges
        self._client = dict(client or {})  # `kafka.client`: librdkafka properties of every reader
        self._stop = stop
        self._timeout_s, self._batch_size = timeout_s, batch_size

    def list_parts(self) -> list[str]:
        if self._ranges is not None:
            return [str(p) for p in sorted({p for t, p in self._ranges if t in self._topics})]
        metadata = admin(self._bootstrap, self._timeout_s, self._client).list_topics(timeout=self._timeout_s).topics
        counts = set()
        for topic in self._topics:
            if topic not in metadata:
                raise ServiceUnavailable(f"topic {topic} does not exist (run `arbflow infra up`)")
            counts.add(len(metadata[topic].partitions))
        if len(counts) != 1:
            raise ServiceUnavailable(f"topics {', '.join(self._topics)} must have the same partition count")
        return [str(p) for p in range(counts.pop())]

    def build_part(self, step_id: str, for_part: str, resume_state: dict[str, int] | None) -> _MergedPartition:
        partition = int(for_part)
        stops = None
        if self._ranges is not None:
            spans = {t: self._ranges[(t, partition)] for t in self._topics if (t, partition) in self._ranges}
            starts = {t: spans[t][0] if t in spans else 0 for t in self._topics}
            stops = {t: span[1] for t, span in spans.items()}
        elif resume_state is not None and set(resume_state) >= set(self._topics):
            starts = {}  # every topic resumes from its snapshot
        elif isinstance(self._start, dict):
            starts = {t: self._start.get((t, partition), OFFSET_BEGINNING) for t in self._topics}
        elif self._start == "beginning":
            starts = dict.fromkeys(self._topics, OFFSET_BEGINNING)
        else:
            ends = end_offsets(self._bootstrap, [(t, partition) for t in self._topics], self._timeout_s, self._client)
            starts = {t: ends[(t, partition)] for t in self._topics}
        if resume_state is not None:
            starts.update(resume_state)
        return _MergedPartition(self._bootstrap, self._topics, partition, starts, stops, self._batch_size, self._stop,
                                self._client)
