"""A venue that stalls, resets connections and answers 429/5xx (issue #9), with everything
between the desk and the venue real: the execution desk's step (operators.execution.engine, as the
per-asset desk runs it) publishes its orders and cancels on exec.order / exec.intent of the
embedded broker, the gateway loop (flows/live_gateway.py) trades them on the Binance USDⓈ-M
trading stub through the real ccxt class, and the desk reads the answers back from
exec.venue. Stream time is the wall clock, as live: the gateway stamps its events at
receipt and the test feeds the desk a clock.tick every 100 ms.

The desk trades BTC perp long okx / short binance with binance the harder venue, so every
first leg rests on the faulty stub; okx is not live (its legs are refused VENUE_NOT_LIVE —
a second leg refused). Each first leg meets a scripted fate (the stub's per-client-id plan):
clean, 503 / 502 / connection reset / stall then retried, 503 after the order exists, a
stall, 429 or 502 on every attempt, or a margin refusal. Checked: every order ends in a defined
state, placed at most once; the refusals reach exec.venue with their reasons; the desk's
order-failure breaker trips from them; the Prometheus counters show it; and a filled first
leg whose second leg is refused is unwound within 500 ms of stream time."""

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from confluent_kafka import OFFSET_BEGINNING, TopicPartition
from prometheus_client import REGISTRY

from arbflow.connectors import kafka
from arbflow.flows.live_gateway import Gateway
from arbflow.flows.signal_flow import _encode  # the trading flow's encoding: it counts refused entries
from arbflow.model import codec, reasons, topics
from arbflow.model.config import Config
from arbflow.model.execution import Fill, Order, OrderIntent, VenueEvent
from arbflow.model.market import ClockTick
from arbflow.model.portfolio import Alert
from arbflow.operators.execution import engine as execution
from arbflow.sinks.gateway.client import LiveVenue, RetryPolicy, wall_clock_ms
from arbflow.sinks.gateway.credentials import Credentials, make_exchange
from arbflow.sinks.gateway.limits import LiveLimits
from tests.integration.live_venue_support import TIMEOUT_MS
from tests.stubs.server import StubServer
from tests.stubs.trading import API_KEY, SECRET, BinanceFutures
from tests.unit.execution_support import VENUES, book, funding, mark, opportunity, settings

pytestmark = pytest.mark.integration
LIMITS = LiveLimits(max_order_notional=Decimal(10_000), max_venue_notional=Decimal(100_000),
                    orders_per_s=Decimal(50), exit_reserve=2)
# binance (rank 5) is harder than okx (rank 9): the first leg rests on binance, the stub under test
SETTINGS = settings("live", venues={**VENUES, "binance": replace(VENUES["binance"], liquidity_rank=5)})
# The fates of the first legs, in order (None: no fault). The first one fills (the naked-leg
# case below). Refused: 5 of the first 20 binance answers (the first trade's entry and its
# unwind are 2 of them, entries 1–18 the others): 25 % > 20 %, the breaker trips on the 20th.
FATES: list[list[str] | None] = [
    None, ["stall"] * 4, ["503"], ["429"] * 4, ["reset"], ["502"], ["margin"], ["503-created"],
    ["502"] * 4, ["stall", "503"], ["margin"], None, None, None, None, None, None, None, None]
FAILED = {1: reasons.ORDER_NOT_PLACED, 3: reasons.ORDER_NOT_PLACED, 6: reasons.INSUFFICIENT_FUNDS,
          8: reasons.ORDER_NOT_PLACED, 10: reasons.INSUFFICIENT_FUNDS}


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(BinanceFutures(slow_s=2.5 * TIMEOUT_MS / 1000)) as server:
        yield server


class DeskLoop:
    """The desk's execution step between Kafka topics, as the trading flow wires it: Orders
    to exec.order, OrderIntents to exec.intent, VenueEvents from exec.venue in offset order;
    a clock.tick every 100 ms of wall time. `on_new(order)` sees each new order before it is
    published (the test scripts the venue's answer to it)."""

    def __init__(self, config: Config, partitions: dict[str, int], on_new: Callable[[Order], None]) -> None:
        bootstrap = config.kafka.bootstrap or ""
        self.config, self.on_new = config, on_new
        self.state = execution.new_state(SETTINGS)
        self.out: list[Any] = []
        self.events: list[VenueEvent] = []
        self.producer = kafka.KeyedProducer(bootstrap, kafka.Partitioner(config.universe.assets,
                                                                         config.kafka.partitions),
                                            delivery_timeout_ms=5_000, partitions=partitions)
        self.consumer = kafka.consumer(bootstrap, eof=False)
        name = kafka.topic_name(config, topics.EXEC_VENUE)
        self.consumer.assign([TopicPartition(name, p, OFFSET_BEGINNING) for p in range(partitions[name])])
        self.last_tick = 0

    def feed(self, *records: Any) -> list[Any]:
        produced: list[Any] = []
        for record in records:
            _, out = execution.update(self.state, record, SETTINGS)
            _encode([("BTC", out)])  # counts refused entries by reason, as the flow does (for the asserts)
            produced += out
        for record in produced:
            if type(record) is Order:
                if record.status == "new":
                    self.on_new(record)
                self.producer.produce(kafka.topic_name(self.config, topics.EXEC_ORDER), "BTC", codec.encode(record),
                                      timestamp=record.ts)
            elif type(record) is OrderIntent:
                self.producer.produce(kafka.topic_name(self.config, topics.EXEC_INTENT), "BTC",
                                      codec.encode(record), timestamp=record.ts)
        self.producer.flush()
        self.out += produced
        return produced

    def pump(self, until: Callable[[], bool], timeout_s: float = 20) -> None:
        """Feed the venue's answers and clock ticks until `until()` (fails after `timeout_s`)."""
        deadline = time.monotonic() + timeout_s
        while not until():
            assert time.monotonic() < deadline, f"timed out; last outputs {self.out[-5:]}"
            for message in self.consumer.consume(100, 0.02):
                if message.error() is None:
                    event = codec.decode(VenueEvent, message.value(), source="exec.venue")
                    assert isinstance(event, VenueEvent), event
                    self.events.append(event)
                    self.feed(event)
            now = wall_clock_ms()
            if now - self.last_tick >= 100:
                self.last_tick = now
                self.feed(ClockTick(ts=now))

    def market(self) -> None:
        """Fresh books, marks and funding on both venues (execution_support's market)."""
        ts = wall_clock_ms()
        self.feed(book("okx", [("60000", "5")], [("60001", "5")], ts),
                  book("binance", [("60150", "5")], [("60151", "5")], ts),
                  mark("okx", "60000", "60001", "60000", ts), mark("binance", "60150", "60151", "60100", ts),
                  funding("okx", "0.00002", ts + 3_600_000, ts), funding("binance", "0.0001", ts + 3_600_000, ts))

    def of(self, kind: type) -> list[Any]:
        return [r for r in self.out if type(r) is kind]

    def latest(self) -> dict[str, Order]:
        return {o.client_order_id: o for o in self.of(Order)}

    def close(self) -> None:
        self.consumer.close()
        self.producer.flush()


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_stalling_resetting_5xx_venue_places_each_order_once_and_trips_the_desks_breaker(
        config: Config, stub: StubServer) -> None:
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(config.kafka.bootstrap or "", names, config.kafka.partitions, 10)
    venue: BinanceFutures = stub.venue  # type: ignore[assignment]
    firsts: list[Order] = []
    errors = {r: _sample("arbflow_venue_errors_total", venue="binance", reason=r)
              for r in (reasons.ORDER_NOT_PLACED, reasons.INSUFFICIENT_FUNDS)}
    retries = sum(_sample("arbflow_venue_retries_total", venue="binance", error=e)
                  for e in ("RequestTimeout", "ExchangeNotAvailable", "NetworkError", "DDoSProtection",
                            "OperationFailed"))
    breaker_denials = _sample("arbflow_entries_denied_total", reason=reasons.VENUE_BREAKER)

    def on_new(order: Order) -> None:
        if order.venue != "binance":
            return
        if order.client_order_id.startswith("entry_"):
            fate = FATES[len(firsts)] if len(firsts) < len(FATES) else None
            firsts.append(order)
            if fate:
                venue.plan[order.venue_client_id] = list(fate)
        elif order.client_order_id.startswith("unwind_"):
            venue.plan[order.venue_client_id] = ["503-created"]  # the unwind's outcome is unknown at first

    exchange = make_exchange("binance", Credentials(API_KEY, SECRET), stub.endpoints)
    exchange.timeout, exchange.enableRateLimit = TIMEOUT_MS, False
    live = LiveVenue("binance", exchange, LIMITS, retry=RetryPolicy(attempts=4, initial_s=0.05, max_s=0.2))
    stop = threading.Event()
    gateway = Gateway(config, config.kafka.bootstrap or "", {"binance": live}, stop=stop, partitions=partitions,
                      poll_s=0.1)
    failure: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(gateway.run())
        except BaseException as error:  # surfaced below
            failure.append(error)

    thread = threading.Thread(target=main)
    thread.start()
    desk = DeskLoop(config, partitions, on_new)
    try:
        assert gateway.ready.wait(30), failure

        def done(order: Order) -> Callable[[], bool]:
            return lambda: desk.latest()[order.client_order_id].status in ("filled", "canceled", "rejected")

        def free() -> bool:
            return not desk.state.trades

        # trade 0: the first leg fills on binance; the second (okx, not live) is refused;
        # the desk unwinds on binance, whose IOC meets a 503 after it was created
        desk.market()
        desk.feed(opportunity(wall_clock_ms()))
        [first] = firsts
        desk.pump(lambda: desk.latest()[first.client_order_id].status == "open")
        venue.fill(first.venue_client_id, first.qty)
        desk.pump(free)

        # trades 1–18: the first legs' fates; each rests until the desk's 500 ms timeout cancels it
        while len(firsts) < len(FATES) and not [a for a in desk.of(Alert)
                                                if a.code == reasons.BREAKER_ORDER_FAILURES]:
            desk.market()
            before = len(firsts)
            desk.feed(opportunity(wall_clock_ms()))
            assert len(firsts) == before + 1, desk.out[-3:]
            desk.pump(done(firsts[-1]))
            desk.pump(free)

        # the breaker has tripped: the next entry is refused before anything is sent
        desk.market()
        denied = [r for r in desk.feed(opportunity(wall_clock_ms())) if type(r) is execution.EntryDenied]
        assert [d.reason for d in denied] == [reasons.VENUE_BREAKER], list(desk.state.outcomes["binance"])
        desk.pump(lambda: all(o.status in ("filled", "canceled", "rejected") for o in desk.latest().values()),
                  timeout_s=10)
    finally:
        stop.set()
        thread.join(30)
        desk.close()
    assert not failure, failure

    # every order ended in a defined state, and none was created twice
    latest = desk.latest()
    assert {o.status for o in latest.values()} <= {"filled", "canceled", "rejected"}
    assert all(n == 1 for n in venue.created.values()), venue.created
    for i, order in enumerate(firsts):
        state = latest[order.client_order_id]
        expected = FAILED.get(i)
        if expected is not None:
            assert (state.status, (state.reason or "").split(":")[0]) == ("rejected", expected), (i, state)
            if expected == reasons.ORDER_NOT_PLACED:
                assert order.venue_client_id not in venue.orders
        else:
            assert state.status in ("filled", "canceled"), (i, state)
            assert venue.created[order.venue_client_id] == 1

    # the refusals reached exec.venue with their reasons
    refused = [(e.venue, (e.reason or "").split(":")[0]) for e in desk.events if e.kind == "rejected"]
    assert sorted(refused) == sorted([("binance", r) for r in FAILED.values()] + [("okx", reasons.VENUE_NOT_LIVE)])

    # the breaker tripped on the 20th binance answer: 5 refused of the last 20
    [alert] = [a for a in desk.of(Alert) if a.code == reasons.BREAKER_ORDER_FAILURES]
    assert (alert.severity, alert.venue, alert.value) == ("warning", "binance", Decimal("0.25"))
    assert len(firsts) == len(FATES)

    # no naked leg older than 500 ms of stream time: the first trade's short leg filled, its
    # hedge was refused, and the unwind's fill closed the position
    fills = [f for f in desk.of(Fill) if f.trade_id == firsts[0].trade_id]
    assert [f.client_order_id.split("_", 1)[0] for f in fills] == ["entry", "unwind"]
    assert sum(f.qty for f in fills if f.side == "sell") == sum(f.qty for f in fills if f.side == "buy")
    naked_ms = fills[1].ts - fills[0].ts
    assert 0 <= naked_ms <= 500, naked_ms

    # Prometheus: the refusals by reason, the retries, the breaker's refused entry
    assert _sample("arbflow_venue_errors_total", venue="binance", reason=reasons.ORDER_NOT_PLACED) == \
        errors[reasons.ORDER_NOT_PLACED] + 3
    assert _sample("arbflow_venue_errors_total", venue="binance", reason=reasons.INSUFFICIENT_FUNDS) == \
        errors[reasons.INSUFFICIENT_FUNDS] + 2
    assert sum(_sample("arbflow_venue_retries_total", venue="binance", error=e)
               for e in ("RequestTimeout", "ExchangeNotAvailable", "NetworkError", "DDoSProtection",
                         "OperationFailed")) >= retries + 12
    assert _sample("arbflow_entries_denied_total", reason=reasons.VENUE_BREAKER) == breaker_denials + 1
    assert _sample("arbflow_venue_unconfirmed_orders", venue="binance") == 0
