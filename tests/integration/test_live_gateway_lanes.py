"""Per-venue lanes of the live gateway (flows/live_gateway.py): a venue that stalls holds up
only its own orders. The gateway runs as `arbflow trade --mode live` starts it
(`start_gateway`: the [execution] settings, ccxt's rate limiter on) between the real
embedded broker and two trading stubs — Binance USDⓈ-M holding every request until the test
lets go, OKX answering at once.

No wall-clock threshold: while the one Binance create is provably still in flight (held by
the stub, nothing created, no Binance event), an OKX IOC is filled, an OKX resting order is
accepted, its fill is found by a poll and its cancel goes through — all on exec.venue before
the Binance order's outcome. A gateway that served the venues one after another would send
nothing to OKX until Binance answered (or ccxt gave up after 4 × `request_timeout_ms`)."""

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from arbflow.connectors import kafka
from arbflow.flows.live_gateway import start_gateway
from arbflow.model import codec, topics
from arbflow.model.config import Config
from arbflow.model.execution import Order, OrderIntent, VenueEvent
from arbflow.sinks.gateway.credentials import Credentials
from tests.integration.live_venue_support import cancel, order
from tests.stubs import trading_okx
from tests.stubs.server import StubServer
from tests.stubs.trading import API_KEY, SECRET, BinanceFutures
from tests.stubs.trading_okx import OkxTrading

pytestmark = pytest.mark.integration
TIMEOUT_MS = 30_000  # far longer than the test: the held Binance request is never given up on


@pytest.fixture
def binance() -> Iterator[StubServer]:
    with StubServer(BinanceFutures()) as server:
        yield server


@pytest.fixture
def okx() -> Iterator[StubServer]:
    with StubServer(OkxTrading()) as server:
        yield server


def _publish(config: Config, partitions: dict[str, int], records: list[Order | OrderIntent]) -> None:
    with kafka.KeyedProducer(config.kafka.bootstrap or "", kafka.Partitioner(config.universe.assets,
                                                                             config.kafka.partitions),
                             delivery_timeout_ms=5_000, partitions=partitions) as producer:
        for r in records:
            logical = topics.EXEC_ORDER if isinstance(r, Order) else topics.EXEC_INTENT
            producer.produce(kafka.topic_name(config, logical), "BTC", codec.encode(r), timestamp=r.ts)


def _venue_events(config: Config) -> list[VenueEvent]:
    """exec.venue in offset order (every event here is BTC's: one partition)."""
    messages = kafka.read_topic(config.kafka.bootstrap or "", kafka.topic_name(config, topics.EXEC_VENUE))
    events = [codec.decode(VenueEvent, m.value, source="t") for m in sorted(messages, key=lambda m: (m.partition,
                                                                                                    m.offset))]
    assert all(isinstance(e, VenueEvent) for e in events), events
    return events


def _wait(condition: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _seen(config: Config, *wanted: tuple[str, str]) -> Callable[[], bool]:
    return lambda: set(wanted) <= {(e.kind, e.client_order_id) for e in _venue_events(config)}


def test_a_stalled_venue_delays_no_order_cancel_or_poll_on_another(config: Config, binance: StubServer,
                                                                   okx: StubServer) -> None:
    config = replace(config, execution=replace(config.execution, request_timeout_ms=TIMEOUT_MS,
                                               poll_interval_s=0.1))
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(config.kafka.bootstrap or "", names, config.kafka.partitions, 10)
    slow: Any = binance.venue
    fast: Any = okx.venue
    keys = {"binance": Credentials(API_KEY, SECRET),
            "okx": Credentials(trading_okx.API_KEY, trading_okx.SECRET, trading_okx.PASSPHRASE)}
    stop = threading.Event()
    thread = start_gateway(config, config.kafka.bootstrap or "", keys,
                           {"binance": binance.endpoints, "okx": okx.endpoints}, partitions, stop)
    short = order("entry_BTC_1_0_short", side="sell", qty="0.010", px="70000.0")
    hedge = order("hedge_entry_BTC_1_0_long_0", venue="okx", qty="0.010", px="50000.0", order_type="ioc")
    resting = order("entry_BTC_2_0_long", venue="okx", qty="0.050", px="49000.0")
    try:
        assert {v: live.exchange.timeout for v, live in thread.venues.items()} == {"binance": TIMEOUT_MS,
                                                                                   "okx": TIMEOUT_MS}
        _wait(lambda: slow.streaming == 1, "the Binance user-data stream")  # its set-up is not held below
        slow.holding = True
        _publish(config, partitions, [short])
        _wait(lambda: slow.held == 1, "the Binance create to be in flight")

        _publish(config, partitions, [hedge, resting])
        _wait(_seen(config, ("fill", hedge.client_order_id), ("accepted", resting.client_order_id)),
              "the OKX orders' answers")
        fast.fill(resting.venue_client_id, Decimal(2))  # 2 of 5 contracts, found by the OKX lane's poll
        _wait(_seen(config, ("fill", resting.client_order_id)), "the OKX poll's fill")
        _publish(config, partitions, [cancel(resting)])
        _wait(_seen(config, ("canceled", resting.client_order_id)), "the OKX cancel")

        # all the while the Binance order's one request was held: nothing created, no answer
        assert slow.held == 1 and not slow.created
        assert not [e for e in _venue_events(config) if e.venue == "binance"]

        slow.holding = False
        _wait(_seen(config, ("accepted", short.client_order_id)), "the Binance order's outcome")
    finally:
        stop.set()
        thread.join(30)
    events = [(e.venue, e.kind, e.client_order_id, e.qty, e.reason) for e in _venue_events(config)]
    assert events == [
        ("okx", "accepted", hedge.client_order_id, Decimal(0), None),
        ("okx", "fill", hedge.client_order_id, Decimal("0.01"), None),
        ("okx", "accepted", resting.client_order_id, Decimal(0), None),
        ("okx", "fill", resting.client_order_id, Decimal("0.02"), None),
        ("okx", "canceled", resting.client_order_id, Decimal(0), "ORDER_TIMEOUT"),
        ("binance", "accepted", short.client_order_id, Decimal(0), None)]
    assert slow.created == {short.venue_client_id: 1}
    assert fast.created == {hedge.venue_client_id: 1, resting.venue_client_id: 1}
