"""Faults between the live venue gateway and Binance USDⓈ-M (the trading stub injects them):
venue refusal, timeout after the order was created, 429 (once and on every attempt), dropped
connection, connection reset, 502/503 (before and after the order exists), a venue that
stalls, partial IOC — and no key ever in a log line or a reason."""

import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest
from prometheus_client import REGISTRY

from arbflow.model.execution import VenueEvent
from arbflow.sinks.gateway.client import LiveVenue
from arbflow.sinks.gateway.credentials import Credentials
from tests.integration.live_venue_support import BTC_PERP, CLOCK_MS, TIMEOUT_MS, gateway, order, posts
from tests.stubs.server import StubServer
from tests.stubs.trading import API_KEY, SECRET, BinanceFutures

KEYS = Credentials(API_KEY, SECRET)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(BinanceFutures(slow_s=2.5 * TIMEOUT_MS / 1000)) as server:
        yield server


def lookups(stub: StubServer, venue_client_id: str) -> int:
    return sum(1 for method, path, p in stub.venue.requests
               if method == "GET" and path == "/fapi/v1/order" and p.get("origClientOrderId") == venue_client_id)


def place(stub: StubServer, *orders: object) -> list[VenueEvent]:
    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit(list(orders))  # type: ignore[arg-type]
    return gateway(stub, body, credentials=KEYS)


def test_insufficient_margin_is_a_rejected_event_with_the_venue_message(stub: StubServer) -> None:
    stub.venue.faults.append("margin")
    entry = order("entry_BTC_20_0_long")
    [event] = place(stub, entry)
    assert (event.kind, event.client_order_id, event.symbol) == ("rejected", entry.client_order_id, BTC_PERP)
    assert event.reason == 'INSUFFICIENT_FUNDS: binance {"code": -2019, "msg": "Margin is insufficient."}'
    assert stub.venue.orders == {} and stub.venue.creates == {entry.venue_client_id: 1}  # refused: never retried


def test_timeout_after_the_venue_created_the_order_finds_it_by_client_id_and_never_sends_it_again(
        stub: StubServer) -> None:
    stub.venue.faults.append("timeout")  # created at once, answered after 2.5 × ccxt's timeout
    entry = order("entry_BTC_21_0_long")
    events = place(stub, entry)
    assert events == [VenueEvent(kind="accepted", client_order_id=entry.client_order_id, venue="binance",
                                 symbol=BTC_PERP, ts=CLOCK_MS)]
    assert stub.venue.creates == {entry.venue_client_id: 1}
    assert lookups(stub, entry.venue_client_id) == 1
    assert len(stub.venue.orders) == 1


def test_timeout_of_a_batch_resends_nothing_the_venue_already_holds(stub: StubServer) -> None:
    stub.venue.faults.append("timeout")
    entries = [order(f"entry_BTC_22_{i}_long", px=f"4990{i}.0") for i in range(2)]
    events = place(stub, *entries)
    assert sorted((e.kind, e.client_order_id) for e in events) == [("accepted", e.client_order_id) for e in entries]
    assert stub.venue.creates == {e.venue_client_id: 1 for e in entries}
    assert len(posts(stub, "/fapi/v1/batchOrders")) == 1


def test_429_is_retried_with_the_same_client_id_after_asking_the_venue(stub: StubServer) -> None:
    stub.venue.faults.append("429")  # nothing created
    entry = order("entry_BTC_23_0_long")
    events = place(stub, entry)
    assert [(e.kind, e.client_order_id) for e in events] == [("accepted", entry.client_order_id)]
    sent = posts(stub, "/fapi/v1/order")
    assert [p["newClientOrderId"] for p in sent] == [entry.venue_client_id] * 2
    assert lookups(stub, entry.venue_client_id) == 1  # -2013 "Order does not exist." → then re-sent
    assert len(stub.venue.orders) == 1


def test_connection_dropped_mid_order_finds_the_order_and_does_not_place_it_twice(stub: StubServer) -> None:
    stub.venue.faults.append("drop")  # created, then the TCP connection is aborted without an answer
    hedge = order("hedge_entry_BTC_24_0_long_0", side="sell", order_type="ioc")
    events = place(stub, hedge)
    trade = stub.venue.orders[hedge.venue_client_id].trades[0]
    assert [(e.kind, e.fill_id, e.qty) for e in events] == [("accepted", None, Decimal(0)),
                                                            ("fill", str(trade["id"]), Decimal("0.010"))]
    assert stub.venue.creates == {hedge.venue_client_id: 1}


def test_partial_ioc_reports_each_fill_then_cancels_the_remainder(stub: StubServer) -> None:
    hedge = order("hedge_entry_BTC_25_0_long_0", side="sell", qty="0.010", px="50000.0", order_type="ioc")
    stub.venue.ioc_fills[hedge.venue_client_id] = [Decimal("0.004"), Decimal("0.002")]
    events = place(stub, hedge)
    ids = [str(t["id"]) for t in stub.venue.orders[hedge.venue_client_id].trades]
    # taker 0.04 %: 0.004 × 50000 × 0.0004 = 0.08; 0.002 × 50000 × 0.0004 = 0.04
    assert [(e.kind, e.fill_id, e.qty, e.fee, e.reason) for e in events] == [
        ("accepted", None, Decimal(0), Decimal(0), None),
        ("fill", ids[0], Decimal("0.004"), Decimal("0.08"), None),
        ("fill", ids[1], Decimal("0.002"), Decimal("0.04"), None),
        ("canceled", None, Decimal(0), Decimal(0), "IOC_REMAINDER")]
    assert stub.venue.orders[hedge.venue_client_id].status == "EXPIRED"


def test_keys_never_appear_in_logs_or_reasons_on_error_paths(stub: StubServer,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    stub.venue.faults += ["echo", "429", "timeout"]
    caplog.set_level(logging.DEBUG)
    events = place(stub, order("entry_BTC_26_0_long"))
    events += place(stub, order("entry_BTC_26_1_long"))
    [refused] = [e for e in events if e.kind == "rejected"]
    assert refused.reason is not None and refused.reason.startswith("VENUE_ERROR: binance")
    assert "X-MBX-APIKEY" in refused.reason and "***" in refused.reason  # the echo arrived, redacted
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert any("DDoSProtection" in m for m in retries) and any("RequestTimeout" in m for m in retries)
    texts = caplog.text + json.dumps([e.reason for e in events])
    assert API_KEY not in texts and SECRET not in texts


# -- a venue that stalls, resets connections and answers 5xx / repeated 429 (issue #9) ---------


def test_503_after_the_venue_created_the_order_is_an_unknown_outcome_found_by_client_id(stub: StubServer) -> None:
    """Binance documents a 503 as "execution status UNKNOWN": ccxt raises OperationFailed for its
    -1000 body, which is no refusal — the order is looked up, found, and never sent again."""
    stub.venue.faults.append("503-created")
    entry = order("entry_BTC_30_0_long")
    assert [(e.kind, e.client_order_id) for e in place(stub, entry)] == [("accepted", entry.client_order_id)]
    assert stub.venue.creates == stub.venue.created == {entry.venue_client_id: 1}
    assert lookups(stub, entry.venue_client_id) == 1


@pytest.mark.parametrize("fault", ["503", "502", "reset"])
def test_5xx_and_connection_reset_before_the_order_exists_are_retried_once_it_is_known_absent(
        stub: StubServer, fault: str) -> None:
    """503 -1001 (an internal error), the front proxy's 502 page and a connection reset: nothing
    was created; the venue is asked, answers -2013, and the same client id goes again — once."""
    stub.venue.faults.append(fault)
    entry = order(f"entry_BTC_31_{fault}_long")
    assert [(e.kind, e.client_order_id) for e in place(stub, entry)] == [("accepted", entry.client_order_id)]
    assert stub.venue.creates == {entry.venue_client_id: 2} and stub.venue.created == {entry.venue_client_id: 1}
    assert lookups(stub, entry.venue_client_id) == 1


def test_a_venue_that_stalls_every_request_leaves_the_order_unconfirmed_then_rejected_never_resent(
        stub: StubServer) -> None:
    """The create and the three lookups after it get no answer within ccxt's timeout: the
    order is unconfirmed (no event, the gauge says 1); the next poll finds it absent →
    rejected ORDER_NOT_PLACED. It was sent once and never again."""
    entry = order("entry_BTC_32_0_long")
    stub.venue.plan[entry.venue_client_id] = ["stall"] * 4

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> tuple[list[VenueEvent], int, list[VenueEvent]]:
        placed = await venue.submit([entry])
        return placed, venue.unconfirmed(), await venue.poll()

    placed, unconfirmed, polled = gateway(stub, body, credentials=KEYS)
    assert (placed, unconfirmed) == ([], 1)
    assert [(e.kind, e.reason) for e in polled] == [("rejected", "ORDER_NOT_PLACED: not on binance")]
    assert stub.venue.creates == {entry.venue_client_id: 1} and stub.venue.created == {}
    assert stub.venue.plan[entry.venue_client_id] == []


def test_429_on_every_attempt_ends_rejected_with_a_reason_and_counts_the_retries(stub: StubServer) -> None:
    before = REGISTRY.get_sample_value("arbflow_venue_retries_total",
                                       {"venue": "binance", "error": "DDoSProtection"}) or 0.0
    stub.venue.faults += ["429"] * 4  # every create attempt; the lookups between them answer -2013
    entry = order("entry_BTC_33_0_long")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit([entry]) + await venue.poll()

    [event] = gateway(stub, body, credentials=KEYS)
    assert (event.kind, event.reason) == ("rejected", "ORDER_NOT_PLACED: not on binance")
    assert stub.venue.creates == {entry.venue_client_id: 4} and stub.venue.created == {}
    after = REGISTRY.get_sample_value("arbflow_venue_retries_total", {"venue": "binance", "error": "DDoSProtection"})
    assert after == before + 3  # 4 attempts: 3 retries
