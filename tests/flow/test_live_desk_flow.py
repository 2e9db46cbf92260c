"""The trading flow in live mode under Bytewax's test harness: the desk sends orders and
waits for the venue's answers on exec.venue (no paper venue), and clock.tick moves stream
time so a resting order times out on a quiet book."""

from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from arbflow.connectors.kafka import Consumed
from arbflow.flows.signal_flow import signal_steps
from arbflow.model import codec, reasons, topics
from arbflow.model.config import parse_config
from arbflow.model.execution import Order, OrderIntent, VenueEvent
from arbflow.model.market import ClockTick, FundingRate, Ticker

T = 1_723_161_600_000 + 3_600_000
H8 = 8 * 3_600_000


def _config() -> Any:
    config = parse_config({}, {})  # a ticker-only market: soft metrics neutral, so the score gate is lowered
    return replace(config, scanner=replace(config.scanner, min_score=0),
                   signals=replace(config.signals, funding_silent_after_s=0))


def _market() -> list[tuple[str, Any]]:
    """Bybit's perp bids ≈ 25 bps over Binance's ask and pays more funding (the paper-trading market)."""
    records: list[tuple[str, Any]] = [
        (topics.MD_FUNDING, FundingRate(venue=venue, symbol="BTC/USDT:USDT", market="perp", rate=D(rate),
                                        interval_ms=H8, next_funding_time=T + 7 * 3_600_000, ts_local=T - 1_000))
        for venue, rate in (("binance", "0.0001"), ("bybit", "0.0004"))]
    for step in range(11):  # 1 s of tickers: the first scan (every second of stream time) enters at T + 1 s
        ts = T + step * 100
        records += [(topics.MD_TICKER, Ticker(venue="binance", symbol="BTC/USDT:USDT", market="perp", bid=D(60_000),
                                              ask=D(60_001), bid_qty=D(10), ask_qty=D(10), ts_exchange=ts - 5,
                                              ts_local=ts)),
                    (topics.MD_TICKER, Ticker(venue="bybit", symbol="BTC/USDT:USDT", market="perp", bid=D(60_150),
                                              ask=D(60_151), bid_qty=D(10), ask_qty=D(10), ts_exchange=ts - 5,
                                              ts_local=ts + 1))]
    return records


def _run(records: list[tuple[str, Any]]) -> list[Any]:
    messages = [Consumed(topic, 0, offset, None, codec.encode(record), getattr(record, "ts_local", None) or record.ts)
                for offset, (topic, record) in enumerate(records)]
    flow = Dataflow("test_live_desk")
    _, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)), _config(), trade=True, mode="live")
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    run_main(flow)
    wanted = {topics.EXEC_ORDER: Order, topics.EXEC_INTENT: OrderIntent}
    return [codec.decode(wanted[topic], value, source=topic) for topic, _, value in items if topic in wanted]


def test_live_mode_sends_the_harder_leg_and_waits_for_the_venue() -> None:
    out = _run(_market())
    orders = [o for o in out if isinstance(o, Order)]
    assert [(o.venue, o.side, o.order_type, o.status) for o in orders] == [("bybit", "sell", "limit", "new")]
    assert not [o for o in orders if o.status == "filled"]  # no paper venue: nothing fills by itself


def test_a_venue_fill_on_exec_venue_sends_the_second_leg_for_the_executed_quantity() -> None:
    first = next(o for o in _run(_market()) if isinstance(o, Order))
    at = first.ts + 100
    answers = [(topics.EXEC_VENUE, VenueEvent(kind="accepted", client_order_id=first.client_order_id, venue="bybit",
                                              symbol="BTC/USDT:USDT", ts=at)),
               (topics.EXEC_VENUE, VenueEvent(kind="fill", client_order_id=first.client_order_id, venue="bybit",
                                              symbol="BTC/USDT:USDT", ts=at + 1, fill_id="t1", px=D(60_151),
                                              qty=first.qty, fee=D("0.5"), fee_currency="USDT", liquidity="maker"))]
    orders = [o for o in _run(_market() + answers) if isinstance(o, Order)]
    second = [o for o in orders if o.venue == "binance"]
    assert second and second[0].side == "buy" and second[0].order_type == "ioc" and second[0].qty == first.qty
    assert any(o.client_order_id == first.client_order_id and o.status == "filled" for o in orders)


def test_a_clock_tick_times_out_the_resting_leg_on_a_quiet_book() -> None:
    first = next(o for o in _run(_market()) if isinstance(o, Order))
    assert not [i for i in _run(_market()) if isinstance(i, OrderIntent) and i.kind == "cancel"]
    out = _run([*_market(), (topics.CLOCK_TICK, ClockTick(ts=first.ts + 500))])  # its 500 ms are up
    cancels = [i for i in out if isinstance(i, OrderIntent) and i.kind == "cancel"]
    assert [(c.intent_id, c.reason) for c in cancels] == [(f"cancel:{first.client_order_id}", reasons.ORDER_TIMEOUT)]
