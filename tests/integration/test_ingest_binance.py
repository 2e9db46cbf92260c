"""Binance live path, offline: the real `ccxt.pro.binance` against the stub (recorded
hftbacktest BTCUSDT frames, spot and USDⓈ-M) → normaliser → Tansu → read back and
compared by value with the frames the stub sent. Expected values are computed here from
the raw frames (strings → Decimal, Binance's own sequencing rules), not by the code under
test."""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from arbflow.model import reasons, topics
from arbflow.model.config import Config
from arbflow.model.market import FundingRate, Liquidation, MarketTrade, OrderBook, Ticker
from tests.integration.ingest_support import (
    CLOCK_MS,
    Run,
    apply_levels,
    arbflow_cli,
    dead_letters,
    era_clock,
    ingest,
    subsequence,
    top,
)
from tests.stubs.binance import Binance
from tests.stubs.server import Drop, Malform, StubServer

pytestmark = pytest.mark.integration
PERP, SPOT = "BTC/USDT:USDT", "BTC/USDT"
MARKETS = {"spot": SPOT, "linear": PERP}


def expected_tickers(frames: list[Any], market: str) -> list[Ticker]:
    # bookTicker: b/B best bid and size, a/A best ask and size; USDⓈ-M frames carry E (ms),
    # spot ones no exchange time at all.
    return [Ticker(venue="binance", symbol=MARKETS[market], market="spot" if market == "spot" else "perp",
                   bid=Decimal(f["b"]), ask=Decimal(f["a"]), bid_qty=Decimal(f["B"]), ask_qty=Decimal(f["A"]),
                   ts_exchange=f.get("E"), ts_local=CLOCK_MS) for f in frames]


def expected_trades(frames: list[Any], market: str) -> list[MarketTrade]:
    # trade: p price, q size, t id, T trade time; m = the buyer is the maker, so the taker sold.
    return [MarketTrade(venue="binance", symbol=MARKETS[market], market="spot" if market == "spot" else "perp",
                        px=Decimal(f["p"]), qty=Decimal(f["q"]), side="sell" if f["m"] else "buy",
                        trade_id=str(f["t"]), ts_exchange=f["T"], ts_local=CLOCK_MS) for f in frames]


def expected_book(snapshot: Any, diffs: list[Any], market: str, depth: int = 20,
                  ts_local: int = CLOCK_MS) -> OrderBook:
    """Binance's recipe: load the REST snapshot, drop diffs older than it (spot: u <=
    lastUpdateId, futures: u < lastUpdateId), apply the rest in order (size 0 deletes)."""
    bids: dict[Decimal, Decimal] = {}
    asks: dict[Decimal, Decimal] = {}
    apply_levels(bids, snapshot["bids"])
    apply_levels(asks, snapshot["asks"])
    seq, ts = snapshot["lastUpdateId"], snapshot.get("T")
    for diff in diffs:
        if diff["u"] < snapshot["lastUpdateId"] or (market == "spot" and diff["u"] == snapshot["lastUpdateId"]):
            continue
        apply_levels(bids, diff["b"])
        apply_levels(asks, diff["a"])
        seq, ts = diff["u"], diff["E"]
    return OrderBook(venue="binance", symbol=MARKETS[market], market="spot" if market == "spot" else "perp",
                     bids=top(bids, depth, True), asks=top(asks, depth, False), depth=depth, seq=seq,
                     ts_exchange=ts, ts_local=ts_local)


def test_binance_records_equal_the_recorded_frames_the_stub_sent(config: Config) -> None:
    venue = Binance(frames_per_channel=40)
    final = {market: expected_book(venue.captures[market].snapshot, venue.captures[market].frames["depth"][:40],
                                   market) for market in MARKETS}
    trades = sum(len(venue.captures[m].frames["trade"][:40]) for m in MARKETS)

    def done(run: Run) -> bool:
        return (all(run.last(topics.MD_BOOK, MARKETS[m]) == final[m] for m in MARKETS)
                and run.emitter.counts[topics.MD_TRADE] == trades
                and all(run.last(topics.MD_TICKER, MARKETS[m]) == expected_tickers(
                    venue.captures[m].frames["bookTicker"][:40], m)[-1] for m in MARKETS)
                and run.emitter.counts[topics.MD_FUNDING] >= 2)

    with StubServer(venue) as stub:
        run = ingest(config, stub, ["BTC"], until=done)
        sent = {(m, kind): stub.frames(f"{m}:{kind}") for m in MARKETS for kind in ("bookTicker", "trade")}

    tickers, trade_records = run.read(topics.MD_TICKER), run.read(topics.MD_TRADE)
    for market, symbol in MARKETS.items():
        mine = [t for t in tickers if t.symbol == symbol]
        wanted = expected_tickers(sent[(market, "bookTicker")], market)
        assert mine and subsequence(mine, wanted) and mine[-1] == wanted[-1]  # conflated, never invented
        assert [t for t in trade_records if t.symbol == symbol] == expected_trades(sent[(market, "trade")], market)
        books = [b for b in run.read(topics.MD_BOOK) if b.symbol == symbol]
        assert books[-1] == final[market]
        assert [b.seq for b in books] == sorted(b.seq for b in books)
    # The first perp bookTicker of the capture, by hand: b 61800.20 × 2.507, a 61800.30 × 2.510, E 1723161256313.
    assert expected_tickers(sent[("linear", "bookTicker")], "linear")[0] == Ticker(
        venue="binance", symbol=PERP, market="perp", bid=Decimal("61800.2"), ask=Decimal("61800.3"),
        bid_qty=Decimal("2.507"), ask_qty=Decimal("2.51"), ts_exchange=1723161256313, ts_local=CLOCK_MS)
    funding = run.read(topics.MD_FUNDING)
    # premiumIndex: lastFundingRate "0.00038246", nextFundingTime 1597392000000, time 1597370495002; no
    # interval field and one settlement time seen → the configured 8 h.
    assert FundingRate(venue="binance", symbol=PERP, market="perp", rate=Decimal("0.00038246"), predicted_rate=None,
                       interval_ms=8 * 3_600_000, next_funding_time=1597392000000, ts_exchange=1597370495002,
                       ts_local=CLOCK_MS) in funding
    assert FundingRate(venue="binance", symbol=SPOT, market="spot", rate=Decimal(0), interval_ms=0,
                       next_funding_time=0, ts_local=CLOCK_MS) in funding
    assert {t.ts for t in run.read(topics.CLOCK_TICK)} == {CLOCK_MS}
    assert not dead_letters(run, topics.MD_TICKER) and not dead_letters(run, topics.MD_BOOK)
    assert not stub.unhandled


def test_binance_reconnects_after_a_mid_stream_drop_and_rebuilds_the_book_from_a_new_snapshot(
        config: Config) -> None:
    venue = Binance(frames_per_channel=40)
    capture = venue.captures["linear"]
    diffs = capture.frames["depth"][:40]
    first_live = next(i for i, d in enumerate(diffs) if d["u"] >= capture.snapshot["lastUpdateId"])
    after = first_live + 6  # the first connection applies 6 diffs past the snapshot, then closes

    with StubServer(venue, drops=[Drop("linear:depth", after)]) as stub:
        clock = era_clock(stub)
        final = expected_book(capture.snapshot, diffs, "linear", ts_local=CLOCK_MS + 2000)
        run = ingest(config, stub, [PERP], streams=("book",), clock=clock,
                     until=lambda r: r.last(topics.MD_BOOK, PERP) == final)
        snapshots_served = stub.rest_hits["/fapi/v1/depth"]

    books = run.read(topics.MD_BOOK)
    before = [b for b in books if b.ts_local == CLOCK_MS + 1000]
    after_drop = [b for b in books if b.ts_local == CLOCK_MS + 2000]
    assert before[-1] == expected_book(capture.snapshot, diffs[:after], "linear", ts_local=CLOCK_MS + 1000)
    # Fresh: the first book after the reconnect is the new snapshot itself, sequence back at its
    # lastUpdateId, not a continuation of the old book; the last is the whole replay.
    assert after_drop[0] == expected_book(capture.snapshot, [], "linear", ts_local=CLOCK_MS + 2000)
    assert after_drop[0].seq == capture.snapshot["lastUpdateId"] < before[-1].seq
    assert after_drop[-1] == final
    assert snapshots_served == 2
    assert run.metric("arbflow_feed_reconnects_total", venue="binance", reason="NETWORK_ERROR") == 1
    assert run.metric("arbflow_feed_resyncs_total", venue="binance", market="perp", reason="RECONNECT") == 1


def test_binance_sequence_gap_makes_ccxt_resync_the_book(config: Config) -> None:
    venue = Binance(frames_per_channel=40)
    capture = venue.captures["linear"]
    diffs = capture.frames["depth"][:40]
    lost = next(i for i, d in enumerate(diffs) if d["u"] >= capture.snapshot["lastUpdateId"]) + 3
    with StubServer(venue, malforms=[Malform("linear:depth", lost, lambda frame: None)]) as stub:
        final = expected_book(capture.snapshot, diffs, "linear")
        run = ingest(config, stub, [PERP], streams=("book",), until=lambda r: r.last(topics.MD_BOOK, PERP) == final)
    # ccxt saw pu != previous u, raised ChecksumError, resubscribed and fetched a new snapshot.
    assert run.metric("arbflow_feed_resyncs_total", venue="binance", market="perp", reason="SEQUENCE_GAP") == 1
    assert run.metric("arbflow_feed_reconnects_total", venue="binance", reason="NETWORK_ERROR") == 0
    assert run.read(topics.MD_BOOK)[-1] == final


def test_binance_trade_with_a_timestamp_in_seconds_goes_to_the_dead_letter_topic(config: Config) -> None:
    def in_seconds(frame: Any) -> Any:
        return {**frame, "E": frame["E"] // 1000, "T": frame["T"] // 1000}

    venue = Binance(frames_per_channel=20)
    with StubServer(venue, malforms=[Malform("linear:trade", 3, in_seconds)]) as stub:
        run = ingest(config, stub, [PERP], streams=("trade",),
                     until=lambda r: r.emitter.counts[topics.MD_TRADE] == 19
                     and r.emitter.counts[topics.dlq_topic(topics.MD_TRADE)] == 1)
        sent = stub.frames("linear:trade")
    [rejected] = dead_letters(run, topics.MD_TRADE)
    assert rejected.reason == reasons.TIMESTAMP_IN_SECONDS
    assert rejected.detail == f"ts_exchange = {sent[3]['T']} is not milliseconds since the epoch"
    assert json.loads(rejected.raw) == sent[3] and rejected.source == f"binance:md.trade:{PERP}"
    assert run.read(topics.MD_TRADE) == expected_trades(sent[:3] + sent[4:], "linear")  # the feed went on
    assert run.metric("arbflow_feed_rejects_total", venue="binance", market="perp",
                      reason=reasons.TIMESTAMP_IN_SECONDS) == 1


def test_binance_liquidations_stream_from_force_order(config: Config) -> None:
    # fixtures/stub/binance/ws_force_order.json (NautilusTrader's schema fixture of the
    # documented forceOrder push): o.S "SELL", o.ap "9910.12345678" (average price),
    # o.l "0.014" (last filled qty, BTC), o.T 1568014460893 — the liquidation order's side.
    wanted = Liquidation(venue="binance", symbol=PERP, market="perp", px=Decimal("9910.12345678"),
                         qty=Decimal("0.014"), side="sell", ts_exchange=1568014460893, ts_local=CLOCK_MS)
    with StubServer(Binance()) as stub:
        run = ingest(config, stub, ["BTC"], streams=("liquidation",),
                     until=lambda r: r.last(topics.MD_LIQUIDATION, PERP) is not None)
        sent = stub.frames("linear:forceOrder")
    assert run.read(topics.MD_LIQUIDATION) == [wanted] and len(sent) == 1
    assert run.feed.status.streams["liquidation"].messages == 1
    assert run.metric("arbflow_feed_messages_total", venue="binance", market="perp") == 1
    assert not dead_letters(run, topics.MD_LIQUIDATION)


def test_binance_unknown_symbol_exits_2_with_the_closest_matches(tmp_path: Path, config: Config) -> None:
    with StubServer(Binance(frames_per_channel=1)) as stub:
        endpoints = tmp_path / "endpoints.json"
        endpoints.write_text(json.dumps({"binance": stub.endpoints}))
        result = arbflow_cli(["ingest", "--venues", "binance", "--symbols", "BTC,ETHH", "--endpoints", str(endpoints)],
                             env={"KAFKA_BOOTSTRAP": config.kafka.bootstrap or ""})
    assert result.returncode == 2, result.stderr
    assert "binance has no market for ETHH; closest: ETH" in result.stderr


def test_binance_garbage_frame_stalls_ccxt_and_the_staleness_watchdog_reconnects(config: Config) -> None:
    # ccxt.pro binance raises inside its own message handler on a frame that is not JSON, and
    # its receive loop stops: the socket stays open but silent. The staleness watchdog fails
    # the socket, the stream reconnects, the replayed trades are de-duplicated by id.
    venue = Binance(frames_per_channel=20)
    recorded = venue.captures["linear"].frames["trade"][:20]
    with StubServer(venue, malforms=[Malform("linear:trade", 5, lambda frame: "garbage{not json")]) as stub:
        run = ingest(config, stub, [PERP], streams=("trade",), stale_after_s=0.5,
                     until=lambda r: r.emitter.counts[topics.MD_TRADE] == len(recorded))
    assert run.read(topics.MD_TRADE) == expected_trades(recorded, "linear")
    assert run.metric("arbflow_feed_reconnects_total", venue="binance", reason="STALE") >= 1
    assert run.read(topics.RISK_ALERT)[0].code == "STALE_FEED"
    assert not dead_letters(run, topics.MD_TRADE)  # it never became a record: ccxt dropped it
