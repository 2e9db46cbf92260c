"""Binance stub: spot (`/api/v3`) and USDⓈ-M (`/fapi/v1`) REST, and the raw websocket
streams (`/ws`, one JSON payload per frame) that ccxt.pro subscribes to with
`{"method":"SUBSCRIBE","params":["btcusdt@bookTicker"],"id":1}`.

Served, all recorded (fixtures/stub/PROVENANCE.md):
- exchangeInfo (spot, USDⓈ-M; NautilusTrader fixtures, futures list trimmed to
  BTCUSDT/ETHUSDT) and premiumIndex (NautilusTrader);
- `bookTicker`, `trade` and depth diffs from the hftbacktest BTCUSDT captures
  (fixtures/raw/{spot,usdm}_btcusdt_20240808.head.txt.xz, the first `lines` lines), each
  frame the capture's `data` unchanged; `/depth` answers with the capture's REST snapshot.
- `forceOrder` (USDⓈ-M liquidations): NautilusTrader's `liquidation_stream.json`
  (fixtures/stub/binance/ws_force_order.json: one BTCUSDT SELL of 0.014 at ap 9910.12345678,
  2019-09-09 — a schema fixture with the values of Binance's documented example, not a
  market recording; no recorded forceOrder stream exists in the data we have).
No symbol or timestamp is rewritten. Depth diffs of a subscription are held back until
the stub has served that market's REST snapshot (as if the venue's stream and snapshot
were simultaneous), so ccxt sees diffs before and after its snapshot's `lastUpdateId`.
ccxt subscribes `btcusdt@depth@100ms`; the USDⓈ-M capture was recorded from
`@depth@0ms` (same payload shape) and is served as is.

URLs: ccxt treats a websocket URL containing `/stream` as spot and rewrites a linear URL
ending in `/ws` to `…/public/ws`, so the stub's spot path is `/stream/spot/ws`.
"""

import asyncio
import json
from typing import Any

from aiohttp import web

from tests.stubs.recorded import RAW, STUB, hftbacktest, load
from tests.stubs.server import Handler, Reply

CAPTURES = {"spot": RAW / "spot_btcusdt_20240808.head.txt.xz", "linear": RAW / "usdm_btcusdt_20240808.head.txt.xz"}


class Capture:
    """One hftbacktest capture split by stream: bookTicker, trade and depth payloads, and
    the first REST depth snapshot."""

    def __init__(self, lines: int) -> None:
        self.frames: dict[str, list[Any]] = {"bookTicker": [], "trade": [], "depth": []}
        self.snapshot: Any = None
        self.lines = lines

    def read(self, path: Any) -> "Capture":
        for _, message in hftbacktest(path, self.lines):
            if "lastUpdateId" in message:
                self.snapshot = self.snapshot or message
                continue
            kind = message["stream"].split("@")[1]
            self.frames[kind].append(message["data"])
        return self


class Binance:
    name = "binance"

    def __init__(self, *, lines: int = 400, frames_per_channel: int = 60) -> None:
        self.captures = {market: Capture(lines).read(path) for market, path in CAPTURES.items()}
        self.limit = frames_per_channel
        self._snapshots: dict[str, asyncio.Event] = {}  # the latest subscription's gate per market

    def routes(self) -> dict[tuple[str, str], Handler]:
        def depth(market: str) -> Handler:
            def serve(request: web.Request, body: bytes) -> Any:
                self._snapshots.setdefault(market, asyncio.Event()).set()
                return self.captures[market].snapshot
            return serve

        def premium(request: web.Request, body: bytes) -> Any:
            row = load(STUB / "binance/fapi_v1_premiumIndex.json")
            return row if request.query.get("symbol") else [row]

        return {("GET", "/api/v3/exchangeInfo"): lambda r, b: load(STUB / "binance/api_v3_exchangeInfo.json"),
                ("GET", "/fapi/v1/exchangeInfo"): lambda r, b: load(STUB / "binance/fapi_v1_exchangeInfo.json"),
                ("GET", "/api/v3/depth"): depth("spot"), ("GET", "/fapi/v1/depth"): depth("linear"),
                ("GET", "/fapi/v1/premiumIndex"): premium}

    def on_text(self, path: str, text: str) -> list[Reply]:
        message = json.loads(text)
        if message.get("method") != "SUBSCRIBE":
            return []
        market = "spot" if "/stream/" in path else "linear"
        replies = [Reply(acks=({"result": None, "id": message["id"]},))]
        for param in message["params"]:
            kind = param.split("@")[1]
            frames = self.captures[market].frames.get(kind, [])
            if kind == "forceOrder" and market == "linear":
                frames = [load(STUB / "binance/ws_force_order.json")]
            gate = None
            if kind == "depth":
                served = self._snapshots[market] = asyncio.Event()
                gate = served.wait
            replies.append(Reply(channel=f"{market}:{kind}", data=tuple(frames[: self.limit]), gate=gate))
        return replies

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {"api.public": f"{http}/api/v3", "api.fapiPublic": f"{http}/fapi/v1",
                "api.ws.spot": f"{ws}/stream/spot/ws", "api.ws.linear": f"{ws}/linear/ws"}
