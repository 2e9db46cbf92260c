"""One venue's lane of the live gateway (flows/live_gateway.py): the asyncio task that owns
the venue's `LiveVenue` (sinks.gateway.client), and that fails alone.

Up: reconciled (`LiveVenue.start`), the lane submits what arrives on `queue` (lists of orders
and cancels; None ends the lane once everything before it is done) and polls every `poll_s`,
woken early by the venue's trade stream. Every venue call of this venue happens here and
nowhere else, so a venue that stalls holds up only its own lane; its events go to `publish`
in the order the venue answered, and what queued while the venue was busy goes out as one
batch (cancels first, then de-risking orders, then entries).

Down: a lane whose reconciliation or work fails — its markets cannot load (venue down, DNS,
a 5xx page), the venue refuses its keys mid-session, any unexpected exception — goes down
alone; the other lanes trade on. While it is down (`cause` says why):
- every order queued or arriving is answered `rejected` `VENUE_DOWN: …` at once: never sent,
  never left unanswered (the desk unwinds now instead of on its own timeouts);
- a cancel of an order the venue cannot hold (never sent by this lane, and not working on
  exec.order) is answered `canceled` with the cancel's reason, and that order, should it come
  later, is never sent; a cancel of an order that may rest on the venue is not answered: it is
  logged, the order counts as unconfirmed, and the cancel goes out once the lane is
  reconciled again;
- what was in hand when it failed: orders not sent yet are rejected `VENUE_DOWN`; orders that
  may have left are answered by the next reconciliation (accepted and fills, or
  `ORDER_NOT_PLACED` when the venue does not hold them);
- reconciliation is retried with exponential backoff and jitter (tenacity, `LaneBackoff`),
  each attempt from scratch: `LiveVenue.reset()`, the latest state of the venue's orders
  re-read from exec.order (`reload`), `LiveVenue.start` — no order leaves before the venue
  is reconciled again. The first attempt of a failure is immediate.
The lane is counted in `arbflow_venue_up{venue}` (1 up, 0 down), its refusals in
`arbflow_venue_errors_total{venue,reason="VENUE_DOWN"}`, and logged at ERROR on every failed
attempt (CRITICAL when the venue refuses the keys).

Invariants: an order handed to the lane is sent at most once and only by a reconciled lane;
every order handed to it is answered (at once while down, by the venue or the next
reconciliation otherwise); an id the lane answered while down is left out of later
reconciliations and never sent.

Fatal — the task fails, which stops the gateway: our own errors (`ArbflowError`: a Kafka
delivery or read that failed — the gateway cannot answer anything then), and keys the venue
refuses on the lane's first start (`ConfigError` naming the key's variable: a wrong key is a
configuration error, loud at start, and retrying it only risks a ban).
"""

import asyncio
import logging
from collections.abc import Callable, Container
from dataclasses import dataclass
from typing import Any

import ccxt
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, wait_exponential_jitter

from arbflow.model import reasons
from arbflow.model.errors import ArbflowError, ConfigError
from arbflow.model.execution import Order, OrderIntent, VenueEvent
from arbflow.sinks import metrics
from arbflow.sinks.gateway import orders as lo
from arbflow.sinks.gateway.client import LiveVenue

log = logging.getLogger("arbflow.live_gateway")
Item = Order | OrderIntent


@dataclass(frozen=True, slots=True)
class LaneBackoff:
    """Waits between reconciliation attempts of a lane that is down: exponential from
    `initial_s` doubling up to `max_s` seconds, plus up to `initial_s` of jitter."""

    initial_s: float = 1.0
    max_s: float = 60.0


def _fatal(error: BaseException) -> bool:
    return isinstance(error, ArbflowError) or not isinstance(error, Exception)


class Lane:
    """See the module docstring. `known` is the latest state of the venue's orders on
    exec.order at the gateway's start; `reload()` (blocking, run in a thread) reads it again
    for a reconciliation after a failure; `sent` holds the logical ids the gateway's reader
    has handed on (an order on exec.order the reader has not seen yet is left to the queue)."""

    def __init__(self, live: LiveVenue, known: list[Order], *, publish: Callable[[list[VenueEvent]], None],
                 reload: Callable[[], list[Order]], sent: Container[str], poll_s: float, backoff: LaneBackoff,
                 clock_ms: Callable[[], int]) -> None:
        self.live, self.venue = live, live.venue
        self.publish, self.reload, self.sent = publish, reload, sent
        self.poll_s, self.backoff, self.clock_ms = poll_s, backoff, clock_ms
        self.queue: asyncio.Queue[list[Item] | None] = asyncio.Queue()
        self.reconciled = asyncio.Event()  # set while the lane is up
        self.settled = asyncio.Event()  # set once its first start ended, up or down
        self.cause: str | None = None  # why the lane is down; None while up (or starting)
        self._known: list[Order] | None = known  # the first start's; later ones re-read exec.order
        self._answered: set[str] = set()  # logical ids the lane ended while down: never sent
        self._maybe: set[str] = set()  # logical ids working on exec.order at the last reconciliation
        self._held: dict[str, OrderIntent] = {}  # cancels of orders that may rest there: sent once up
        self._in_hand: list[Item] = []  # taken off the queue, not answered yet
        self._front: list[list[Item] | None] = []  # taken off the queue by `_peek`
        self._ending = False
        self.task = asyncio.create_task(self._run(), name=f"live-gateway-{self.venue}")

    def check(self) -> None:
        """Re-raise what ended the lane, if it failed (only fatal errors end it)."""
        error = self.task.exception() if self.task.done() and not self.task.cancelled() else None
        if error is not None:
            raise error

    def unconfirmed(self) -> int:
        """Orders whose state the venue has confirmed neither way yet (held cancels' too)."""
        return len(self.live.unconfirmed_ids() | set(self._held))

    # -- up and down -----------------------------------------------------------------------

    async def _run(self) -> None:
        while not self._ending:
            await self._recover()
            if self._ending:
                break
            try:
                await self._serve()
            except Exception as error:
                if _fatal(error):
                    raise
                self._down(error, 0.0)
        self.publish(self._answer_down(self._take()) if self.cause is not None else [])

    async def _recover(self) -> None:
        """Reconcile; while that fails, serve the queue as a lane that is down (`_down_for`)
        between attempts. Returns once up, or when the lane is ending."""
        retrying = AsyncRetrying(
            wait=wait_exponential_jitter(multiplier=self.backoff.initial_s, max=self.backoff.max_s,
                                         jitter=self.backoff.initial_s),
            retry=retry_if_exception(lambda e: not _fatal(e)), sleep=self._down_for, before_sleep=self._attempt_failed,
            reraise=True)
        async for attempt in retrying:
            with attempt:
                if not self._ending:
                    await self._reconcile()

    async def _reconcile(self) -> None:
        """One attempt: reconcile from scratch, then send the held cancels and what queued meanwhile."""
        backlog: list[Item] = []
        first = self._known is not None
        if self._known is not None:
            known, self._known = self._known, None
        else:
            await self.live.reset()
            latest = await asyncio.get_running_loop().run_in_executor(None, self.reload)
            # taken in the same step as the filter below: an order the reader handed on is
            # either in this backlog (sent after reconciling) or reconciled, never both
            backlog = self._take()
            self._in_hand = backlog
            pending = {i.client_order_id for i in backlog if isinstance(i, Order)}
            known = [o for o in latest if o.client_order_id in self.sent
                     and o.client_order_id not in self._answered and o.client_order_id not in pending]
            if self._ending:  # the gateway stops: answer what waited, reconcile nothing
                self._in_hand = []
                self.publish(self._answer_down(backlog))
                return
        self._maybe = {o.client_order_id for o in known if o.status in lo.WORKING}
        try:
            events = await self.live.start(known)
        except ccxt.AuthenticationError as error:
            if not first:
                raise
            variable = f"ARBFLOW_{self.venue.upper()}_API_KEY"
            raise ConfigError(variable, f"{self.venue} refused the key at start "
                                        f"({type(error).__name__}: {self.live.redact(str(error))[:200]})") from error
        self.publish(events)
        if self.live.orphans:
            log.warning("%s: %d open orders with our prefix are unknown to Kafka; left untouched",
                        self.venue, len(self.live.orphans))
        if self.cause is not None:
            log.warning("%s: lane UP again — reconciled with the venue; accepting orders", self.venue)
        self.cause = None
        self.reconciled.set()
        self.settled.set()
        metrics.observe_venue_up(self.venue, True)
        held: list[Item] = list(self._held.values())
        self._held.clear()
        self._in_hand = held + backlog
        if self._in_hand:
            self.publish(await self.live.submit(self._in_hand))
        self._in_hand = []

    def _attempt_failed(self, state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        self._down(error or RuntimeError("unknown failure"), state.upcoming_sleep, state.attempt_number)

    def _down(self, error: BaseException, retry_in_s: float, attempt: int = 0) -> None:
        """Mark the lane down because of `error`, say so, and answer what was in hand."""
        text = self.live.redact(f"{type(error).__name__}: {error}")[:200]
        self.cause = f"{self.venue} is down ({text})"
        self.reconciled.clear()
        self.settled.set()
        metrics.observe_venue_up(self.venue, False)
        level = logging.CRITICAL if isinstance(error, ccxt.AuthenticationError) else logging.ERROR
        when = f"reconciliation attempt {attempt} failed; next in {retry_in_s:.1f} s" if attempt else \
            "reconciling again now"
        log.log(level, "%s: lane DOWN — %s; its orders are answered rejected %s, other venues trade on (%s)",
                self.venue, text, reasons.VENUE_DOWN, when,
                exc_info=None if isinstance(error, ccxt.BaseError) else error)  # a bug: its traceback
        in_hand, self._in_hand = self._in_hand, []
        self.publish(self._answer_down(in_hand))

    async def _down_for(self, seconds: float) -> None:
        """`seconds` of a lane that is down: answer what arrives (`_answer_down`); earlier on ending."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while True:
            self.publish(self._answer_down(self._take()))
            left = deadline - loop.time()
            if left <= 0 or self._ending:
                return
            await self._wait(left, stream=False)

    def _answer_down(self, items: list[Item]) -> list[VenueEvent]:
        """The answers of a lane that is down (module docstring)."""
        events: list[VenueEvent] = []
        for item in items:
            if isinstance(item, Order):
                logical = item.client_order_id
                if self.live.may_hold(logical):  # in hand when the lane failed: it may have left
                    log.warning("%s: %s may have reached the venue; the next reconciliation answers it",
                                self.venue, logical)
                    self.live.mark_unconfirmed(logical)
                    continue
                self._answered.add(logical)
                events.append(lo.event("rejected", item, self.clock_ms(),
                                       reason=f"{reasons.VENUE_DOWN}: {self.cause}; not sent"[:300]))
                continue
            logical = item.intent_id.removeprefix("cancel:")
            if logical in self._answered:
                continue  # answered already: nothing of it is on the venue
            if logical in self._maybe or self.live.may_hold(logical):
                log.warning("%s: cancel of %s cannot reach the venue (down); the order may rest there — "
                            "unconfirmed, canceled once the lane is reconciled", self.venue, logical)
                self._held[logical] = item
                self.live.mark_unconfirmed(logical)
                continue
            self._answered.add(logical)
            events.append(VenueEvent(kind="canceled", client_order_id=logical, venue=item.venue, symbol=item.symbol,
                                     ts=self.clock_ms(), reason=item.reason or reasons.ORDER_TIMEOUT))
        return events

    async def _serve(self) -> None:
        """The lane while up: submit, publish what the stream brought, poll; until ending."""
        loop = asyncio.get_running_loop()
        next_poll = loop.time() + self.poll_s
        while not self._ending:
            await self._wait(max(0.0, next_poll - loop.time()), stream=True)
            self._in_hand = self._take()
            if self._in_hand:
                self.publish(await self.live.submit(self._in_hand))
            self._in_hand = []
            self.publish(self.live.streamed())
            if not self._ending and loop.time() >= next_poll:
                self.publish(await self.live.poll())
                next_poll = loop.time() + self.poll_s

    # -- the queue ---------------------------------------------------------------------------

    async def _wait(self, timeout_s: float, *, stream: bool) -> None:
        """Until something is queued, the venue's trade stream brought trades (`stream`), or `timeout_s`."""
        if self._front or not self.queue.empty() or (stream and self.live.stream_event.is_set()):
            return
        waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(self._peek())]
        if stream:
            waiters.append(asyncio.ensure_future(self.live.stream_event.wait()))
        _, pending = await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        for waiter in pending:
            waiter.cancel()

    async def _peek(self) -> None:
        """Wait until the queue holds something, leaving it for `_take`."""
        self._front.append(await self.queue.get())

    def _take(self) -> list[Item]:
        """Everything queued, in order; None marks the lane ending; orders the lane answered
        while down are dropped (never sent)."""
        waiting, self._front = self._front, []
        while not self.queue.empty():
            waiting.append(self.queue.get_nowait())
        items: list[Item] = []
        for got in waiting:
            if got is None:
                self._ending = True
                continue
            for item in got:
                if isinstance(item, Order) and item.client_order_id in self._answered:
                    log.info("%s: %s was answered while the venue was down; not sending it", self.venue,
                             item.client_order_id)
                else:
                    items.append(item)
        return items
