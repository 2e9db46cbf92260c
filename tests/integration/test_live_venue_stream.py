"""Fills over the venue's websocket (ccxt.pro `watch_my_trades`) next to REST polling, against
the Binance USDⓈ-M trading stub: the listenKey comes from REST, the stub's user-data socket
pushes the recorded `ORDER_TRADE_UPDATE` frame (NautilusTrader's `order_update_trade.json`)
per trade. A fill is reported once whichever way it is seen first — stream or REST — by its
trade id, and a streamed fill needs no REST call."""

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest

from arbflow.connectors import kafka
from arbflow.flows.live_gateway import start_gateway
from arbflow.model import topics
from arbflow.model.config import Config
from arbflow.model.execution import VenueEvent
from arbflow.sinks.gateway.client import LiveVenue
from arbflow.sinks.gateway.credentials import Credentials
from tests.integration.live_venue_support import BTC_PERP, CLOCK_MS, gateway, order
from tests.integration.test_live_gateway_lanes import _publish, _seen, _wait
from tests.stubs.server import StubServer
from tests.stubs.trading import API_KEY, SECRET, BinanceFutures

pytestmark = pytest.mark.integration
KEYS = Credentials(API_KEY, SECRET)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(BinanceFutures()) as server:
        yield server


def binance(stub: StubServer) -> BinanceFutures:
    venue = stub.venue
    assert isinstance(venue, BinanceFutures)
    return venue


async def _streamed(venue: LiveVenue) -> list[VenueEvent]:
    """The next events the stream brings (10 s at most)."""
    await asyncio.wait_for(venue.stream_event.wait(), 10)
    return venue.streamed()


async def _connected(stub: StubServer) -> None:
    for _ in range(500):
        if binance(stub).streaming:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the user-data stream did not connect")


def test_a_resting_orders_fills_come_over_the_stream_once_without_rest(stub: StubServer) -> None:
    entry = order("entry_BTC_1_0_short", side="sell", qty="0.010", px="70000.0")
    venue = binance(stub)

    async def body(live: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        await _connected(stub)
        events = await live.submit([entry])
        venue.fill(entry.venue_client_id, Decimal("0.004"))
        events += await _streamed(live)
        trades_asked = stub.rest_hits["/fapi/v1/userTrades"]
        events += await live.poll()  # REST finds the same fill: nothing new
        venue.fill(entry.venue_client_id, Decimal("0.006"))
        events += await _streamed(live)
        events += await live.poll()  # the order is filled: it ends, no event
        assert stub.rest_hits["/fapi/v1/userTrades"] == trades_asked == 0  # every fill came streamed
        return events

    events = gateway(stub, body, credentials=KEYS, stream=True)
    first, second = venue.orders[entry.venue_client_id].trades
    assert events == [
        VenueEvent(kind="accepted", client_order_id=entry.client_order_id, venue="binance", symbol=BTC_PERP,
                   ts=CLOCK_MS),
        VenueEvent(kind="fill", client_order_id=entry.client_order_id, venue="binance", symbol=BTC_PERP, ts=CLOCK_MS,
                   fill_id=str(first["id"]), px=Decimal("70000"), qty=Decimal("0.004"), fee=Decimal("0.056"),
                   fee_currency="USDT", liquidity="maker"),
        VenueEvent(kind="fill", client_order_id=entry.client_order_id, venue="binance", symbol=BTC_PERP, ts=CLOCK_MS,
                   fill_id=str(second["id"]), px=Decimal("70000"), qty=Decimal("0.006"), fee=Decimal("0.084"),
                   fee_currency="USDT", liquidity="maker")]
    assert [f["o"]["t"] for f in venue.pushed] == [first["id"], second["id"]]
    assert [(m, p) for m, p, _ in venue.requests if p == "/fapi/v1/listenKey"] == [("POST", "/fapi/v1/listenKey")]
    assert not stub.unhandled, stub.unhandled  # nothing else asked (no positions snapshot)


def test_a_fill_rest_saw_first_is_not_reported_again_when_the_stream_brings_it(stub: StubServer) -> None:
    resting = order("entry_BTC_2_0_short", side="sell", qty="0.010", px="70000.0")
    hedge = order("hedge_entry_BTC_2_0_long_0", qty="0.010", px="50000.0", order_type="ioc")
    venue = binance(stub)

    async def body(live: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        await _connected(stub)
        venue.stream_held = True  # a late stream: REST sees everything first
        events = await live.submit([resting, hedge])  # the IOC's fill found by REST
        venue.fill(resting.venue_client_id, Decimal("0.010"))
        events += await live.poll()  # the resting order's fill, by REST
        venue.stream_held = False
        venue.flush_stream()
        late = await _streamed(live)
        assert late == [], late  # both trades were reported already
        return events

    events = gateway(stub, body, credentials=KEYS, stream=True)
    fills = [e for e in events if e.kind == "fill"]
    assert sorted(e.client_order_id for e in fills) == sorted([resting.client_order_id, hedge.client_order_id])
    assert len({e.fill_id for e in fills}) == 2
    assert len(venue.pushed) == 2  # the stream did bring both


def test_the_gateway_lane_publishes_a_streamed_fill_without_waiting_for_a_poll(config: Config,
                                                                               stub: StubServer) -> None:
    """`start_gateway` (streams on) with a 60 s poll: the fill can only have come streamed."""
    config = replace(config, execution=replace(config.execution, poll_interval_s=60))
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(config.kafka.bootstrap or "", names, config.kafka.partitions, 10)
    venue = binance(stub)
    stop = threading.Event()
    thread = start_gateway(config, config.kafka.bootstrap or "", {"binance": KEYS}, {"binance": stub.endpoints},
                           partitions, stop)
    entry = order("entry_BTC_3_0_short", side="sell", qty="0.010", px="70000.0")
    try:
        _publish(config, partitions, [entry])
        _wait(_seen(config, ("accepted", entry.client_order_id)), "the acceptance")
        _wait(lambda: venue.streaming == 1, "the user-data stream")
        polled = stub.rest_hits["/fapi/v1/openOrders"]  # the start's sweeps
        venue.fill(entry.venue_client_id, Decimal("0.010"))
        _wait(_seen(config, ("fill", entry.client_order_id)), "the streamed fill")
    finally:
        stop.set()
        thread.join(30)
    assert stub.rest_hits["/fapi/v1/userTrades"] == 0 and stub.rest_hits["/fapi/v1/openOrders"] == polled
    assert not stub.unhandled, stub.unhandled
