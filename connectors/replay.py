"""Replay files: JSON Lines, optionally gzip-compressed (`.gz`), one record per line.

Each line is a JSON object with the logical `topic` first and then the record's fields
exactly as `model.codec` writes them, e.g.

    {"topic":"md.ticker","venue":"binance","symbol":"BTC/USDT","market":"spot",
     "bid":"61837.63","ask":"61837.64","bid_qty":"3.78826","ask_qty":"1.54698",...,
     "ts_local":1723161254087,"schema_version":1}

Reading only splits a line into topic, Kafka key (the base asset of `symbol`, or
`asset`) and the record bytes; the full decode and validation happen in the dataflow
that consumes the topic, so a replay exercises the same checks as live input. A line
that is not a JSON object with a string `topic` becomes a `Rejected` for `dlq.replay`.

Ordering: several files are merged by event time — `ts_local` (the recorder's clock,
shared by all streams it saw), else `ts`, else `ts_exchange` — each file being in that
order already (checked: lines that go back in time are counted, and published where
they stand).

Publishing (`publish_files`) sends the merged lines to their topics, keyed and partitioned
like every arbflow producer, as fast as possible or paced at × `speed` of the recorded
pace; a rejected line goes to `dlq.replay`. It returns when Kafka has acknowledged every
message (or raises `DeliveryFailed`). As a live source for a running flow (`ordered`), it
waits for the acknowledgement of every record before it writes a record of another topic,
so the broker holds the lines in event-time order across topics at every moment and a
tailing reader merges them back in that order (`connectors.kafka_merge`); a ticker-only
file pays nothing for it, one that alternates topics on every line pays a round trip each.
"""

import gzip
import heapq
import io
import lzma
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import zstandard

from arbflow.connectors import kafka
from arbflow.connectors.captures.row_policy import BadRow
from arbflow.connectors.compressed import Damage, lines, open_binary
from arbflow.model import codec, reasons, topics
from arbflow.model.config import Config
from arbflow.model.rejected import Rejected
from arbflow.model.replay_run import Seen
from arbflow.model.symbols import base_asset
from arbflow.model.validation import Universe, parse_record

_TIME_FIELDS = ("ts_local", "ts", "ts_exchange")
Progress = Callable[[int, int], None]  # (records published so far, event-time ms of the latest)


@dataclass(frozen=True, slots=True)
class ReplayLine:
    """One publishable line: logical topic, key, record bytes, event time, origin."""

    topic: str
    key: str | None
    value: bytes
    ts: int
    source: str


@dataclass(slots=True)
class FileStats:
    """Per-file reading counts; `out_of_order` lines went back in event time; `damage` where a
    compressed file broke before its end (every line before it was read)."""

    lines: int = 0
    rejected: int = 0
    out_of_order: int = 0
    damage: Damage | None = None


def open_text(path: Path) -> IO[bytes]:
    """Open a replay file for binary reading, transparently decompressing `.gz`, `.xz`, `.zst`."""
    return open_binary(path)


def count_lines(path: Path) -> int:
    """Lines in a replay file (for progress totals), up to a break in a damaged compressed file."""
    count, last = 0, b"\n"
    try:
        with open_text(path) as handle:
            while chunk := handle.read(1 << 20):
                count += chunk.count(b"\n")
                last = chunk[-1:]
    except (EOFError, OSError, zlib.error, lzma.LZMAError, zstandard.ZstdError):
        return count  # damaged: the reader stops at the break and says where
    return count + (last != b"\n")


def _key(obj: dict[str, Any]) -> str | None:
    symbol = obj.get("symbol")
    if type(symbol) is str and "/" in symbol:
        return base_asset(symbol)
    asset = obj.get("asset")
    return asset if type(asset) is str else None


def read_file(path: Path, stats: FileStats | None = None) -> Iterator[ReplayLine | tuple[Rejected, int]]:
    """Lines of one replay file in file order; rejects come with the event time of the
    line before them so they keep their place in a merge."""
    stats = stats if stats is not None else FileStats()
    last_ts = 0
    damage: list[Damage] = []
    for number, raw in enumerate(lines(path, damage), start=1):
        raw = raw.rstrip(b"\r\n")
        if not raw.strip():
            continue
        stats.lines += 1
        source = f"{path.name}:{number}"
        try:
            obj = codec.loads(raw)
        except codec.DecodeError as error:
            stats.rejected += 1
            yield codec.reject(error.reason, error.detail, source=source, raw=raw), last_ts
            continue
        topic = obj.get("topic") if type(obj) is dict else None
        if type(topic) is not str:
            stats.rejected += 1
            yield codec.reject(reasons.MISSING_FIELD, "topic: a replay line needs a string topic",
                               source=source, raw=raw), last_ts
            continue
        del obj["topic"]
        ts = next((v for name in _TIME_FIELDS if type(v := obj.get(name)) is int), last_ts)
        if ts < last_ts:
            stats.out_of_order += 1
        last_ts = max(last_ts, ts)
        yield ReplayLine(topic=topic, key=_key(obj), value=codec.dumps(obj), ts=ts, source=source)
    if damage:
        stats.damage = damage[0]


def merge_files(paths: Iterable[Path], stats: dict[str, FileStats] | None = None
                ) -> Iterator[ReplayLine | Rejected]:
    """All lines of all files, merged by event time (stable: ties keep file order)."""
    stats = stats if stats is not None else {}
    streams = []
    for index, path in enumerate(paths):
        file_stats = stats.setdefault(str(path), FileStats())
        streams.append((item[1] if isinstance(item, tuple) else item.ts, index, item)
                        for item in read_file(path, file_stats))
    for _, _, item in heapq.merge(*streams, key=lambda entry: (entry[0], entry[1])):
        yield item[0] if isinstance(item, tuple) else item


def locate(paths: Sequence[Path], dead: Sequence[tuple[str, Rejected]], universe: Universe) -> list[str | None]:
    """The `file:line` of each dead letter (`(record topic, Rejected)`) the flow published for a
    replay of `paths`, or None where no line matches. The flow knows only Kafka positions, so
    the files are read again — only when there are dead letters — and a line matches when its
    topic and event time are the dead letter's and its bytes are the raw text (a decode or
    validation refusal) or its record encodes to it (a refusal of the desk, LATE_RECORD or
    PRICE_IMPLAUSIBLE). Identical lines match in file order, one dead letter each."""
    found: list[str | None] = [None] * len(dead)
    waiting: dict[tuple[str, int | None], list[int]] = {}
    for index, (topic, rejected) in enumerate(dead):
        waiting.setdefault((topic, rejected.ts), []).append(index)
    for path in paths:
        for item in read_file(path):
            if isinstance(item, tuple) or not waiting:
                continue
            for key in ((item.topic, item.ts), (item.topic, None)):
                indices = waiting.get(key)
                if indices and _matches(item, dead[indices[0]][1], universe):
                    found[indices.pop(0)] = item.source
                    if not indices:
                        del waiting[key]
                    break
    return found


def _matches(line: ReplayLine, rejected: Rejected, universe: Universe) -> bool:
    if line.value.decode("utf-8", errors="replace") == rejected.raw:
        return True
    record = parse_record(line.topic, line.value, universe)
    return type(record) is not Rejected and codec.encode(record).decode() == rejected.raw


class ReplayWriter:
    """Write records to a replay file (gzip when the name ends in `.gz`)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        raw = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._handle: IO[bytes] = gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) if path.suffix == ".gz" \
            else io.BufferedWriter(raw)
        self._raw = raw
        self.count = 0

    def write(self, topic: str, record: Any) -> None:
        body = codec.encode(record)
        self._handle.write(b'{"topic":' + codec.dumps(topic) + b"," + body[1:] + b"\n")
        self.count += 1

    def close(self) -> None:
        self._handle.close()
        self._raw.close()

    def __enter__(self) -> "ReplayWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class Published:
    """What publishing did, filled while it runs: reading counts per file, lines per logical
    topic, rejects by (topic, reason), the event-time span and the seconds it took."""

    files: dict[str, FileStats] = field(default_factory=dict)
    counts: Counter[str] = field(default_factory=Counter)
    rejects: Counter[tuple[str, str]] = field(default_factory=Counter)
    first_ts: int | None = None
    last_ts: int | None = None
    seconds: float = 0.0
    skipped: int = 0  # lines an earlier attempt of the same run had published: not sent again
    ranges: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)  # what Kafka acknowledged (offsets)


def publish_files(config: Config, bootstrap: str, files: Sequence[Path], *, speed: float,
                  partitions: dict[str, int], published: Published,
                  progress: Progress | None = None, ordered: bool = False, strict: bool = False,
                  seen: Seen | None = None, dry: bool = False) -> kafka.Delivered:
    """Publish the merged lines of `files` (see the module docstring); returns what Kafka
    acknowledged, offset ranges included. `progress` runs every 2,000 lines and at the end.
    `ordered`: each change of topic waits for what was written before (module docstring).
    `strict`: each line is also decoded and validated here (`parse_record`, the flow's own
    check), and the first one refused raises `BadRow` naming its `file:line` — nothing after it
    is published. `seen`: what an interrupted attempt of this run published — a line found in
    it is counted but not sent again (`published.skipped`), and pacing starts at the first line
    sent. `dry`: read and count only, send nothing (the inputs were published by an earlier run)."""
    universe = Universe.from_config(config) if strict else None
    partitioner = kafka.Partitioner(config.universe.assets, config.kafka.partitions)
    producer = kafka.KeyedProducer(bootstrap, partitioner, delivery_timeout_ms=config.kafka.delivery_timeout_ms,
                                   partitions=partitions, client=config.kafka.client)
    prefix = config.kafka.topic_prefix
    began = started = time.monotonic()
    first_ts: int | None = None
    paced_from: int | None = None  # event time of the first line sent
    count = 0
    last_topic = ""
    for item in merge_files(files, published.files):
        if universe is not None:
            try:
                _strict_check(item, universe)
            except BadRow:
                producer.flush()  # the lines before it are published; none after
                raise
        if isinstance(item, Rejected):
            value = codec.encode(item)
            published.rejects[(topics.DLQ_REPLAY, item.reason)] += 1
            if dry or (seen is not None and seen.take(prefix + topics.DLQ_REPLAY, value)):
                published.skipped += 1
            else:
                producer.produce(prefix + topics.DLQ_REPLAY, None, value)
            continue
        line: ReplayLine = item
        if first_ts is None:
            first_ts = line.ts
        if dry or (seen is not None and seen.take(prefix + line.topic, line.value)):
            published.skipped += 1
        else:
            if paced_from is None:
                paced_from, started = line.ts, time.monotonic()
            if speed > 0:
                delay = (line.ts - paced_from) / 1000 / speed - (time.monotonic() - started)
                if delay > 0.001:
                    time.sleep(delay)
            if ordered and line.topic != last_topic:
                producer.flush()
                last_topic = line.topic
            producer.produce(prefix + line.topic, line.key, line.value, timestamp=line.ts)
        published.counts[line.topic] += 1
        published.last_ts = line.ts
        count += 1
        if progress is not None and count % 2_000 == 0:
            progress(count, line.ts)
    published.first_ts = first_ts
    if progress is not None and published.last_ts is not None:
        progress(count, published.last_ts)
    delivered = producer.flush()
    published.seconds = time.monotonic() - began
    return delivered


def _strict_check(item: ReplayLine | Rejected, universe: Universe) -> None:
    """`BadRow` for a line the reader or the flow's validation would refuse."""
    if isinstance(item, Rejected):
        raise BadRow(item)
    verdict = parse_record(item.topic, item.value, universe, source=item.source)
    if type(verdict) is Rejected:
        raise BadRow(verdict)
