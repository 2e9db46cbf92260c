"""The live venue gateway (docs/architecture.md §3.7 "Live", §3.9 client ids): the execution desk's
orders become real venue orders through ccxt (async), and the venue's answers become
`VenueEvent`s (accepted / fill / canceled / rejected) for `exec.venue`.

One `LiveVenue` per venue, owned by one event loop:
- `start(known)` loads markets and reconciles before any new order: every known working
  `Order` is looked up by its venue client id (fills and cancels that happened while we were
  away come back as events; the desk drops fills it already has by `fill_id`), then the open
  orders are swept; open orders with our client-id prefix that we do not know are `orphans`
  (logged, returned in `self.orphans`, never touched).
- `submit(batch)` places `Order`s with status "new" and cancels (`OrderIntent` kind "cancel",
  id `cancel:{client_order_id}`), in priority order cancel > de-risk (hedge_/unwind_/exit_)
  > entry; a cancel that arrives before its order (orders and cancels travel on two topics,
  and a batch cancels first) keeps that order from ever being sent: it is answered
  "canceled" with the cancel's reason when it comes. Several orders go through the native
  `create_orders` where the venue has one.
  Before anything leaves: rounding to tick and lot, the notional caps and the rate bucket
  (`sinks.gateway.limits`). Refusals are "rejected" events with a reason code.
- `poll()` reports what happened to resting orders since the last call.
- `reset()` forgets what was learned from the venue (after a failure of its gateway lane,
  sinks.gateway.lane, when answers may have been lost), so that `start(known)` reconciles again
  from the orders' latest state on exec.order; cancels that came ahead of their order stay.
- With `stream=True`, on venues whose profile lists order streams (Binance USDⓈ-M), `start()`
  also watches the account's trades over ccxt.pro's websocket (`watch_my_trades`): a
  background task only collects them and sets `stream_event`; `streamed()` turns them into
  events (an order's first trade before its acceptance is seen answers "accepted" first). So
  every event is made by whoever calls submit/poll/streamed, one after another, and each
  order's events keep their order. A fill comes once whichever way it is seen first: by trade
  id (`Working.fill_ids`), shared by the stream and REST. REST polling stays: it finds ends
  (IOC remainders, cancels), covers a stream that is down or late, and reconciles at start.

Never twice: an order is sent with the same venue client id on every attempt, and only
answers that leave the outcome unknown are retried — ccxt `OperationFailed`: its
`NetworkError`s (timeouts, 429/DDoS protection, dropped connections, 5xx pages) and the
venues' own "status unknown" codes (Binance -1000/-1001/-1006 "internal error", which ccxt
maps to `OperationFailed` even though the order may exist; `BadResponse`). Each retry first
asks the venue for the client id and re-sends only when the venue answers that it holds
no such order. When even that question cannot be
answered, the order stays "unconfirmed" and `poll()` asks again; it is never re-sent then.
A logical id the gateway has seen is never placed again (replays are idempotent).

What differs between venues (batch limits, the lookup by client id, open-order sweeps, order
streams, the client-id rule) comes from the venue's `VenueProfile` (sinks/gateway/venues/);
nothing here names a venue.

Every text that leaves (log lines, reasons) passes `Credentials.redact`: API keys and
request signatures never appear. Event `ts` is `clock_ms()` at receipt (integer ms UTC).
"""

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import ccxt
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential_jitter

from arbflow.model import reasons
from arbflow.model.execution import Order, OrderIntent, VenueEvent
from arbflow.sinks import metrics
from arbflow.sinks.gateway import orders as lo
from arbflow.sinks.gateway.credentials import Credentials
from arbflow.sinks.gateway.limits import LiveLimits, OrderBucket, Timer
from arbflow.sinks.gateway.venues import profile

log = logging.getLogger("arbflow.live_venue")
# Outcome unknown: NetworkError (RequestTimeout, DDoSProtection ⊃ RateLimitExceeded, ExchangeNotAvailable)
# and the rest of OperationFailed (a venue's internal error or an unreadable answer, e.g. Binance 503 -1001).
RETRYABLE = (ccxt.OperationFailed,)
_ZERO = Decimal(0)
_DONE = ("closed", "canceled", "expired")


def _plain(value: Decimal) -> str:
    """`value` without trailing zeros or an exponent (reason texts)."""
    return f"{value.normalize():f}"


def wall_clock_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Retries of network-level failures: `attempts` in all, exponential backoff with
    jitter from `initial_s` up to `max_s` seconds."""

    attempts: int = 4
    initial_s: float = 0.1
    max_s: float = 2.0


@dataclass(frozen=True, slots=True)
class Orphan:
    """An open venue order with our client-id prefix that no known `Order` accounts for."""

    venue: str
    symbol: str
    venue_client_id: str
    venue_order_id: str
    side: str
    qty: Decimal | None
    px: Decimal | None


@dataclass(slots=True)
class Working:
    """The gateway's view of one order: `qty`/`px` as sent (rounded, base units), `filled`
    the sum of fills reported, `venue_filled` what the venue last said was filled."""

    order: Order
    size: Decimal  # base units per ccxt amount unit
    qty: Decimal
    px: Decimal | None
    rounded: lo.Rounded | None = None
    venue_id: str | None = None
    accepted: bool = False
    filled: Decimal = _ZERO
    venue_filled: Decimal = _ZERO
    fill_ids: set[str] = field(default_factory=set)
    cancel_reason: str | None = None
    unconfirmed: bool = False
    ended: bool = False


class LiveVenue:
    """See the module docstring. `exchange` is a ccxt async exchange (`make_exchange`);
    `timer` and `retry` are seams for tests (monotonic clock and sleep, backoff). A venue
    without a profile is a `ConfigError`."""

    def __init__(self, venue: str, exchange: Any, limits: LiveLimits, *, clock_ms: Callable[[], int] = wall_clock_ms,
                 timer: Timer | None = None, retry: RetryPolicy | None = None, stream: bool = False) -> None:
        self.venue, self.exchange, self.limits, self.clock_ms = venue, exchange, limits, clock_ms
        self.profile = profile(venue)
        self.timer = timer or Timer()
        self.bucket = OrderBucket(limits, self.timer)
        self.retry = retry or RetryPolicy()
        self.orphans: list[Orphan] = []
        self._working: dict[str, Working] = {}
        self._positions: dict[str, tuple[Decimal, Decimal]] = {}  # symbol → (net base qty, last fill px)
        self._canceled_unsent: dict[str, str] = {}  # logical id → cancel reason, for cancels ahead of their order
        secret = str(exchange.secret or getattr(exchange, "privateKey", "") or "")
        self._creds = Credentials(str(exchange.apiKey or ""), secret, exchange.password or None)
        self._started = False
        self.stream = stream and bool(self.profile.order_streams) and bool(exchange.has.get("watchMyTrades"))
        self.stream_event = asyncio.Event()  # set when streamed trades wait for `streamed()`
        self._trades: list[dict[str, Any]] = []  # streamed ccxt trades not turned into events yet
        self._watchers: list[asyncio.Task[None]] = []

    # -- public ------------------------------------------------------------------------------

    async def start(self, known: Iterable[Order]) -> list[VenueEvent]:
        """Load markets and reconcile (module docstring); the events of what happened while away."""
        await self._call(self.exchange.load_markets)
        events: list[VenueEvent] = []
        for order in known:
            if order.venue != self.venue or order.client_order_id in self._working:
                continue
            if order.status not in lo.WORKING:
                self._add_position(order.symbol, order.side, order.filled_qty, order.avg_px)
                continue
            w = self._track(order, order.qty, order.limit_px)
            w.accepted = order.status != "new"
            snap = await self._call(self._lookup, w)
            if snap is not None:
                events += await self._absorb(w, snap)
            elif order.status == "new":
                events.append(self._end(w, "rejected", f"{reasons.ORDER_NOT_PLACED}: not on {self.venue}"))
            else:
                log.warning("%s: working order %s is unknown to the venue", self.venue, order.client_order_id)
                events.append(self._end(w, "canceled", reasons.ORDER_NOT_FOUND))
        await self._sweep()
        self._started = True
        if self.stream:
            self._watchers = [asyncio.create_task(self._watch(dict(params)), name=f"{self.venue}-trades")
                              for params in self.profile.order_streams]
        return events

    async def submit(self, batch: Sequence[Order | OrderIntent]) -> list[VenueEvent]:
        """Cancel and place `batch` (priority cancel > de-risk > entry); the venue's answers."""
        if not self._started:
            raise RuntimeError("LiveVenue.start() must reconcile before the first order")
        cancels = [i for i in batch if isinstance(i, OrderIntent) and i.kind == "cancel"]
        orders = [o for o in batch if isinstance(o, Order) and o.status == "new"]
        events: list[VenueEvent] = []
        for intent in cancels:
            events += await self._cancel(intent)
        events += await self._place_all([o for o in orders if lo.is_derisk(o.client_order_id)], reserved=True)
        events += await self._place_all([o for o in orders if not lo.is_derisk(o.client_order_id)], reserved=False)
        return events

    async def poll(self) -> list[VenueEvent]:
        """Fills and ends of working orders since the last call (fills deduplicated by id),
        the streamed ones first."""
        events: list[VenueEvent] = self.streamed()
        by_symbol: dict[str, list[Working]] = defaultdict(list)
        for w in self._working.values():
            if not w.ended:
                by_symbol[w.order.symbol].append(w)
        for symbol, group in by_symbol.items():
            try:
                listed = await self._call(self.exchange.fetch_open_orders, symbol)
                open_by_id = {str(o.get("clientOrderId")): o for o in listed}
                for w in group:
                    snap = open_by_id.get(w.order.venue_client_id) or await self._call(self._lookup, w)
                    if snap is not None:
                        events += await self._absorb(w, snap)
                    elif w.unconfirmed:
                        events.append(self._end(w, "rejected", f"{reasons.ORDER_NOT_PLACED}: not on {self.venue}"))
                    else:
                        events.append(self._end(w, "canceled", reasons.ORDER_NOT_FOUND))
            except RETRYABLE as error:
                log.warning("%s: poll of %s failed, next poll retries: %s", self.venue, symbol, self._text(error))
        return events

    def streamed(self) -> list[VenueEvent]:
        """Events of the trades the websocket brought since the last call: fills not reported
        yet (by trade id), "accepted" first for an order not yet seen accepted."""
        trades, self._trades = self._trades, []
        self.stream_event.clear()
        by_client = {w.order.venue_client_id: w for w in self._working.values()}
        by_id = {w.venue_id: w for w in self._working.values() if w.venue_id is not None}
        events: list[VenueEvent] = []
        for trade in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            info = trade.get("info") or {}
            w = by_client.get(str(trade.get("clientOrderId") or info.get("c"))) or by_id.get(str(trade.get("order")))
            if w is None or w.ended or str(trade.get("id")) in w.fill_ids:
                continue  # not ours, or reported already (REST saw it first)
            w.unconfirmed = False
            if not w.accepted:
                w.accepted = True
                events.append(lo.event("accepted", w.order, self.clock_ms()))
            fill = lo.fill_event(w.order, trade, w.size, self.clock_ms())
            w.fill_ids.add(str(trade["id"]))
            w.filled += fill.qty
            w.venue_filled = max(w.venue_filled, w.filled)
            self._add_position(w.order.symbol, w.order.side, fill.qty, fill.px)
            events.append(fill)
        return events

    async def _watch(self, params: dict[str, Any]) -> None:
        """Collect the account's trades from the websocket until cancelled; a failed watch is
        logged and retried after `retry.max_s` seconds (ccxt reconnects)."""
        while True:
            try:
                trades = await self.exchange.watch_my_trades(None, None, None, params)
            except ccxt.BaseError as error:
                log.warning("%s: trade stream failed, REST polling covers it; retrying: %s", self.venue,
                            self._text(error))
                await asyncio.sleep(self.retry.max_s)
                continue
            self._trades += list(trades)
            self.stream_event.set()

    def exposure(self) -> Decimal:
        """Notional at risk (quote): working orders' unfilled part at their limit, plus per
        symbol |net filled qty| × last fill price."""
        working = sum(((w.qty - w.filled) * (w.px or _ZERO) for w in self._working.values() if not w.ended), _ZERO)
        return working + sum((abs(q) * px for q, px in self._positions.values()), _ZERO)

    def unconfirmed(self) -> int:
        """Orders sent whose placement the venue has confirmed neither way yet."""
        return len(self.unconfirmed_ids())

    def unconfirmed_ids(self) -> set[str]:
        """Logical ids of the orders counted by `unconfirmed()`."""
        return {logical for logical, w in self._working.items() if w.unconfirmed and not w.ended}

    def may_hold(self, logical: str) -> bool:
        """Whether the venue may hold order `logical`: sent (or reconciled) and not ended."""
        w = self._working.get(logical)
        return w is not None and not w.ended

    def mark_unconfirmed(self, logical: str) -> None:
        """Order `logical`'s state is unknown until the next reconciliation (a cancel that could
        not reach the venue): counted by `unconfirmed()`."""
        w = self._working.get(logical)
        if w is not None and not w.ended:
            w.unconfirmed = True

    async def reset(self) -> None:
        """Forget what was learned from the venue, so that `start(known)` reconciles again from
        `known` alone (after a failure, when events may have been lost). Cancels that arrived
        ahead of their order are kept: such an order is still never sent."""
        await self._stop_watchers()
        self._working.clear()
        self._positions.clear()
        self.orphans = []
        self._trades = []
        self.stream_event.clear()
        self._started = False

    async def close(self) -> None:
        await self._stop_watchers()
        await self.exchange.close()

    async def _stop_watchers(self) -> None:
        watchers, self._watchers = self._watchers, []
        for task in watchers:
            task.cancel()
        for task in watchers:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- placing -------------------------------------------------------------------------

    def _track(self, order: Order, qty: Decimal, px: Decimal | None) -> Working:
        market = self.exchange.market(order.symbol)
        w = Working(order=order, size=lo.contract_size(market), qty=qty, px=px)
        self._working[order.client_order_id] = w
        return w

    def _screen(self, order: Order, reserved: bool) -> tuple[lo.Rounded | None, str | None]:
        """The order rounded for the wire, or the reason it may not leave."""
        if order.limit_px is None:
            return None, reasons.UNBOUNDED_NOTIONAL
        market = self.exchange.market(order.symbol)
        if market.get("inverse"):  # ccxt: amount in contracts of contractSize USD; base = amount × size / px
            return None, (f"{reasons.INVERSE_NOT_ROUTED}: {order.symbol} trades contracts of "
                          f"{market.get('contractSize')} {market.get('quote')}; the gateway converts base units "
                          f"with a fixed contract size (linear only)")
        rounded = lo.round_order(self.exchange, order)
        if rounded is None or rounded.px is None:
            return None, reasons.BELOW_MIN_SIZE
        notional, limits = rounded.qty * rounded.px, self.limits
        if notional > limits.max_order_notional:
            return None, f"{reasons.NOTIONAL_CAP}: {_plain(notional)} > {_plain(limits.max_order_notional)}"
        if not reserved and (exposure := self.exposure()) + notional > limits.max_venue_notional:
            return None, (f"{reasons.VENUE_NOTIONAL_CAP}: {_plain(exposure)} + {_plain(notional)} > "
                          f"{_plain(limits.max_venue_notional)}")
        return rounded, None

    async def _place_all(self, orders: list[Order], *, reserved: bool) -> list[VenueEvent]:
        events: list[VenueEvent] = []
        ready: list[Working] = []
        for order in orders:
            if order.client_order_id in self._working:
                log.info("%s: %s was already sent; not sending it again", self.venue, order.client_order_id)
                continue
            if order.venue != self.venue:
                log.warning("%s: order %s is for %s; ignored", self.venue, order.client_order_id, order.venue)
                continue
            if order.client_order_id in self._canceled_unsent:
                w = self._track(order, order.qty, order.limit_px)
                events.append(self._end(w, "canceled", self._canceled_unsent.pop(order.client_order_id)))
                continue
            rounded, refusal = self._screen(order, reserved)
            w = self._track(order, rounded.qty if rounded else order.qty, rounded.px if rounded else order.limit_px)
            w.rounded = rounded
            if refusal is not None:
                log.warning("%s: %s refused before sending: %s", self.venue, order.client_order_id, refusal)
                events.append(self._end(w, "rejected", refusal))
            else:
                ready.append(w)
        for chunk in self._chunks(ready):
            for _ in chunk:
                await self.bucket.take(reserved=reserved)
            events += await self._place(chunk)
        return events

    def _chunks(self, ready: list[Working]) -> list[list[Working]]:
        """Batches for `create_orders` (up to the venue's batch limit; contract markets only where
        spot has no batch, as on Binance); one order per call where the venue has no native batch."""
        limit = self.profile.batch_limit if self.exchange.has.get("createOrders") else 1
        batchable = [w for w in ready if limit > 1 and (self.profile.batch_spot or
                                                        self.exchange.market(w.order.symbol).get("contract"))]
        single = [[w] for w in ready if w not in batchable]
        return [batchable[i:i + limit] for i in range(0, len(batchable), limit)] + single

    async def _place(self, chunk: list[Working]) -> list[VenueEvent]:
        """Send `chunk` (one order or one native batch). After a network failure the venue is
        asked for each client id first; only orders it does not hold are sent again."""
        events: list[VenueEvent] = []
        pending = list(chunk)
        results: list[Any] = []
        try:
            async for attempt in self._retrying():
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        pending = await self._absent(pending, events)
                    if not pending:
                        break
                    requests = [lo.order_request(w.order, w.rounded) for w in pending if w.rounded is not None]
                    if len(requests) > 1:
                        results = await self.exchange.create_orders(requests)
                    else:
                        one = requests[0]
                        results = [await self.exchange.create_order(one["symbol"], one["type"], one["side"],
                                                                    one["amount"], one["price"], one["params"])]
        except RETRYABLE as error:
            for w in pending:
                w.unconfirmed = True
            log.error("%s: placing %s failed after %d attempts; left unconfirmed for poll(): %s", self.venue,
                      ", ".join(w.order.client_order_id for w in pending), self.retry.attempts, self._text(error))
            return events
        except ccxt.BaseError as error:
            for w in pending:
                events += await self._refused(w, error)
            return events
        for w, result in zip(pending, results, strict=True):
            problem = lo.item_error(self.exchange, result.get("info"), self.exchange.market(w.order.symbol))
            if problem is not None:
                events += await self._refused(w, problem)
                continue
            events += await self._absorb(w, result)
            if not w.ended and w.order.order_type in ("ioc", "market"):  # an ack: ask for the outcome
                snap = await self._safe_lookup(w)
                if snap is not None:
                    events += await self._absorb(w, snap)
        return events

    async def _absent(self, pending: list[Working], events: list[VenueEvent]) -> list[Working]:
        """Of `pending`, the orders the venue does not hold; the others' states go to `events`.
        A failing lookup raises (a retryable error: the attempt is retried, nothing re-sent)."""
        absent = []
        for w in pending:
            snap = await self._lookup(w)
            if snap is None:
                absent.append(w)
            else:
                log.info("%s: %s exists after a failed send; not sending it again", self.venue,
                         w.order.client_order_id)
                events += await self._absorb(w, snap)
        return absent

    async def _refused(self, w: Working, error: Exception) -> list[VenueEvent]:
        """A venue refusal; a duplicate client id means an earlier send got through."""
        if isinstance(error, ccxt.InvalidOrder) and "duplicat" in str(error).lower():
            snap = await self._safe_lookup(w)
            if snap is not None:
                return await self._absorb(w, snap)
        reason = lo.error_reason(self.exchange, error, self.exchange.market(w.order.symbol))
        text = f"{reason}: {self._text(error)}"[:300]
        log.warning("%s: %s refused: %s", self.venue, w.order.client_order_id, text)
        return [self._end(w, "rejected", text)]

    # -- canceling ---------------------------------------------------------------------------

    async def _cancel(self, intent: OrderIntent) -> list[VenueEvent]:
        logical = intent.intent_id.removeprefix("cancel:")
        w = self._working.get(logical)
        if w is None:  # its order comes later (another topic, or later in this batch): never send it
            log.warning("%s: cancel of %s before its order; the order will not be sent", self.venue, logical)
            self._canceled_unsent[logical] = intent.reason or reasons.ORDER_TIMEOUT
            return []
        if w.ended:
            return []
        w.cancel_reason = intent.reason
        await self.bucket.take(reserved=True)
        params = self._client_id(w)
        try:
            snap = await self._call(self.exchange.cancel_order, w.venue_id, w.order.symbol, params)
        except ccxt.OrderNotFound:  # done already (filled or ended), or never placed
            snap = await self._safe_lookup(w)
            if snap is None:
                return [] if not w.unconfirmed else [self._end(w, "rejected", reasons.ORDER_NOT_PLACED)]
        except ccxt.BaseError as error:
            log.warning("%s: cancel of %s failed; poll() follows it: %s", self.venue, logical, self._text(error))
            return []
        events = await self._absorb(w, snap)
        if not w.ended and snap.get("status") is None:  # an ack without the order's state
            found = await self._safe_lookup(w)
            events += await self._absorb(w, found) if found is not None else []
        return events

    # -- venue answers -----------------------------------------------------------------------

    async def _absorb(self, w: Working, snap: dict[str, Any]) -> list[VenueEvent]:
        """Events for what `snap` (a ccxt order) says beyond what was reported: accepted once,
        new fills (from the order's trades), and its end once every fill is in."""
        if w.ended:
            return []
        events: list[VenueEvent] = []
        if snap.get("id") is not None:
            w.venue_id = str(snap["id"])
        w.unconfirmed = False
        status = snap.get("status")
        if status == "rejected":
            return [self._end(w, "rejected", f"{reasons.VENUE_ERROR}: {self._text(snap.get('info'))}"[:300])]
        if not w.accepted:
            w.accepted = True
            events.append(lo.event("accepted", w.order, self.clock_ms()))
        filled = lo.dec(snap.get("filled"))
        if filled is not None:
            w.venue_filled = max(w.venue_filled, filled * w.size)
        if w.venue_filled > w.filled:
            events += await self._fills(w)
        if status in _DONE and w.filled >= w.venue_filled:
            if w.filled < w.qty:
                reason = w.cancel_reason or (reasons.IOC_REMAINDER if w.order.order_type in ("ioc", "market")
                                             else reasons.CANCELED_BY_VENUE)
                events.append(self._end(w, "canceled", reason))
            w.ended = True
        return events

    async def _fills(self, w: Working) -> list[VenueEvent]:
        """The order's trades not reported yet, oldest first."""
        try:
            trades = await self._call(self._order_trades, w)
        except RETRYABLE as error:
            log.warning("%s: trades of %s unavailable, next poll retries: %s", self.venue, w.order.client_order_id,
                        self._text(error))
            return []
        events = []
        for trade in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            other_order = trade.get("order") is not None and str(trade["order"]) != w.venue_id
            if other_order or str(trade["id"]) in w.fill_ids:
                continue
            fill = lo.fill_event(w.order, trade, w.size, self.clock_ms())
            w.fill_ids.add(str(trade["id"]))
            w.filled += fill.qty
            self._add_position(w.order.symbol, w.order.side, fill.qty, fill.px)
            events.append(fill)
        return events

    async def _order_trades(self, w: Working) -> list[Any]:
        param = self.profile.trades_by_order
        if param is not None:
            trades: list[Any] = await self.exchange.fetch_my_trades(w.order.symbol, None, None, {param: w.venue_id})
        elif self.exchange.has.get("fetchOrderTrades"):
            trades = await self.exchange.fetch_order_trades(w.venue_id, w.order.symbol)
        else:
            trades = await self.exchange.fetch_my_trades(w.order.symbol)
        return trades

    async def _lookup(self, w: Working) -> dict[str, Any] | None:
        """The venue's state of `w` by client id; None when the venue holds no such order."""
        if self.profile.lookup is not None:  # the venue's ccxt fetch_order cannot ask by client id
            return await self.profile.lookup(self.exchange, w.order.symbol, w.order.venue_client_id)
        try:
            found: dict[str, Any] = await self.exchange.fetch_order(w.venue_id, w.order.symbol, self._client_id(w))
        except ccxt.OrderNotFound:
            return None
        return found

    def _client_id(self, w: Working) -> dict[str, str]:
        """Request parameters naming `w` by its venue client id."""
        return {self.profile.client_id_param: w.order.venue_client_id}

    async def _safe_lookup(self, w: Working) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] | None = await self._call(self._lookup, w)
            return found
        except ccxt.BaseError as error:
            log.warning("%s: lookup of %s failed: %s", self.venue, w.order.client_order_id, self._text(error))
            return None

    async def _sweep(self) -> None:
        """Open orders with our prefix that no known order accounts for → `self.orphans`."""
        known = {w.order.venue_client_id for w in self._working.values()}
        for params in self.profile.open_order_sweeps:
            for o in await self._call(self.exchange.fetch_open_orders, None, None, None, dict(params)):
                client_id = o.get("clientOrderId")
                if client_id in known or not lo.ours(self.profile.client_ids, client_id):
                    continue
                market = self.exchange.market(o["symbol"])
                amount = lo.dec(o.get("amount"))
                orphan = Orphan(self.venue, o["symbol"], str(client_id), str(o.get("id")), str(o.get("side")),
                                None if amount is None else amount * lo.contract_size(market), lo.dec(o.get("price")))
                log.warning("%s: open order %s (%s %s %s @ %s) carries our prefix but no known order; left alone",
                            self.venue, orphan.venue_client_id, orphan.symbol, orphan.side, orphan.qty, orphan.px)
                self.orphans.append(orphan)

    # -- helpers -------------------------------------------------------------------------

    def _end(self, w: Working, kind: str, reason: str) -> VenueEvent:
        w.ended = True
        return lo.event(kind, w.order, self.clock_ms(), reason=reason)

    def _add_position(self, symbol: str, side: str, qty: Decimal, px: Decimal | None) -> None:
        if qty <= 0 or px is None:
            return
        net, _ = self._positions.get(symbol, (_ZERO, _ZERO))
        self._positions[symbol] = (net + (qty if side == "buy" else -qty), px)

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(retry=retry_if_exception_type(RETRYABLE), stop=stop_after_attempt(self.retry.attempts),
                             wait=wait_exponential_jitter(multiplier=self.retry.initial_s, max=self.retry.max_s,
                                                          jitter=self.retry.initial_s),
                             sleep=self.timer.sleep, before_sleep=self._log_retry, reraise=True)

    def _log_retry(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        metrics.count_venue_retry(self.venue, type(error).__name__ if isinstance(error, ccxt.BaseError)
                                  else metrics.OTHER)
        log.warning("%s: attempt %d failed with %s, retrying: %s", self.venue, state.attempt_number,
                    type(error).__name__, self._text(error))

    async def _call(self, fn: Callable[..., Any], *args: Any) -> Any:
        """`await fn(*args)`, retrying network-level failures (safe: reads and cancels only)."""
        return await self._retrying()(fn, *args)

    def redact(self, text: str) -> str:
        """`text` without this venue's credentials or request signatures (for logs and reasons)."""
        return self._creds.redact(text)

    def _text(self, value: Any) -> str:
        return self._creds.redact(str(value))
