"""Readers of the recorded payloads the stubs serve (fixtures/stub/PROVENANCE.md)."""

import json
import lzma
from pathlib import Path
from typing import Any

from aiohttp import web

REPO = Path(__file__).resolve().parents[2]
STUB = REPO / "fixtures" / "stub"
RAW = REPO / "fixtures" / "raw"


def load(path: Path) -> Any:
    return json.loads(path.read_text())


def raw(path: Path) -> web.Response:
    """A recorded REST answer served as its file's bytes, unchanged (not re-serialised)."""
    return web.Response(body=path.read_bytes(), content_type="application/json")


def hftbacktest(path: Path, lines: int) -> list[tuple[int, Any]]:
    """`<receive ns> <websocket JSON>` lines (the hftbacktest capture format), the first `lines`."""
    out = []
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            if i >= lines:
                break
            ns, _, text = line.partition(" ")
            out.append((int(ns), json.loads(text)))
    return out


def cryptofeed_ws(path: Path) -> list[Any]:
    """The received JSON messages of a cryptofeed `<NAME>.ws.N.0` capture, in order."""
    out = []
    with lzma.open(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            head, sep, payload = line.rstrip("\n").partition(": ")
            if sep and " " not in head and payload.startswith("{"):
                out.append(json.loads(payload))
    return out
