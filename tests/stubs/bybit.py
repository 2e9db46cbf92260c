"""Bybit v5 stub: REST `/v5/market/instruments-info` and `/v5/market/tickers`, and the
public websockets (`/v5/public/linear`, `/v5/public/spot`: `{"op":"subscribe",
"args":["tickers.BTCUSDT",…],"req_id":…}`, `{"op":"ping"}` → pong).

Served, all recorded (fixtures/stub/PROVENANCE.md):
- instruments (linear, spot: BTCUSDT, ETHUSDT) — NautilusTrader fixtures; the stub adds
  `result.category` (the requested category), which every v5 response carries and the
  hand-trimmed fixture lacks (ccxt reads linear/inverse from it); pre-launch lists are empty;
Tickers and trades are linear recordings and are served on the linear socket only; the
spot socket gets the book.
- `tickers.BTCUSDT`: NautilusTrader's `ws_ticker_linear.json` snapshot, unchanged; REST
  tickers answers with its `data` row in the v5 envelope (`{"retCode":0,…,"result":
  {"category":"linear","list":[row]}}`) — push and REST share the row format;
- `publicTrade.BTCUSDT`: NautilusTrader's `ws_public_trade.json`. Rewrite: its topic reads
  `trade.linear.BTCUSDT`, which is not a v5 topic; it is served as `publicTrade.BTCUSDT`;
- `orderbook.50.BTCUSDT`: the genuine Bybit archive `2024-12-01_XRPUSDT_ob500.data`
  (snapshot + deltas, NautilusTrader test data). Rewrite: the instrument — `topic` becomes
  `orderbook.50.BTCUSDT` and `data.s` BTCUSDT; prices, sizes, `u`, `seq`, `ts` unchanged
  (so the "BTC" book trades near 1.95 USDT).
- `/v5/market/open-interest`: ccxt's recorded `fetchOpenInterest` answer ("linear OI",
  BTCUSDT, openInterest 62129.45500000 at 1739725200000), served as the file's bytes
  (fixtures/stub/bybit/v5_market_open_interest.json) whatever the query.
"""

import copy
import json
from typing import Any

from tests.stubs.recorded import STUB, load, raw
from tests.stubs.server import Handler, Reply


def _ob500() -> list[Any]:
    lines = (STUB / "bybit/2024-12-01_XRPUSDT_ob500.data").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


class Bybit:
    name = "bybit"

    def __init__(self, *, frames_per_channel: int = 60) -> None:
        self.limit = frames_per_channel
        self.book = _ob500()

    def recorded(self, topic: str, category: str = "linear") -> list[Any]:
        channel, _, symbol = topic.rpartition(".")
        if category == "linear" and channel == "tickers" and symbol == "BTCUSDT":
            return [load(STUB / "bybit/ws_ticker_linear.json")]
        if category == "linear" and channel == "publicTrade" and symbol == "BTCUSDT":
            return [dict(load(STUB / "bybit/ws_public_trade.json"), topic=topic)]
        if channel.startswith("orderbook.") and symbol == "BTCUSDT":
            frames = []
            for message in self.book[: self.limit]:
                frame = copy.deepcopy(message)
                frame["topic"] = topic
                frame["data"]["s"] = symbol
                frames.append(frame)
            return frames
        return []

    def routes(self) -> dict[tuple[str, str], Handler]:
        def instruments(request: Any, body: bytes) -> Any:
            category = request.query["category"]
            document = load(STUB / f"bybit/http_get_instruments_{category}.json")
            document["result"]["category"] = category  # every v5 response names it; the fixture omits it
            if request.query.get("status") == "PreLaunch":
                document["result"]["list"] = []
            return document

        def tickers(request: Any, body: bytes) -> Any:
            pushed = load(STUB / "bybit/ws_ticker_linear.json")
            return {"retCode": 0, "retMsg": "OK", "result": {"category": "linear", "list": [pushed["data"]]},
                    "retExtInfo": {}, "time": pushed["ts"]}

        return {("GET", "/v5/market/instruments-info"): instruments, ("GET", "/v5/market/tickers"): tickers,
                ("GET", "/v5/market/open-interest"): lambda r, b: raw(STUB / "bybit/v5_market_open_interest.json")}

    def on_text(self, path: str, text: str) -> list[Reply]:
        message = json.loads(text)
        if message.get("op") == "ping":
            return [Reply(acks=({"success": True, "ret_msg": "pong", "conn_id": "stub", "op": "ping"},))]
        if message.get("op") != "subscribe":
            return []
        ack = {"success": True, "ret_msg": "", "conn_id": "stub", "req_id": message.get("req_id"), "op": "subscribe"}
        category = path.rstrip("/").rsplit("/", 1)[-1]  # /v5/public/linear or /v5/public/spot
        return [Reply(acks=(ack,))] + [Reply(channel=f"{category}:{topic}", data=tuple(self.recorded(topic, category)))
                                       for topic in message["args"]]

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {"api.public": http, "api.spot": http, "api.futures": http, "api.v2": http,
                "api.ws.public.linear": f"{ws}/v5/public/linear", "api.ws.public.spot": f"{ws}/v5/public/spot"}
