"""The live venue gateway against the Binance USDⓈ-M trading stub: placing, rounding, batches,
priorities, caps, polling, canceling and reconciliation (sinks/gateway/client.py)."""

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from arbflow.model import reasons
from arbflow.model.execution import VenueEvent
from arbflow.sinks.gateway.client import LiveVenue
from arbflow.sinks.gateway.credentials import Credentials
from arbflow.sinks.gateway.limits import LiveLimits
from tests.integration.live_venue_support import BTC_PERP, CLOCK_MS, ManualTimer, cancel, gateway, order, posts
from tests.stubs.server import StubServer
from tests.stubs.trading import API_KEY, SECRET, BinanceFutures

KEYS = Credentials(API_KEY, SECRET)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(BinanceFutures()) as server:
        yield server


def kinds(events: list[VenueEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.client_order_id) for e in events]


def test_limit_order_rests_and_is_accepted_under_its_venue_client_id(stub: StubServer) -> None:
    entry = order("entry_BTC_1_0_long")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit([entry])

    events = gateway(stub, body, credentials=KEYS)
    assert events == [VenueEvent(kind="accepted", client_order_id="entry_BTC_1_0_long", venue="binance",
                                 symbol=BTC_PERP, ts=CLOCK_MS)]
    [sent] = posts(stub, "/fapi/v1/order")
    assert (sent["newClientOrderId"], sent["symbol"], sent["side"], sent["type"], sent["timeInForce"]) == \
        (entry.venue_client_id, "BTCUSDT", "BUY", "LIMIT", "GTC")
    assert Decimal(sent["quantity"]) == Decimal("0.010") and Decimal(sent["price"]) == Decimal("50000.0")
    assert stub.venue.orders[entry.venue_client_id].status == "NEW"


def test_ioc_fill_carries_the_trade_id_price_base_qty_fee_and_liquidity(stub: StubServer) -> None:
    hedge = order("hedge_entry_BTC_1_0_short_0", side="sell", qty="0.010", px="50000.0", order_type="ioc")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit([hedge])

    events = gateway(stub, body, credentials=KEYS)
    trade = stub.venue.orders[hedge.venue_client_id].trades[0]
    # 0.010 BTC × 50000 = 500 USDT notional; taker fee 0.04 % = 0.2 USDT
    assert events == [
        VenueEvent(kind="accepted", client_order_id=hedge.client_order_id, venue="binance", symbol=BTC_PERP,
                   ts=CLOCK_MS),
        VenueEvent(kind="fill", client_order_id=hedge.client_order_id, venue="binance", symbol=BTC_PERP,
                   ts=CLOCK_MS, fill_id=str(trade["id"]), px=Decimal("50000.0"), qty=Decimal("0.010"),
                   fee=Decimal("0.2"), fee_currency="USDT", liquidity="taker")]
    assert posts(stub, "/fapi/v1/order")[0]["timeInForce"] == "IOC"


def test_quantity_rounds_down_to_the_lot_and_limits_round_away_from_crossing(stub: StubServer) -> None:
    # BTCUSDT perp: lot 0.001, tick 0.10 (recorded exchangeInfo)
    buy = order("entry_BTC_2_0_long", qty="0.0109", px="50000.07")
    sell = order("entry_BTC_2_0_short", side="sell", qty="0.0101", px="50000.01")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> None:
        await venue.submit([buy])
        await venue.submit([sell])

    gateway(stub, body, credentials=KEYS)
    placed = {p["newClientOrderId"]: (Decimal(p["quantity"]), Decimal(p["price"]))
              for p in posts(stub, "/fapi/v1/order")}
    assert placed == {buy.venue_client_id: (Decimal("0.010"), Decimal("50000.0")),
                      sell.venue_client_id: (Decimal("0.010"), Decimal("50000.1"))}


def test_several_orders_go_in_one_native_batch(stub: StubServer) -> None:
    entries = [order(f"entry_BTC_3_{i}_long", px=f"4999{i}.0") for i in range(3)]

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit(entries)

    events = gateway(stub, body, credentials=KEYS)
    assert kinds(events) == [("accepted", e.client_order_id) for e in entries]
    [batch] = posts(stub, "/fapi/v1/batchOrders")
    assert [o["newClientOrderId"] for o in json.loads(batch["batchOrders"])] == \
        [e.venue_client_id for e in entries]
    assert posts(stub, "/fapi/v1/order") == []


def test_cancels_go_first_then_de_risking_orders_then_entries(stub: StubServer) -> None:
    resting = order("entry_BTC_4_0_long", px="49000.0")
    entry = order("entry_BTC_5_0_long", px="49100.0")
    exit_order = order("exit_BTC_1_0_long_0", side="sell", px="51000.0")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        await venue.submit([resting])
        return await venue.submit([entry, exit_order, cancel(resting)])

    events = gateway(stub, body, credentials=KEYS)
    assert kinds(events) == [("canceled", resting.client_order_id), ("accepted", exit_order.client_order_id),
                             ("accepted", entry.client_order_id)]
    assert events[0].reason == "ORDER_TIMEOUT"
    writes = [(m, p.get("origClientOrderId") or p.get("newClientOrderId")) for m, path, p in stub.venue.requests
              if m in ("POST", "DELETE")]
    assert writes == [("POST", resting.venue_client_id), ("DELETE", resting.venue_client_id),
                      ("POST", exit_order.venue_client_id), ("POST", entry.venue_client_id)]


def test_order_above_the_notional_cap_is_refused_before_it_leaves(stub: StubServer) -> None:
    big = order("entry_BTC_6_0_long", qty="0.200", px="50000.0")  # 10 000 USDT > cap 5 000

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit([big])

    [event] = gateway(stub, body, credentials=KEYS)
    assert (event.kind, event.reason) == ("rejected", "NOTIONAL_CAP: 10000 > 5000")
    assert stub.venue.creates == {} and posts(stub, "/fapi/v1/order") == []


def test_venue_cap_refuses_entries_but_lets_de_risking_orders_through(stub: StubServer) -> None:
    # cap 20 000: four resting entries of 4 500 = 18 000; a fifth entry would make 22 500
    entries = [order(f"entry_BTC_7_{i}_long", qty="0.090", px="50000.0") for i in range(5)]
    unwind = order("unwind_entry_BTC_7_0_long_0", side="sell", qty="0.090", px="50000.0", order_type="ioc")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        first = await venue.submit(entries)
        return first + await venue.submit([unwind])

    events = gateway(stub, body, credentials=KEYS)
    refused = [e for e in events if e.kind == "rejected"]
    assert [(e.client_order_id, e.reason) for e in refused] == [
        ("entry_BTC_7_4_long", "VENUE_NOTIONAL_CAP: 18000 + 4500 > 20000")]
    assert entries[4].venue_client_id not in stub.venue.creates
    assert ("fill", unwind.client_order_id) in kinds(events)


def test_market_order_without_a_limit_cannot_be_bounded_and_is_refused(stub: StubServer) -> None:
    blind = order("entry_BTC_8_0_long", px=None, order_type="market")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit([blind])

    [event] = gateway(stub, body, credentials=KEYS)
    assert (event.kind, event.reason) == ("rejected", reasons.UNBOUNDED_NOTIONAL)
    assert stub.venue.creates == {}


def test_poll_reports_each_fill_of_a_resting_order_once(stub: StubServer) -> None:
    entry = order("entry_BTC_9_0_long", qty="0.010", px="50000.0")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[list[VenueEvent]]:
        await venue.submit([entry])
        stub.venue.fill(entry.venue_client_id, Decimal("0.004"))
        first, again = await venue.poll(), await venue.poll()
        stub.venue.fill(entry.venue_client_id, Decimal("0.006"))
        return [first, again, await venue.poll(), await venue.poll()]

    first, again, rest, after = gateway(stub, body, credentials=KEYS)
    trades = stub.venue.orders[entry.venue_client_id].trades
    # maker fee 0.02 %: 0.004 × 50000 × 0.0002 = 0.04; 0.006 × 50000 × 0.0002 = 0.06
    assert [(e.kind, e.fill_id, e.qty, e.fee, e.liquidity) for e in first] == [
        ("fill", str(trades[0]["id"]), Decimal("0.004"), Decimal("0.04"), "maker")]
    assert again == []
    assert [(e.kind, e.fill_id, e.qty, e.fee) for e in rest] == [
        ("fill", str(trades[1]["id"]), Decimal("0.006"), Decimal("0.06"))]
    assert after == []  # filled: no cancel, nothing more


def test_cancel_of_a_partly_filled_order_reports_the_fill_then_the_cancel(stub: StubServer) -> None:
    entry = order("entry_BTC_10_0_long")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        await venue.submit([entry])
        stub.venue.fill(entry.venue_client_id, Decimal("0.003"))
        return await venue.submit([cancel(entry, "FIRST_LEG_TIMEOUT")])

    events = gateway(stub, body, credentials=KEYS)
    assert [(e.kind, e.qty, e.reason) for e in events] == [("fill", Decimal("0.003"), None),
                                                          ("canceled", Decimal(0), "FIRST_LEG_TIMEOUT")]
    assert stub.venue.orders[entry.venue_client_id].status == "CANCELED"


def test_the_same_logical_order_is_never_placed_twice(stub: StubServer) -> None:
    entry = order("entry_BTC_11_0_long")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        return await venue.submit([entry]) + await venue.submit([entry])  # a replayed output

    events = gateway(stub, body, credentials=KEYS)
    assert kinds(events) == [("accepted", entry.client_order_id)]
    assert stub.venue.creates == {entry.venue_client_id: 1}


def test_start_reconciles_known_orders_and_reports_orphans_without_touching_them(stub: StubServer) -> None:
    resting = order("entry_BTC_12_0_long", status="open")
    gone = order("entry_BTC_13_0_long", status="new")  # we sent it, the venue never got it
    orphan_id = "afzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
    stub.venue.seed(client_id=resting.venue_client_id, symbol="BTCUSDT", side="BUY", price="50000.0", qty="0.010")
    stub.venue.fill(resting.venue_client_id, Decimal("0.004"))  # while we were away
    stub.venue.seed(client_id=orphan_id, symbol="BTCUSDT", side="SELL", price="52000.0", qty="0.020")
    stub.venue.seed(client_id="web_manual123", symbol="BTCUSDT", side="BUY", price="40000.0", qty="0.001")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> tuple[list[VenueEvent], list[object]]:
        return started, list(venue.orphans)

    started, orphans = gateway(stub, body, credentials=KEYS, known=[resting, gone])
    fill_id = str(stub.venue.orders[resting.venue_client_id].trades[0]["id"])
    assert [(e.kind, e.client_order_id, e.fill_id, e.qty, e.reason) for e in started] == [
        ("fill", resting.client_order_id, fill_id, Decimal("0.004"), None),
        ("rejected", gone.client_order_id, None, Decimal(0), "ORDER_NOT_PLACED: not on binance")]
    assert [(o.venue_client_id, o.symbol, o.side, o.qty, o.px) for o in orphans] == [  # type: ignore[attr-defined]
        (orphan_id, BTC_PERP, "sell", Decimal("0.02"), Decimal("52000"))]
    assert stub.venue.orders[orphan_id].status == "NEW"
    assert not [r for r in stub.venue.requests if r[0] in ("POST", "DELETE")]


def test_rate_bucket_lets_the_exit_use_the_reserve_while_the_entry_waits(stub: StubServer) -> None:
    # 2 orders/s, reserve 1 (capacity 2): the first entry leaves 1 token; the exit takes it at
    # once; the second entry needs 1 + 1 tokens from 0 and waits 2 / 2 = 1 s of the gateway's clock.
    limits = LiveLimits(max_order_notional=Decimal(5_000), max_venue_notional=Decimal(20_000),
                        orders_per_s=Decimal(2), exit_reserve=1)
    manual = ManualTimer()
    first, second = order("entry_BTC_14_0_long", px="49000.0"), order("entry_BTC_15_0_long", px="49100.0")
    exit_order = order("exit_BTC_1_0_short_0", px="51000.0", order_type="ioc")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> None:
        await venue.submit([first])
        assert manual.sleeps == []
        await venue.submit([second, exit_order])

    gateway(stub, body, credentials=KEYS, limits=limits, timer=manual)
    assert manual.sleeps == [1.0]
    assert [p["newClientOrderId"] for p in posts(stub, "/fapi/v1/order")] == [
        first.venue_client_id, exit_order.venue_client_id, second.venue_client_id]


def test_a_cancel_that_arrives_before_its_order_keeps_the_order_from_being_sent(stub: StubServer) -> None:
    """Orders and cancels travel on two topics: the desk's timeout cancel can reach the gateway
    first, or in the same batch (where cancels go first). The order is then never sent."""
    late, same_batch = order("entry_BTC_16_0_long", px="49000.0"), order("entry_BTC_17_0_long", px="49100.0")

    async def body(venue: LiveVenue, started: list[VenueEvent]) -> list[VenueEvent]:
        early = await venue.submit([cancel(late)])
        return early + await venue.submit([late]) + await venue.submit([same_batch, cancel(same_batch)])

    events = gateway(stub, body, credentials=KEYS)
    assert [(e.kind, e.client_order_id, e.reason) for e in events] == [
        ("canceled", late.client_order_id, "ORDER_TIMEOUT"), ("canceled", same_batch.client_order_id, "ORDER_TIMEOUT")]
    assert stub.venue.creates == {}
