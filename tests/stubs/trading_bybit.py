"""Bybit v5 trading stub: the private order REST API as ccxt's `bybit` class calls it once it
holds keys, next to the public market-data stub (tests/stubs/bybit.py: instruments, tickers,
websocket), answering with recorded payloads (fixtures/stub/bybit/trading/, see
fixtures/stub/PROVENANCE.md) in which only ids, quantities, prices, statuses and times
change per request — as the venue would.

Served: GET `/v5/user/query-api` and `/v5/account/info` (ccxt asks both before its first
order to learn whether the account is unified: the recorded key is, `uta` 1); POST
`/v5/order/create`, `/v5/order/create-batch`, `/v5/order/cancel`; GET `/v5/order/realtime`
(with `orderId` or `orderLinkId`: that order whatever its state, as the venue answers for
its last 500 orders; without: the open ones), `/v5/order/history` (ended orders),
`/v5/execution/list` (by `symbol`/`orderId`). Linear sizes are base units (BTCUSDT: BTC).
Bybit's client-id rule is enforced: `orderLinkId` must be 1–36 of letters, digits, `-` and
`_`, else retCode 10001; an `orderLinkId` the stub holds is refused with 110072
"OrderLinkedID is duplicate" — so a double placement shows as an error too.

Matching is a rule, not a book (as tests/stubs/trading.py): a GTC limit rests (`New`) until
the test calls `fill(...)`; an IOC fills `ioc_fills[orderLinkId]` (base quantities; default
all of it, one execution) at its price and the rest is `Cancelled`. Fees: 0.055 % taker,
0.02 % maker of `execValue`, in USDT.

Every private request must carry `X-BAPI-API-KEY` = the stub's key, a timestamp and an
`X-BAPI-SIGN`, else retCode 10003. `faults` (consumed by create requests): "margin"
(110007 "ab not enough for new order", nothing created).
"""

import copy
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web

from tests.stubs.bybit import Bybit
from tests.stubs.recorded import STUB, load
from tests.stubs.server import Handler

T0 = 1_723_161_300_000
API_KEY = "stub-bybit-key-4Gv9"
SECRET = "stub-bybit-secret-do-not-log-8Ln3"
TAKER, MAKER = Decimal("0.00055"), Decimal("0.0002")
CLIENT_ID = re.compile(r"[A-Za-z0-9_-]{1,36}")
TRADING = STUB / "bybit/trading"
OPEN = ("New", "PartiallyFilled")


@dataclass(slots=True)
class BybitOrder:
    order_id: str
    link_id: str
    category: str
    symbol: str
    side: str  # "Buy" / "Sell"
    order_type: str  # "Limit" / "Market"
    tif: str
    price: Decimal
    qty: Decimal  # base units
    time: int
    status: str = "New"
    cancel_type: str = "UNKNOWN"
    executions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def filled(self) -> Decimal:
        return sum((Decimal(e["execQty"]) for e in self.executions), Decimal(0))

    @property
    def value(self) -> Decimal:
        return sum((Decimal(e["execValue"]) for e in self.executions), Decimal(0))


def _docs() -> dict[str, Any]:
    document: dict[str, Any] = load(TRADING / "written_from_docs.json")
    return document


def _error(code: str) -> web.Response:
    """Bybit answers refusals with HTTP 200 and a non-zero `retCode`."""
    return web.Response(body=json.dumps(_docs()["errors"][code]), content_type="application/json")


def _plain(value: Decimal) -> str:
    return f"{value.normalize():f}"


class BybitTrading(Bybit):
    name = "bybit"

    def __init__(self) -> None:
        super().__init__(frames_per_channel=0)
        self.orders: dict[str, BybitOrder] = {}  # by orderLinkId
        self.faults: list[str] = []
        self.ioc_fills: dict[str, list[Decimal]] = {}
        self.creates: Counter[str] = Counter()  # create requests per orderLinkId (refused ones too)
        self.created: Counter[str] = Counter()  # orders actually created per orderLinkId
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, query or body item)
        self._next_id = 1_321_003_749_386_327_552
        self._next_seq = 4_688_002_127
        self._clock = T0

    # -- the venue's rules -------------------------------------------------------------------

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _execute(self, order: BybitOrder, qty: Decimal, maker: bool) -> None:
        row = copy.deepcopy(load(TRADING / "http_get_executions.json")["result"]["list"][0])
        self._next_seq += 1
        value = order.price * qty
        rate = MAKER if maker else TAKER
        leaves = order.qty - order.filled - qty
        row.update(symbol=order.symbol, orderId=order.order_id, orderLinkId=order.link_id, side=order.side,
                   orderPrice=_plain(order.price), orderQty=_plain(order.qty), leavesQty=_plain(leaves),
                   orderType=order.order_type, execFee=_plain(value * rate),
                   execId=f"e0cbe81d-0f18-5866-9415-{self._next_seq:012d}", execPrice=_plain(order.price),
                   execQty=_plain(qty), execValue=_plain(value), execTime=str(self._tick()), feeCurrency="USDT",
                   isMaker=maker, feeRate=_plain(rate), seq=self._next_seq)
        order.executions.append(row)

    def create(self, item: dict[str, Any], category: str) -> BybitOrder:
        self._next_id += 1
        order = BybitOrder(order_id=str(self._next_id), link_id=str(item["orderLinkId"]), category=category,
                           symbol=str(item["symbol"]), side=str(item["side"]), order_type=str(item["orderType"]),
                           tif=str(item.get("timeInForce", "GTC")), price=Decimal(str(item["price"])),
                           qty=Decimal(str(item["qty"])), time=self._tick())
        self.orders[order.link_id] = order
        self.created[order.link_id] += 1
        if order.tif == "IOC":
            for qty in self.ioc_fills.get(order.link_id, [order.qty]):
                self._execute(order, qty, maker=False)
            order.status = "Filled" if order.filled == order.qty else "Cancelled"
            order.cancel_type = "UNKNOWN" if order.status == "Filled" else "CancelByUser"
        return order

    def fill(self, link_id: str, qty: Decimal) -> None:
        """A resting order trades `qty` (base units) as maker (a test moves the market)."""
        order = self.orders[link_id]
        self._execute(order, qty, maker=True)
        order.status = "Filled" if order.filled == order.qty else "PartiallyFilled"

    def seed(self, *, link_id: str, symbol: str, side: str, price: str, qty: str) -> BybitOrder:
        """An order placed on the venue before the test (by an earlier run)."""
        return self.create({"orderLinkId": link_id, "symbol": symbol, "side": side, "orderType": "Limit",
                            "timeInForce": "GTC", "price": price, "qty": qty}, "linear")

    def render(self, order: BybitOrder, *, history: bool = False) -> dict[str, Any]:
        recorded = "http_get_orders_history.json" if history else "http_get_orders_realtime.json"
        row: dict[str, Any] = copy.deepcopy(load(TRADING / recorded)["result"]["list"][0])
        filled, value = order.filled, order.value
        leaves = Decimal(0) if order.status not in OPEN else order.qty - filled
        row.update(orderId=order.order_id, orderLinkId=order.link_id, symbol=order.symbol, price=_plain(order.price),
                   qty=_plain(order.qty), side=order.side, orderStatus=order.status,
                   cancelType=order.cancel_type if order.status == "Cancelled" else "UNKNOWN",
                   avgPrice=_plain(value / filled) if filled else "", leavesQty=_plain(leaves),
                   leavesValue=_plain(leaves * order.price), cumExecQty=_plain(filled), cumExecValue=_plain(value),
                   cumExecFee=_plain(sum((Decimal(e["execFee"]) for e in order.executions), Decimal(0))),
                   timeInForce=order.tif, orderType=order.order_type, stopOrderType="", isLeverage="",
                   triggerBy="", tpTriggerBy="", slTriggerBy="", lastPriceOnCreated=_plain(order.price),
                   createdTime=str(order.time), updatedTime=str(self._clock))
        return row

    def _envelope(self, result: dict[str, Any]) -> dict[str, Any]:
        return {"retCode": 0, "retMsg": "OK", "result": result, "retExtInfo": {}, "time": self._tick()}

    # -- HTTP ----------------------------------------------------------------------------------

    def _authorised(self, request: web.Request) -> bool:
        headers = request.headers
        return (headers.get("X-BAPI-API-KEY") == API_KEY and bool(headers.get("X-BAPI-SIGN"))
                and bool(headers.get("X-BAPI-TIMESTAMP")))

    def _refusal(self, item: dict[str, Any]) -> str | None:
        """The retCode refusing one create item, or None."""
        link_id = str(item.get("orderLinkId", ""))
        if not CLIENT_ID.fullmatch(link_id):
            return "10001"
        return "110072" if link_id in self.orders else None

    def _find(self, params: dict[str, Any]) -> BybitOrder | None:
        if params.get("orderLinkId"):
            return self.orders.get(str(params["orderLinkId"]))
        return next((o for o in self.orders.values() if o.order_id == str(params.get("orderId"))), None)

    def _listed(self, query: dict[str, str], *, history: bool) -> list[dict[str, Any]]:
        if query.get("orderId") or query.get("orderLinkId"):
            found = self._find(query)
            chosen = [] if found is None or (history and found.status in OPEN) else [found]
        else:
            chosen = [o for o in self.orders.values() if (o.status not in OPEN) == history]
        return [self.render(o, history=history) for o in chosen
                if query.get("symbol", o.symbol) == o.symbol and query.get("category", o.category) == o.category
                and (query.get("settleCoin") in (None, "USDT"))]

    def routes(self) -> dict[tuple[str, str], Handler]:
        def private(handler: Any) -> Handler:
            def serve(request: web.Request, body: bytes) -> Any:
                if not self._authorised(request):
                    return _error("10003")
                payload = json.loads(body) if body else {}
                if request.method == "GET":
                    self.requests.append(("GET", request.path, dict(request.query)))
                return handler(request, payload)
            return serve

        def create(request: web.Request, payload: dict[str, Any]) -> Any:
            link_id = str(payload.get("orderLinkId"))
            self.creates[link_id] += 1
            self.requests.append(("POST", request.path, {k: str(v) for k, v in payload.items()}))
            if self.faults and self.faults.pop(0) == "margin":
                return _error("110007")
            code = self._refusal(payload)
            if code is not None:
                return _error(code)
            order = self.create(payload, str(payload["category"]))
            answer = copy.deepcopy(_docs()["order_create"])
            answer["result"].update(orderId=order.order_id, orderLinkId=order.link_id)
            answer["time"] = self._tick()
            return answer

        def create_batch(request: web.Request, payload: dict[str, Any]) -> Any:
            category = str(payload["category"])
            rows, codes = [], []
            fault = self.faults.pop(0) if self.faults else None
            template = _docs()["order_create_batch"]
            for item in payload["request"]:
                link_id = str(item.get("orderLinkId"))
                self.creates[link_id] += 1
                self.requests.append(("POST", "/v5/order/create", {k: str(v) for k, v in item.items()}))
                code = "110007" if fault == "margin" else self._refusal(item)
                if code is not None:
                    error = _docs()["errors"][code]
                    rows.append({"category": "", "symbol": "", "orderId": "", "orderLinkId": "", "createAt": ""})
                    codes.append({"code": error["retCode"], "msg": error["retMsg"]})
                    continue
                order = self.create(item, category)
                rows.append({**template["result"]["list"][0], "category": category, "symbol": order.symbol,
                             "orderId": order.order_id, "orderLinkId": order.link_id, "createAt": str(order.time)})
                codes.append(template["retExtInfo"]["list"][0])
            return {**self._envelope({"list": rows}), "retExtInfo": {"list": codes}}

        def cancel(request: web.Request, payload: dict[str, Any]) -> Any:
            self.requests.append(("POST", request.path, {k: str(v) for k, v in payload.items()}))
            found = self._find(payload)
            if found is None or found.status not in OPEN:
                return _error("110001")
            found.status, found.cancel_type = "Cancelled", "CancelByUser"
            answer = copy.deepcopy(_docs()["order_cancel"])
            answer["result"].update(orderId=found.order_id, orderLinkId=found.link_id)
            answer["time"] = self._tick()
            return answer

        def realtime(request: web.Request, payload: Any) -> Any:
            query = dict(request.query)
            return self._envelope({"category": query.get("category", "linear"),
                                   "list": self._listed(query, history=False), "nextPageCursor": ""})

        def history(request: web.Request, payload: Any) -> Any:
            query = dict(request.query)
            return self._envelope({"category": query.get("category", "linear"),
                                   "list": self._listed(query, history=True), "nextPageCursor": ""})

        def executions(request: web.Request, payload: Any) -> Any:
            query = request.query
            rows = [e for o in self.orders.values() for e in reversed(o.executions)
                    if query.get("symbol", o.symbol) == o.symbol and query.get("orderId", o.order_id) == o.order_id]
            return self._envelope({"nextPageCursor": "", "category": query.get("category", "linear"), "list": rows})

        def recorded(name: str) -> Handler:
            return private(lambda request, payload: load(TRADING / name))

        return {**super().routes(),
                ("GET", "/v5/user/query-api"): recorded("http_get_user_query_api.json"),
                ("GET", "/v5/account/info"): recorded("http_get_account_info.json"),
                ("POST", "/v5/order/create"): private(create),
                ("POST", "/v5/order/create-batch"): private(create_batch),
                ("POST", "/v5/order/cancel"): private(cancel),
                ("GET", "/v5/order/realtime"): private(realtime),
                ("GET", "/v5/order/history"): private(history),
                ("GET", "/v5/execution/list"): private(executions)}

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {**super().endpoints(http, ws), "api.private": http}
