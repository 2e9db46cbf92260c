"""Trading stubs: a venue's private order REST API as ccxt calls it, answering with recorded
payloads (fixtures/stub/<venue>/trading/, see fixtures/stub/PROVENANCE.md) in which only
ids, quantities, prices, statuses and times change per request — as the venue would.

`BinanceFutures` serves USDⓈ-M: POST/GET/DELETE `/fapi/v1/order`, POST `/fapi/v1/batchOrders`,
GET `/fapi/v1/openOrders`, GET `/fapi/v1/userTrades`, and the spot `/api/v3/openOrders` sweep
(always empty), next to the recorded exchangeInfo of both markets. Its matching is a rule,
not a book: a GTC limit rests (status NEW) until the test calls `fill(...)`; an IOC limit
fills `ioc_fills[client id]` (a list of trade quantities; default: all of it in one trade)
at its limit price and expires the rest. Answers are ACK-style like the real default
(`newRespType=ACK`: status NEW, nothing executed) unless `newRespType=RESULT` is sent.
Fees: 0.04 % taker, 0.02 % maker (the recorded trade: 13.89175 USDT × 0.0004 = 0.0055567).

Every signed request must carry the stub's API key header and a `signature`, or it gets
Binance's -2014 answer. Faults (`faults`, consumed in order by create requests, single or
batch; `plan[client id]`, consumed first, by every request naming that client id — creates,
lookups and cancels — so a test can script one order's fate whatever else is in flight):
- after the order was created: "timeout" (the answer comes after `slow_s`), "drop" (the TCP
  connection is aborted without an answer), "503-created" (HTTP 503 -1000 "An unknown error
  occured…": Binance documents a 503 as "execution status UNKNOWN, could have been a success");
- nothing created: "stall" (no answer for `slow_s`, longer than the client's timeout, then
  HTTP 408 -1007), "reset" (the connection is aborted at once: connection reset), "502" (the
  front proxy's HTML page), "503" (HTTP 503 -1001 "Internal error; unable to process your
  request."), "429" (HTTP 429 with -1003), "margin" (HTTP 400 -2019 "Margin is insufficient."),
  "echo" (HTTP 400 -1102 quoting the request headers back — API key included — as some
  gateways do).
The user-data stream: POST `/fapi/v1/listenKey` answers a listen key (PUT keeps it alive),
and the websocket `/private/ws?listenKey=…` (ccxt.pro's USDⓈ-M private URL) pushes an
`ORDER_TRADE_UPDATE` (the recorded frame, fixtures/stub/binance/trading/) for every trade as
it happens, with the order's state after it. `stream_held = True` keeps the frames back
(a slow stream) until it is set False again; `pushed` logs every frame actually written.

On a lookup or cancel, "stall", "reset", "502", "503" and "429" answer the same way, and the
request is not served. `holding = True` makes the whole venue slow instead: every request
(public ones too) waits until the test sets it back to False, then is served as usual;
`held` counts the requests waiting. `down = True` makes the venue unreachable instead: every
request (exchangeInfo too, so ccxt cannot load its markets) is answered HTTP 503 -1001 and not
served, until it is False again. `keys_refused = True` answers every request that carries the
key -2014 (HTTP 401, ccxt's AuthenticationError), as for a revoked key. A second create with a
client id the stub holds is refused with -4116
— as Binance does — so a test also sees a double placement as an error; `created` counts the
orders actually created per client id (never above 1 when nothing is placed twice).
"""

import asyncio
import copy
import inspect
import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

from tests.stubs.recorded import STUB, load
from tests.stubs.server import Handler, Reply

T0 = 1_723_161_300_000  # stub venue time of the first order (ms)
API_KEY = "stub-api-key-7Hq2"
SECRET = "stub-secret-do-not-log-9Xk4PzR"
LISTEN_KEY = "pqia91ma19a5s61cv6a81va65sdf19v8a65a1a5s61cv6a81va65sdf19v8a65a1"
TAKER, MAKER = Decimal("0.0004"), Decimal("0.0002")


@dataclass(slots=True)
class StubOrder:
    order_id: int
    client_id: str
    symbol: str
    side: str
    kind: str
    tif: str
    price: Decimal
    qty: Decimal
    time: int
    status: str = "NEW"
    trades: list[dict[str, Any]] = field(default_factory=list)

    @property
    def executed(self) -> Decimal:
        return sum((Decimal(t["qty"]) for t in self.trades), Decimal(0))


def _error(code: str, status: int = 400) -> web.Response:
    errors = load(STUB / "binance/trading/errors.json")
    return web.Response(status=status, body=json.dumps(errors[code]), content_type="application/json")


# Faults answered before the request is served (nothing created, nothing canceled).
BEFORE = ("stall", "reset", "502", "503", "429", "margin", "echo")


async def _refuse(request: web.Request, fault: str, slow_s: float) -> web.Response:
    """The answer of a `BEFORE` fault."""
    if fault == "stall":  # the client gives up first; what comes after its timeout is never read
        await asyncio.sleep(slow_s)
        return _error("-1007", 408)
    if fault == "reset":
        assert request.transport is not None
        request.transport.abort()
        await asyncio.sleep(0.05)
        return web.Response(status=500)
    if fault == "502":
        page = load(STUB / "binance/trading/errors.json")["502"]
        return web.Response(status=502, text=page, content_type="text/html")
    if fault == "503":
        return _error("-1001", 503)
    if fault == "429":
        return _error("-1003", 429)
    if fault == "margin":
        return _error("-2019")
    # "echo": a refusal that quotes the request back, API key header included
    quoted = {"code": -1102, "msg": f"Mandatory parameter malformed; request headers: {dict(request.headers)}"}
    return web.Response(status=400, body=json.dumps(quoted), content_type="application/json")


class BinanceFutures:
    name = "binance"

    def __init__(self, *, slow_s: float = 1.0) -> None:
        self.orders: dict[str, StubOrder] = {}  # by client id
        self.faults: list[str] = []
        self.plan: dict[str, list[str]] = {}  # client id → faults of the requests naming it, in order
        self.ioc_fills: dict[str, list[Decimal]] = {}
        self.creates: Counter[str] = Counter()  # create requests seen per client id (faulted ones too)
        self.created: Counter[str] = Counter()  # orders actually created per client id
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # (method, path, params)
        self.slow_s = slow_s
        self.holding = False  # True: every request waits until it is False again, then is served
        self.down = False  # True: every request is answered HTTP 503 -1001, nothing served
        self.keys_refused = False  # True: every keyed request is answered -2014 (HTTP 401)
        self.stream_held = False  # True: user-data frames wait until it is False again
        self.pushed: list[dict[str, Any]] = []  # user-data frames written, in order
        self._sockets: list[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any]]]] = []
        self._unsent: list[dict[str, Any]] = []  # frames held back by `stream_held`
        self._traded: tuple[StubOrder, dict[str, Any]] | None = None  # the last trade
        self.held = 0  # requests waiting now
        self._next_id = 8_389_765_000
        self._next_trade = 82_357_626
        self._clock = T0

    # -- the venue's rules -------------------------------------------------------------------

    def _tick(self) -> int:
        self._clock += 1
        return self._clock

    def _trade(self, order: StubOrder, qty: Decimal, maker: bool) -> None:
        row = copy.deepcopy(load(STUB / "binance/trading/fapi_v1_userTrades.json")[0])
        self._next_trade += 1
        quote = order.price * qty
        row.update(symbol=order.symbol, id=self._next_trade, orderId=order.order_id, side=order.side,
                   price=str(order.price), qty=str(qty), quoteQty=str(quote),
                   commission=str((quote * (MAKER if maker else TAKER)).normalize()), commissionAsset="USDT",
                   time=self._tick(), buyer=order.side == "BUY", maker=maker, realizedPnl="0")
        order.trades.append(row)
        self._traded = (order, row)

    def _push_trade(self) -> None:
        """The `ORDER_TRADE_UPDATE` of the last trade (after the order's status is set)."""
        assert self._traded is not None
        order, row = self._traded
        frame = copy.deepcopy(load(STUB / "binance/trading/ws_order_trade_update.json"))
        quote = sum((Decimal(t["quoteQty"]) for t in order.trades), Decimal(0))
        frame.update(T=row["time"], E=row["time"])
        frame["o"].update(s=order.symbol, c=order.client_id, S=order.side, o=order.kind, f=order.tif,
                          q=str(order.qty), p=str(order.price), ap=str((quote / order.executed).normalize()),
                          x="TRADE", X=order.status, i=order.order_id, l=row["qty"], z=str(order.executed),
                          L=row["price"], N=row["commissionAsset"], n=row["commission"], T=row["time"],
                          t=row["id"], m=row["maker"], ot=order.kind, ps="BOTH", rp="0")
        self._unsent.append(frame)
        self.flush_stream()

    @property
    def streaming(self) -> int:
        """User-data websockets open now."""
        return len(self._sockets)

    def flush_stream(self) -> None:
        """Write the frames held back, unless `stream_held` (any thread)."""
        if self.stream_held:
            return
        frames, self._unsent = self._unsent, []
        for frame in frames:
            self.pushed.append(frame)
            for loop, queue in self._sockets:
                loop.call_soon_threadsafe(queue.put_nowait, frame)

    def create(self, params: dict[str, str]) -> StubOrder:
        order = StubOrder(order_id=self._next_id, client_id=params["newClientOrderId"], symbol=params["symbol"],
                          side=params["side"], kind=params["type"], tif=params.get("timeInForce", "GTC"),
                          price=Decimal(params["price"]), qty=Decimal(params["quantity"]), time=self._tick())
        self._next_id += 1
        self.orders[order.client_id] = order
        self.created[order.client_id] += 1
        if order.tif == "IOC":
            for qty in self.ioc_fills.get(order.client_id, [order.qty]):
                self._trade(order, qty, maker=False)
                order.status = "FILLED" if order.executed == order.qty else "PARTIALLY_FILLED"
                self._push_trade()
            order.status = "FILLED" if order.executed == order.qty else "EXPIRED"
        return order

    def fill(self, client_id: str, qty: Decimal) -> None:
        """A resting order trades `qty` as maker (a test moves the market)."""
        order = self.orders[client_id]
        self._trade(order, qty, maker=True)
        order.status = "FILLED" if order.executed == order.qty else "PARTIALLY_FILLED"
        self._push_trade()

    def seed(self, *, client_id: str, symbol: str, side: str, price: str, qty: str) -> StubOrder:
        """An order placed on the venue before the test (by an earlier run)."""
        return self.create({"newClientOrderId": client_id, "symbol": symbol, "side": side, "type": "LIMIT",
                            "timeInForce": "GTC", "price": price, "quantity": qty})

    def render(self, order: StubOrder, *, ack: bool = False) -> dict[str, Any]:
        row = copy.deepcopy(load(STUB / "binance/trading/fapi_v1_order.json"))
        executed = Decimal(0) if ack else order.executed
        cum = sum((Decimal(t["quoteQty"]) for t in order.trades), Decimal(0)) if not ack else Decimal(0)
        row.update(orderId=order.order_id, symbol=order.symbol, status="NEW" if ack else order.status,
                   clientOrderId=order.client_id, price=str(order.price), origQty=str(order.qty),
                   executedQty=str(executed), cumQuote=str(cum),
                   avgPrice=str((cum / executed).normalize()) if executed else "0.00",
                   timeInForce=order.tif, type=order.kind, origType=order.kind, side=order.side,
                   time=order.time, updateTime=self._clock)
        return row

    # -- HTTP ----------------------------------------------------------------------------------

    def _params(self, request: web.Request, body: bytes) -> dict[str, str] | web.Response:
        params = dict(request.query)
        if body:
            params.update(parse_qsl(body.decode(), keep_blank_values=True))
        self.requests.append((request.method, request.path, params))
        if self.keys_refused or request.headers.get("X-MBX-APIKEY") != API_KEY or "signature" not in params:
            return _error("-2014", 401)
        return params

    def _find(self, params: dict[str, str]) -> StubOrder | None:
        if "origClientOrderId" in params:
            return self.orders.get(params["origClientOrderId"])
        return next((o for o in self.orders.values() if str(o.order_id) == params.get("orderId")), None)

    def _fault(self, client_id: str | None, *, create: bool) -> str | None:
        """The next fault for a request naming `client_id` (its plan first; creates then `faults`)."""
        planned = self.plan.get(client_id or "")
        if planned:
            return planned.pop(0)
        return self.faults.pop(0) if create and self.faults else None

    async def _place(self, request: web.Request, items: list[dict[str, str]], ack: bool) -> Any:
        fault = self._fault(items[0]["newClientOrderId"], create=True)
        for item in items:
            self.creates[item["newClientOrderId"]] += 1
        if fault in BEFORE:
            return await _refuse(request, fault, self.slow_s)
        answers: list[Any] = []
        for item in items:
            if item["newClientOrderId"] in self.orders:
                answers.append(load(STUB / "binance/trading/errors.json")["-4116"])
            else:
                answers.append(self.render(self.create(item), ack=ack))
        if fault == "timeout":
            await asyncio.sleep(self.slow_s)
        if fault == "drop":
            assert request.transport is not None
            request.transport.abort()
            await asyncio.sleep(0.05)
        if fault == "503-created":
            return _error("-1000", 503)
        return answers

    def routes(self) -> dict[tuple[str, str], Handler]:
        async def order(request: web.Request, body: bytes) -> Any:
            params = self._params(request, body)
            if isinstance(params, web.Response):
                return params
            if request.method == "POST":
                answers = await self._place(request, [params], params.get("newRespType") != "RESULT")
                if isinstance(answers, web.Response):
                    return answers
                if "orderId" not in answers[0]:  # the single endpoint answers an error with HTTP 400
                    return web.Response(status=400, body=json.dumps(answers[0]), content_type="application/json")
                return answers[0]
            fault = self._fault(params.get("origClientOrderId"), create=False)
            if fault in BEFORE:
                return await _refuse(request, fault, self.slow_s)
            found = self._find(params)
            if found is None:
                return _error("-2013")
            if request.method == "DELETE":
                if found.status in ("NEW", "PARTIALLY_FILLED"):
                    found.status = "CANCELED"
                else:
                    return _error("-2011")
            return self.render(found)

        async def batch(request: web.Request, body: bytes) -> Any:
            params = self._params(request, body)
            if isinstance(params, web.Response):
                return params
            items = [{k: str(v) for k, v in item.items()} for item in json.loads(params["batchOrders"])]
            return await self._place(request, items, ack=True)

        def open_orders(request: web.Request, body: bytes) -> Any:
            params = self._params(request, body)
            if isinstance(params, web.Response):
                return params
            return [self.render(o) for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")
                    and params.get("symbol", o.symbol) == o.symbol]

        def user_trades(request: web.Request, body: bytes) -> Any:
            params = self._params(request, body)
            if isinstance(params, web.Response):
                return params
            return [t for o in self.orders.values() for t in o.trades
                    if str(o.order_id) == params.get("orderId", str(o.order_id)) and o.symbol == params["symbol"]]

        def spot_open_orders(request: web.Request, body: bytes) -> Any:
            params = self._params(request, body)
            return params if isinstance(params, web.Response) else []

        def listen_key(request: web.Request, body: bytes) -> Any:
            self.requests.append((request.method, request.path, dict(request.query)))
            if self.keys_refused or request.headers.get("X-MBX-APIKEY") != API_KEY:  # the key only: not signed
                return _error("-2014", 401)
            return {"listenKey": LISTEN_KEY} if request.method == "POST" else {}

        async def user_stream(request: web.Request, body: bytes) -> web.StreamResponse:
            if request.query.get("listenKey") != LISTEN_KEY:
                return _error("-1125")
            ws = web.WebSocketResponse(autoping=True)
            await ws.prepare(request)
            queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
            entry = (asyncio.get_running_loop(), queue)
            self._sockets.append(entry)

            async def write() -> None:
                while True:
                    await ws.send_str(json.dumps(await queue.get()))

            writer = asyncio.create_task(write())
            try:
                async for _ in ws:  # the client sends nothing but pongs; this ends when it closes
                    pass
            finally:
                writer.cancel()
                self._sockets.remove(entry)
            return ws

        routes: dict[tuple[str, str], Handler] = {
            ("POST", "/fapi/v1/listenKey"): listen_key, ("PUT", "/fapi/v1/listenKey"): listen_key,
            ("GET", "/private/ws"): user_stream,
            ("GET", "/api/v3/exchangeInfo"): lambda r, b: load(STUB / "binance/api_v3_exchangeInfo.json"),
            ("GET", "/fapi/v1/exchangeInfo"): lambda r, b: load(STUB / "binance/fapi_v1_exchangeInfo.json"),
            ("POST", "/fapi/v1/order"): order, ("GET", "/fapi/v1/order"): order,
            ("DELETE", "/fapi/v1/order"): order, ("POST", "/fapi/v1/batchOrders"): batch,
            ("GET", "/fapi/v1/openOrders"): open_orders, ("GET", "/fapi/v1/userTrades"): user_trades,
            ("GET", "/api/v3/openOrders"): spot_open_orders}
        return {route: self._holdable(handler) for route, handler in routes.items()}

    def _holdable(self, handler: Handler) -> Handler:
        """`handler`, first waiting while `holding` is set; HTTP 503 while `down`."""
        async def serve(request: web.Request, body: bytes) -> Any:
            if self.down:
                self.requests.append((request.method, request.path, dict(request.query)))
                return _error("-1001", 503)
            if self.holding:
                self.held += 1
                while self.holding:
                    await asyncio.sleep(0.01)
                self.held -= 1
            result = handler(request, body)
            return await result if inspect.isawaitable(result) else result
        return serve

    def on_text(self, path: str, text: str) -> list[Reply]:
        return []

    def endpoints(self, http: str, ws: str) -> dict[str, str]:
        return {"api.public": f"{http}/api/v3", "api.private": f"{http}/api/v3",
                "api.fapiPublic": f"{http}/fapi/v1", "api.fapiPrivate": f"{http}/fapi/v1",
                "api.ws.linear": f"{ws}/ws"}  # ccxt.pro's USDⓈ-M private stream: {ws}/private/ws?listenKey=…
