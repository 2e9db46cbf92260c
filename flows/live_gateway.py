"""The live gateway loop of `arbflow trade --mode live`: the desks' orders on Kafka become
real venue orders, and the venues' answers go back on exec.venue for the desks.

    exec.order (status "new") ─┐               ┌─ lane binance: LiveVenue ─┐
    exec.intent (kind cancel) ─┴─ OrderReader ─┼─ lane okx:     LiveVenue ─┼─ exec.venue (VenueEvent)
                                               └─ …                        ┘

The reading and decoding is `connectors.kafka.OrderReader`; this module routes what it reads.
One asyncio task ("lane", `sinks.gateway.lane.Lane`) per venue owns that venue's `LiveVenue`:
it reconciles, places and cancels what the reader hands it, and polls resting orders every
`poll_s`; where the venue streams its trades (`LiveVenue(stream=True)`), the lane wakes on
them and publishes their fills at once. The reader never waits on a venue, so a venue that stalls (every request running
into ccxt's `timeout`, `[execution] request_timeout_ms`, and retried) holds up only its own
lane: orders, cancels and polls of every other venue go on. Within a lane everything keeps
its order — reconciliation before the first new order, the venue's answers published in the
order it gave them; what queued while the venue was busy goes out as one batch, cancels
first, then de-risking orders, then entries (`LiveVenue.submit`).

Start-up, before any new order: exec.order is read from the beginning; the latest state of
every order is what the gateway "knows". Each lane's `LiveVenue.start(known)` reconciles those
with its venue (fills and cancels that happened while nothing ran come back as events) and
the client ids already on Kafka are never placed again — a desk that re-emits its orders
after a restart (it rebuilds its state from Kafka) sends nothing twice. Tailing starts at the
offset after the history read, so nothing produced in between is missed; orders read before
their lane has reconciled wait in its queue. An order still "new" on Kafka that the venue does
not hold was never placed: it is answered "rejected" (ORDER_NOT_PLACED) and the desk unwinds
— never sent late. `ready` is set once every lane has reconciled and the reader tails.

An order for a venue that is not live (not in `--venues`, or no keys) is answered with a
"rejected" event (`VENUE_NOT_LIVE`), so the desk unwinds instead of waiting. A lane that
fails (its venue cannot load its markets, refuses its keys mid-session, an unexpected error)
fails alone (sinks.gateway.lane): its orders are answered "rejected" (`VENUE_DOWN`) while it
retries its reconciliation with backoff, and it trades again once reconciled; the other
venues trade on. `ready` waits for every lane's first start, up or down (`down()` names the
venues that are down). What stops the gateway: keys refused at a lane's first start
(`ConfigError`) and failed Kafka deliveries or reads (`ArbflowError`). The loop ends when `stop`
is set; every lane finishes what it holds, then the producer is flushed and the exchanges
closed. Publishing waits for the broker's acknowledgement on the event loop (milliseconds);
it is the one step the lanes share.
"""

import asyncio
import functools
import threading
from collections import defaultdict
from collections.abc import Callable

from arbflow.connectors import kafka
from arbflow.model import codec, reasons, topics
from arbflow.model.config import Config
from arbflow.model.errors import ServiceUnavailable
from arbflow.model.execution import Order, OrderIntent, VenueEvent
from arbflow.model.symbols import base_asset
from arbflow.sinks.gateway.client import LiveVenue, wall_clock_ms
from arbflow.sinks.gateway.credentials import Credentials, make_exchange
from arbflow.sinks.gateway.lane import Lane, LaneBackoff
from arbflow.sinks.gateway.limits import LiveLimits
from arbflow.sinks.metrics import count_venue_events, observe_venue


class Gateway:
    """One gateway over several venues; `run()` until `stop` is set (see the module docstring)."""

    def __init__(self, config: Config, bootstrap: str, venues: dict[str, LiveVenue], *, stop: threading.Event,
                 partitions: dict[str, int], poll_s: float = 0.2,
                 clock_ms: Callable[[], int] | None = None, backoff: LaneBackoff | None = None) -> None:
        self.config, self.bootstrap, self.venues, self.stop = config, bootstrap, venues, stop
        self.poll_s = poll_s
        self.backoff = backoff or LaneBackoff()
        self.lanes: dict[str, Lane] = {}
        self.clock_ms = clock_ms or wall_clock_ms
        self.producer = kafka.KeyedProducer(bootstrap, kafka.Partitioner(config.universe.assets,
                                                                         config.kafka.partitions),
                                            delivery_timeout_ms=config.kafka.delivery_timeout_ms,
                                            partitions=partitions, client=config.kafka.client)
        self.topic_venue = kafka.topic_name(config, topics.EXEC_VENUE)
        self.orders = kafka.OrderReader(config, bootstrap)
        self.ready = threading.Event()  # set once every lane's first start ended and exec.order is tailed
        self.sent: set[str] = set()  # logical ids ever seen as "new" on exec.order: never placed again
        self.published = 0

    def publish(self, events: list[VenueEvent]) -> None:
        """Publish and wait for the acknowledgement: a venue's answer is never only in memory
        (if the process dies before, the next start's reconciliation asks the venue again)."""
        for event in events:
            self.producer.produce(self.topic_venue, base_asset(event.symbol), codec.encode(event), timestamp=event.ts)
        if events:
            self.producer.flush()
            self.published += len(events)
            count_venue_events(events)
        for venue, lane in self.lanes.items():
            observe_venue(venue, lane.unconfirmed(), lane.live.exposure())

    def down(self) -> dict[str, str]:
        """The venues whose lane is down, and why."""
        return {venue: lane.cause for venue, lane in self.lanes.items() if lane.cause is not None}

    async def run(self) -> None:
        known = self.orders.history()
        self.sent = set(known)
        self.lanes = lanes = {
            venue: Lane(live, [o for o in known.values() if o.venue == venue], publish=self.publish,
                        reload=functools.partial(self.orders.latest, venue),
                        sent=self.sent, poll_s=self.poll_s, backoff=self.backoff, clock_ms=self.clock_ms)
            for venue, live in self.venues.items()}
        try:
            self.orders.open()
            loop = asyncio.get_running_loop()
            # the first poll connects and starts fetching (~0.5–1 s on the embedded broker):
            # "ready" means tailing, so an order published right after it is not late
            records = await loop.run_in_executor(None, self.orders.poll, 1.0)
            while not self.stop.is_set():
                for venue, items in self._route(records).items():
                    lane = lanes.get(venue)
                    if lane is not None:
                        lane.queue.put_nowait(items)  # its own task places them; nothing here waits on a venue
                    else:
                        self.publish(self._not_live(venue, items))
                for lane in lanes.values():
                    lane.check()  # a lane fails alone; only what is fatal (sinks.gateway.lane) ends its task
                if not self.ready.is_set() and all(lane.settled.is_set() for lane in lanes.values()):
                    self.ready.set()
                records = await loop.run_in_executor(None, self.orders.poll, 0.05)
        finally:
            self.orders.close()
            for lane in lanes.values():
                lane.queue.put_nowait(None)  # finish what is in hand, then end
            await asyncio.gather(*(lane.task for lane in lanes.values()), return_exceptions=True)
            self.producer.flush()
            for live in self.venues.values():
                await live.close()
        for lane in lanes.values():
            lane.check()

    def _route(self, records: list[Order | OrderIntent]) -> dict[str, list[Order | OrderIntent]]:
        """Per venue, the orders to place (each client id once, ever) and the cancels."""
        batch: dict[str, list[Order | OrderIntent]] = defaultdict(list)
        for record in records:
            if isinstance(record, Order):
                if record.status == "new" and record.client_order_id not in self.sent:
                    self.sent.add(record.client_order_id)
                    batch[record.venue].append(record)
            elif record.kind == "cancel":
                batch[record.venue].append(record)
        return batch

    def _not_live(self, venue: str, items: list[Order | OrderIntent]) -> list[VenueEvent]:
        ts = self.clock_ms()
        return [VenueEvent(kind="rejected", client_order_id=o.client_order_id, venue=venue, symbol=o.symbol, ts=ts,
                           reason=f"{reasons.VENUE_NOT_LIVE}: {venue} is not traded live")
                for o in items if isinstance(o, Order)]


class GatewayThread(threading.Thread):
    """The gateway's own event loop in a thread; `join()` re-raises what stopped it."""

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(name="arbflow-live-gateway", daemon=True)
        self.gateway = gateway
        self.venues = gateway.venues
        self.error: BaseException | None = None

    def down(self) -> dict[str, str]:
        """The venues whose lane is down now, and why (`Gateway.down`)."""
        return self.gateway.down()

    def run(self) -> None:
        try:
            asyncio.run(self.gateway.run())
        except BaseException as error:
            self.error = error
            self.gateway.stop.set()  # the flow stops too: no trading without a gateway

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        if self.error is not None:
            raise self.error


def start_gateway(config: Config, bootstrap: str, keys: dict[str, Credentials], urls: dict[str, dict[str, str]],
                  partitions: dict[str, int], stop: threading.Event, *, ready_timeout_s: float = 60,
                  backoff: LaneBackoff | None = None) -> GatewayThread:
    """Build one `LiveVenue` per venue under the [execution] caps, start the gateway thread and
    wait until every venue's lane has started — reconciled, or down and retrying (`down()`) —
    and it tails exec.order. Raises what stopped it (keys refused at start: `ConfigError`)."""
    limits = LiveLimits(max_order_notional=config.execution.max_order_notional,
                        max_venue_notional=config.execution.max_venue_notional,
                        orders_per_s=config.execution.orders_per_s, exit_reserve=config.execution.exit_reserve)
    timeout_ms = config.execution.request_timeout_ms
    venues = {venue: LiveVenue(venue, make_exchange(venue, creds, urls.get(venue), timeout_ms=timeout_ms), limits,
                               stream=True)
              for venue, creds in keys.items()}
    thread = GatewayThread(Gateway(config, bootstrap, venues, stop=stop, partitions=partitions,
                                   poll_s=config.execution.poll_interval_s, backoff=backoff))
    thread.start()
    waited = 0.0
    while not thread.gateway.ready.wait(0.2):
        if not thread.is_alive():
            thread.join()  # raises what stopped it
        waited += 0.2
        if waited >= ready_timeout_s:
            stop.set()
            raise ServiceUnavailable(f"the live gateway did not reconcile with its venues within {ready_timeout_s:g} s")
    return thread
