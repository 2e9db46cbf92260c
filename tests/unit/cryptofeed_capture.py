"""Helpers shared by the cryptofeed capture tests: the fixture folder, the raw received
messages of one file (to read expected values from), conversion and validation."""

import json
import lzma
from collections import Counter
from pathlib import Path
from typing import Any

from arbflow.connectors.captures.cryptofeed import read_capture
from arbflow.model.rejected import Rejected
from arbflow.model.validation import Universe, check

RAW = Path(__file__).resolve().parents[2] / "fixtures" / "raw" / "cryptofeed"


def received(name: str) -> list[tuple[int, str, Any]]:
    """(line number, receive time as written, decoded JSON) of each received line."""
    out = []
    with lzma.open(RAW / name, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            head, sep, body = line.partition(": ")
            if sep and " " not in head and head[:1].isdigit():
                out.append((number, head, json.loads(body)))
    return out


def line(name: str, number: int) -> Any:
    """The JSON payload of line `number` (1-based) of a capture file."""
    with lzma.open(RAW / name, "rt", encoding="utf-8") as handle:
        for current, text in enumerate(handle, start=1):
            if current == number:
                return json.loads(text.split(": ", 1)[1])
    raise IndexError(number)


def convert(name: str, **kwargs: Any) -> tuple[list[tuple[str, Any]], Counter[str]]:
    counts: Counter[str] = Counter()
    return list(read_capture(RAW / name, counts=counts, **kwargs)), counts


def of(items: list[tuple[str, Any]], topic: str) -> list[Any]:
    return [record for t, record in items if t == topic]


def invalid(items: list[tuple[str, Any]], *, venues: list[str], assets: list[str], quotes: list[str]) -> list[Any]:
    """Records that break `model.validation.check` (rejects are not records)."""
    universe = Universe(venues=venues, assets=assets, quotes=quotes)
    return [(record, check(record, universe)) for _, record in items
            if not isinstance(record, Rejected) and check(record, universe) is not None]
