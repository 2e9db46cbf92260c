"""The live venue gateway against the Bybit v5 trading stub (recorded payloads, the real ccxt
`bybit` class): a limit rests under its ≤ 36-character `orderLinkId`, an IOC fill carries the
execution id, price, base quantity and fee, a cancel ends the order, reconciliation at
start, nothing is ever placed twice, and a margin refusal is a rejected event. Linear sizes
are base units (BTCUSDT: BTC).

Found by it: ccxt's `bybit.fetch_order` always sends `orderId` (the text "None" when the
gateway has no venue id yet) and passes `clientOrderId` through unmapped, so a lookup by
client id found nothing — reconciliation called a resting, partly filled order
ORDER_NOT_FOUND, and a send whose answer was lost could not be confirmed. The gateway now
asks `/v5/order/realtime` by `orderLinkId` (and cancels by it)."""

import json
from collections.abc import Iterator, Sequence
from decimal import Decimal

import pytest

from arbflow.model.execution import VenueEvent
from arbflow.operators.execution.ids import is_valid
from arbflow.sinks.gateway.client import LiveVenue
from arbflow.sinks.gateway.credentials import Credentials
from tests.integration.live_venue_support import BTC_PERP, CLOCK_MS, cancel, gateway, order, submit_in_turn
from tests.stubs.server import StubServer
from tests.stubs.trading_bybit import API_KEY, SECRET, BybitTrading

KEYS = Credentials(API_KEY, SECRET)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(BybitTrading()) as server:
        yield server


def bybit(stub: StubServer) -> BybitTrading:
    venue = stub.venue
    assert isinstance(venue, BybitTrading)
    return venue


def placed(stub: StubServer) -> list[dict[str, str]]:
    return [p for method, path, p in bybit(stub).requests if method == "POST" and path == "/v5/order/create"]


def run(stub: StubServer, *batches: Sequence[object], known: Sequence[object] | None = None) -> list[VenueEvent]:
    return submit_in_turn(stub, *batches, credentials=KEYS, known=known)


def test_limit_order_rests_and_is_accepted_under_its_bybit_client_id(stub: StubServer) -> None:
    entry = order("entry_BTC_1_0_long", venue="bybit", qty="0.050", px="50000.0")
    assert is_valid(entry.venue_client_id, "bybit") and len(entry.venue_client_id) <= 36
    events = run(stub, [entry])
    assert events == [VenueEvent(kind="accepted", client_order_id=entry.client_order_id, venue="bybit",
                                 symbol=BTC_PERP, ts=CLOCK_MS)]
    [sent] = placed(stub)
    assert (sent["orderLinkId"], sent["symbol"], sent["category"], sent["side"], sent["orderType"]) == (
        entry.venue_client_id, "BTCUSDT", "linear", "Buy", "Limit")
    assert (Decimal(sent["qty"]), Decimal(sent["price"])) == (Decimal("0.05"), Decimal("50000"))  # base units
    assert bybit(stub).orders[entry.venue_client_id].status == "New"
    # ccxt learned the account is unified from the two recorded answers before its first order
    assert stub.rest_hits["/v5/user/query-api"] == stub.rest_hits["/v5/account/info"] == 1


def test_ioc_fill_carries_the_execution_id_price_base_qty_and_fee(stub: StubServer) -> None:
    hedge = order("hedge_entry_BTC_1_0_short_0", venue="bybit", side="sell", qty="0.050", px="50000.0",
                  order_type="ioc")
    events = run(stub, [hedge])
    [execution] = bybit(stub).orders[hedge.venue_client_id].executions
    # 0.05 BTC × 50000 = 2500 USDT; taker 0.055 % = 1.375 USDT
    assert execution["execFee"] == "1.375"
    assert events == [
        VenueEvent(kind="accepted", client_order_id=hedge.client_order_id, venue="bybit", symbol=BTC_PERP,
                   ts=CLOCK_MS),
        VenueEvent(kind="fill", client_order_id=hedge.client_order_id, venue="bybit", symbol=BTC_PERP, ts=CLOCK_MS,
                   fill_id=execution["execId"], px=Decimal("50000"), qty=Decimal("0.05"), fee=Decimal("1.375"),
                   fee_currency="USDT", liquidity="taker")]
    assert placed(stub)[0]["timeInForce"] == "IOC"


def test_partial_ioc_then_cancel_of_a_resting_order(stub: StubServer) -> None:
    hedge = order("hedge_entry_BTC_2_0_short_0", venue="bybit", side="sell", qty="0.050", px="50000.0",
                  order_type="ioc")
    bybit(stub).ioc_fills[hedge.venue_client_id] = [Decimal("0.02")]
    resting = order("entry_BTC_3_0_long", venue="bybit", qty="0.030", px="49000.0")
    events = run(stub, [hedge], [resting], [cancel(resting)])
    assert [(e.kind, e.client_order_id, e.qty, e.reason) for e in events] == [
        ("accepted", hedge.client_order_id, Decimal(0), None),
        ("fill", hedge.client_order_id, Decimal("0.02"), None),
        ("canceled", hedge.client_order_id, Decimal(0), "IOC_REMAINDER"),
        ("accepted", resting.client_order_id, Decimal(0), None),
        ("canceled", resting.client_order_id, Decimal(0), "ORDER_TIMEOUT")]
    assert bybit(stub).orders[resting.venue_client_id].status == "Cancelled"
    [canceled] = [p for m, path, p in bybit(stub).requests if path == "/v5/order/cancel"]
    assert canceled["orderLinkId"] == resting.venue_client_id


def test_start_reconciles_known_orders_by_client_id_and_reports_orphans_without_touching_them(
        stub: StubServer) -> None:
    resting = order("entry_BTC_4_0_long", venue="bybit", qty="0.050", px="50000.0", status="open")
    gone = order("entry_BTC_5_0_long", venue="bybit", status="new")  # we sent it, Bybit never got it
    orphan_id = "afzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
    venue = bybit(stub)
    venue.seed(link_id=resting.venue_client_id, symbol="BTCUSDT", side="Buy", price="50000", qty="0.05")
    venue.fill(resting.venue_client_id, Decimal("0.02"))  # while we were away
    venue.seed(link_id=orphan_id, symbol="BTCUSDT", side="Sell", price="52000", qty="0.03")

    async def body(live: LiveVenue, started: list[VenueEvent]) -> tuple[list[VenueEvent], list[object]]:
        return started, list(live.orphans)

    started, orphans = gateway(stub, body, credentials=KEYS, known=[resting, gone])
    exec_id = venue.orders[resting.venue_client_id].executions[0]["execId"]
    assert [(e.kind, e.client_order_id, e.fill_id, e.qty, e.reason) for e in started] == [
        ("fill", resting.client_order_id, exec_id, Decimal("0.02"), None),
        ("rejected", gone.client_order_id, None, Decimal(0), "ORDER_NOT_PLACED: not on bybit")]
    assert [(o.venue_client_id, o.symbol, o.side, o.qty, o.px) for o in orphans] == [  # type: ignore[attr-defined]
        (orphan_id, BTC_PERP, "sell", Decimal("0.03"), Decimal("52000"))]
    assert venue.orders[orphan_id].status == "New"
    assert not [r for r in venue.requests if r[0] == "POST"]
    lookups = [p for m, path, p in venue.requests if path == "/v5/order/realtime" and "orderLinkId" in p]
    assert [p["orderLinkId"] for p in lookups] == [resting.venue_client_id, gone.venue_client_id]
    assert not [p for p in lookups if "orderId" in p]


def test_the_same_logical_order_is_never_placed_twice_and_batches_go_native(stub: StubServer) -> None:
    entries = [order(f"entry_BTC_6_{i}_long", venue="bybit", qty="0.010", px=f"4999{i}.0") for i in range(2)]
    events = run(stub, entries, entries)  # a replayed output
    assert [(e.kind, e.client_order_id) for e in events] == [("accepted", e.client_order_id) for e in entries]
    assert bybit(stub).created == bybit(stub).creates == {e.venue_client_id: 1 for e in entries}
    assert stub.rest_hits["/v5/order/create-batch"] == 1 and stub.rest_hits["/v5/order/create"] == 0


def test_margin_refusal_is_a_rejected_event_with_the_venue_message(stub: StubServer) -> None:
    bybit(stub).faults.append("margin")
    entry = order("entry_BTC_7_0_long", venue="bybit")
    [event] = run(stub, [entry])
    assert (event.kind, event.reason is not None and event.reason.split(":")[0]) == ("rejected", "INSUFFICIENT_FUNDS")
    assert "110007" in (event.reason or "") and bybit(stub).created == {}
    assert json.dumps(event.reason).count(API_KEY) == 0


def test_a_refused_batch_item_is_rejected_and_the_others_placed(stub: StubServer) -> None:
    entries = [order(f"entry_BTC_8_{i}_long", venue="bybit", qty="0.010", px=f"4999{i}.0") for i in range(2)]
    bybit(stub).seed(link_id=entries[1].venue_client_id, symbol="BTCUSDT", side="Buy", price="49991",
                     qty="0.01")  # already there: Bybit refuses the duplicate orderLinkId
    events = run(stub, entries)
    assert [(e.kind, e.client_order_id) for e in events] == [("accepted", entries[0].client_order_id),
                                                             ("accepted", entries[1].client_order_id)]
    assert bybit(stub).created == {e.venue_client_id: 1 for e in entries}  # the duplicate read as "got through"
