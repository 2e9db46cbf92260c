"""Faults between the live venue gateway and Binance USDⓈ-M (the trading stub injects them):
venue refusal, timeout after the order was created, 429, dropped connection, partial IOC —
and no key ever in a log line or a reason."""

import json
import logging
from collections.abc import Iterator
from decimal import Decimal

import pytest

from model.execution import VenueEvent
from sinks.live_credentials import Credentials
from sinks.live_venue import LiveVenue
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
