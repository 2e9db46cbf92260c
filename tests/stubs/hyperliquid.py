"""Hyperliquid stub: REST `POST /info` (`metaAndAssetCtxs`, `spotMeta`) and the websocket
(`/ws`: `{"method":"subscribe","subscription":{"type":"l2Book","coin":"BTC"}}`,
`{"method":"ping"}` → `{"channel":"pong"}`).

Served, all recorded (fixtures/stub/PROVENANCE.md):
- `metaAndAssetCtxs` = `[meta, ctxs]`: NautilusTrader's `http_meta_perp_sample.json`
  universe (BTC, ETH, ATOM) with the first three asset contexts of the default dex from
  its `ws_all_dexs_asset_ctxs.json` (a live allDexsAssetCtxs push; index order = universe
  order) — two recordings joined into the REST shape, values unchanged;
- `spotMeta`: NautilusTrader's `http_spot_meta_non_usdc_collateral.json` (ccxt loads
  currencies from it);
- `l2Book` and `trades` of BTC: the hftbacktest capture
  fixtures/raw/hyperliquid_btcusd_20250126.txt.xz, each frame unchanged. No rewrite.
"""

import json
from typing import Any

from tests.stubs.recorded import RAW, STUB, hftbacktest, load
from tests.stubs.server import Handler, Reply


class Hyperliquid:
    name = "hyperliquid"

    def __init__(self, *, frames_per_channel: int = 60) -> None:
        self.messages = [m for _, m in hftbacktest(RAW / "hyperliquid_btcusd_20250126.txt.xz", 10_000)]
        self.limit = frames_per_channel

    def recorded(self, kind: str, coin: str) -> list[Any]:
        def coin_of(message: Any) -> Any:
            data = message["data"]
            return data.get("coin") if isinstance(data, dict) else data[0].get("coin")

        return [m for m in self.messages if m.get("channel") == kind and coin_of(m) == coin][: self.limit]

    def routes(self) -> dict[tuple[str, str], Handler]:
        def info(request: Any, body: bytes) -> Any:
            kind = json.loads(body).get("type")
            if kind == "metaAndAssetCtxs":
                return [load(STUB / "hyperliquid/http_meta_perp_sample.json"),
                        load(STUB / "hyperliquid/ws_all_dexs_asset_ctxs.default_dex_first3.json")]
            if kind == "spotMeta":
                return load(STUB / "hyperliquid/http_spot_meta_non_usdc_collateral.json")
            from aiohttp import web

            return web.json_response({"error": f"type {kind!r} not recorded by the stub"}, status=404)

        return {("POST", "/info"): info}

    def on_text(self, path: str, text: str) -> list[Reply]:
        message = json.loads(text)
        if message.get("method") == "ping":
            return [Reply(acks=({"channel": "pong"},))]
        if message.get("method") != "subscribe":
            return []
        subscription = message["subscription"]
        ack = {"channel": "subscriptionResponse", "data": {"method": "subscribe", "subscription": subscription}}
        kind, coin = subscription.get("type"), subscription.get("coin")
        return [Reply(acks=(ack,), channel=f"{kind}:{coin}", data=tuple(self.recorded(kind, coin)))]

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {"api.public": http, "api.ws.public": f"{ws}/ws"}
