"""Where a replay's runs are written down (model/replay_run.py says what a run is): the
manifests on the `replay.runs` topic, the inputs' identity, and what an interrupted attempt
left on the topics.

Manifests live in Kafka next to the records they describe, so they share their fate: a
broker that loses its topics (the embedded one keeps everything in memory) loses the
manifests too, and the next run publishes afresh. One topic with one partition; each
manifest is a JSON object keyed by `inputs:<id>` or `flow:<id>`; the latest of a key wins.

A manifest holds, per `(topic, partition)`, the offset where the run started (`starts`,
taken with `kafka.end_offsets` before the first record was sent) and, once the phase
completed, where it ended (`ends`): the records in between are the run's.
"""

import hashlib
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from arbflow.connectors import kafka
from arbflow.model import codec
from arbflow.model.config import Config
from arbflow.model.replay_run import Seen

RUNS_TOPIC = "replay.runs"  # logical name; `kafka.topic_prefix` applies
Offsets = dict[tuple[str, int], int]


def inputs_identity(config: Config, files: Sequence[Path], *, again: bool = False) -> str:
    """The inputs' id: hex SHA-256 of the files' bytes in order, the partition count and the
    assets (they decide each line's partition). `again` adds the current time: a new run."""
    hasher = hashlib.sha256(codec.dumps({"partitions": config.kafka.partitions,
                                         "assets": list(config.universe.assets),
                                         "again": time.time_ns() if again else None}))
    for path in files:
        hasher.update(b"\0file\0")
        with open(path, "rb") as handle:
            while chunk := handle.read(1 << 20):
                hasher.update(chunk)
    return hasher.hexdigest()


def encode_offsets(offsets: Offsets) -> list[list[Any]]:
    return [[topic, partition, offset] for (topic, partition), offset in sorted(offsets.items())]


def decode_offsets(rows: Iterable[list[Any]]) -> Offsets:
    return {(str(topic), int(partition)): int(offset) for topic, partition, offset in rows}


class RunStore:
    """Read and write manifests. Every call is one bounded Kafka read or one acknowledged
    produce; errors are `ServiceUnavailable` / `DeliveryFailed` like every Kafka call."""

    def __init__(self, config: Config, bootstrap: str) -> None:
        self._bootstrap, self._client = bootstrap, dict(config.kafka.client)
        self._timeout_s, self._delivery_ms = config.kafka.connect_timeout_s, config.kafka.delivery_timeout_ms
        self.topic = kafka.topic_name(config, RUNS_TOPIC)
        kafka.ensure_topics(bootstrap, [self.topic], 1, self._timeout_s, self._client)

    def get(self, key: str) -> dict[str, Any] | None:
        """The latest manifest written under `key`, or None."""
        latest = None
        for message in kafka.read_topic(self._bootstrap, self.topic, timeout_s=self._timeout_s, client=self._client):
            if message.key == key.encode():
                latest = codec.loads(message.value)
        return latest if isinstance(latest, dict) else None

    def put(self, key: str, manifest: dict[str, Any]) -> None:
        """Write `manifest` under `key` and wait for the broker's acknowledgement."""
        with kafka.KeyedProducer(self._bootstrap, None, delivery_timeout_ms=self._delivery_ms,
                                 client=self._client) as producer:
            producer.produce(self.topic, key, codec.dumps(manifest))

    def positions(self, names: Iterable[str], partitions: dict[str, int]) -> Offsets:
        """Where the next record of every partition of `names` will go (`kafka.end_offsets`)."""
        parts = [(name, p) for name in names for p in range(partitions.get(name, 0))]
        return kafka.end_offsets(self._bootstrap, parts, self._timeout_s, self._client)

    def seen_since(self, starts: Offsets) -> tuple[Seen, Offsets]:
        """Every record written after `starts` (a `Seen` multiset) and the current ends."""
        ends = kafka.end_offsets(self._bootstrap, list(starts), self._timeout_s, self._client)
        seen = Seen()
        by_topic: dict[str, dict[int, tuple[int, int]]] = {}
        for (topic, partition), start in starts.items():
            if ends[(topic, partition)] > start:
                by_topic.setdefault(topic, {})[partition] = (start, ends[(topic, partition)] - 1)
        for topic, ranges in by_topic.items():
            for message in kafka.read_topic(self._bootstrap, topic, ranges=ranges, timeout_s=self._timeout_s,
                                            client=self._client):
                seen.add(topic, message.value)
        return seen, ends


def spans(starts: Offsets, ends: Offsets) -> dict[tuple[str, int], tuple[int, int]]:
    """Inclusive `(first, last)` offsets of each partition that holds records between
    `starts` and `ends` (the run's records)."""
    return {key: (start, ends[key] - 1) for key, start in starts.items() if ends.get(key, start) > start}
