"""KuCoin stub: REST `/api/v2/symbols`, `/api/v1/market/orderbook/level2_100`,
`POST /api/v1/bullet-public` (the websocket negotiation), futures `/api/v1/contracts/active`,
and the public websocket (`/ws`: `{"id":"1","type":"subscribe","topic":"/market/level2:
BCHSV-USDT","response":true}`; `{"id":…,"type":"ping"}` → pong).

Served, all recorded (fixtures/stub/PROVENANCE.md) unless said otherwise:
- symbols: the cryptofeed capture's `KUCOIN.0` `/api/v1/symbols` response (2021-04-25),
  trimmed to BCHSV-USDT, BTC-USDT, DAPPT-BTC. Rewrite: served at `/api/v2/symbols`, the path
  current ccxt asks for (the v2 list has the same row fields ccxt reads);
- order book: the capture's `/api/v3/market/orderbook/level2` snapshot of the instrument
  (`KUCOIN.http.0.0`, full depth, `sequence`), unchanged. Rewrite: served at the public
  `level2_100` path ccxt uses without API keys (same response shape, more levels);
- `/market/level2`, `/market/ticker`, `/market/match` frames: fixtures/raw/cryptofeed/
  KUCOIN.ws.1.0.xz, unchanged, per topic in capture order.
Made by the stub, not recorded: the bullet-public answer (a token and this server's
websocket as the instance server — the capture redacts the token and holds no negotiation),
the subscribe ack `{"id": <request id>, "type": "ack"}` (the capture's ack shape with the
request's id), the pong, and an empty futures contract list (no KuCoin futures payload is
recorded anywhere we have: perps are not covered).
"""

import json
import lzma
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.stubs.recorded import RAW, STUB, cryptofeed_ws, load
from tests.stubs.server import Handler, Reply

FEED = RAW / "cryptofeed"


def snapshots() -> dict[str, Any]:
    """The recorded REST level-2 snapshots by symbol."""
    out = {}
    with lzma.open(FEED / "KUCOIN.http.0.0.xz", "rt", encoding="utf-8") as handle:
        for line in handle:
            head, _, body = line.rstrip("\n").partition(": ")
            if body:
                out[parse_qs(urlparse(head.partition(" -> ")[0]).query)["symbol"][0]] = json.loads(body)
    return out


class Kucoin:
    name = "kucoin"

    def __init__(self, *, frames_per_channel: int = 200) -> None:
        self.limit = frames_per_channel
        self.messages = [m for m in cryptofeed_ws(FEED / "KUCOIN.ws.1.0.xz") if m.get("type") == "message"]
        self.books = snapshots()

    def recorded(self, topic: str) -> list[Any]:
        """The data frames of one topic (`/market/level2:BCHSV-USDT`) in capture order."""
        return [m for m in self.messages if m["topic"] == topic][: self.limit]

    def routes(self) -> dict[tuple[str, str], Handler]:
        def bullet(request: Any, body: bytes) -> Any:
            return {"code": "200000", "data": {"token": "stub", "instanceServers": [
                {"endpoint": f"ws://{request.host}/ws", "encrypt": False, "protocol": "websocket",
                 "pingInterval": 18000, "pingTimeout": 10000}]}}

        return {("GET", "/api/v2/symbols"): lambda r, b: load(STUB / "kucoin/api_v1_symbols.json")["body"],
                ("GET", "/api/v1/market/orderbook/level2_100"): lambda r, b: self.books[r.query["symbol"]],
                ("POST", "/api/v1/bullet-public"): bullet,
                ("GET", "/api/v1/contracts/active"): lambda r, b: {"code": "200000", "data": []}}

    def on_text(self, path: str, text: str) -> list[Reply]:
        message = json.loads(text)
        if message.get("type") == "ping":
            return [Reply(acks=({"id": message.get("id"), "type": "pong"},))]
        if message.get("type") != "subscribe":
            return []
        channel, _, names = str(message.get("topic")).partition(":")
        ack = {"id": message.get("id"), "type": "ack"}
        topics = [f"{channel}:{name}" for name in names.split(",")]
        return [Reply(acks=(ack,))] + [Reply(channel=t, data=tuple(self.recorded(t))) for t in topics]

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {"api.public": http, "api.futuresPublic": http}
