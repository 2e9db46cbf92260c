"""A venue whose gateway lane fails, failing alone (flows/live_gateway.py, sinks/gateway/lane.py).
The gateway runs as `arbflow trade --mode live` starts it (`start_gateway`: the [execution]
settings, ccxt's rate limiter on, Binance's trade stream) between the real embedded broker
and two trading stubs through the real ccxt classes: Binance USDⓈ-M, which the tests take
down (HTTP 503 -1001 on every request, exchangeInfo included) or whose keys they refuse
(-2014), and OKX, which keeps answering.

Checked: the other venue's orders are placed and answered all along; the failed venue's
orders are answered `rejected VENUE_DOWN` (counted) and never sent; a cancel of an order
never sent is answered `canceled`, a cancel of an order that may rest on the venue waits,
unconfirmed, and goes out once the lane is back; the lane reconciles (its open-order sweep
reaches the venue) before its next order, which is then placed exactly once; keys refused
at start stop the gateway with a config error naming the key."""

import threading
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from prometheus_client import REGISTRY

from arbflow.connectors import kafka
from arbflow.flows.live_gateway import GatewayThread, start_gateway
from arbflow.model import reasons, topics
from arbflow.model.config import Config
from arbflow.model.errors import ConfigError
from arbflow.model.execution import VenueEvent
from arbflow.sinks.gateway.credentials import Credentials
from arbflow.sinks.gateway.lane import LaneBackoff
from tests.integration.live_venue_support import cancel, order
from tests.integration.test_live_gateway_lanes import _publish, _seen, _venue_events, _wait
from tests.stubs import trading_okx
from tests.stubs.server import StubServer
from tests.stubs.trading import API_KEY, SECRET, BinanceFutures
from tests.stubs.trading_okx import OkxTrading

pytestmark = pytest.mark.integration
BACKOFF = LaneBackoff(initial_s=0.2, max_s=0.5)
KEYS = {"binance": Credentials(API_KEY, SECRET),
        "okx": Credentials(trading_okx.API_KEY, trading_okx.SECRET, trading_okx.PASSPHRASE)}


@pytest.fixture
def binance() -> Iterator[StubServer]:
    with StubServer(BinanceFutures()) as server:
        yield server


@pytest.fixture
def okx() -> Iterator[StubServer]:
    with StubServer(OkxTrading()) as server:
        yield server


def _sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _start(config: Config, binance: StubServer, okx: StubServer, stop: threading.Event) -> tuple[Config,
                                                                                                  dict[str, int],
                                                                                                  GatewayThread]:
    config = replace(config, execution=replace(config.execution, poll_interval_s=0.1))
    names = [kafka.topic_name(config, t) for t in topics.all_topics()]
    partitions = kafka.ensure_topics(config.kafka.bootstrap or "", names, config.kafka.partitions, 10)
    thread = start_gateway(config, config.kafka.bootstrap or "", KEYS,
                           {"binance": binance.endpoints, "okx": okx.endpoints}, partitions, stop, backoff=BACKOFF)
    return config, partitions, thread


def _of(config: Config, venue: str) -> list[tuple[str, str, str]]:
    """(kind, logical id, reason code) of `venue`'s events on exec.venue, in order."""
    return [(e.kind, e.client_order_id, (e.reason or "").split(":")[0]) for e in _venue_events(config)
            if e.venue == venue]


def _after(requests: list[tuple[str, str, dict[str, str]]], start: int) -> Callable[[str, str], int]:
    """Index (from `start`) of the first request of a method and path in the stub's log."""
    return lambda method, path: next(i for i, (m, p, _) in enumerate(requests) if i >= start and (m, p) == (method,
                                                                                                            path))


def test_a_venue_down_at_start_fails_alone_and_places_once_when_reconciled(config: Config, binance: StubServer,
                                                                           okx: StubServer) -> None:
    down: BinanceFutures = binance.venue  # type: ignore[assignment]
    down.down = True
    refused_before = _sample("arbflow_venue_errors_total", venue="binance", reason=reasons.VENUE_DOWN)
    stop = threading.Event()
    config, partitions, thread = _start(config, binance, okx, stop)
    hedge = order("hedge_entry_BTC_1_0_long_0", venue="okx", qty="0.010", px="50000.0", order_type="ioc")
    short = order("entry_BTC_1_0_short", side="sell", qty="0.010", px="70000.0")
    ghost = order("entry_BTC_2_0_short", side="sell", qty="0.010", px="70000.0")  # canceled before it came
    later = order("entry_BTC_3_0_short", side="sell", qty="0.010", px="70000.0")
    try:
        # started: binance down (its markets could not load), okx reconciled
        assert set(thread.down()) == {"binance"}
        # the markets request answered 503 -1001 (ccxt: OperationFailed, retried 4 times per attempt)
        assert thread.down()["binance"].startswith("binance is down (OperationFailed: binance {\"code\": -1001")
        assert down.requests[0][1] == "/fapi/v1/exchangeInfo" or down.requests[0][1] == "/api/v3/exchangeInfo"
        assert _sample("arbflow_venue_up", venue="binance") == 0
        assert _sample("arbflow_venue_up", venue="okx") == 1

        # okx trades; a cancel of a binance order never sent is answered canceled
        _publish(config, partitions, [hedge, cancel(ghost)])
        _wait(_seen(config, ("fill", hedge.client_order_id), ("canceled", ghost.client_order_id)),
              "the OKX fill and the binance cancel's answer")
        # binance orders are refused VENUE_DOWN at once; the canceled one is never sent nor answered again
        _publish(config, partitions, [ghost, short])
        _wait(_seen(config, ("rejected", short.client_order_id)), "the binance refusal")
        assert not down.creates

        # the venue comes back: the lane reconciles, then places the next order exactly once
        recovered_from = len(down.requests)
        down.down = False
        _wait(lambda: not thread.down(), "the binance lane to reconcile again")
        assert _sample("arbflow_venue_up", venue="binance") == 1
        _publish(config, partitions, [later])
        _wait(_seen(config, ("accepted", later.client_order_id)), "the binance order after recovery")
    finally:
        stop.set()
        thread.join(30)
    assert _of(config, "okx") == [("accepted", hedge.client_order_id, ""), ("fill", hedge.client_order_id, "")]
    assert _of(config, "binance") == [("canceled", ghost.client_order_id, reasons.ORDER_TIMEOUT),
                                      ("rejected", short.client_order_id, reasons.VENUE_DOWN),
                                      ("accepted", later.client_order_id, "")]
    refusal = next(e for e in _venue_events(config) if e.client_order_id == short.client_order_id)
    assert isinstance(refusal, VenueEvent) and "binance is down" in (refusal.reason or "")
    assert down.creates == {later.venue_client_id: 1} and down.created == {later.venue_client_id: 1}
    first = _after(down.requests, recovered_from)
    assert first("GET", "/fapi/v1/openOrders") < first("POST", "/fapi/v1/order")  # reconciled before the order
    assert _sample("arbflow_venue_errors_total", venue="binance", reason=reasons.VENUE_DOWN) == refused_before + 1


def test_keys_refused_mid_session_take_down_only_the_lane_and_a_held_cancel_goes_out_once_back(
        config: Config, binance: StubServer, okx: StubServer) -> None:
    venue: BinanceFutures = binance.venue  # type: ignore[assignment]
    stop = threading.Event()
    config, partitions, thread = _start(config, binance, okx, stop)
    resting = order("entry_BTC_1_0_short", side="sell", qty="0.010", px="70000.0")
    refused = order("entry_BTC_2_0_short", side="sell", qty="0.010", px="70000.0")
    hedge = order("hedge_entry_BTC_3_0_long_0", venue="okx", qty="0.010", px="50000.0", order_type="ioc")
    after = order("entry_BTC_4_0_short", side="sell", qty="0.010", px="70000.0")
    try:
        assert not thread.down()
        _publish(config, partitions, [resting])
        _wait(_seen(config, ("accepted", resting.client_order_id)), "the resting binance order")

        venue.keys_refused = True  # the next poll of the resting order is refused: the lane goes down
        _wait(lambda: "binance" in thread.down(), "the binance lane to go down")
        assert "AuthenticationError" in thread.down()["binance"]
        assert API_KEY not in thread.down()["binance"]
        _publish(config, partitions, [refused, cancel(resting), hedge])
        _wait(_seen(config, ("rejected", refused.client_order_id), ("fill", hedge.client_order_id)),
              "the binance refusal and the OKX fill")
        # the resting order may still rest there: its cancel waits, the order counted unconfirmed
        _wait(lambda: _sample("arbflow_venue_unconfirmed_orders", venue="binance") == 1, "the unconfirmed order")
        assert ("canceled", resting.client_order_id) not in {(e.kind, e.client_order_id)
                                                             for e in _venue_events(config)}
        assert venue.orders[resting.venue_client_id].status == "NEW"

        venue.keys_refused = False
        _wait(_seen(config, ("canceled", resting.client_order_id)), "the held cancel after reconciliation")
        assert not thread.down()
        _publish(config, partitions, [after])
        _wait(_seen(config, ("accepted", after.client_order_id)), "the binance order after recovery")
    finally:
        stop.set()
        thread.join(30)
    assert venue.orders[resting.venue_client_id].status == "CANCELED"
    assert venue.created == {resting.venue_client_id: 1, after.venue_client_id: 1}
    assert refused.venue_client_id not in venue.creates
    events = _of(config, "binance")
    assert events[:2] == [("accepted", resting.client_order_id, ""),
                          ("rejected", refused.client_order_id, reasons.VENUE_DOWN)]
    # reconciled again: the resting order's acceptance is repeated (the desk drops it), then its cancel
    assert events[2:] == [("accepted", resting.client_order_id, ""),
                          ("canceled", resting.client_order_id, reasons.ORDER_TIMEOUT),
                          ("accepted", after.client_order_id, "")]
    assert _sample("arbflow_venue_unconfirmed_orders", venue="binance") == 0


def test_keys_refused_at_start_stop_the_gateway_naming_the_key(config: Config, binance: StubServer,
                                                               okx: StubServer) -> None:
    venue: BinanceFutures = binance.venue  # type: ignore[assignment]
    venue.keys_refused = True
    stop = threading.Event()
    with pytest.raises(ConfigError) as raised:
        _start(config, binance, okx, stop)
    assert raised.value.key == "ARBFLOW_BINANCE_API_KEY"
    assert "binance refused the key at start" in str(raised.value) and API_KEY not in str(raised.value)
    assert stop.is_set()  # no trading without the gateway
