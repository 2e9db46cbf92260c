"""cryptofeed's raw-data recordings → replay files (see fixtures/raw/cryptofeed/PROVENANCE.md).

A recording of one feed is a set of sibling files, xz-compressed or plain:
- `<NAME>.0` — REST reference responses (instrument lists: contract sizes, funding);
- `<NAME>.http.N.0` — REST depth snapshots;
- `<NAME>.ws.N.0` — websocket connection N.
Lines are `<url> -> <ts>: <body>` (REST), `<url> <-> <ts>` (connection opened),
`<url> <- <ts>: <payload>` (sent by the client), `<ts>: <payload>` (received), plus a
final `configuration: {…}` line in `.0` files; `<ts>` is the recorder's receive time in
float seconds, which becomes `ts_local` (int ms, truncated).

This module owns the machinery: reading and classifying lines, JSON with exact decimals
(`parse_float=Decimal`: no float ever holds a price), per-recording ordering (reference
data first, then websocket and snapshot lines merged by receive time), dead letters,
counting, and merging several recordings into one replay file by `ts_local`. Everything
that differs per venue — channel names, fields, symbol forms, contract sizes, book
sequencing — lives in that venue's `Feed` in `connectors/venues/`.
"""

import heapq
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from arbflow.connectors import compressed
from arbflow.connectors.compressed import Damage, DamagedFile
from arbflow.connectors.payload import UNROUTED, Out, PayloadError
from arbflow.connectors.replay import ReplayWriter
from arbflow.connectors.venues import binance, bitget, bybit, gate, kucoin, okx
from arbflow.model import codec, reasons, topics

STREAMS = ("ticker", "trade", "book", "funding", "oi")


class Feed(Protocol):
    """A venue's stateful converter (see `connectors/venues/*.py`)."""

    counts: Counter[str]

    def reference(self, url: str, body: Any, ts_local: int) -> list[Out]: ...
    def snapshot(self, url: str, body: Any, ts_local: int) -> list[Out]: ...
    def message(self, message: Any, ts_local: int) -> list[Out]: ...
    def book_counts(self) -> Counter[str]: ...


FEEDS: dict[str, Callable[[int], Feed]] = {
    "OKX": lambda depth: okx.Feed(depth=depth),
    "BYBIT": lambda depth: bybit.Feed(depth=depth),
    "GATEIO": lambda depth: gate.Feed(futures=False, depth=depth),
    "GATEIO_FUTURES": lambda depth: gate.Feed(futures=True, depth=depth),
    "KUCOIN": lambda depth: kucoin.Feed(depth=depth),
    "BITGET": lambda depth: bitget.Feed(depth=depth),
    "BINANCE": lambda depth: binance.Feed(kind="spot", depth=depth),
    "BINANCE_FUTURES": lambda depth: binance.Feed(kind="usdm", depth=depth),
    "BINANCE_DELIVERY": lambda depth: binance.Feed(kind="coinm", depth=depth),
}
_FILE = re.compile(r"^(?P<name>[A-Z_.]+?)\.(?:(?P<kind>ws|http)\.\d+\.)?0(?:\.xz)?$")
_TS = r"(\d+(?:\.\d+)?)"
_RECEIVED = re.compile(rf"^{_TS}: (.*)$", re.S)
_SENT = re.compile(rf"^(\S+) <- {_TS}: (.*)$", re.S)
_OPENED = re.compile(rf"^(\S+) <-> {_TS}$")
_REST = re.compile(rf"^(\S+) -> {_TS}: (.*)$", re.S)


@dataclass(frozen=True, slots=True)
class Line:
    """One classified line: `kind` is received, sent, opened, rest, configuration or
    malformed; `origin` the kind of file it came from (ws, http or reference)."""

    kind: str
    origin: str
    url: str
    ts_local: int
    payload: str
    source: str


def describe(path: Path) -> tuple[str, str]:
    """(recording name, file kind `ws`/`http`/`reference`) from a file name such as
    `OKX.ws.1.0.xz`; ValueError naming the supported recordings for anything else."""
    match = _FILE.match(path.name)
    if match is None or match["name"] not in FEEDS:
        raise ValueError(f"{path.name}: not a supported cryptofeed capture; expected <NAME>.0, <NAME>.http.N.0 or "
                         f"<NAME>.ws.N.0 (optionally .xz) with NAME one of {', '.join(FEEDS)}")
    return match["name"], match["kind"] or "reference"


def siblings(path: Path) -> dict[str, list[Path]]:
    """All files of the recording `path` belongs to, by kind, in name order."""
    name, _ = describe(path)
    found: dict[str, list[Path]] = {"reference": [], "http": [], "ws": []}
    for candidate in sorted(path.parent.iterdir()):
        if candidate.name.startswith(name + "."):
            try:
                other, kind = describe(candidate)
            except ValueError:
                continue
            if other == name:
                found[kind].append(candidate)
    return found


class _TimeOutOfRange(ValueError):
    """A receive time past 64-bit milliseconds: no record could carry it."""


def _ms(seconds: str) -> int:
    if len(seconds) > 30 or (value := int(Decimal(seconds) * 1000)) >= 2**63:
        raise _TimeOutOfRange(seconds[:40])
    return value


def read_lines(path: Path, damage: list[Damage] | None = None) -> Iterator[Line]:
    """Classified lines of one file, in file order (unreadable lines come as `malformed`). A
    .xz file that breaks before its end gives every line before the break; its `Damage` goes
    to `damage` (`DamagedFile` is raised instead when `damage` is None)."""
    _, origin = describe(path)
    last = 0  # lines without a time of their own keep the previous line's, so merges stay ordered
    # errors="replace": one corrupt byte makes one bad line (a dead letter), not a failed conversion
    for number, data in enumerate(compressed.lines(path, damage), start=1):
        line = data.decode("utf-8", errors="replace").rstrip("\r\n")
        source = f"{path.name}:{number}"
        try:
            classified = _classify(line, origin, last, source)
        except _TimeOutOfRange:
            classified = Line("malformed", origin, "", last, line, source)
        if classified is not None:
            last = classified.ts_local
            yield classified


def _classify(line: str, origin: str, last: int, source: str) -> Line | None:
    if match := _RECEIVED.match(line):
        return Line("received", origin, "", _ms(match[1]), match[2], source)
    if match := _REST.match(line):
        return Line("rest", origin, match[1], _ms(match[2]), match[3], source)
    if match := _SENT.match(line):
        return Line("sent", origin, match[1], _ms(match[2]), match[3], source)
    if match := _OPENED.match(line):
        return Line("opened", origin, match[1], _ms(match[2]), "", source)
    if line.startswith("configuration: "):
        return Line("configuration", origin, "", last, line.removeprefix("configuration: "), source)
    if line.strip():
        return Line("malformed", origin, "", last, line, source)
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _loads(payload: str) -> Any:
    """JSON with exact decimals; ValueError for anything that is not (nesting too deep for
    the decoder's recursion, and lone UTF-16 surrogate escapes, included)."""
    try:
        value = json.loads(payload, parse_float=Decimal, parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if "\\ud" in payload.lower():  # a \uD800-\uDFFF escape: is it a lone surrogate?
        try:
            json.dumps(value, ensure_ascii=False, default=str).encode("utf-8")
        except UnicodeEncodeError:  # no record holding it could be written
            raise ValueError("a lone surrogate escape (not Unicode text)") from None
    return value


def read_capture(path: Path, *, streams: tuple[str, ...] = STREAMS, counts: Counter[str] | None = None,
                 depth: int = 20, damage: list[Damage] | None = None) -> Iterator[tuple[str, Any]]:
    """(topic, record-or-Rejected) for the whole recording `path` belongs to: reference
    data first, then websocket and snapshot lines merged by receive time.

    `counts` receives per-topic tallies, `rejected`, `skipped:<what>` from the venue,
    `sent`/`opened` lines, and `book:gaps`, `book:checksum`, `book:crossed`,
    `book:unsynced` (updates received while a book was dropped or not yet loaded).
    """
    name, _ = describe(path)
    unknown = sorted(set(streams) - set(STREAMS))
    if unknown:
        raise ValueError(f"unknown streams {unknown}; supported: {', '.join(STREAMS)}")
    counts = counts if counts is not None else Counter()
    feed = FEEDS[name](depth)
    files = siblings(path)
    live = heapq.merge(*(read_lines(p, damage) for p in files["ws"] + files["http"]), key=lambda line: line.ts_local)
    for line in (line for p in files["reference"] for line in read_lines(p, damage)):
        yield from _wanted(_handle(feed, line, counts), streams, counts)
    for line in live:
        yield from _wanted(_handle(feed, line, counts), streams, counts)
    counts.update(feed.counts)
    for key, value in feed.book_counts().items():
        counts[f"book:{key}"] += value


def _handle(feed: Feed, line: Line, counts: Counter[str]) -> Iterable[Out]:
    if line.kind in ("sent", "opened", "configuration"):
        counts[line.kind] += 1
        return ()
    if line.kind == "malformed":
        return [(topics.DLQ_REPLAY, codec.reject(reasons.MALFORMED_JSON, "not a cryptofeed capture line",
                                                source=line.source, raw=line.payload, ts=line.ts_local))]
    try:
        body = _loads(line.payload)
    except ValueError as error:
        return [(topics.DLQ_REPLAY, codec.reject(reasons.MALFORMED_JSON, f"not valid JSON: {error}",
                                                source=line.source, raw=line.payload, ts=line.ts_local))]
    try:
        if line.kind == "received":
            items = feed.message(body, line.ts_local)
        elif line.origin == "reference":
            items = feed.reference(line.url, body, line.ts_local)
        else:
            items = feed.snapshot(line.url, body, line.ts_local)
    except PayloadError as bad:
        items = [(bad.topic, bad)]
    except (KeyError, IndexError, TypeError, AttributeError) as error:  # a shape no venue rule expected
        items = [(UNROUTED, PayloadError(reasons.WRONG_TYPE, f"unexpected payload shape: {error!r}", UNROUTED))]
    return [(topics.dlq_topic(item.topic), codec.reject(item.reason, item.detail, source=line.source,
                                                        raw=item.raw or line.payload, ts=line.ts_local))
            if isinstance(item, PayloadError) else (topic, item) for topic, item in items]


def _wanted(items: Iterable[Out], streams: tuple[str, ...], counts: Counter[str]) -> Iterator[Out]:
    for topic, record in items:
        stream = topic.removeprefix(topics.DLQ_PREFIX).removeprefix("md.")
        if topic != topics.DLQ_REPLAY and stream not in streams:
            continue
        counts[topic] += 1
        if topic.startswith(topics.DLQ_PREFIX):
            counts["rejected"] += 1
        yield topic, record


def _event_ts(item: Out) -> int:
    record = item[1]
    return int(getattr(record, "ts_local", None) or getattr(record, "ts", None) or 0)


def convert(paths: Iterable[Path], out: Path, *, streams: tuple[str, ...] = STREAMS,
            depth: int = 20, damage: list[Damage] | None = None) -> Counter[str]:
    """Convert the recordings that `paths` belong to (any file of a recording brings its
    siblings) into one replay file merged by `ts_local`; rejects go in as `dlq.*` lines.

    `streams` picks among ticker, trade, book, funding, oi (their dead letters follow
    them; `dlq.replay`, for lines that fit no topic, is always written). Books are
    sequenced whatever is picked. Returns the counts described in `read_capture`. A file that
    breaks before its end contributes every line before the break; its `Damage` goes to
    `damage`, or — with `damage` None — `DamagedFile` is raised once the file is written."""
    counts: Counter[str] = Counter()
    found: list[Damage] = [] if damage is None else damage
    recordings: dict[str, Path] = {}
    for path in paths:
        name, _ = describe(path)
        recordings.setdefault(f"{path.parent}/{name}", path)
    readers = [read_capture(path, streams=streams, counts=counts, depth=depth, damage=found)
               for path in recordings.values()]
    with ReplayWriter(out) as writer:
        for topic, record in heapq.merge(*readers, key=_event_ts):
            writer.write(topic, record)
    if damage is None and found:
        raise DamagedFile(found)
    return counts
