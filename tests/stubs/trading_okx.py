"""OKX v5 trading stub: the private order REST API as ccxt's `okx` class calls it, next to the
public market-data stub (tests/stubs/okx.py: instruments, funding, websocket), answering with
recorded payloads (fixtures/stub/okx/trading/, see fixtures/stub/PROVENANCE.md) in which only
ids, quantities, prices, states and times change per request — as the venue would.

Served: POST `/api/v5/trade/order`, `/trade/batch-orders`, `/trade/cancel-order`; GET
`/trade/order` (by `clOrdId` or `ordId`), `/trade/orders-pending` (by `instType` or
`instId`), `/trade/fills-history` (by `instId`/`ordId`). Sizes are contracts (`sz`, `fillSz`;
BTC-USDT-SWAP: 0.01 BTC each, the recorded instruments). OKX's client-id rule is enforced:
`clOrdId` must be 1–32 alphanumerics, else sCode 51000; a `clOrdId` the stub holds is refused
with 51016 "Duplicated clOrdId" — so a double placement shows as an error too.

Matching is a rule, not a book (as tests/stubs/trading.py): a limit rests (state `live`)
until the test calls `fill(...)`; an `ioc` fills `ioc_fills[clOrdId]` (contract quantities;
default all of it, one trade) at its price and cancels the rest. Fees: 0.05 % taker, 0.02 %
maker of `fillPx × fillSz × ctVal`, sent negative (OKX: a negative fee is charged).

Every private request must carry `OK-ACCESS-KEY` = the stub's key, the passphrase and a
signature, else OKX's 50113 "Invalid Sign". `faults` (consumed by create requests): "429"
(HTTP 429, code 50011, nothing created), "margin" (51008, nothing created).
"""

import copy
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.stubs.okx import Okx
from tests.stubs.recorded import STUB, load
from tests.stubs.server import Handler

T0 = 1_723_161_300_000
API_KEY = "stub-okx-key-5Rt8"
SECRET = "stub-okx-secret-do-not-log-2Wq7"
PASSPHRASE = "stub-okx-pass-3Jd"
TAKER, MAKER = Decimal("0.0005"), Decimal("0.0002")
CONTRACT = {"BTC-USDT-SWAP": Decimal("0.01"), "ETH-USDT-SWAP": Decimal("0.1")}  # ctVal of the recorded instruments
CLIENT_ID = re.compile(r"[A-Za-z0-9]{1,32}")
TRADING = STUB / "okx/trading"


@dataclass(slots=True)
class OkxOrder:
    ord_id: str
    client_id: str
    inst_id: str
    side: str
    ord_type: str
    px: Decimal
    sz: Decimal  # contracts
    time: int
    state: str = "live"
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def filled(self) -> Decimal:
        return sum((Decimal(f["fillSz"]) for f in self.fills), Decimal(0))


def _error(code: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=json.dumps(load(TRADING / "errors.json")[code]),
                        content_type="application/json")


def _ok(rows: list[Any]) -> dict[str, Any]:
    return {"code": "0", "msg": "", "data": rows}


class OkxTrading(Okx):
    name = "okx"

    def __init__(self) -> None:
        super().__init__(frames_per_channel=0)
        self.orders: dict[str, OkxOrder] = {}  # by clOrdId
        self.faults: list[str] = []
        self.ioc_fills: dict[str, list[Decimal]] = {}
        self.creates: Counter[str] = Counter()  # create requests per clOrdId (refused ones too)
        self.created: Counter[str] = Counter()  # orders actually created per clOrdId
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, params or body item)
        self._next_id = 2_497_956_918_703_120_384
        self._next_trade = 1_518_905_529
        self._clock = T0

    # -- the venue's rules -------------------------------------------------------------------

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _fill(self, order: OkxOrder, sz: Decimal, maker: bool) -> None:
        row = copy.deepcopy(load(TRADING / "trade_fills_history.json"))
        self._next_trade += 1
        fee = order.px * sz * CONTRACT[order.inst_id] * (MAKER if maker else TAKER)
        row.update(instType="SWAP" if order.inst_id.endswith("-SWAP") else "SPOT", instId=order.inst_id,
                   tradeId=str(self._next_trade), ordId=order.ord_id, clOrdId=order.client_id,
                   billId=str(self._next_trade + 7_000_000), fillPx=str(order.px), fillSz=str(sz), side=order.side,
                   execType="M" if maker else "T", feeCcy="USDT", fee=str(-fee.normalize()), ts=str(self._tick()))
        order.fills.append(row)

    def create(self, item: dict[str, Any]) -> OkxOrder:
        self._next_id += 1
        order = OkxOrder(ord_id=str(self._next_id), client_id=item["clOrdId"], inst_id=item["instId"],
                         side=item["side"], ord_type=item["ordType"], px=Decimal(item["px"]), sz=Decimal(item["sz"]),
                         time=self._tick())
        self.orders[order.client_id] = order
        self.created[order.client_id] += 1
        if order.ord_type == "ioc":
            for sz in self.ioc_fills.get(order.client_id, [order.sz]):
                self._fill(order, sz, maker=False)
            order.state = "filled" if order.filled == order.sz else "canceled"
        return order

    def fill(self, client_id: str, sz: Decimal) -> None:
        """A resting order trades `sz` contracts as maker (a test moves the market)."""
        order = self.orders[client_id]
        self._fill(order, sz, maker=True)
        order.state = "filled" if order.filled == order.sz else "partially_filled"

    def seed(self, *, client_id: str, inst_id: str, side: str, px: str, sz: str) -> OkxOrder:
        """An order placed on the venue before the test (by an earlier run)."""
        return self.create({"clOrdId": client_id, "instId": inst_id, "side": side, "ordType": "limit", "px": px,
                            "sz": sz})

    def render(self, order: OkxOrder) -> dict[str, Any]:
        row = copy.deepcopy(load(TRADING / "trade_orders_pending.json")["data"][0])
        filled = order.filled
        last = order.fills[-1] if order.fills else None
        avg = (sum((Decimal(f["fillPx"]) * Decimal(f["fillSz"]) for f in order.fills), Decimal(0)) / filled
               if filled else Decimal(0))
        fee = sum((Decimal(f["fee"]) for f in order.fills), Decimal(0))
        row.update(ordId=order.ord_id, clOrdId=order.client_id, instId=order.inst_id,
                   instType="SWAP" if order.inst_id.endswith("-SWAP") else "SPOT", side=order.side,
                   ordType=order.ord_type, px=str(order.px), sz=str(order.sz), state=order.state,
                   accFillSz=str(filled), avgPx=str(avg.normalize()) if filled else "0",
                   fillPx=last["fillPx"] if last else "0", fillSz=last["fillSz"] if last else "0",
                   tradeId=last["tradeId"] if last else "0", fillTime=last["ts"] if last else "0",
                   fee=str(fee), cTime=str(order.time), uTime=str(self._clock),
                   posSide="net", tdMode="cross")
        return row

    def _ack(self, order: OkxOrder) -> dict[str, Any]:
        row = copy.deepcopy(load(TRADING / "trade_order.json"))
        row.update(ordId=order.ord_id, clOrdId=order.client_id)
        return row

    # -- HTTP ----------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        headers = request.headers
        return (headers.get("OK-ACCESS-KEY") == API_KEY and headers.get("OK-ACCESS-PASSPHRASE") == PASSPHRASE
                and bool(headers.get("OK-ACCESS-SIGN")) and bool(headers.get("OK-ACCESS-TIMESTAMP")))

    def _place(self, items: list[dict[str, Any]]) -> Any:
        for item in items:
            self.creates[str(item.get("clOrdId"))] += 1
            self.requests.append(("POST", "/api/v5/trade/order", {k: str(v) for k, v in item.items()}))
        fault = self.faults.pop(0) if self.faults else None
        if fault == "429":
            return web.Response(status=429, body=json.dumps({"code": "50011", "msg": "Too Many Requests",
                                                             "data": []}), content_type="application/json")
        if fault == "margin":
            return _error("51008")
        rows: list[Any] = []
        for item in items:
            client_id = str(item.get("clOrdId", ""))
            code = "51000" if not CLIENT_ID.fullmatch(client_id) else "51016" if client_id in self.orders else None
            if code is not None:
                failed = copy.deepcopy(load(TRADING / "errors.json")[code]["data"][0])
                rows.append({**failed, "clOrdId": client_id})
            else:
                rows.append(self._ack(self.create(item)))
        if all(r["sCode"] != "0" for r in rows):
            return {"code": "1", "msg": "All operations failed", "data": rows}
        return {"code": "0" if all(r["sCode"] == "0" for r in rows) else "2", "msg": "", "data": rows}

    def _find(self, params: dict[str, Any]) -> OkxOrder | None:
        if params.get("clOrdId"):
            return self.orders.get(str(params["clOrdId"]))
        return next((o for o in self.orders.values() if o.ord_id == str(params.get("ordId"))), None)

    def routes(self) -> dict[tuple[str, str], Handler]:
        def private(handler: Any) -> Handler:
            def serve(request: web.Request, body: bytes) -> Any:
                if not self._authorised(request):
                    return _error("50113", 401)
                payload = json.loads(body) if body else None
                if request.method == "GET":
                    self.requests.append(("GET", request.path, dict(request.query)))
                return handler(request, payload)
            return serve

        def order(request: web.Request, payload: Any) -> Any:
            return self._place([payload])

        def batch(request: web.Request, payload: Any) -> Any:
            return self._place(list(payload))

        def cancel(request: web.Request, payload: Any) -> Any:
            self.requests.append(("POST", request.path, {k: str(v) for k, v in payload.items()}))
            found = self._find(payload)
            if found is None:
                return _error("51603")
            if found.state not in ("live", "partially_filled"):
                return _error("51401")
            found.state = "canceled"
            return _ok([{"clOrdId": found.client_id, "ordId": found.ord_id, "sCode": "0", "sMsg": ""}])

        def get_order(request: web.Request, payload: Any) -> Any:
            found = self._find(dict(request.query))
            return _error("51603") if found is None else _ok([self.render(found)])

        def pending(request: web.Request, payload: Any) -> Any:
            query = request.query
            return _ok([self.render(o) for o in self.orders.values() if o.state in ("live", "partially_filled")
                        and query.get("instId", o.inst_id) == o.inst_id
                        and (query.get("instType") in (None, "SWAP") if o.inst_id.endswith("-SWAP")
                             else query.get("instType") in (None, "SPOT"))])

        def fills(request: web.Request, payload: Any) -> Any:
            query = request.query
            return _ok([f for o in self.orders.values() for f in reversed(o.fills)
                        if query.get("instId", o.inst_id) == o.inst_id and query.get("ordId", o.ord_id) == o.ord_id])

        return {**super().routes(),
                ("POST", "/api/v5/trade/order"): private(order), ("POST", "/api/v5/trade/batch-orders"): private(batch),
                ("POST", "/api/v5/trade/cancel-order"): private(cancel),
                ("GET", "/api/v5/trade/order"): private(get_order),
                ("GET", "/api/v5/trade/orders-pending"): private(pending),
                ("GET", "/api/v5/trade/fills-history"): private(fills)}
