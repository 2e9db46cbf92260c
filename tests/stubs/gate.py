"""Gate v4 stub: REST `/api/v4/spot/currency_pairs`, `/margin/currency_pairs`,
`/futures/usdt/contracts`, `/futures/usdt/order_book`, `/spot/order_book`, and the public
websockets (`/ws/v4/` spot, `/fx/v4/ws/usdt` USDT futures: `{"id":…,"time":…,"channel":
"futures.order_book_update","event":"subscribe","payload":["PHB_USDT","100ms","100"]}`).

Served, all recorded (fixtures/stub/PROVENANCE.md):
- currency pairs: the cryptofeed capture's `GATEIO.0` list (2021-04-22), trimmed to BTC,
  OMG, DIS, FAST, NANO against USDT;
- contracts: the capture's `GATEIO_FUTURES.0` list (2023-05-24), trimmed to BTC, OMG, PHB,
  QUICK USDT (`quanto_multiplier` 0.0001, 1, 1, 0.01); it is also ccxt's funding source;
- order books (REST, `with_id=true`): `GATEIO_FUTURES.http.0.0` / `GATEIO.http.0.0`, the
  one snapshot recorded per instrument, unchanged;
- `futures.order_book_update`, `futures.book_ticker`, `spot.trades` frames:
  fixtures/raw/cryptofeed/GATEIO_FUTURES.ws.1.0.xz and GATEIO.ws.1.0.xz, unchanged, per
  instrument in capture order.
Not recorded, made by the stub: the margin pair list answers `[]` (no pair has margin —
the capture holds none; ccxt reads only its leverage from it), and the subscribe ack is
the capture's ack (`{"time","channel","event":"subscribe","result":{"status":"success"}}`)
plus the request's `id`, which Gate echoes and ccxt needs (cryptofeed sent no id).
"""

import json
import lzma
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.stubs.recorded import RAW, STUB, cryptofeed_ws, load
from tests.stubs.server import Handler, Reply

FEED = RAW / "cryptofeed"


def snapshots(name: str) -> dict[str, Any]:
    """The recorded REST order books of a capture by instrument (`contract`/`currency_pair`)."""
    out = {}
    with lzma.open(FEED / f"{name}.http.0.0.xz", "rt", encoding="utf-8") as handle:
        for line in handle:
            head, _, body = line.rstrip("\n").partition(": ")
            if not body:
                continue  # the capture ends with an empty line
            query = parse_qs(urlparse(head.partition(" -> ")[0]).query)
            out[(query.get("contract") or query["currency_pair"])[0]] = json.loads(body)
    return out


def _instrument(result: Any) -> Any:
    if isinstance(result, list):
        result = result[0] if result else {}
    return result.get("s") or result.get("contract") or result.get("currency_pair")


class Gate:
    name = "gate"

    def __init__(self, *, frames_per_channel: int = 200) -> None:
        self.limit = frames_per_channel
        self.messages = [m for name in ("GATEIO", "GATEIO_FUTURES")
                         for m in cryptofeed_ws(FEED / f"{name}.ws.1.0.xz") if m.get("event") == "update"]
        self.books = {"spot": snapshots("GATEIO"), "futures": snapshots("GATEIO_FUTURES")}

    def recorded(self, channel: str, instrument: str) -> list[Any]:
        """The update frames of `channel` (e.g. `futures.book_ticker`) for one instrument."""
        return [m for m in self.messages
                if m["channel"] == channel and _instrument(m["result"]) == instrument][: self.limit]

    def routes(self) -> dict[tuple[str, str], Handler]:
        def book(kind: str, key: str) -> Handler:
            return lambda request, body: self.books[kind][request.query[key]]

        def recorded(name: str) -> Handler:
            return lambda request, body: load(STUB / f"gate/{name}.json")["body"]

        return {("GET", "/api/v4/spot/currency_pairs"): recorded("spot_currency_pairs"),
                ("GET", "/api/v4/margin/currency_pairs"): lambda r, b: [],
                ("GET", "/api/v4/futures/usdt/contracts"): recorded("futures_usdt_contracts"),
                ("GET", "/api/v4/futures/usdt/order_book"): book("futures", "contract"),
                ("GET", "/api/v4/spot/order_book"): book("spot", "currency_pair")}

    def on_text(self, path: str, text: str) -> list[Reply]:
        message = json.loads(text)
        channel, payload = message.get("channel"), message.get("payload") or []
        if message.get("event") != "subscribe":
            return []
        ack = {"time": message.get("time"), "id": message.get("id"), "channel": channel, "event": "subscribe",
               "result": {"status": "success"}}
        instruments = payload[:1] if channel.endswith("order_book_update") else payload
        return [Reply(acks=(ack,))] + [Reply(channel=f"{channel}:{name}", data=tuple(self.recorded(channel, name)))
                                       for name in instruments]

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        rest = f"{http}/api/v4"
        return {"api.public.spot": rest, "api.public.margin": rest, "api.public.futures": rest,
                "api.spot": f"{ws}/ws/v4/", "api.swap.usdt": f"{ws}/fx/v4/ws/usdt"}
