"""The live venue gateway against the OKX v5 trading stub (recorded payloads, the real ccxt
`okx` class): a limit rests under its ≤ 32-alphanumeric client id, an IOC fill carries the
trade id, price, base quantity and fee, a cancel ends the order, reconciliation at start,
and nothing is ever placed twice. Sizes go out in contracts (BTC-USDT-SWAP: 0.01 BTC each)."""

import json
from collections.abc import Iterator
from decimal import Decimal

import pytest

from arbflow.model.execution import VenueEvent
from arbflow.operators.execution.ids import is_valid
from arbflow.sinks.gateway.client import LiveVenue
from arbflow.sinks.gateway.credentials import Credentials
from tests.integration.live_venue_support import BTC_PERP, CLOCK_MS, cancel, gateway, order, submit_in_turn
from tests.stubs.server import StubServer
from tests.stubs.trading_okx import API_KEY, PASSPHRASE, SECRET, OkxTrading

KEYS = Credentials(API_KEY, SECRET, PASSPHRASE)


@pytest.fixture
def stub() -> Iterator[StubServer]:
    with StubServer(OkxTrading()) as server:
        yield server


def okx(stub: StubServer) -> OkxTrading:
    venue = stub.venue
    assert isinstance(venue, OkxTrading)
    return venue


def placed(stub: StubServer) -> list[dict[str, str]]:
    return [p for method, path, p in okx(stub).requests if method == "POST" and path == "/api/v5/trade/order"]


def run(stub: StubServer, *batches: list[object], known: list[object] | None = None) -> list[VenueEvent]:
    return submit_in_turn(stub, *batches, credentials=KEYS, known=known)


def test_limit_order_rests_and_is_accepted_under_its_okx_client_id(stub: StubServer) -> None:
    entry = order("entry_BTC_1_0_long", venue="okx", qty="0.050", px="50000.0")
    assert is_valid(entry.venue_client_id, "okx") and len(entry.venue_client_id) <= 32
    assert entry.venue_client_id.isalnum()
    events = run(stub, [entry])
    assert events == [VenueEvent(kind="accepted", client_order_id=entry.client_order_id, venue="okx",
                                 symbol=BTC_PERP, ts=CLOCK_MS)]
    [sent] = placed(stub)
    assert (sent["clOrdId"], sent["instId"], sent["side"], sent["ordType"]) == (
        entry.venue_client_id, "BTC-USDT-SWAP", "buy", "limit")
    assert (Decimal(sent["sz"]), Decimal(sent["px"])) == (Decimal(5), Decimal("50000"))  # 0.05 BTC = 5 contracts
    assert okx(stub).orders[entry.venue_client_id].state == "live"


def test_ioc_fill_carries_the_trade_id_price_base_qty_and_fee(stub: StubServer) -> None:
    hedge = order("hedge_entry_BTC_1_0_short_0", venue="okx", side="sell", qty="0.050", px="50000.0",
                  order_type="ioc")
    events = run(stub, [hedge])
    [fill_row] = okx(stub).orders[hedge.venue_client_id].fills
    # 5 contracts × 0.01 BTC × 50000 = 2500 USDT; taker 0.05 % = 1.25 USDT (OKX sends it as "-1.25")
    assert fill_row["fee"] == "-1.25"
    assert events == [
        VenueEvent(kind="accepted", client_order_id=hedge.client_order_id, venue="okx", symbol=BTC_PERP, ts=CLOCK_MS),
        VenueEvent(kind="fill", client_order_id=hedge.client_order_id, venue="okx", symbol=BTC_PERP, ts=CLOCK_MS,
                   fill_id=fill_row["tradeId"], px=Decimal("50000"), qty=Decimal("0.05"), fee=Decimal("1.25"),
                   fee_currency="USDT", liquidity="taker")]
    assert placed(stub)[0]["ordType"] == "ioc"


def test_partial_ioc_then_cancel_of_a_resting_order(stub: StubServer) -> None:
    hedge = order("hedge_entry_BTC_2_0_short_0", venue="okx", side="sell", qty="0.050", px="50000.0",
                  order_type="ioc")
    okx(stub).ioc_fills[hedge.venue_client_id] = [Decimal(2)]
    resting = order("entry_BTC_3_0_long", venue="okx", qty="0.030", px="49000.0")
    events = run(stub, [hedge], [resting], [cancel(resting)])
    assert [(e.kind, e.client_order_id, e.qty, e.reason) for e in events] == [
        ("accepted", hedge.client_order_id, Decimal(0), None),
        ("fill", hedge.client_order_id, Decimal("0.02"), None),
        ("canceled", hedge.client_order_id, Decimal(0), "IOC_REMAINDER"),
        ("accepted", resting.client_order_id, Decimal(0), None),
        ("canceled", resting.client_order_id, Decimal(0), "ORDER_TIMEOUT")]
    assert okx(stub).orders[resting.venue_client_id].state == "canceled"


def test_start_reconciles_known_orders_and_reports_orphans_without_touching_them(stub: StubServer) -> None:
    resting = order("entry_BTC_4_0_long", venue="okx", qty="0.050", px="50000.0", status="open")
    gone = order("entry_BTC_5_0_long", venue="okx", status="new")  # we sent it, OKX never got it
    orphan_id = "afzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
    venue = okx(stub)
    venue.seed(client_id=resting.venue_client_id, inst_id="BTC-USDT-SWAP", side="buy", px="50000", sz="5")
    venue.fill(resting.venue_client_id, Decimal(2))  # while we were away
    venue.seed(client_id=orphan_id, inst_id="BTC-USDT-SWAP", side="sell", px="52000", sz="3")

    async def body(live: LiveVenue, started: list[VenueEvent]) -> tuple[list[VenueEvent], list[object]]:
        return started, list(live.orphans)

    started, orphans = gateway(stub, body, credentials=KEYS, known=[resting, gone])
    trade_id = venue.orders[resting.venue_client_id].fills[0]["tradeId"]
    assert [(e.kind, e.client_order_id, e.fill_id, e.qty, e.reason) for e in started] == [
        ("fill", resting.client_order_id, trade_id, Decimal("0.02"), None),
        ("rejected", gone.client_order_id, None, Decimal(0), "ORDER_NOT_PLACED: not on okx")]
    assert [(o.venue_client_id, o.symbol, o.side, o.qty, o.px) for o in orphans] == [  # type: ignore[attr-defined]
        (orphan_id, BTC_PERP, "sell", Decimal("0.03"), Decimal("52000"))]
    assert venue.orders[orphan_id].state == "live"
    assert not [r for r in venue.requests if r[0] == "POST"]


def test_the_same_logical_order_is_never_placed_twice_and_batches_go_native(stub: StubServer) -> None:
    entries = [order(f"entry_BTC_6_{i}_long", venue="okx", qty="0.010", px=f"4999{i}.0") for i in range(2)]
    events = run(stub, entries, entries)  # a replayed output
    assert [(e.kind, e.client_order_id) for e in events] == [("accepted", e.client_order_id) for e in entries]
    assert okx(stub).created == okx(stub).creates == {e.venue_client_id: 1 for e in entries}
    assert stub.rest_hits["/api/v5/trade/batch-orders"] == 1 and stub.rest_hits["/api/v5/trade/order"] == 0


def test_margin_refusal_is_a_rejected_event_with_the_venue_message(stub: StubServer) -> None:
    okx(stub).faults.append("margin")
    entry = order("entry_BTC_7_0_long", venue="okx")
    [event] = run(stub, [entry])
    assert (event.kind, event.reason is not None and event.reason.split(":")[0]) == ("rejected", "INSUFFICIENT_FUNDS")
    assert "51008" in (event.reason or "") and okx(stub).created == {}
    assert json.dumps(event.reason).count(API_KEY) == 0
