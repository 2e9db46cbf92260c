"""A breaker trip in the real trading flow (Bytewax's test harness, live mode, the venue
refusing every entry) reaches a local webhook once per episode: the flow hands its
risk.alert records to the notifier (`signal_steps(on_alert=…)`), which sends the first
raise of an episode and holds back the raises that follow while it stays raised."""

from dataclasses import replace
from decimal import Decimal as D
from typing import Any

import bytewax.operators as op
import pytest
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from arbflow.connectors.kafka import Consumed
from arbflow.flows.signal_flow import signal_steps
from arbflow.model import codec, reasons, topics
from arbflow.model.config import AlertsConfig
from arbflow.model.execution import Order, VenueEvent
from arbflow.model.market import Ticker
from arbflow.model.portfolio import Alert
from arbflow.sinks.alert_notify import AlertNotifier, destinations
from tests.flow.test_live_desk_flow import _config, _market
from tests.webhook_server import endpoint

TRIPS = 3


def _config_tripping_on_one_refusal() -> Any:
    """Every refused order trips bybit's breaker (a window of 1, any failure rate), paused 1 s."""
    config = _config()
    return replace(config, execution=replace(config.execution, breaker_window=1, breaker_failure_rate=D(0),
                                             breaker_pause_ms=1_000))


def _tickers(t0: int, n: int) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    for step in range(n):
        ts = t0 + step * 100
        out += [(topics.MD_TICKER, Ticker(venue=venue, symbol="BTC/USDT:USDT", market="perp", bid=D(bid),
                                          ask=D(bid) + 1, bid_qty=D(10), ask_qty=D(10), ts_exchange=ts - 5,
                                          ts_local=ts))
                for venue, bid in (("binance", 60_000), ("bybit", 60_150))]
    return out


def _run(records: list[tuple[str, Any]], on_alert: Any) -> list[Order]:
    messages = [Consumed(topic, 0, offset, None, codec.encode(record), getattr(record, "ts_local", None) or record.ts)
                for offset, (topic, record) in enumerate(records)]
    flow = Dataflow("test_alert_notify_flow")
    _, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)), _config_tripping_on_one_refusal(),
                              trade=True, mode="live", on_alert=on_alert)
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    run_main(flow)
    return [codec.decode(Order, value, source=topic) for topic, _, value in items if topic == topics.EXEC_ORDER]


@pytest.fixture(scope="module")
def tripping_market() -> list[tuple[str, Any]]:
    """The market of the live-desk test, bybit refusing each entry order the desk sends:
    `TRIPS` breaker trips, each after the previous pause ended (about 2–3 s apart)."""
    records, answered = _market(), set()
    for _ in range(TRIPS):
        [order] = [o for o in _run(records, None) if o.status == "new" and o.client_order_id not in answered]
        answered.add(order.client_order_id)
        last = records[-1][1].ts_local
        records += [(topics.EXEC_VENUE, VenueEvent(kind="rejected", client_order_id=order.client_order_id,
                                                   venue=order.venue, symbol="BTC/USDT:USDT", ts=last + 1,
                                                   reason="INVALID_ORDER")),
                    *_tickers(last + 2, 30)]
    return records


def _alerts_sent(records: list[tuple[str, Any]], clear_after_ms: int) -> tuple[list[Alert], list[Any]]:
    raised: list[Alert] = []
    with endpoint() as server:
        config = AlertsConfig(webhook_url=f"{server.base}/hook", clear_after_ms=clear_after_ms, min_interval_ms=0)
        notifier = AlertNotifier(config, destinations(config)).start()

        def on_alert(alert: Alert) -> None:
            raised.append(alert)
            notifier.notify(alert)

        _run(records, on_alert)
        assert notifier.close()
        return raised, [body for _, body in server.received]


def test_a_breaker_that_stays_raised_reaches_the_webhook_once(tripping_market: list[tuple[str, Any]]) -> None:
    raised, bodies = _alerts_sent(tripping_market, clear_after_ms=60_000)
    trips = [a for a in raised if a.code == reasons.BREAKER_ORDER_FAILURES]
    assert len(trips) == TRIPS  # the flow raised it on every trip …
    assert [(b["code"], b["venue"], b["ts"]) for b in bodies] == [(reasons.BREAKER_ORDER_FAILURES, "bybit",
                                                                  trips[0].ts)]  # … one message for the episode


def test_each_trip_after_the_breaker_cleared_is_a_new_episode(tripping_market: list[tuple[str, Any]]) -> None:
    raised, bodies = _alerts_sent(tripping_market, clear_after_ms=1_000)  # trips are > 1 s apart
    trips = [a for a in raised if a.code == reasons.BREAKER_ORDER_FAILURES]
    assert [b["ts"] for b in bodies if b["code"] == reasons.BREAKER_ORDER_FAILURES] == [a.ts for a in trips]
    assert len(trips) == TRIPS
