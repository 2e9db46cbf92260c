"""`arbflow record`: capture Kafka topics into a replay file (the format of
connectors.replay), so a live session can be replayed later through the same flows.

Every message is decoded and validated like any consumer would; valid records are
written under their logical topic, invalid ones as `dlq.<topic>` lines (nothing is
dropped). Partitions interleave, so lines pass through a reorder buffer: a record is
written once the newest event time seen is `reorder_ms` ahead of it, which keeps the file
in event-time order for any disorder smaller than the window (larger disorder is counted
as `out_of_order` and written where it stands).
"""

import heapq
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from confluent_kafka import OFFSET_BEGINNING, KafkaError, KafkaException, TopicPartition

from arbflow.connectors.kafka import Properties, consumer, end_offsets
from arbflow.connectors.replay import ReplayWriter
from arbflow.model import topics as topic_names
from arbflow.model.errors import ServiceUnavailable
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe, parse_record

_TIME_FIELDS = ("ts_local", "ts", "ts_exchange")


def expand_topics(patterns: Sequence[str]) -> list[str]:
    """Logical topics matching `md.*`-style patterns (a trailing `*` is a prefix match)."""
    known = list(topic_names.RECORD_TYPES)
    chosen: list[str] = []
    for pattern in patterns:
        matches = [t for t in known if t.startswith(pattern[:-1])] if pattern.endswith("*") else \
            [pattern] if pattern in known else []
        if not matches:
            raise ValueError(f"no topic matches {pattern!r}; known: {', '.join(known)}")
        chosen += [m for m in matches if m not in chosen]
    return chosen


def _event_ts(record: Any) -> int:
    for name in _TIME_FIELDS:
        value = getattr(record, name, None)
        if type(value) is int:
            return value
    return 0


def record(bootstrap: str, logical_topics: Sequence[str], out: Path, *, prefix: str, universe: Universe,
           start: Literal["beginning", "end"] = "end", idle_exit_s: float | None = None,
           max_records: int | None = None, reorder_ms: int = 2_000, stop: threading.Event | None = None,
           connect_timeout_s: float = 5.0, client: Properties = None) -> Counter[str]:
    """Record until `stop` is set, `max_records` are written, or nothing arrives for
    `idle_exit_s`. Returns counts per logical topic plus `rejected` and `out_of_order`."""
    stop = stop or threading.Event()
    reader = consumer(bootstrap, eof=False, client=client)
    counts: Counter[str] = Counter()
    physical = {prefix + t: t for t in logical_topics}
    try:
        metadata = reader.list_topics(timeout=connect_timeout_s).topics
    except KafkaException as error:
        raise ServiceUnavailable(f"Kafka at {bootstrap} did not answer within {connect_timeout_s:g} s") from error
    missing = [name for name in physical if name not in metadata]
    if missing:
        raise ServiceUnavailable(f"topics do not exist: {', '.join(missing)} (run `arbflow infra up`)")
    parts = [(name, p) for name in physical for p in sorted(metadata[name].partitions)]
    # "end": where the next record goes, not the broker's reported end (kafka.end_offsets)
    starts = dict.fromkeys(parts, OFFSET_BEGINNING) if start == "beginning" else \
        end_offsets(bootstrap, parts, connect_timeout_s, client)
    reader.assign([TopicPartition(name, p, starts[(name, p)]) for name, p in parts])
    pending: list[tuple[int, int, str, Any]] = []
    sequence = 0
    newest = 0
    last_written = 0
    last_message = time.monotonic()
    with ReplayWriter(out) as writer:

        def flush(horizon: int | None) -> None:
            nonlocal last_written
            while pending and (horizon is None or pending[0][0] <= horizon):
                ts, _, topic, item = heapq.heappop(pending)
                if ts < last_written:
                    counts["out_of_order"] += 1
                last_written = max(last_written, ts)
                writer.write(topic, item)

        while not stop.is_set():
            if max_records is not None and writer.count + len(pending) >= max_records:
                break
            batch = reader.consume(500, 0.1)
            if not batch:
                if idle_exit_s is not None and time.monotonic() - last_message >= idle_exit_s:
                    break
                continue
            last_message = time.monotonic()
            for message in batch:
                error = message.error()
                if error is not None:
                    if error.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise ServiceUnavailable(f"recording {message.topic()}: {error.str()}")
                logical = physical[message.topic()]
                item = parse_record(logical, message.value(), universe,
                                    source=f"{message.topic()}[{message.partition()}]@{message.offset()}")
                if type(item) is Rejected:
                    counts["rejected"] += 1
                    topic = topic_names.dlq_topic(logical)
                    ts = item.ts or newest
                else:
                    counts[logical] += 1
                    topic, ts = logical, _event_ts(item)
                newest = max(newest, ts)
                sequence += 1
                heapq.heappush(pending, (ts, sequence, topic, item))
            flush(newest - reorder_ms)
        flush(None)
    reader.close()
    return counts
