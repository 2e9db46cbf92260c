"""A local stub exchange: aiohttp REST + websocket on a free 127.0.0.1 port, answering
ccxt.pro with recorded venue payloads (fixtures/stub/<venue>/, see its PROVENANCE.md).

The server runs in a background thread with its own event loop, so both an in-process
ccxt exchange (another loop) and an `arbflow ingest` subprocess can talk to it. A venue
(`tests/stubs/<venue>.py`) supplies the REST routes, the replies to what the client sends
on a websocket (subscribe → ack + the recorded data frames of that channel; ping → pong)
and the ccxt URL overrides that point the real exchange class here.

Every data frame actually written is logged in `sent` (connection number, channel, the JSON
value), so tests compare what arbflow published with what the stub sent, by value.

Faults (each applies to the first replay of a matching channel only):
`Drop(channel, after)` ends the first connection that carries `channel` after
`after` data frames of it were written — with a close frame (code 1012, "service
restart", so every frame before it arrives: deterministic), or with `abort=True` by
aborting the TCP transport (a network drop; frames still buffered are lost).
`Malform(channel, index, change)` replaces the `index`-th data frame of that replay by
`change(frame)` (a dict, or a raw string frame; None = the frame is lost: a sequence gap).
`Skip(channel, count)` starts that replay after its first `count` data frames — updates the
venue published before the client subscribed, so a REST snapshot taken at the recording's
start is behind the stream (ccxt: "nonce is behind the cache").
A client that subscribes again to a channel its connection is already receiving gets the
recording from the start and the previous replay stops (what a venue does on resubscribe).
"""

import asyncio
import contextlib
import inspect
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from aiohttp import WSMsgType, web

Frame = Any  # a JSON value, or a str sent as is
Handler = Callable[[web.Request, bytes], Any]  # (request, body) → JSON value, or a web.Response


@dataclass(frozen=True, slots=True)
class Reply:
    """What the stub sends for one client frame: `acks` at once, then `data` frames of
    `channel` (paced by the server's `gap_s`), after `gate()` when there is one."""

    acks: tuple[Frame, ...] = ()
    channel: str = ""
    data: tuple[Frame, ...] = ()
    gate: Callable[[], Awaitable[None]] | None = None  # awaited before the first data frame


class Venue(Protocol):
    name: str

    def routes(self) -> dict[tuple[str, str], Handler]: ...

    def on_text(self, path: str, text: str) -> list[Reply]: ...

    def endpoints(self, http: str, ws: str) -> dict[str, str]: ...


@dataclass(frozen=True, slots=True)
class Drop:
    channel: str
    after: int
    abort: bool = False  # True: abort the TCP transport; False: a close frame (code 1012)


@dataclass(frozen=True, slots=True)
class Malform:
    channel: str
    index: int
    change: Callable[[Any], Frame]


@dataclass(frozen=True, slots=True)
class Skip:
    channel: str
    count: int


@dataclass(slots=True)
class Sent:
    connection: int
    channel: str
    frame: Frame
    at: float = 0.0  # time.monotonic() when queued for sending


@dataclass(slots=True)
class StubServer:
    """Start with `with StubServer(venue) as stub:`; `stub.endpoints` are the ccxt URL
    overrides. `gap_s` paces data frames (a real feed is not one burst)."""

    venue: Venue
    drops: list[Drop] = field(default_factory=list)
    malforms: list[Malform] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    gap_s: float = 0.002
    sent: list[Sent] = field(default_factory=list)
    rest_hits: Counter[str] = field(default_factory=Counter)
    unhandled: list[str] = field(default_factory=list)
    connections: int = 0
    port: int = 0
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _runner: web.AppRunner | None = None
    _claimed: dict[tuple[str, int], int] = field(default_factory=dict)  # fault → the replay it belongs to
    _replays: int = 0
    _sockets: set[web.WebSocketResponse] = field(default_factory=set)

    # -- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> "StubServer":
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(ready,), name=f"stub-{self.venue.name}", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("stub server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._thread is not None
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def _serve(self, ready: threading.Event) -> None:
        assert self._loop is not None
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._start())
        ready.set()
        self._loop.run_forever()

    async def _start(self) -> None:
        app = web.Application()
        for (method, path), handler in self.venue.routes().items():
            app.router.add_route(method, path, self._rest(path, handler))
        app.router.add_route("GET", "/{tail:.*}", self._websocket_or_404)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            with contextlib.suppress(Exception):
                await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def endpoints(self) -> dict[str, str]:
        return self.venue.endpoints(f"http://127.0.0.1:{self.port}", f"ws://127.0.0.1:{self.port}")

    # -- REST ----------------------------------------------------------------------------

    def _rest(self, path: str, handler: Handler) -> Callable[[web.Request], Any]:
        async def serve(request: web.Request) -> web.StreamResponse:
            self.rest_hits[path] += 1
            result = handler(request, await request.read())
            if inspect.isawaitable(result):  # an async handler (slow answers, dropped connections)
                result = await result
            if isinstance(result, web.StreamResponse):
                return result
            return web.Response(body=orjson.dumps(result), content_type="application/json")
        return serve

    async def _not_found(self, request: web.Request) -> web.StreamResponse:
        self.unhandled.append(f"{request.method} {request.path_qs}")
        return web.json_response({"error": "not recorded by the stub"}, status=404)

    # -- websocket -----------------------------------------------------------------------

    async def _websocket_or_404(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return await self._not_found(request)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        number = self.connections
        self._sockets.add(ws)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        writer = asyncio.create_task(self._write(request, ws, queue))
        senders: dict[str, asyncio.Task[None]] = {}
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                for reply in self.venue.on_text(request.path, message.data):
                    for ack in reply.acks:
                        queue.put_nowait(ack)
                    if reply.data:
                        previous = senders.pop(reply.channel, None)
                        if previous is not None:
                            previous.cancel()
                        senders[reply.channel] = asyncio.create_task(self._send_data(request, number, reply, queue))
        finally:
            for task in senders.values():
                task.cancel()
            queue.put_nowait(None)
            with contextlib.suppress(Exception):
                await writer
            self._sockets.discard(ws)
        return ws

    async def _write(self, request: web.Request, ws: web.WebSocketResponse, queue: "asyncio.Queue[Any]") -> None:
        """The connection's only writer: frames in order; a `Drop` ends the connection
        after every frame queued before it was written."""
        while (item := await queue.get()) is not None:
            if ws.closed:
                return
            if isinstance(item, Drop):
                if item.abort and request.transport is not None:
                    request.transport.abort()  # a network drop: no close frame
                else:
                    await ws.close(code=1012, message=b"stub: service restart")
                return
            frame, sent = item if isinstance(item, tuple) else (item, None)
            await ws.send_str(frame if isinstance(frame, str) else orjson.dumps(frame).decode())
            if sent is not None:
                sent.at = time.monotonic()
                self.sent.append(sent)

    def _mine(self, kind: str, faults: list[Any], channel: str, replay: int) -> list[Any]:
        """The faults of `kind` this replay carries: each fault belongs to the first replay
        of a matching channel (a resubscription or a new connection replays clean)."""
        mine = []
        for i, fault in enumerate(faults):
            if fault.channel in channel and self._claimed.setdefault((kind, i), replay) == replay:
                mine.append(fault)
        return mine

    async def _send_data(self, request: web.Request, number: int, reply: Reply, queue: "asyncio.Queue[Any]") -> None:
        self._replays += 1
        replay = self._replays
        drops = self._mine("drop", self.drops, reply.channel, replay)
        malforms = {f.index: f.change for f in self._mine("malform", self.malforms, reply.channel, replay)}
        skipped = sum(f.count for f in self._mine("skip", self.skips, reply.channel, replay))
        if reply.gate is not None:
            await reply.gate()
        for index, frame in enumerate(reply.data):
            if index < skipped:
                continue
            drop = next((d for d in drops if index >= d.after), None)
            if drop is not None:
                queue.put_nowait(drop)
                return
            if index in malforms:
                frame = malforms[index](frame)
                if frame is None:  # a lost message
                    continue
            queue.put_nowait((frame, Sent(number, reply.channel, frame)))
            await asyncio.sleep(self.gap_s)

    # -- for tests -----------------------------------------------------------------------

    def frames(self, channel: str, connection: int | None = None) -> list[Frame]:
        """Data frames sent on `channel` (all connections, or one), in order."""
        return [s.frame for s in list(self.sent)
                if s.channel == channel and (connection is None or s.connection == connection)]
