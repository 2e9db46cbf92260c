"""The hftbacktest recorder format: `<local receive ns> <raw websocket JSON>` per line,
xz/gzip/plain (see shared/data/hftbacktest-binance-spot-perp-2024-08-08/PROVENANCE.md).

Binance combined-stream messages (`{"stream": "btcusdt@bookTicker", "data": {...}}`) are
routed by stream suffix. The recorder clock ran ~1.27 s behind Binance: `ts_local` is
kept as recorded (it is the replay order), `ts_exchange` as Binance sent it; the latency
operator, not the converter, deals with the offset.

Implemented here: `bookTicker` → md.ticker and `trade` → md.trade for Binance spot and
USDⓈ-M files. Depth diffs and REST snapshots are counted as skipped (book building is
part of the market-data work); COIN-M files are refused until contract sizes are applied.
"""

import gzip
import heapq
import lzma
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from connectors.replay import ReplayWriter
from connectors.venues import binance
from model import codec, reasons, topics
from model.market import Market
from model.rejected import Rejected

STREAMS = ("bookTicker", "trade")


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".xz":
        return lzma.open(path, "rb")
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return open(path, "rb")


def market_of(path: Path) -> Market:
    """spot_* files are spot, usdm_* files USDⓈ-M perps; anything else is refused."""
    name = path.name
    if name.startswith("spot_"):
        return "spot"
    if name.startswith("usdm_"):
        return "perp"
    raise ValueError(f"{name}: only spot_* and usdm_* Binance captures are supported so far")


def read_capture(path: Path, *, streams: tuple[str, ...] = STREAMS, since_ms: int = 0,
                 until_ms: int | None = None, counts: Counter[str] | None = None) -> Iterator[tuple[str, Any]]:
    """(topic, record-or-Rejected) for each wanted message with since ≤ ts_local < until.

    `counts` receives per-kind tallies: converted streams, `skipped:<stream>`, `rejected`.
    """
    market = market_of(path)
    counts = counts if counts is not None else Counter()
    with _open(path) as handle:
        for number, line in enumerate(handle, start=1):
            stamp, _, payload = line.rstrip(b"\n").partition(b" ")
            source = f"{path.name}:{number}"
            try:
                ts_local = int(stamp) // 1_000_000
                message = codec.loads(payload)
            except (ValueError, codec.DecodeError) as error:
                counts["rejected"] += 1
                yield topics.dlq_topic(topics.MD_TICKER), codec.reject(reasons.MALFORMED_JSON, str(error),
                                                                      source=source, raw=line)
                continue
            if ts_local < since_ms or (until_ms is not None and ts_local >= until_ms):
                continue
            stream = message.get("stream", "") if type(message) is dict else ""
            kind = stream.split("@")[1] if "@" in stream else "snapshot"  # btcusdt@depth@100ms → depth
            if kind not in streams:
                counts[f"skipped:{kind}"] += 1
                continue
            data = message.get("data")
            if kind == "bookTicker":
                record = binance.parse_book_ticker(data, market, ts_local, raw=payload, source=source)
                topic = topics.MD_TICKER
            else:
                record = binance.parse_trade(data, market, ts_local, raw=payload, source=source)
                topic = topics.MD_TRADE
            if isinstance(record, Rejected):
                counts["rejected"] += 1
                yield topics.dlq_topic(topic), record
            else:
                counts[kind] += 1
                yield topic, record


def _event_ts(item: tuple[str, Any]) -> int:
    record = item[1]
    return int(getattr(record, "ts_local", None) or getattr(record, "ts", None) or 0)


def convert(paths: list[Path], out: Path, *, streams: tuple[str, ...] = STREAMS, since_ms: int = 0,
            until_ms: int | None = None) -> Counter[str]:
    """Merge captures by `ts_local` into one replay file; rejects go in as dlq.* lines."""
    counts: Counter[str] = Counter()
    readers = [read_capture(p, streams=streams, since_ms=since_ms, until_ms=until_ms, counts=counts) for p in paths]
    with ReplayWriter(out) as writer:
        for topic, record in heapq.merge(*readers, key=_event_ts):
            writer.write(topic, record)
    return counts
