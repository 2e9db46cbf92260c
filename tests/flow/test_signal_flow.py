"""The signal dataflow's core under Bytewax's own test harness (no servers): real
`run_main`, testing sources and sinks, Kafka messages in; basis points, opportunities and
dead letters out."""

from decimal import Decimal

import bytewax.operators as op
from bytewax.dataflow import Dataflow
from bytewax.testing import TestingSink, TestingSource, run_main

from arbflow.connectors.kafka import Consumed
from arbflow.flows.signal_flow import signal_steps
from arbflow.model import codec, reasons
from arbflow.model.config import parse_config
from arbflow.model.rejected import Rejected
from arbflow.model.signals import BasisPoint, Opportunity

TICKER = ('{"venue":"binance","symbol":"%s","market":"%s","bid":"%s","ask":"%s","bid_qty":"1",'
          '"ask_qty":"1","ts_local":%d,"schema_version":1}')


def _message(offset: int, symbol: str, market: str, bid: str, ask: str, ts: int) -> Consumed:
    return Consumed("md.ticker", 0, offset, symbol.split("/")[0].encode(),
                    (TICKER % (symbol, market, bid, ask, ts)).encode())


def _run(messages: list[Consumed]) -> tuple[list[BasisPoint], list[tuple[str, bytes | None, bytes]]]:
    """Basis points from the Redis branch, and every Kafka output item except the
    latency readings and opportunities (tested on their own)."""
    flow = Dataflow("test_signals")
    for_redis, outputs = signal_steps(op.input("inp", flow, TestingSource(messages)), parse_config({}, {}))
    records: list[object] = []
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("records", for_redis, TestingSink(records))
    op.output("items", outputs, TestingSink(items))
    run_main(flow)
    return ([r for r in records if isinstance(r, BasisPoint)],
            [i for i in items if i[0] not in ("signal.latency", "arb.opportunity")])


def test_basis_is_emitted_only_when_both_legs_of_a_venue_are_known() -> None:
    points, items = _run([
        _message(0, "BTC/USDT", "spot", "100", "102", 1_723_161_255_000),  # spot mid 101
        _message(1, "BTC/USDT:USDT", "perp", "100.9", "101.1", 1_723_161_255_010),  # perp mid 101
        _message(2, "BTC/USDT:USDT", "perp", "101.9", "102.1", 1_723_161_255_020),  # perp mid 102
    ])
    q = Decimal("1E-30")
    assert [(p.ts, p.basis.quantize(q)) for p in points] == [
        (1_723_161_255_010, Decimal(0).quantize(q)),
        (1_723_161_255_020, (Decimal(1) / Decimal(101)).quantize(q)),  # (102 - 101) / 101
    ]
    assert [topic for topic, _, _ in items] == ["signal.basis", "signal.basis"]
    assert codec.decode(BasisPoint, items[1][2], source="t") == points[1]


def test_assets_keep_separate_state_when_tickers_interleave() -> None:
    points, _ = _run([
        _message(0, "BTC/USDT", "spot", "60000", "60002", 1_723_161_255_000),
        _message(1, "ETH/USDT", "spot", "2600", "2600.2", 1_723_161_255_001),
        _message(2, "ETH/USDT:USDT", "perp", "2599", "2599.2", 1_723_161_255_002),
        _message(3, "BTC/USDT:USDT", "perp", "60010", "60012", 1_723_161_255_003),
    ])
    assert [(p.asset, p.spot_mid, p.perp_mid) for p in points] == [
        ("ETH", Decimal("2600.1"), Decimal("2599.1")),
        ("BTC", Decimal("60001"), Decimal("60011")),
    ]


def test_an_inverse_perp_never_pairs_with_spot() -> None:
    points, items = _run([
        _message(0, "BTC/USDT", "spot", "60000", "60002", 1_723_161_255_000),
        _message(1, "BTC/USD:BTC", "perp", "59990", "59991", 1_723_161_255_001),
    ])
    assert points == [] and items == []


def test_bad_records_go_to_the_dead_letter_topic_and_the_flow_continues() -> None:
    points, items = _run([
        Consumed("md.ticker", 2, 7, b"BTC", b"{not json"),
        _message(8, "BTC/USDT", "spot", "NaN", "60002", 1_723_161_255_000),
        _message(9, "BTC/USDT", "spot", "60000", "60002", 1_723_161_255_000),
        _message(10, "BTC/USDT:USDT", "perp", "60010", "60012", 1_723_161_255_001),
    ])
    assert len(points) == 1
    dead = [(topic, codec.decode(Rejected, value, source="t")) for topic, _, value in items if topic != "signal.basis"]
    assert [(topic, r.reason, r.source) for topic, r in dead] == [
        ("dlq.md.ticker", reasons.MALFORMED_JSON, "md.ticker[2]@7"),
        ("dlq.md.ticker", reasons.NON_FINITE, "md.ticker[0]@8"),
    ]
    assert dead[0][1].raw == "{not json"


def test_a_ticker_that_only_changes_quantities_emits_nothing() -> None:
    quantities = ('{"venue":"binance","symbol":"BTC/USDT","market":"spot","bid":"60000","ask":"60002",'
                  '"bid_qty":"7","ask_qty":"9","ts_local":1723161255002,"schema_version":1}')
    points, _ = _run([
        _message(0, "BTC/USDT", "spot", "60000", "60002", 1_723_161_255_000),
        _message(1, "BTC/USDT:USDT", "perp", "60010", "60012", 1_723_161_255_001),
        Consumed("md.ticker", 0, 2, b"BTC", quantities.encode()),  # same prices, new sizes
        _message(3, "BTC/USDT:USDT", "perp", "60010", "60012", 1_723_161_255_003),  # same perp mid
        _message(4, "BTC/USDT", "spot", "60001", "60003", 1_723_161_255_004),  # spot mid moves
    ])
    assert [(p.ts, p.spot_mid, p.perp_mid) for p in points] == [
        (1_723_161_255_001, Decimal("60001"), Decimal("60011")),
        (1_723_161_255_004, Decimal("60002"), Decimal("60011")),
    ]


def test_every_scan_publishes_each_candidate_with_its_verdict() -> None:
    flow = Dataflow("test_scan")
    for_redis, outputs = signal_steps(op.input("inp", flow, TestingSource([
        _message(0, "BTC/USDT", "spot", "60000", "60002", 1_723_161_255_000),
        _message(1, "BTC/USDT:USDT", "perp", "60010", "60012", 1_723_161_256_000),
    ])), parse_config({}, {}))
    items: list[tuple[str, bytes | None, bytes]] = []
    op.output("items", outputs, TestingSink(items))
    op.output("records", for_redis, TestingSink([]))
    run_main(flow)
    opportunities = [codec.decode(Opportunity, v, source="t") for t, _, v in items if t == "arb.opportunity"]
    # the second ticker (a price update, one second later) scans: long spot / short perp on binance
    assert [(o.long_symbol, o.short_symbol, o.accepted, o.reason) for o in opportunities] == [
        ("BTC/USDT", "BTC/USDT:USDT", False, reasons.MISSING_FUNDING_LEG)]


def test_a_record_far_behind_its_asset_goes_to_the_dead_letter_topic() -> None:
    _, items = _run([
        _message(0, "BTC/USDT", "spot", "60000", "60002", 1_723_161_260_000),
        _message(1, "BTC/USDT", "spot", "60001", "60003", 1_723_161_254_999),  # 5,001 ms behind
        _message(2, "BTC/USDT", "spot", "60001", "60003", 1_723_161_255_000),  # 5,000 ms: tolerated
    ])
    dead = [codec.decode(Rejected, value, source="t") for topic, _, value in items if topic == "dlq.md.ticker"]
    assert [(r.reason, r.ts, r.source) for r in dead] == [(reasons.LATE_RECORD, 1_723_161_254_999, "md.ticker")]


def test_a_record_keyed_by_another_asset_goes_to_the_dead_letter_topic_as_key_mismatch() -> None:
    """A message keyed by a universe asset is decoded at that asset's desk (what crosses
    Bytewax processes is bytes): one whose record is of another asset is refused there."""
    wrong = _message(5, "ETH/USDT", "spot", "2600", "2601", 1_723_161_255_000)
    _, items = _run([Consumed(wrong.topic, 1, 5, b"BTC", wrong.value)])
    [(topic, key, value)] = items
    rejected = codec.decode(Rejected, value, source="t")
    assert (topic, key, rejected.reason, rejected.source) == ("dlq.md.ticker", None, reasons.KEY_MISMATCH,
                                                              "md.ticker[1]@5")
    assert rejected.detail == "keyed 'BTC', but the record is of 'ETH'"


def test_an_unkeyed_message_is_decoded_by_the_reader_and_reaches_its_symbols_desk() -> None:
    spot = _message(1, "BTC/USDT", "spot", "60000", "60002", 1_723_161_255_000)
    perp = _message(2, "BTC/USDT:USDT", "perp", "60010", "60012", 1_723_161_255_001)
    points, _ = _run([Consumed(spot.topic, 0, 1, None, spot.value), Consumed(perp.topic, 0, 2, None, perp.value)])
    [point] = points
    assert (point.asset, point.spot_mid, point.perp_mid) == ("BTC", Decimal("60001"), Decimal("60011"))
