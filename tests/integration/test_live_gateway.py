"""The live gateway loop (flows/live_gateway.py) between the real embedded broker and the
Binance USDⓈ-M trading stub: orders from exec.order reach the venue once, answers land on
exec.venue, a venue that is not live answers "rejected", and a restart reconciles from
Kafka without placing anything twice."""

import asyncio
import threading
import time
from collections.abc import Iterator
from decimal import Decimal

import pytest

from arbflow.connectors import kafka
from arbflow.flows.live_gateway import Gateway
from arbflow.model import codec, reasons, topics
from arbflow.model.config import Config
from arbflow.model.execution import Order, VenueEvent
from arbflow.sinks.gateway.client import LiveVenue
from arbflow.sinks.gateway.credentials import Credentials, make_exchange
from arbflow.sinks.gateway.limits import LiveLimits
from tests.integration.live_venue_support import CLOCK_MS, order, posts
from tests.stubs.server import StubServer
from tests.stubs.trading import API_KEY, SECRET, BinanceFutures

pytestmark = pytest.mark.integration
LIMITS = LiveLimits(max_order_notional=Decimal(5_000), max_venue_notional=Decimal(20_000),
                    orders_per_s=Decimal(50), exit_reserve=2)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(BinanceFutures()) as server:
        yield server


def _publish(config: Config, partitions: dict[str, int], orders: list[Order]) -> None:
    with kafka.KeyedProducer(config.kafka.bootstrap or "", kafka.Partitioner(config.universe.assets,
                                                                             config.kafka.partitions),
                             delivery_timeout_ms=5_000, partitions=partitions) as producer:
        for o in orders:
            producer.produce(kafka.topic_name(config, topics.EXEC_ORDER), "BTC", codec.encode(o), timestamp=o.ts)


def _venue_events(config: Config) -> list[VenueEvent]:
    messages = kafka.read_topic(config.kafka.bootstrap or "", kafka.topic_name(config, topics.EXEC_VENUE))
    return [codec.decode(VenueEvent, m.value, source="t") for m in sorted(messages, key=lambda m: (m.partition,
                                                                                                  m.offset))]


def _run_until(config: Config, stub: StubServer, partitions: dict[str, int], expected: int,
               then: list[Order]) -> Gateway:
    """Run a gateway in a thread, publish `then` once it tails, and stop when exec.venue
    holds `expected` events (30 s at most)."""
    stop = threading.Event()
    exchange = make_exchange("binance", Credentials(API_KEY, SECRET), stub.endpoints)
    exchange.enableRateLimit = False
    gateway = Gateway(config, config.kafka.bootstrap or "", {"binance": LiveVenue("binance", exchange, LIMITS,
                                                                                    clock_ms=lambda: CLOCK_MS)},
                      stop=stop, partitions=partitions, poll_s=0.2, clock_ms=lambda: CLOCK_MS)
    failure: list[BaseException] = []

    def main() -> None:
        try:
            asyncio.run(gateway.run())
        except BaseException as error:  # surfaced below
            failure.append(error)

    thread = threading.Thread(target=main)
    thread.start()
    assert gateway.ready.wait(30), failure
    _publish(config, partitions, then)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not failure and len(_venue_events(config)) < expected:
        time.sleep(0.2)
    stop.set()
    thread.join(30)
    assert not failure, failure
    return gateway


def test_orders_reach_the_venue_once_and_the_answers_come_back_on_exec_venue(config: Config,
                                                                            stub: StubServer) -> None:
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(config.kafka.bootstrap or "", names, config.kafka.partitions, 10)
    resting = order("entry_BTC_1_0_short", side="sell", qty="0.010", px="70000.0")
    hedge = order("hedge_entry_BTC_1_0_long_0", side="buy", qty="0.010", px="50000.0", order_type="ioc")
    elsewhere = order("entry_BTC_1_0_long", venue="okx")
    _run_until(config, stub, partitions, expected=4, then=[resting, hedge, elsewhere])
    events = _venue_events(config)
    assert {(e.kind, e.client_order_id) for e in events} >= {
        ("accepted", resting.client_order_id), ("accepted", hedge.client_order_id),
        ("fill", hedge.client_order_id), ("rejected", elsewhere.client_order_id)}
    refused = next(e for e in events if e.client_order_id == elsewhere.client_order_id)
    assert refused.reason is not None and refused.reason.startswith(reasons.VENUE_NOT_LIVE)
    assert all(e.symbol == "BTC/USDT:USDT" for e in events)
    placed = [p["newClientOrderId"] for p in posts(stub, "/fapi/v1/order")] + [
        o["newClientOrderId"] for p in posts(stub, "/fapi/v1/batchOrders") for o in _batch(p)]
    assert sorted(placed) == sorted([resting.venue_client_id, hedge.venue_client_id])

    # restarted, the gateway reconciles what exec.order holds with the venue; a desk that
    # rebuilt its state from Kafka and re-emits the same orders gets nothing placed twice
    before = len(events)
    _run_until(config, stub, partitions, expected=before + 1, then=[resting, hedge])
    placed_again = [p["newClientOrderId"] for p in posts(stub, "/fapi/v1/order")] + [
        o["newClientOrderId"] for p in posts(stub, "/fapi/v1/batchOrders") for o in _batch(p)]
    assert sorted(placed_again) == sorted(placed)  # not one order twice
    later = _venue_events(config)[before:]
    assert ("accepted", resting.client_order_id) in {(e.kind, e.client_order_id) for e in later}  # reconciled


def _batch(params: dict[str, str]) -> list[dict[str, str]]:
    import json

    return list(json.loads(params["batchOrders"]))
