"""The hftbacktest recorder format: `<local receive ns> <raw websocket JSON>` per line,
xz/gzip/plain (see fixtures/PROVENANCE.md and the data set's PROVENANCE.md).

Binance combined-stream messages (`{"stream": "btcusdt@bookTicker", "data": {...}}`) are
routed by stream: `bookTicker` → md.ticker, `trade` → md.trade, `depth` diffs plus the
REST snapshot (a bare `{"lastUpdateId": …}` line) → md.book (top 20 levels, sequenced by
`connectors.venues.binance.DepthSync`). File names say the market: `spot_*` spot,
`usdm_*` USDⓈ-M linear perps, `cm_*` COIN-M inverse perps whose contract quantities are
converted to coins. The recorder clock ran ~1.27 s behind Binance: `ts_local` is kept
as recorded (it is the replay order), `ts_exchange` as Binance sent it.
"""

import heapq
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from arbflow.connectors import compressed
from arbflow.connectors.compressed import Damage, DamagedFile
from arbflow.connectors.replay import ReplayWriter
from arbflow.connectors.venues import binance, hyperliquid
from arbflow.model import codec, reasons, topics
from arbflow.model.market import Market
from arbflow.model.rejected import Rejected
from arbflow.model.symbols import from_venue

STREAMS = ("bookTicker", "trade", "depth")


@dataclass(frozen=True, slots=True)
class CaptureFile:
    """What a capture's file name says: market, futures sequencing, venue symbol."""

    market: Market
    futures: bool
    venue_symbol: str
    coin_margined: bool
    venue: str = binance.VENUE


def describe(path: Path) -> CaptureFile:
    """`spot_btcusdt_…` → spot BTCUSDT; `usdm_ethusdt_…` → linear perp; `cm_btcusd_perp_…`
    → COIN-M BTCUSD_PERP. Anything else is refused with ValueError."""
    parts = path.name.split("_")
    if parts[0] == "spot" and len(parts) >= 2:
        return CaptureFile(market="spot", futures=False, venue_symbol=parts[1].upper(), coin_margined=False)
    if parts[0] == "usdm" and len(parts) >= 2:
        return CaptureFile(market="perp", futures=True, venue_symbol=parts[1].upper(), coin_margined=False)
    if parts[0] == "cm" and len(parts) >= 3 and parts[2] == "perp":
        return CaptureFile(market="perp", futures=True, venue_symbol=f"{parts[1].upper()}_PERP", coin_margined=True)
    if parts[0] == "hyperliquid" and len(parts) >= 2:
        coin = parts[1].upper().removesuffix("USD")
        return CaptureFile(market="perp", futures=False, venue_symbol=coin, coin_margined=False,
                           venue=hyperliquid.VENUE)
    raise ValueError(f"{path.name}: expected a spot_*, usdm_*, cm_*_perp_* (Binance) or hyperliquid_* capture")


def read_capture(path: Path, *, streams: tuple[str, ...] = STREAMS, since_ms: int = 0,
                 until_ms: int | None = None, counts: Counter[str] | None = None,
                 depth: int = 20, sync: binance.DepthSync | None = None,
                 lines: Iterable[bytes] | None = None,
                 damage: list[Damage] | None = None) -> Iterator[tuple[str, Any]]:
    """(topic, record-or-Rejected) for each wanted message with since ≤ ts_local < until.

    `counts` receives tallies per converted stream, `skipped:<stream>`, `rejected`, and
    for books `book:gaps`, `book:crossed`, `book:unsynced` (diffs before a snapshot or
    after a gap that no later snapshot repaired). Consecutive files of one stream (a
    day boundary) pass the same `sync` so the book carries over. `lines`, when given, are
    the file's lines already read (its name still says what they are). A .xz/.gz file that
    breaks before its end gives every line before the break, then its `Damage` goes to
    `damage` (`DamagedFile` is raised instead when `damage` is None).
    """
    file = describe(path)
    counts = counts if counts is not None else Counter()
    scale = binance.coin_m_scale(file.venue_symbol) if file.coin_margined else None
    if sync is None:
        sync = new_sync(path, depth)
    with nullcontext(compressed.lines(path, damage) if lines is None else lines) as handle:
        for number, line in enumerate(handle, start=1):
            stamp, _, payload = line.rstrip(b"\n").partition(b" ")
            source = f"{path.name}:{number}"
            try:
                ts_local = int(stamp) // 1_000_000
                if not 0 <= ts_local < 2**63:  # a record must stay writable (64-bit integers)
                    raise ValueError(f"receive time {stamp[:40]!r} is out of range")
                message = codec.loads(payload)
            except (ValueError, codec.DecodeError) as error:
                counts["rejected"] += 1
                yield topics.DLQ_REPLAY, codec.reject(reasons.MALFORMED_JSON, str(error), source=source, raw=line)
                continue
            if ts_local < since_ms or (until_ms is not None and ts_local >= until_ms):
                continue
            if file.venue == hyperliquid.VENUE:
                yield from _hyperliquid(message, ts_local, payload, source, counts, streams, depth)
                continue
            if type(message) is dict and "lastUpdateId" in message:
                kind, data = "snapshot", message
            else:
                stream = message.get("stream") if type(message) is dict else ""
                stream = stream if type(stream) is str else ""
                kind = stream.split("@")[1] if "@" in stream else "unknown"  # btcusdt@depth@100ms → depth
                data = message.get("data") if type(message) is dict else None
            if kind not in streams and not (kind == "snapshot" and "depth" in streams):
                counts[f"skipped:{kind}"] += 1
                continue
            yield from _convert(kind, data, file, sync, ts_local, payload, source, counts, scale)


def new_sync(path: Path, depth: int = 20) -> binance.DepthSync:
    """A book sequencer for the stream of this capture file (unused for Hyperliquid,
    whose books are full snapshots)."""
    file = describe(path)
    symbol = from_venue(file.venue, file.venue_symbol, file.market).instrument.symbol
    scale = binance.coin_m_scale(file.venue_symbol) if file.coin_margined else None
    return binance.DepthSync(symbol=symbol, market=file.market, futures=file.futures, depth=depth, qty_scale=scale)


def _stream(paths: list[Path], counts: Counter[str], depth: int, damage: list[Damage],
            **window: Any) -> Iterator[tuple[str, Any]]:
    """One stream over several files in name (date) order, sharing one book sequencer."""
    sync = new_sync(paths[0], depth)
    for path in sorted(paths, key=lambda p: p.name):
        yield from read_capture(path, counts=counts, depth=depth, sync=sync, damage=damage, **window)
    counts["book:gaps"] += sync.gaps
    counts["book:crossed"] += sync.crossed
    counts["book:unsynced"] += sync.dropped + sync.pending


def _convert(kind: str, data: Any, file: CaptureFile, sync: binance.DepthSync, ts_local: int, payload: bytes,
             source: str, counts: Counter[str], scale: Any) -> Iterator[tuple[str, Any]]:
    if kind in ("bookTicker", "trade"):
        parse = binance.parse_book_ticker if kind == "bookTicker" else binance.parse_trade
        topic = topics.MD_TICKER if kind == "bookTicker" else topics.MD_TRADE
        record = parse(data, file.market, ts_local, raw=payload, source=source, qty_scale=scale)
        if isinstance(record, Rejected):
            counts["rejected"] += 1
            yield topics.dlq_topic(topic), record
        else:
            counts[kind] += 1
            yield topic, record
        return
    try:
        if type(data) is not dict:
            raise binance.PayloadError(reasons.WRONG_TYPE, f"{kind}: expected an object")
        books = sync.on_snapshot(data, ts_local) if kind == "snapshot" else sync.on_diff(data, ts_local)
    except binance.PayloadError as error:
        counts["rejected"] += 1
        yield topics.dlq_topic(topics.MD_BOOK), codec.reject(error.reason, error.detail, source=source, raw=payload,
                                                             ts=ts_local)
        return
    counts[kind] += 1
    counts["book"] += len(books)
    for book in books:
        yield topics.MD_BOOK, book


def _hyperliquid(message: Any, ts_local: int, payload: bytes, source: str, counts: Counter[str],
                 streams: tuple[str, ...], depth: int) -> Iterator[tuple[str, Any]]:
    """l2Book → md.book (+ md.ticker from its top level); trades → md.trade."""
    channel = message.get("channel") if type(message) is dict else None
    channel = channel if type(channel) is str else None
    kind = {"l2Book": "depth", "trades": "trade"}.get(channel or "", str(channel))
    if kind not in streams and not (kind == "depth" and "bookTicker" in streams):
        counts[f"skipped:{channel}"] += 1
        return
    try:
        if kind == "depth":
            book = hyperliquid.parse_l2_book(message.get("data"), ts_local, depth)
            counts["l2Book"] += 1
            if "depth" in streams:
                counts["book"] += 1
                yield topics.MD_BOOK, book
            ticker = hyperliquid.ticker_from_book(book)
            if ticker is not None and "bookTicker" in streams:
                counts["bookTicker"] += 1
                yield topics.MD_TICKER, ticker
        else:
            for trade in hyperliquid.parse_trades(message.get("data"), ts_local):
                counts["trade"] += 1
                yield topics.MD_TRADE, trade
    except hyperliquid.PayloadError as error:
        counts["rejected"] += 1
        topic = topics.MD_BOOK if kind == "depth" else topics.MD_TRADE
        yield topics.dlq_topic(topic), codec.reject(error.reason, error.detail, source=source, raw=payload, ts=ts_local)


def _event_ts(item: tuple[str, Any]) -> int:
    record = item[1]
    return int(getattr(record, "ts_local", None) or getattr(record, "ts", None) or 0)


def convert(paths: list[Path], out: Path, *, streams: tuple[str, ...] = STREAMS, since_ms: int = 0,
            until_ms: int | None = None, depth: int = 20, damage: list[Damage] | None = None) -> Counter[str]:
    """Merge captures by `ts_local` into one replay file; rejects go in as dlq.* lines. A file
    that breaks before its end contributes every line before the break; its `Damage` goes to
    `damage`, or — with `damage` None — `DamagedFile` is raised once the file is written."""
    counts: Counter[str] = Counter()
    found: list[Damage] = [] if damage is None else damage
    groups: dict[CaptureFile, list[Path]] = {}
    for path in paths:
        groups.setdefault(describe(path), []).append(path)
    readers = [_stream(group, counts, depth, found, streams=streams, since_ms=since_ms, until_ms=until_ms)
               for group in groups.values()]
    with ReplayWriter(out) as writer:
        for topic, record in heapq.merge(*readers, key=_event_ts):
            writer.write(topic, record)
    if damage is None and found:
        raise DamagedFile(found)
    return counts
