"""OKX v5 stub: REST `public/instruments` and `public/funding-rate`, and the public
websocket (`/ws/v5/public`: `{"op":"subscribe","args":[{"channel":"books","instId":…}]}`,
text `ping` → `pong`).

Served, all recorded (fixtures/stub/PROVENANCE.md):
- instruments: the cryptofeed capture's first SPOT and SWAP lists (2022-05-13), trimmed to
  BTC/ETH-USDT and BTC/ETH-USDT-SWAP (`ctVal` 0.01 BTC, 0.1 ETH);
- funding-rate: NautilusTrader's `ws_funding_rate.json` push for BTC-USDT-SWAP — sent
  unchanged on a `funding-rate` subscription (unless `funding_pushes=False`: subscription
  acknowledged, nothing pushed — a silent stream), and its row inside the REST envelope
  `{"code":"0","msg":"","data":[…]}` (push and REST share the row format);
- `tickers`, `trades`, `books` (snapshot then updates, 400 levels, CRC32 checksums) of
  BTC-USDT from the cryptofeed capture fixtures/raw/cryptofeed/OKX.ws.1.0.xz, unchanged.
Rewrite: the capture has no USDT swap, so a subscription to BTC-USDT-SWAP is answered with
the BTC-USDT frames with `instId` (in `arg` and `data`) renamed BTC-USDT-SWAP — prices and
sizes unchanged, sizes then read as contracts of 0.01 BTC. Nothing else is rewritten.
"""

import copy
import json
from typing import Any

from tests.stubs.recorded import RAW, STUB, cryptofeed_ws, load
from tests.stubs.server import Handler, Reply

SOURCE = {"BTC-USDT": "BTC-USDT", "BTC-USDT-SWAP": "BTC-USDT"}  # subscribed instId → recorded instId


def _renamed(message: Any, inst_id: str) -> Any:
    out = copy.deepcopy(message)
    out["arg"]["instId"] = inst_id
    for row in out.get("data", []):
        if "instId" in row:
            row["instId"] = inst_id
    return out


class Okx:
    name = "okx"

    def __init__(self, *, frames_per_channel: int = 60, funding_pushes: bool = True) -> None:
        self.messages = [m for m in cryptofeed_ws(RAW / "cryptofeed/OKX.ws.1.0.xz") if "data" in m]
        self.limit = frames_per_channel
        self.funding_pushes = funding_pushes

    def recorded(self, channel: str, inst_id: str) -> list[Any]:
        if channel == "funding-rate":
            push = load(STUB / "okx/ws_funding_rate.json")
            return [push] if self.funding_pushes and push["arg"]["instId"] == inst_id else []
        source = SOURCE.get(inst_id)
        frames = [m for m in self.messages if m["arg"] == {"channel": channel, "instId": source}]
        return [m if source == inst_id else _renamed(m, inst_id) for m in frames[: self.limit]]

    def routes(self) -> dict[tuple[str, str], Handler]:
        def instruments(request: Any, body: bytes) -> Any:
            return load(STUB / f"okx/public_instruments_{request.query['instType']}.json")["body"]

        def funding(request: Any, body: bytes) -> Any:
            return {"code": "0", "msg": "", "data": load(STUB / "okx/ws_funding_rate.json")["data"]}

        return {("GET", "/api/v5/public/instruments"): instruments, ("GET", "/api/v5/public/funding-rate"): funding}

    def on_text(self, path: str, text: str) -> list[Reply]:
        if text == "ping":
            return [Reply(acks=("pong",))]
        message = json.loads(text)
        if message.get("op") != "subscribe":
            return []
        return [Reply(acks=({"event": "subscribe", "arg": arg, "connId": "stub"},),
                      channel=f"{arg['channel']}:{arg['instId']}", data=tuple(self.recorded(arg["channel"],
                                                                                             arg["instId"])))
                for arg in message["args"]]

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {"api.rest": http, "api.ws": f"{ws}/ws/v5"}
